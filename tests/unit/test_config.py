"""Configuration read from Airflow Variables: clear errors naming the Variable, defaults that decide nothing."""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import SimpleNamespace

import pytest

from include import config


@pytest.mark.parametrize(
    ("count", "scope", "specific_pieces", "expected"),
    [
        (None, None, True, 1),
        ("2", None, True, 2),
        ("2", "all", False, 2),
        ("2", "specific_pieces", True, 2),
        ("2", "specific_pieces", False, 1),
    ],
)
def test_required_approvals(monkeypatch, count, scope, specific_pieces, expected):
    for name, value in (("CCPA_REQUIRED_APPROVALS", count), ("CCPA_REQUIRED_APPROVALS_FOR", scope)):
        if value is None:
            monkeypatch.delenv(f"AIRFLOW_VAR_{name}", raising=False)
        else:
            monkeypatch.setenv(f"AIRFLOW_VAR_{name}", value)
    assert config.required_approvals(specific_pieces=specific_pieces) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CCPA_REQUIRED_APPROVALS", "0"),
        ("CCPA_REQUIRED_APPROVALS", "two"),
        ("CCPA_REQUIRED_APPROVALS", "9"),
        ("CCPA_REQUIRED_APPROVALS_FOR", "some"),
    ],
)
def test_bad_required_approvals_name_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(f"AIRFLOW_VAR_{name}", value)
    with pytest.raises(config.ConfigurationError, match=name.lower()):
        config.required_approvals()


def test_business_timezone_defaults_to_california_and_refuses_nonsense(monkeypatch):
    monkeypatch.delenv("AIRFLOW_VAR_CCPA_TIMEZONE", raising=False)
    assert config.business_timezone().key == "America/Los_Angeles"
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_TIMEZONE", "Mars/Olympus")
    with pytest.raises(config.ConfigurationError, match="ccpa_timezone"):
        config.business_timezone()


# -- the demo's published secrets are refused outside the demo ----------------------------------------------------

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def _env_example_secrets() -> dict[str, str]:
    """Every secret .env.example ships: the values of *SECRET* names and the tokens inside the Slack connections."""
    import json as _json

    found: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        name, value = line.split("=", 1)
        value = value.strip().strip("'")
        if "SECRET" in name and value:
            found[name] = value
        elif name.startswith("AIRFLOW_CONN_SLACK"):
            found[name] = _json.loads(value)["password"]
    return found


def test_every_demo_secret_of_env_example_is_refused_outside_the_demo(monkeypatch):
    from include import config

    monkeypatch.delenv("CCPA_DEMO", raising=False)
    secrets = _env_example_secrets()
    assert {"AIRFLOW_VAR_CCPA_SLACK_SIGNING_SECRET", "AIRFLOW_VAR_CCPA_DOWNLOAD_SECRET", "AIRFLOW_JWT_SECRET"} <= set(
        secrets
    )
    assert "AIRFLOW_CONN_SLACK_API_DEFAULT" in secrets
    for name, value in secrets.items():
        with pytest.raises(config.DemoSecretRefused, match="demo's published value") as refused:
            config.refuse_demo_secret(name, value)
        assert value not in str(refused.value), "the error names the setting, never the value"
    config.refuse_demo_secret("a real secret", "9f2c1e0d8b7a6f5e4d3c2b1a0f9e8d7c")  # anything else passes
    config.refuse_demo_secret("unset", None)


def test_the_demo_flag_accepts_the_demo_secrets_and_demo_sh_and_env_example_set_it(monkeypatch):
    from include import config

    monkeypatch.setenv("CCPA_DEMO", "1")
    for name, value in _env_example_secrets().items():
        config.refuse_demo_secret(name, value)
    root = ENV_EXAMPLE.parent
    assert "\nCCPA_DEMO=1\n" in ENV_EXAMPLE.read_text(encoding="utf-8")
    assert "export CCPA_DEMO=1" in (root / "scripts" / "demo.sh").read_text(encoding="utf-8")


def test_a_download_link_signed_with_the_demo_secret_fails_outside_the_demo(monkeypatch, tmp_path):
    from include import config
    from include.report import downloads
    from include.requester import signing

    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REPORT_STORAGE", f"file://{tmp_path}")
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DOWNLOAD_SECRET", "demo-download-secret-change-me-0123456789")
    monkeypatch.delenv("CCPA_DEMO", raising=False)
    with pytest.raises(config.DemoSecretRefused, match="ccpa_download_secret"):
        downloads.make_link("a" * 32)
    with pytest.raises(config.DemoSecretRefused, match="ccpa_download_secret"):
        signing.secret()
    monkeypatch.setenv("CCPA_DEMO", "1")
    assert downloads.read_token(downloads.make_link("a" * 32).url.rsplit("/", 1)[1]) == "a" * 32


