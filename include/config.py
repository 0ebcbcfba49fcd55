"""Every name a user configures: Airflow Connections, Variables and environment variables.

Values are read when a task, trigger or callback runs, never at DAG-parse time.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Connections
COMPLIANCE_CONN_ID = "ccpa_compliance_db"
SLACK_CONN_ID = "slack_api_default"
SMTP_CONN_ID = "smtp_default"
#: Slack Socket Mode (include/slack/socket_mode.py): the app-level token (xapp-…) as the password.
SLACK_SOCKET_MODE_CONN_ID = "slack_socket_mode"
#: Airflow's own REST API (type HTTP: the API server's URL, an account that may delete runs): retention deletes the
#: runs whose conf holds a requester's name and email (include/airflow_runs.py).
AIRFLOW_API_CONN_ID = "ccpa_airflow_api"

# Variables
VAR_REVIEW_CHANNEL = "ccpa_review_channel"
VAR_SIGNING_SECRET = "ccpa_slack_signing_secret"  # noqa: S105 (a Variable name, not a secret)
VAR_APPROVERS = "ccpa_approvers"
VAR_FROM_EMAIL = "ccpa_from_email"
VAR_REMINDER_HOURS = "ccpa_reminder_hours"
VAR_REPORT_STORAGE = "ccpa_report_storage"
VAR_EMAIL_BACKEND = "ccpa_email_backend"
VAR_DOWNLOAD_TTL_HOURS = "ccpa_download_ttl_hours"
VAR_DOWNLOAD_SECRET = "ccpa_download_secret"  # noqa: S105 (a Variable name)
#: Raise (never lower) the matching data points each level needs (include.law: 2 for categories, 3 for specific pieces).
VAR_MIN_POINTS_CATEGORIES = "ccpa_verification_min_points_categories"
VAR_MIN_POINTS_SPECIFIC = "ccpa_verification_min_points_specific"
#: §7061: how recent (minutes before the request's receipt) an account login must be to verify the consumer; older
#: logins are treated as a non-account-holder request. A policy default, not a legal number.
VAR_REAUTH_MAX_AGE_MINUTES = "ccpa_reauth_max_age_minutes"
DEFAULT_REAUTH_MAX_AGE_MINUTES = 30
#: Fraud signals shown to the officer (never blocking): the account's email changed within this many days, or the
#: request came within this many minutes of a password reset. Policy defaults.
EMAIL_CHANGE_WARNING_DAYS = 30
PASSWORD_RESET_WARNING_MINUTES = 15
VAR_REQUIRED_APPROVALS = "ccpa_required_approvals"
VAR_REQUIRED_APPROVALS_FOR = "ccpa_required_approvals_for"
VAR_TIMEZONE = "ccpa_timezone"
GMAIL_CONN_ID = "google_cloud_default"
VAR_REPORT_STORAGE_CONN_ID = "ccpa_report_storage_conn_id"
#: "true" declares a file:// ccpa_report_storage shared by every worker (the same volume at the same path).
VAR_REPORT_STORAGE_SHARED = "ccpa_report_storage_shared"


#: Days before the due date at which the wait for a decision ends and the officers are alerted (default 3).
VAR_DECISION_MARGIN_DAYS = "ccpa_decision_margin_days"
VAR_DEFAULT_LANGUAGE = "ccpa_default_language"
#: Origins (space- or comma-separated, e.g. ``https://www.example.com``) whose pages may embed the request form in an
#: ``<iframe>`` and post it; the API server's own origin always may.
VAR_FORM_EMBED_ORIGINS = "ccpa_form_embed_origins"


#: Optional: when set, callbacks from another Slack workspace or app are refused even if correctly signed.
VAR_SLACK_TEAM_ID = "ccpa_slack_team_id"
VAR_SLACK_APP_ID = "ccpa_slack_app_id"
#: Comma-separated addresses of the privacy officers, emailed when Slack cannot be used (include/mail/alert.py) and
#: when a request is at risk: its wait ended undecided, its run failed (include/mail/alert.py).
VAR_ALERT_EMAILS = "ccpa_alert_emails"

# Environment
ENV_POLL_SECONDS = "CCPA_DECISION_POLL_SECONDS"
ENV_DATASTORES_FILE = "CCPA_DATASTORES_FILE"
#: "1": the compliance store may fall back to a SQLite file in AIRFLOW_HOME when ``ccpa_compliance_db`` is not
#: defined (the demo; one machine only). Unset, a missing or unreadable connection is an error naming it.
ENV_COMPLIANCE_SQLITE = "CCPA_COMPLIANCE_SQLITE"


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def flag(value: str | None, default: bool = False) -> bool:
    """A yes/no setting (an env variable or a Variable): 1/true/yes/on or 0/false/no/off, any case; unset, blank or
    anything else is ``default``. The one parser for every such switch, so they all read the same words."""
    word = (value or "").strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    return default


def compliance_sqlite_allowed() -> bool:
    return flag(os.environ.get(ENV_COMPLIANCE_SQLITE))


#: "1": this is the demo (scripts/demo.sh sets it; .env.example sets it for ``docker compose --profile demo``). Only
#: then are the demo's published secrets accepted.
ENV_DEMO = "CCPA_DEMO"
#: The secrets published in this repository for the demo (.env.example, scripts/demo.sh). Anyone can read them: with
#: the signing secret they could sign an Approve click, with the download secret forge a download link. Outside the
#: demo they are refused (tests/unit/test_config.py checks this covers every demo secret of .env.example).
DEMO_SECRETS = frozenset(
    {
        "demo-signing-secret-change-me-0123456789",
        "demo-download-secret-change-me-0123456789",
        "demo-jwt-secret-change-me-0123456789abcdef0123456789abcdef",
        "xoxb-demo-token",
        "xapp-demo-token",
    }
)
#: A value still holding the example's placeholder ("…-change-me-…") is refused the same way.
DEMO_MARKER = "change-me"


def demo_mode() -> bool:
    return flag(os.environ.get(ENV_DEMO))


class DemoSecretRefused(RuntimeError):
    """A secret published for the demo, in use outside it. Names the setting, never the value."""


def refuse_demo_secret(setting: str, value: str | None) -> None:
    """Raise :class:`DemoSecretRefused` when ``value`` is one of the demo's published secrets (or still holds the
    example's placeholder) and this is not the demo (env ``CCPA_DEMO``)."""
    if not value or demo_mode():
        return
    if value in DEMO_SECRETS or DEMO_MARKER in value:
        raise DemoSecretRefused(
            f"{setting} is the demo's published value (from .env.example / scripts/demo.sh): anyone can read it. "
            f"Replace it with a secret of your own (python3 -c 'import secrets; print(secrets.token_hex(32))'; "
            f"docs/deployment.md), or set {ENV_DEMO}=1 if this really is the demo"
        )


