"""Warm what the task processes use, once, in the long-lived process that forks them.

Airflow runs every task in a process of its own (the Task SDK's supervisor forks it from the executor's worker:
LocalExecutor's workers are forked from the scheduler, Celery's from its worker). Each of those task processes
imported the DAG file, the workflow's modules, the Slack client, SQLAlchemy's MySQL dialect, ReportLab, Babel's
locale data, compiled the Jinja templates and read the PDF fonts again: ~0.2–0.5 CPU-s per task, most of a task's
cost for an ordinary request (docs/benchmarks.md, *Task processes*). Done here once, in the parent, before it forks,
every task process inherits the result copy-on-write.

The plugin (``plugins/ccpa_slack_callback.py``) calls :func:`warm` when Airflow loads plugins: the scheduler loads
them before its executor forks the LocalExecutor workers. Nothing here opens a connection, reads a Variable or a
Connection, or starts a thread: only imports, local files (templates, fonts, locale data, the datastore registry, the
CA bundle of the TLS context) and pure computation — safe before a fork. Env ``CCPA_PRELOAD=0`` turns it off.

The same switch covers :func:`freeze_startup_heap`, the API server's counterpart: its start-up objects moved out of
the garbage collector's way, so a full collection does not stall the Slack callback for most of a second.
"""

from __future__ import annotations

import importlib
import logging
import os
import time

log = logging.getLogger(__name__)

#: The modules the task processes of both DAGs import, the heavy third-party ones included (the workflow imports
#: them inside the functions that use them, so a task process without this warm-up pays only for its own task).
#: tests/unit/test_preload.py checks that every import made inside a function of the task modules is listed here
#: (or imported by something listed).
TASK_MODULES: tuple[str, ...] = (
    # the workflow
    "include.tasks.access_request",
    "include.tasks.compliance_watch",
    "include.decision.sensor",
    "include.decision.trigger",
    "include.report.files",
    "include.report.categories",
    "include.report.downloads",
    "include.report.html",
    "include.report.pdf",
    "include.report.rowpass",
    "include.mail.message",
    "include.mail.notices",
    "include.mail.send",
    "include.mail.alert",
    "include.slack.client",
    "include.slack.blocks",
    "include.store",
    "include.store.migrate",
    "include.verification.service",
    "include.verification.agents",
    "include.verification.account",
    "include.verification.links",
    "include.requester.signing",
    "include.requester.uploads",
    "include.report.reissue",
    "include.disclosure",
    "include.mail.text",
    "include.airflow_runs",
    "include.storage",
    # what parsing the DAG files imports (each task process parses its DAG file again)
    "include.retries",
    "include.datastores.registry",
    "include.request",
    "airflow.sdk.definitions.decorators",
    "airflow.providers.standard.decorators.python",
    "airflow.providers.standard.operators.python",
    "airflow.sdk.bases.branch",
    "airflow.timetables.trigger",
    "packaging.requirements",
    "airflow.version",
    # third-party code they reach at run time
    "airflow.providers.mysql.hooks.mysql",
    "airflow.providers.common.sql.hooks.sql",
    "sqlalchemy.dialects.mysql.mysqldb",
    "MySQLdb",
    "MySQLdb.connections",  # imported by MySQLdb.connect() on first use, not by `import MySQLdb`
    "MySQLdb.cursors",
    "alembic.migration",
    "alembic.script",
    "airflow.providers.smtp.hooks.smtp",
    "include.mail.hooks.smtp",
    "include.tls",
    "airflow.providers.slack.hooks.slack",
    "slack_sdk",
    "slack_sdk.errors",
    "slack_sdk.http_retry",
    "slack_sdk.http_retry.builtin_handlers",
    "slack_sdk.webhook",
    "reportlab.pdfgen.canvas",
    "reportlab.pdfbase.ttfonts",
    "arabic_reshaper",
    "bidi",
    "babel.dates",
    "babel.numbers",
    "babel.support",
    "holidays",
    "smtplib",
    "email.mime.multipart",
)

_done = False
_frozen = False


def enabled() -> bool:
    from include.config import flag

    return flag(os.environ.get("CCPA_PRELOAD"), default=True)


def in_task_process() -> bool:
    """True inside a task process (its supervisor's channel is set): warming there would only add to its cost."""
    import sys

    runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    return getattr(runner, "SUPERVISOR_COMMS", None) is not None


def warm() -> float:
    """Import and prepare what task processes use; returns the CPU seconds it took (0 when already done, disabled,
    or inside a task process). Never raises: a failure here only means task processes do the work themselves."""
    global _done
    if _done or not enabled() or in_task_process():
        return 0.0
    _done = True
    started = time.process_time()
    try:
        for name in TASK_MODULES:
            importlib.import_module(name)
        _warm_sdk_names()
        _warm_templates()
        _warm_locale_data()
        _warm_fonts()
        _warm_registry()
        _warm_store()
        _warm_tls()
    except Exception:  # the workflow works without the warm-up: say so, never stop the process loading plugins
        log.warning("CCPA preload incomplete: task processes will import what they need themselves", exc_info=True)
    return time.process_time() - started


