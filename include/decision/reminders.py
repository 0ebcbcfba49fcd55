"""When an undecided request nudges the officers: a reminder after ``ccpa_reminder_hours``, an escalation when the
legal deadline is 10 days away. Each is posted once, in the review prompt's thread."""

from __future__ import annotations

from datetime import datetime, timedelta

from include import config

REMINDER = "reminder"
ESCALATION = "escalation"
ESCALATE_BEFORE_DUE = timedelta(days=10)
DEFAULT_REMINDER_HOURS = 24.0


def done_key(kind: str) -> str:
    """How a posted nudge is recorded (once) in the compliance store."""
    return f"slack_{kind}"


def reminder_hours() -> float:
    raw = config.get_variable(config.VAR_REMINDER_HOURS, str(DEFAULT_REMINDER_HOURS))
    try:
        hours = float(raw)
    except ValueError:
        raise config.ConfigurationError(
            f"Airflow Variable '{config.VAR_REMINDER_HOURS}' must be a number of hours, got {raw!r}"
        ) from None
    if hours <= 0:
        raise config.ConfigurationError(f"Airflow Variable '{config.VAR_REMINDER_HOURS}' must be positive")
    return hours


def schedule(received_at: datetime, due_at: datetime, hours: float) -> list[tuple[str, datetime]]:
    return sorted(
        [(REMINDER, received_at + timedelta(hours=hours)), (ESCALATION, due_at - ESCALATE_BEFORE_DUE)],
        key=lambda item: item[1],
    )


def next_nudge(
    received_at: datetime, due_at: datetime, hours: float, already_done: set[str]
) -> tuple[str, datetime] | None:
    """The next nudge still to post (possibly already due), or None. ``already_done``: the store's done kinds."""
    for kind, at in schedule(received_at, due_at, hours):
        if done_key(kind) not in already_done:
            return kind, at
    return None