INCLUDE_DIR = Path(__file__).resolve().parent
DEFAULT_DATASTORES_FILE = INCLUDE_DIR / "datastores" / "datastores.yaml"
#: Where the registry lived before include/ was split into packages: a deployment that still keeps its own registry
#: there must not silently get the demo registry instead.
LEGACY_DATASTORES_FILE = INCLUDE_DIR / "datastores.yaml"

_UNSET = object()


class ConfigurationError(RuntimeError):
    pass


class _NotFound(Exception):
    """The Variable is not defined (as opposed to a secrets backend that could not be read)."""


#: How long a Variable read in a task stays in the memo (seconds); see :func:`_read_variable`.
VARIABLE_MEMO_TTL_SECONDS = 30.0
#: The per-task memo: (task instance try id, Variable key, env ``AIRFLOW_VAR_<KEY>``) → (value or _NotFound, expiry).
_variable_memo: dict[tuple[str, str, str | None], tuple[str | _NotFound, float]] = {}


def clear_variable_memo() -> None:
    """Forget every Variable read (tests call this between tests; a task never needs to)."""
    _variable_memo.clear()


def _running_task_try() -> str | None:
    """The id of the task instance try running in this process, or None outside a task (triggerer, API server,
    DAG processor, tests without a task context)."""
    from airflow.sdk.definitions._internal.contextmanager import _CURRENT_CONTEXT

    if not _CURRENT_CONTEXT:
        return None
    ti = _CURRENT_CONTEXT[-1].get("ti")
    ti_id = getattr(ti, "id", None)
    return str(ti_id) if ti_id is not None else None


