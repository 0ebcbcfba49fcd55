"""Bench-only Airflow local settings (bench/waiting_queue.py puts this folder first on PYTHONPATH): every statement
an Airflow process sends to the compliance store is noted, one line each, in ``CCPA_BENCH_POLL_LOG``: time, pid,
the process's role (its ``airflow`` sub-command), the statement's first word and how many parameters it bound (for
the triggerer's shared poll: how many request ids one query asked about). Without the variable nothing is patched.

It counts at SQLAlchemy's ``before_cursor_execute``, in every process that imported Airflow's settings (forked task
processes and the triggerer's runner included), filtered by the compliance store's database name
(``CCPA_BENCH_COMPLIANCE_DB``).
"""

from __future__ import annotations

import os
import sys
import time

LOG = os.environ.get("CCPA_BENCH_POLL_LOG")
DB = os.environ.get("CCPA_BENCH_COMPLIANCE_DB")

if LOG and DB:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    _ROLE = next((a for a in sys.argv[1:] if not a.startswith("-")), "?")

    @event.listens_for(Engine, "before_cursor_execute")
    def _note(conn, cursor, statement, parameters, context, executemany):
        if conn.engine.url.database != DB:
            return
        bound = len(parameters) if isinstance(parameters, (dict, list, tuple)) else 0
        words = statement.split(None, 1)
        line = f"{time.time():.3f}\t{os.getpid()}\t{_ROLE}\t{words[0] if words else '?'}\t{bound}\n"
        with open(LOG, "a", encoding="utf-8") as out:
            out.write(line)
