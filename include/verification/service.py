"""Where the evidence meets the store: compute it (before the prompt, and again when the requester adds
information), keep it, and read the level back for the prompt and the callback."""

from __future__ import annotations

from include import law
from include.datastores.identity import Evidence, PointsRecord, gather
from include.datastores.registry import load_registry
from include.store import ComplianceStore, RequestRecord
from include.verification import account
from include.verification.levels import Level, Scope, Thresholds, approvable, assess, thresholds


def level_of(record: RequestRecord, limits: Thresholds | None = None) -> Level:
    """The level the stored evidence reaches under today's thresholds (a raised Variable applies at once): the
    matching data points (§7062) and, when the intake asserted one, the account login (§7061: a verified login is a
    level of its own, a login that does not match holds the level at categories).

    ``limits``: thresholds already read (the requests page reads the Variables once for a whole page of requests)."""
    points = assess(
        PointsRecord.from_json(record.verification),
        declaration=record.identifiers.declaration is not None,
        limits=limits or thresholds(),
    )
    return account.level_for(record, points)


def approvable_scope(record: RequestRecord) -> Scope:
    """What an approval of this request may disclose now."""
    return approvable(level_of(record), record.request_type)


def compute(store: ComplianceStore, record: RequestRecord) -> tuple[RequestRecord, Evidence]:
    """Match the requester's identifiers against every datastore and keep the result (kinds only)."""
    ids = record.identifiers
    evidence = gather(
        load_registry().datastores,
        email=record.email,
        name=record.name,
        since=law.EARLIEST_LOOKBACK,
        phone=ids.phone,
        postal_address=ids.postal_address,
        account_id=ids.account_id,
    )
    store.set_identity_evidence(record.request_id, evidence.summary(), evidence.to_json())
    level = assess(evidence, declaration=ids.declaration is not None, limits=thresholds())
    store.audit(
        record.request_id,
        "verification_assessed",
        detail={"matched": list(evidence.matched), "given": len(evidence.given), "scope": level.scope.value},
    )
    return store.get_request(record.request_id), evidence