def _read_variable(key: str) -> str:
    """``Variable.get(key)``, read once per task try; raises :class:`_NotFound` when the Variable is not defined.

    Why a memo: in Airflow 3 every ``Variable.get`` in a task process is a ``GetVariable`` request to the supervisor
    (unless set by env) and, when found, a ``MaskSecret`` request too — the secret is re-sent for masking on every
    read. One approval's tasks read the same few Variables 5-15 times each (the time zone, the storage URL, the
    sender...), so the task processes sent their supervisor about twice the requests they need (issue #22).

    The memo is scoped so that nothing observable changes:
    - only inside a running task (Airflow's current context): keyed by the task instance *try* id, so every task
      and every retry reads its Variables afresh; the triggerer, the API server (the Slack callback) and the DAG
      processor read on every call as before;
    - keyed by the value of env ``AIRFLOW_VAR_<KEY>`` too: a Variable set or changed in the environment (as the
      tests do) is read fresh;
    - bounded to :data:`VARIABLE_MEMO_TTL_SECONDS`, so a long task sees an edited Variable within that time;
    - a found value was masked by its first read (the masker keeps it for the process), so a secret is still
      masked, once; "not defined" is remembered too, but a read that *failed* (secrets backend down) is not.
    """
    from airflow.sdk import Variable

    def read() -> str:
        try:
            return Variable.get(key)
        except KeyError as exc:
            raise _NotFound(key) from exc
        except Exception as exc:  # the SDK raises different types in tasks, triggers and servers
            if "NOT_FOUND" in str(exc).upper().replace(" ", "_"):
                raise _NotFound(key) from exc
            raise

    task_try = _running_task_try()
    if task_try is None:
        return read()
    memo_key = (task_try, key, os.environ.get(f"AIRFLOW_VAR_{key.upper()}"))
    now = time.monotonic()
    hit = _variable_memo.get(memo_key)
    if hit is None or hit[1] <= now:
        if len(_variable_memo) > 256:  # stale tries' entries (a process runs one task try: rarely reached)
            _variable_memo.clear()
        try:
            value: str | _NotFound = read()
        except _NotFound as exc:
            value = exc
        hit = (value, now + VARIABLE_MEMO_TTL_SECONDS)
        _variable_memo[memo_key] = hit
    if isinstance(hit[0], _NotFound):
        raise _NotFound(key)
    return hit[0]


def get_variable(key: str, default: object = _UNSET) -> str:
    """An Airflow Variable (env ``AIRFLOW_VAR_<KEY>`` or the metadata DB) with a message naming it when unset."""
    try:
        value = _read_variable(key)
    except Exception as exc:  # the SDK raises different types in tasks, triggers and servers
        if default is not _UNSET:
            return default  # type: ignore[return-value]
        raise ConfigurationError(
            f"Airflow Variable '{key}' is not set (set it in the UI or as env AIRFLOW_VAR_{key.upper()})"
        ) from exc
    return value


def get_optional_variable(key: str) -> str | None:
    """An Airflow Variable, or None when it is not set. Unlike :func:`get_variable` with a default, a Variable that
    exists but cannot be read (a secrets backend down) raises instead of passing for unset."""
    try:
        return _read_variable(key)
    except _NotFound:
        return None
    except Exception as exc:
        raise ConfigurationError(
            f"Airflow Variable '{key}' could not be read ({type(exc).__name__}): not falling back to a default"
        ) from None


# -- hot-path Variable reads (the Slack callback) ----------------------------------------------------------------
#: How long :func:`recent_variable` reuses a Variable that came from the metadata DB or a secrets backend: in the API
#: server every ``Variable.get`` of such a Variable is a metadata-DB query (Airflow's own ``[secrets] use_cache`` is
#: off by default and would also cache env values for 15 minutes). A change made in the UI applies within this.
RECENT_VARIABLE_TTL_SECONDS = 10.0
_recent_variables: dict[str, tuple[str | None, float]] = {}


def recent_variable(key: str, default: str) -> str:
    """:func:`get_variable` with a default, for paths that run on every Slack click.

    A Variable set in the environment (``AIRFLOW_VAR_<KEY>``: no query) is read fresh every time. Otherwise the value
    read from the metadata DB or secrets backend -- or that it is unset -- is reused for
    ``RECENT_VARIABLE_TTL_SECONDS``. A read that fails (a backend down) is not remembered and gives ``default``, as
    :func:`get_variable` does.
    """
    if f"AIRFLOW_VAR_{key.upper()}" in os.environ:
        return get_variable(key, default)
    now = time.monotonic()
    remembered = _recent_variables.get(key)
    if remembered is None or remembered[1] <= now:
        try:
            value = get_optional_variable(key)
        except ConfigurationError:
            return default
        remembered = (value, now + RECENT_VARIABLE_TTL_SECONDS)
        _recent_variables[key] = remembered
    return default if remembered[0] is None else remembered[0]


