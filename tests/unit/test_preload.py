"""include/preload.py: what the scheduler warms before forking is what the task processes import, and warming is
safe before a fork (no connection, no Variable) and never stops a component loading its plugins."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from include import preload

ROOT = Path(__file__).resolve().parents[2]


def _is_module(name: str) -> bool:
    base = ROOT / name.replace(".", "/")
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def _imports_inside_functions(module: str, seen: set[str]) -> set[str]:
    """Every module imported inside a function of ``module`` and, transitively, of the include modules it names."""
    if module in seen or not module.startswith("include"):
        return set()
    seen.add(module)
    path = ROOT / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = ROOT / module.replace(".", "/") / "__init__.py"
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                # `from include.report import categories` names a module too
                found.update(
                    f"{node.module}.{alias.name}"
                    for alias in node.names
                    if node.module.startswith("include") and _is_module(f"{node.module}.{alias.name}")
                )
    for name in list(found):
        found |= _imports_inside_functions(name, seen)
    return found


def _warm_in_fresh_interpreter(env: dict[str, str] | None = None) -> dict[str, object]:
    """warm() in a new Python process, as a scheduler runs it: the modules it leaves loaded and the sockets opened."""
    code = """
import json, sys
connects = []
NET = ("socket.connect", "socket.getaddrinfo")
sys.addaudithook(lambda event, args: connects.append(event) if event in NET else None)
from airflow.sdk import Variable, BaseHook
reads = []
Variable.get = staticmethod(lambda *a, **k: reads.append(("Variable", a[0])))
BaseHook.get_connection = staticmethod(lambda *a, **k: reads.append(("Connection", a[0])))
from include import preload
cpu = preload.warm()
from include import tls
tls_ready = tls._context is not None
print(json.dumps({"cpu": cpu, "modules": sorted(sys.modules), "connects": connects, "reads": reads, "tls": tls_ready}))
"""

    run_env = {**os.environ, **(env or {})}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=120, check=True
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def warmed() -> dict[str, object]:
    return _warm_in_fresh_interpreter()


def test_preload_covers_every_import_the_task_functions_make(warmed: dict[str, object]) -> None:
    """An import added inside a task function and not preloaded would cost every task process again, silently."""
    needed: set[str] = set()
    seen: set[str] = set()
    for task_module in ("include.tasks.access_request", "include.tasks.compliance_watch"):
        needed |= _imports_inside_functions(task_module, seen)
    needed |= {"include.tasks.access_request", "include.tasks.compliance_watch"}
    # Imports made only for a deployment choice the default does not make (Gmail API, S3), a chart, or a schema
    # migration (once per database, not per task).
    optional = {
        "include.mail.hooks.gmail",
        "airflow.providers.amazon.aws.hooks.s3",
        "botocore.config",
        "matplotlib",
        "alembic.config",
    }
    missing = sorted(
        name
        for name in needed
        if name not in warmed["modules"] and not any(name.startswith(o) for o in optional)  # type: ignore[operator]
    )
    assert missing == [], f"imported inside task functions but not preloaded: {missing} (add to TASK_MODULES)"
    assert len(needed) > 30  # the walk found the task modules' lazy imports, not nothing


def test_after_preload_parsing_a_dag_file_imports_nothing_new() -> None:
    """Each task process parses its DAG file again: with the warm-up inherited, that is running the file, not
    importing the workflow and Airflow's decorators (~0.1 s per task before)."""
    code = """
import json, sys
import airflow.sdk.execution_time.task_runner  # what the executor's worker has before it forks a task
from airflow.dag_processing.dagbag import BundleDagBag
from include import preload
preload.warm()
new = {}
for name in ("ccpa_right_of_access", "ccpa_compliance_watch"):
    before = set(sys.modules)
    bag = BundleDagBag(dag_folder=f"dags/{name}.py", safe_mode=False, load_op_links=False, bundle_path=".",
                       bundle_name="dags-folder")
    assert name in bag.dags, bag.import_errors
    new[name] = sorted(m for m in set(sys.modules) - before if not m.startswith("unusual_prefix_"))
print(json.dumps(new))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"ccpa_right_of_access": [], "ccpa_compliance_watch": []}


def test_preload_opens_no_connection_and_reads_no_variable_before_the_fork(warmed: dict[str, object]) -> None:
    """A connection opened in the scheduler would be shared by every forked task process: warm() must open none."""
    assert warmed["connects"] == []
    assert warmed["reads"] == []  # no Variable or Connection either (they may be metadata-DB queries)
    assert warmed["cpu"] > 0  # it did the work


def test_preload_builds_the_tls_context_task_processes_inherit(warmed: dict[str, object]) -> None:
    """The CA bundle read once before the fork, not in each task that talks to Slack or sends mail (issue #22)."""
    assert warmed["tls"] is True


def test_preload_compiles_the_templates_task_processes_render(warmed: dict[str, object]) -> None:
    code = """
from include import preload, templating
preload.warm()
env = templating.env_for("es")
print(len(env.cache or {}))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert int(out.stdout.strip().splitlines()[-1]) >= len(list((ROOT / "include/templates").rglob("*.j2")))


def test_preload_does_nothing_inside_a_task_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each task process loads the plugins again (the Task SDK's own plugin manager): there, warming everything
    would add the whole cost to every task instead of removing it."""
    from airflow.sdk.execution_time import task_runner

    monkeypatch.setattr(preload, "_done", False)
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", object(), raising=False)
    assert preload.in_task_process()
    assert preload.warm() == 0.0
    assert preload._done is False


def test_preload_is_off_with_ccpa_preload_0(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preload, "_done", False)
    monkeypatch.setenv("CCPA_PRELOAD", "0")
    assert preload.warm() == 0.0
    assert preload._done is False


def test_a_failing_preload_logs_and_never_raises(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The plugin's on_load runs while Airflow loads plugins: an exception there would drop the Slack callback."""
    monkeypatch.setattr(preload, "_done", False)
    monkeypatch.setattr(preload, "TASK_MODULES", ("include.no_such_module_here",))
    preload.warm()
    assert "CCPA preload incomplete" in caplog.text


def test_the_plugin_warms_on_load_and_still_loads_without_include() -> None:
    code = """
import sys
sys.path.insert(0, "plugins")
import ccpa_slack_callback as p
p.CcpaSlackCallbackPlugin.on_load()
print("include.tasks.access_request" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "True"
    # Without the project on the path (a component that only serves Airflow), on_load returns quietly.
    code_without = f"""
import sys
sys.path = [p for p in sys.path if p not in ("", ".", {str(ROOT)!r})]
sys.path.insert(0, "plugins")
import ccpa_slack_callback as p
p.CcpaSlackCallbackPlugin.on_load()
print("include" in sys.modules)
"""

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-c", code_without], cwd=ROOT, capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip().splitlines()[-1] == "False"


def _first_requests_in_fresh_interpreter(env: dict[str, str] | None = None) -> list[int]:
    """Two requests through the plugin's lazily built app, in a new interpreter (a freeze here would freeze the test
    run's own heap): the garbage collector's frozen-object count before, after the first and after the second."""
    code = """
import asyncio, gc, json, sys
sys.path.insert(0, "plugins")
import ccpa_slack_callback as p

async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})

