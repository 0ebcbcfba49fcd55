"""Authorised agents (11 CCR §7063): the consumer confirms directly that they gave the agent permission.

Until the consumer confirms (a signed link emailed to the consumer's own address), no approval is accepted. With a
power of attorney the officer may skip the confirmation from the prompt; that is recorded with who skipped it. The
answer always goes to the consumer; the agent receives a notice that it was sent.
"""

from __future__ import annotations

from include.store import ComplianceStore, RequestRecord

CONFIRMED = "agent_confirmed"
DENIED = "agent_denied"
CONFIRMATION_EMAIL = "agent_confirmation"
AGENT_NOTICE = "agent_notice"
#: The denial's copy to the consumer (the agent's copy is the request's ``rejection`` delivery, §7024(e)).
DENIAL_TO_CONSUMER = "agent_denial_consumer"
#: Who records a denial for want of the consumer's confirmation: the daily watch, not an officer.
WATCH_ACTOR = "ccpa_compliance_watch"
#: §7101: the basis of the denial, as the record keeps it (the emails say it in the requester's language).
DENIAL_BASES = {
    "waiting": "authorised agent: the consumer did not confirm the agent's permission by the due date (§7063)",
    "denied": "authorised agent: the consumer said they did not give the agent permission (§7063)",
}


def state(store: ComplianceStore, record: RequestRecord) -> str:
    """``none`` (no agent), ``waiting``, ``confirmed`` (by the consumer), ``skipped`` (power of attorney) or
    ``denied``."""
    if record.identifiers.agent is None:
        return "none"
    done = store.done_kinds(record.request_id)
    if DENIED in done:
        return "denied"
    if CONFIRMED in done:
        refs = store.once_ref(record.request_id, CONFIRMED)
        return "skipped" if refs and refs.startswith("poa:") else "confirmed"
    return "waiting"


def on_power_of_attorney(store: ComplianceStore, record: RequestRecord) -> bool:
    """§7063(b): the consumer's confirmation was skipped on the strength of the agent's power of attorney, so an
    approval rests on it (the §7101 basis ``power_of_attorney``)."""
    return state(store, record) == "skipped"


def may_disclose(store: ComplianceStore, record: RequestRecord) -> bool:
    return state(store, record) in ("none", "confirmed", "skipped")


def describe(store: ComplianceStore, record: RequestRecord) -> str:
    agent = record.identifiers.agent
    if agent is None:
        return ""
    words = {
        "waiting": "waiting for the consumer to confirm (emailed to the consumer's address)",
        "confirmed": "confirmed by the consumer",
        "skipped": "confirmation skipped: power of attorney (recorded)",
        "denied": "the consumer said they did not give this permission",
    }[state(store, record)]
    kind = agent.permission_kind.replace("_", " ")
    return f"{agent.name} ({agent.email}) · {kind}: <{agent.document_url}|document> · {words}"


def denial_basis(record_state: str) -> str | None:
    """§7063(a): the basis on which an agent's request still undecided at its due date is denied (None: it may be
    answered, or there is no agent)."""
    return DENIAL_BASES.get(record_state)


def denied_state(basis: str | None) -> str | None:
    """The agent state a recorded denial basis stands for (``waiting`` or ``denied``)."""
    return next((key for key, text in DENIAL_BASES.items() if text == basis), None)
