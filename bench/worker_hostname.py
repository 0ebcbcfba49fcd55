"""``[core] hostname_callable`` for the two Celery workers of bench/distributed.py: both run on this one machine,
so each names itself from ``CCPA_WORKER_NAME`` (on real machines or pods the default, the FQDN, differs anyway)."""

from __future__ import annotations

import os
import socket


def worker_name() -> str:
    return os.environ.get("CCPA_WORKER_NAME") or socket.getfqdn()