def test_the_slack_client_with_the_demo_bot_token_fails_outside_the_demo(monkeypatch):
    import json as _json

    from include import config
    from include.slack import client

    demo = {"conn_type": "slack", "password": "xoxb-demo-token", "extra": {"base_url": "http://127.0.0.1:9/api/"}}
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", _json.dumps(demo))
    monkeypatch.delenv("CCPA_DEMO", raising=False)
    with pytest.raises(config.DemoSecretRefused, match="slack_api_default"):
        client.web_client()
    monkeypatch.setenv("CCPA_DEMO", "1")
    assert client.web_client().token == "xoxb-demo-token"


class _CountingVariable:
    """Stands in for ``airflow.sdk.Variable.get``: counts the reads, like the supervisor's GetVariable requests."""

    def __init__(self, values: dict[str, str], fail: set[str] | None = None) -> None:
        self.values, self.fail, self.reads = values, fail or set(), []

    def get(self, key: str) -> str:
        self.reads.append(key)
        if key in self.fail:
            raise RuntimeError("secrets backend unreachable")
        if key not in self.values:
            raise KeyError(key)
        return self.values[key]


@pytest.fixture
def counting_variable(monkeypatch):
    from airflow.sdk import Variable

    fake = _CountingVariable({"ccpa_timezone": "America/New_York"}, fail={"ccpa_alert_emails"})
    monkeypatch.setattr(Variable, "get", fake.get)
    monkeypatch.delenv("AIRFLOW_VAR_CCPA_TIMEZONE", raising=False)
    return fake


@contextlib.contextmanager
def _task_try(try_id: str):
    """What Airflow's task runner sets while a task runs: the current context holding its task instance."""
    from airflow.sdk.definitions._internal.contextmanager import _CURRENT_CONTEXT

    _CURRENT_CONTEXT.append({"ti": SimpleNamespace(id=try_id)})  # type: ignore[arg-type]
    try:
        yield
    finally:
        _CURRENT_CONTEXT.pop()


def test_a_task_try_reads_each_variable_once(counting_variable):
    with _task_try("try-1"):
        for _ in range(3):
            assert config.get_variable("ccpa_timezone") == "America/New_York"
            assert config.get_variable("ccpa_from_email", "fallback") == "fallback"
            assert config.get_optional_variable("ccpa_download_secret") is None
    assert counting_variable.reads == ["ccpa_timezone", "ccpa_from_email", "ccpa_download_secret"]


def test_every_task_try_reads_variables_afresh(counting_variable):
    with _task_try("try-1"):
        config.get_variable("ccpa_timezone")
    counting_variable.values["ccpa_timezone"] = "Europe/Paris"
    with _task_try("try-2"):  # the retry (or the next task) sees the edited Variable
        assert config.get_variable("ccpa_timezone") == "Europe/Paris"
    assert counting_variable.reads == ["ccpa_timezone", "ccpa_timezone"]


def test_outside_a_task_every_call_reads_the_variable(counting_variable):
    """The triggerer, the API server's Slack callback and the DAG processor keep reading on every call."""
    for _ in range(2):
        config.get_variable("ccpa_timezone")
    assert counting_variable.reads == ["ccpa_timezone", "ccpa_timezone"]


def test_a_variable_changed_in_the_environment_is_read_fresh(counting_variable, monkeypatch):
    from airflow.sdk import Variable

    monkeypatch.setattr(Variable, "get", lambda key: __import__("os").environ[f"AIRFLOW_VAR_{key.upper()}"])
    with _task_try("try-1"):
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_TIMEZONE", "Asia/Tokyo")
        assert config.get_variable("ccpa_timezone") == "Asia/Tokyo"
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_TIMEZONE", "Europe/Paris")
        assert config.get_variable("ccpa_timezone") == "Europe/Paris"