def airflow_base_url() -> str:
    """The API server's public URL (``[api] base_url``): run links in Slack, download links in emails."""
    from airflow.configuration import conf

    return (conf.get("api", "base_url", fallback="") or "http://localhost:8080").rstrip("/")


def approvers() -> frozenset[str]:
    """Slack user ids allowed to decide. Unset means nobody: deciding is never open by accident."""
    raw = get_variable(VAR_APPROVERS, "")
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


DEFAULT_DECISION_MARGIN_DAYS = 3


def decision_margin_days() -> int:
    """Variable ``ccpa_decision_margin_days``: whole days kept between the end of the wait and the due date."""
    raw = get_variable(VAR_DECISION_MARGIN_DAYS, str(DEFAULT_DECISION_MARGIN_DAYS))
    try:
        days = int(str(raw).strip())
    except ValueError:
        raise ConfigurationError(
            f"Airflow Variable '{VAR_DECISION_MARGIN_DAYS}' must be a whole number of days, got {raw!r}"
        ) from None
    if not 0 <= days < 45:
        raise ConfigurationError(f"Airflow Variable '{VAR_DECISION_MARGIN_DAYS}' must be between 0 and 44, got {raw!r}")
    return days


def alert_emails() -> list[str]:
    """Variable ``ccpa_alert_emails``: who is emailed when a request is at risk (may be empty)."""
    raw = get_variable(VAR_ALERT_EMAILS, "")
    return [part.strip() for part in str(raw).replace(";", ",").split(",") if part.strip()]


#: The most approvals a business may require: more officers than that is a committee, not a check.
MAX_REQUIRED_APPROVALS = 5
#: ``ccpa_required_approvals_for`` values: every request, or only requests for specific pieces of information.
APPROVALS_FOR_ALL = "all"
APPROVALS_FOR_SPECIFIC_PIECES = "specific_pieces"
DEFAULT_TIMEZONE = "America/Los_Angeles"


def required_approvals(*, specific_pieces: bool = True) -> int:
    """Distinct officers who must approve a request (Variable ``ccpa_required_approvals``, default 1).

    With ``ccpa_required_approvals_for`` = ``specific_pieces`` the number applies only to requests for specific
    pieces of personal information; other requests need one. Until identity verification levels exist every request
    is treated as one for specific pieces (the stricter reading).
    """
    raw = str(get_variable(VAR_REQUIRED_APPROVALS, "1")).strip() or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_REQUIRED_APPROVALS:
        raise ConfigurationError(
            f"Airflow Variable '{VAR_REQUIRED_APPROVALS}' must be a whole number from 1 to {MAX_REQUIRED_APPROVALS}, "
            f"got {raw!r}"
        )
    scope = str(get_variable(VAR_REQUIRED_APPROVALS_FOR, APPROVALS_FOR_ALL)).strip() or APPROVALS_FOR_ALL
    if scope not in (APPROVALS_FOR_ALL, APPROVALS_FOR_SPECIFIC_PIECES):
        raise ConfigurationError(
            f"Airflow Variable '{VAR_REQUIRED_APPROVALS_FOR}' must be '{APPROVALS_FOR_ALL}' or "
            f"'{APPROVALS_FOR_SPECIFIC_PIECES}', got {scope!r}"
        )
    if scope == APPROVALS_FOR_SPECIFIC_PIECES and not specific_pieces:
        return 1
    return int(raw)


def business_timezone() -> ZoneInfo:
    """The business's time zone for officers' pages (Variable ``ccpa_timezone``); times are stored in UTC."""
    name = str(get_variable(VAR_TIMEZONE, DEFAULT_TIMEZONE)).strip() or DEFAULT_TIMEZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"Airflow Variable '{VAR_TIMEZONE}' must be an IANA time zone such as {DEFAULT_TIMEZONE!r}, got {name!r}"
        ) from None


def poll_seconds() -> float:
    raw = os.environ.get(ENV_POLL_SECONDS, "2")
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{ENV_POLL_SECONDS} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ConfigurationError(f"{ENV_POLL_SECONDS} must be positive, got {raw!r}")
    return value


def datastores_file() -> Path:
    configured = os.environ.get(ENV_DATASTORES_FILE)
    if configured:
        return Path(configured)
    return LEGACY_DATASTORES_FILE if LEGACY_DATASTORES_FILE.exists() else DEFAULT_DATASTORES_FILE
