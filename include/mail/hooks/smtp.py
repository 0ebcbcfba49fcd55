"""The smtp provider's ``SmtpHook``, with the process's one TLS context for SMTPS and STARTTLS (include.tls).

The provider builds a new default context for every connection (``ssl.create_default_context()``: the system's CA
bundle read again, 26–37 CPU-ms with OpenSSL 3, more than the rest of sending an acknowledgement). Verification is
the same default; the connection extra ``ssl_context`` keeps its meaning (``none``: no verification, anything other
than ``default``/``none`` refused by the provider).
"""

from __future__ import annotations

import ssl

from airflow.providers.smtp.hooks.smtp import SmtpHook as ProviderSmtpHook

from include import tls


class SmtpHook(ProviderSmtpHook):
    def _build_ssl_context(self) -> ssl.SSLContext | None:
        if self.ssl_context in (None, "default"):
            return tls.client_context()
        return super()._build_ssl_context()
