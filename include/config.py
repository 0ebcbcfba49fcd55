"""Every name a user configures: Airflow Connections, Variables and environment variables.

Values are read when a task, trigger or callback runs, never at DAG-parse time.
"""

from __future__ import annotations

import os
from pathlib import Path

# Connections
COMPLIANCE_CONN_ID = "ccpa_compliance_db"
SLACK_CONN_ID = "slack_api_default"
SMTP_CONN_ID = "smtp_default"

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
GMAIL_CONN_ID = "google_cloud_default"
VAR_REPORT_STORAGE_CONN_ID = "ccpa_report_storage_conn_id"

# Environment
ENV_POLL_SECONDS = "CCPA_DECISION_POLL_SECONDS"
ENV_DATASTORES_FILE = "CCPA_DATASTORES_FILE"

INCLUDE_DIR = Path(__file__).resolve().parent
DEFAULT_DATASTORES_FILE = INCLUDE_DIR / "datastores" / "datastores.yaml"
#: Where the registry lived before include/ was split into packages: a deployment that still keeps its own registry
#: there must not silently get the demo registry instead.
LEGACY_DATASTORES_FILE = INCLUDE_DIR / "datastores.yaml"

_UNSET = object()


class ConfigurationError(RuntimeError):
    pass


def get_variable(key: str, default: object = _UNSET) -> str:
    """An Airflow Variable (env ``AIRFLOW_VAR_<KEY>`` or the metadata DB) with a message naming it when unset."""
    from airflow.sdk import Variable

    try:
        value = Variable.get(key)
    except Exception as exc:  # the SDK raises different types in tasks, triggers and servers
        if default is not _UNSET:
            return default  # type: ignore[return-value]
        raise ConfigurationError(
            f"Airflow Variable '{key}' is not set (set it in the UI or as env AIRFLOW_VAR_{key.upper()})"
        ) from exc
    return value


def airflow_base_url() -> str:
    """The API server's public URL (``[api] base_url``): run links in Slack, download links in emails."""
    from airflow.configuration import conf

    return (conf.get("api", "base_url", fallback="") or "http://localhost:8080").rstrip("/")


def approvers() -> frozenset[str]:
    """Slack user ids allowed to decide. Unset means nobody: deciding is never open by accident."""
    raw = get_variable(VAR_APPROVERS, "")
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


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