def test_a_variable_read_is_forgotten_after_the_ttl(counting_variable, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(config.time, "monotonic", lambda: clock[0])
    with _task_try("try-1"):
        config.get_variable("ccpa_timezone")
        clock[0] += config.VARIABLE_MEMO_TTL_SECONDS + 1
        config.get_variable("ccpa_timezone")
    assert counting_variable.reads == ["ccpa_timezone", "ccpa_timezone"]


def test_a_variable_that_could_not_be_read_is_not_remembered(counting_variable):
    with _task_try("try-1"):
        for _ in range(2):
            with pytest.raises(config.ConfigurationError, match="ccpa_alert_emails"):
                config.get_optional_variable("ccpa_alert_emails")
    assert counting_variable.reads == ["ccpa_alert_emails", "ccpa_alert_emails"]


# -- recent_variable: the Slack callback's reads ------------------------------------------------------------------
@pytest.fixture
def metadata_variable(airflow_db, monkeypatch):
    """A Variable in Airflow's metadata DB, read as the API server reads it (the server's secrets chain)."""
    from airflow.models import Variable

    monkeypatch.setenv("_AIRFLOW_PROCESS_CONTEXT", "server")
    monkeypatch.setattr(config, "_recent_variables", {})
    key = "ccpa_test_recent_variable"
    monkeypatch.delenv(f"AIRFLOW_VAR_{key.upper()}", raising=False)
    Variable.set(key, "3")
    yield key
    Variable.delete(key)


def test_a_metadata_db_variable_is_reused_for_its_ttl_then_read_again(metadata_variable, monkeypatch):
    from airflow.models import Variable

    assert config.recent_variable(metadata_variable, "") == "3"
    Variable.set(metadata_variable, "4")
    assert config.recent_variable(metadata_variable, "") == "3", "within the TTL: no metadata-DB query"
    expiry = config._recent_variables[metadata_variable][1]
    assert expiry - config.time.monotonic() <= config.RECENT_VARIABLE_TTL_SECONDS
    monkeypatch.setattr(config.time, "monotonic", lambda: expiry + 0.001)
    assert config.recent_variable(metadata_variable, "") == "4", "after the TTL the change applies"


def test_an_unset_variable_is_remembered_as_unset_and_gives_the_default(metadata_variable, monkeypatch):
    from airflow.models import Variable

    Variable.delete(metadata_variable)
    assert config.recent_variable(metadata_variable, "fallback") == "fallback"
    assert config._recent_variables[metadata_variable][0] is None
    assert config.recent_variable(metadata_variable, "other") == "other", "the default is the caller's, every time"


def test_a_variable_set_in_the_environment_is_read_fresh_every_time(metadata_variable, monkeypatch):
    env = f"AIRFLOW_VAR_{metadata_variable.upper()}"
    assert config.recent_variable(metadata_variable, "") == "3"
    monkeypatch.setenv(env, "5")
    assert config.recent_variable(metadata_variable, "") == "5", "the environment wins at once, cache or not"
    monkeypatch.setenv(env, "6")
    assert config.recent_variable(metadata_variable, "") == "6"


def test_a_failed_read_gives_the_default_and_is_not_remembered(metadata_variable, monkeypatch):
    def backend_down(key):
        raise config.ConfigurationError(f"Airflow Variable '{key}' could not be read (ConnectionError)")

    with monkeypatch.context() as down:
        down.setattr(config, "get_optional_variable", backend_down)
        assert config.recent_variable(metadata_variable, "fallback") == "fallback"
    assert metadata_variable not in config._recent_variables
    assert config.recent_variable(metadata_variable, "fallback") == "3", "the backend is back: read at once"


@pytest.mark.parametrize(
    ("value", "default", "expected"),
    [
        ("1", False, True),
        (" TRUE ", False, True),
        ("yes", False, True),
        ("On", False, True),
        ("0", True, False),
        ("false", True, False),
        ("NO", True, False),
        ("off", True, False),
        (None, False, False),
        (None, True, True),
        ("", True, True),
        ("  ", False, False),
        ("maybe", False, False),
        ("maybe", True, True),
    ],
)
def test_every_yes_no_switch_reads_the_same_words(value: str | None, default: bool, expected: bool) -> None:
    assert config.flag(value, default) is expected


def test_the_switches_use_the_one_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    from include import preload

    monkeypatch.setenv(config.ENV_DEMO, "on")
    monkeypatch.setenv(config.ENV_COMPLIANCE_SQLITE, "off")
    monkeypatch.setenv("CCPA_PRELOAD", "off")
    assert config.demo_mode() is True
    assert config.compliance_sqlite_allowed() is False
    assert preload.enabled() is False
    monkeypatch.setenv("CCPA_PRELOAD", "")
    assert preload.enabled() is True
