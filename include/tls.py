"""One TLS client context per process, for every HTTPS and SMTP-over-TLS connection the workflow opens.

Python builds a new default context for each connection it is not given one for (``http.client.HTTPSConnection``,
which slack_sdk's clients use through urllib; the smtp provider's ``SmtpHook`` for STARTTLS), and building one loads
the system's CA bundle: 26–37 CPU-ms each with OpenSSL 3 on the benchmark host (``ssl.create_default_context()``),
several times a Slack click's whole cost in the API server, paid on every click's prompt update and in every task
that talks to Slack or sends mail (issue #22, docs/benchmarks.md). A context is safe to share between threads and
connections; certificate and host-name checks are those of :func:`ssl.create_default_context`, unchanged.

The CA bundle is read once, when the context is first needed (or before the fork, by include/preload.py): a CA
bundle replaced on disk is used by processes started after the change.
"""

from __future__ import annotations

import ssl
import threading

_context: ssl.SSLContext | None = None
_lock = threading.Lock()


def client_context() -> ssl.SSLContext:
    """The process's TLS client context: :func:`ssl.create_default_context` (server certificate verified against the
    system CAs, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``; host name checked), built on first use."""
    global _context
    if _context is None:
        with _lock:
            if _context is None:
                _context = ssl.create_default_context()
    return _context