async def receive():
    return {"type": "http.request", "body": b"", "more_body": False}

async def send(message):
    pass

lazy = p.LazyASGI(lambda: app)
counts = [gc.get_freeze_count()]
for _ in range(2):
    asyncio.run(lazy({"type": "http", "method": "GET", "path": "/"}, receive, send))
    counts.append(gc.get_freeze_count())
print(json.dumps(counts))
"""
    run_env = {**os.environ, **(env or {})}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=120, check=True
    )
    counts: list[int] = json.loads(out.stdout.strip().splitlines()[-1])
    return counts


def test_the_api_server_freezes_its_start_up_heap_once_when_the_ccpa_app_is_built() -> None:
    """A full garbage collection re-walking the API server's ~690,000 start-up objects stalled the Slack callback
    0.6-0.7 s under load: the first request under /ccpa freezes them (what the worker holds by then), once."""
    before, after_first, after_second = _first_requests_in_fresh_interpreter()
    assert before == 0
    assert after_first > 10_000  # the interpreter, Airflow's plugin manager and the plugin: frozen
    assert after_second == after_first  # not again: later objects stay with the collector


def test_the_api_server_heap_is_not_frozen_with_ccpa_preload_0() -> None:
    assert _first_requests_in_fresh_interpreter({"CCPA_PRELOAD": "0"}) == [0, 0, 0]


def test_preload_compiles_the_store_statements_and_they_still_run(compliance_store: Any) -> None:
    """What the warm-up memoizes on a statement must not tie it to a server: after it, the store's statements run."""
    from include.store import UnknownRequest

    assert preload._warm_store() >= 8  # _REQUEST, _DECISION, _APPROVALS, the approval's inserts and update, ...
    store = compliance_store
    with pytest.raises(UnknownRequest):
        store.get_request("no-such-request")
    assert store.get_decision("no-such-request") is None