def freeze_startup_heap() -> bool:
    """Move every object this process holds so far out of the cyclic garbage collector's way (``gc.freeze``), once.

    Called when the API server builds the CCPA app (its first request under ``/ccpa``): by then the worker holds
    Airflow's whole app, ~690,000 objects. A full (generation 2) collection walks every one of them, and its pause
    stops the worker answering anything: 0.6-0.7 s measured under a 200/s Slack-callback load, where a Slack click
    must be answered within 3 s and our p99 target is 100 ms; after the freeze the same collections took 12-24 ms
    (docs/benchmarks.md). The objects built at start-up live as long as the process, so the collector gains nothing
    by re-walking them; Airflow itself freezes its DAG processor's and its executor's heaps the same way. Returns
    whether it froze now (False when already done or ``CCPA_PRELOAD=0``).
    """
    global _frozen
    if _frozen or not enabled():
        return False
    import gc

    _frozen = True
    gc.freeze()
    return True


def _warm_sdk_names() -> None:
    """``airflow.sdk`` resolves its names on first access (module ``__getattr__``): the DAG files' ``from airflow.sdk
    import dag, task, …`` imports the decorators then, in every task process, unless done here."""
    import airflow.sdk

    names = ("dag", "task", "task_group", "Param", "TriggerRule", "Variable", "BaseHook", "ObjectStoragePath")
    retry_policy = ("ExceptionRetryPolicy", "RetryAction", "RetryRule")  # include/retries.py, at parse time
    for name in names + retry_policy:
        getattr(airflow.sdk, name)


def _warm_templates() -> None:
    """Compile every email and report template, per language (Jinja keeps them in each environment's cache)."""
    from include.config import INCLUDE_DIR
    from include.i18n import LANGUAGES
    from include.templating import env_for

    root = INCLUDE_DIR / "templates"
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*.j2"))
    for language in LANGUAGES:
        environment = env_for(language)
        for name in names:
            environment.get_template(name)


def _warm_locale_data() -> None:
    """Babel reads its locale data (pickles) on first use; dates, numbers and time-zone names are on every email.
    Called with the default zone, not the business's (that is a Variable: nothing here reads one)."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from babel.dates import format_date, format_datetime, get_timezone_name
    from babel.numbers import format_decimal

    from include import i18n
    from include.clock import DEFAULT_TIMEZONE

    now, tz = datetime.now(UTC), ZoneInfo(DEFAULT_TIMEZONE)
    for language in i18n.LANGUAGES:
        i18n.translations(language)
        format_date(now.date(), format="long", locale=language)
        format_datetime(now, format="long", tzinfo=tz, locale=language)
        get_timezone_name(tz, width="long", zone_variant="generic", locale=language)
        format_decimal(1234.5, locale=language)


def _warm_fonts() -> None:
    """The PDF's first font (Latin) is parsed from its TrueType file on first use: ~0.1 s per report otherwise."""
    from include.report import pdf

    for bold in (False, True):
        for font in pdf._chain(bold)[:1]:
            font.has("a")


def _warm_store() -> int:
    """The compliance store checks once per process that its schema is at the newest migration: the newest
    revision comes from reading the migration scripts (Alembic), a file read that can be done here.

    Its prebuilt statements (``include.store``'s module-level ``_REQUEST``, ``_DECISION``, ...) are compiled once
    against a MySQL dialect that has never connected: what SQLAlchemy memoizes on a statement does not depend on the
    server (its columns and labels, its cache key's structure), and a task process's first ``get_request`` then costs
    1.9 instead of 3.7 CPU-ms. The SQL each process executes is still compiled by its own engine, for its server.
    Returns how many statements were compiled."""
    from sqlalchemy.dialects.mysql.mysqldb import MySQLDialect_mysqldb
    from sqlalchemy.sql.base import Executable
    from sqlalchemy.sql.elements import ClauseElement

    import include.store as store
    from include.store import migrate

    migrate.head()
    dialect = MySQLDialect_mysqldb()
    statements = [v for v in vars(store).values() if isinstance(v, ClauseElement) and isinstance(v, Executable)]
    for statement in statements:
        statement.compile(dialect=dialect)
    return len(statements)


def _warm_tls() -> None:
    """The TLS client context every HTTPS (Slack) and SMTP-over-TLS connection uses: the CA bundle read once here,
    not in every task that talks to Slack or sends mail (include/tls.py)."""
    from include import tls

    tls.client_context()


def _warm_registry() -> None:
    from include.datastores.registry import load_registry

    load_registry()
