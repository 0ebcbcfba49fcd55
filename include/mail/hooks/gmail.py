"""Send RFC 822 messages through the Gmail API, authenticated by a Google Cloud connection.

The Google provider has no Gmail hook; :class:`GmailHook` builds one on :class:`GoogleBaseHook`, so every way of
authenticating a ``google_cloud_platform`` connection works (key file, ``keyfile_dict``, secret, ADC, ...). Gmail
needs a *mailbox*: a service account sends as a Workspace user through domain-wide delegation, the user being
``delegate_to`` (the provider applies it with ``credentials.with_subject(...)``; its base hook no longer exposes
it, so this hook does the same on the credentials the base hook returns).

The default scope is ``gmail.send``; the connection extra ``scope`` overrides it. The client is built from the
discovery document bundled with google-api-python-client (``static_discovery=True``): no network until a send,
which is ``POST {api_endpoint}gmail/v1/users/{userId}/messages/send`` with the JSON body ``{"raw": base64url}``.

Connection formats (``AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT``)::

    # Production: a service account with domain-wide delegation for the gmail.send scope; the mailbox it sends
    # as is GmailHook(delegate_to="privacy@example.com") or the extra "delegate_to".
    {"conn_type": "google_cloud_platform",
     "extra": {"key_path": "/secrets/gmail-sender.json", "delegate_to": "privacy@example.com"}}
    # (or "keyfile_dict": {...} / "key_secret_name": "..." instead of "key_path")

    # Demo and tests, against devtools.standins.gmail_api: a static bearer token, no Google account at all.
    {"conn_type": "google_cloud_platform",
     "extra": {"api_endpoint": "http://127.0.0.1:8092/", "access_token": "ya29.stand-in"}}

``access_token`` is this hook's own extra (the base hook has no static-token option: ``is_anonymous`` sends no
Authorization header, which Gmail and the stand-in refuse): the token is used as-is and never refreshed, and
``delegate_to`` does not apply to it. It excludes the base hook's key options. ``api_endpoint`` (extra or
constructor) replaces ``https://gmail.googleapis.com/``.

Bytes semantics: ``send_message(bytes)`` sends exactly those bytes. A :class:`email.message.Message` is serialised
by :meth:`GmailHook.mime_bytes`: ``as_bytes()`` with the message's own policy but CRLF line endings, the RFC 5322
wire form, which is what Gmail receives byte for byte. The 25 MB limit is checked on those bytes, before base64.

Logs carry Gmail message ids and sizes only, never recipients, subjects or bodies (requesters' personal data).
"""

from __future__ import annotations

import base64
from email.message import Message
from functools import cached_property
from typing import Any

import google.oauth2.credentials
import google_auth_httplib2
from airflow import __version__ as airflow_version
from airflow.providers.common.compat.sdk import AirflowException
from airflow.providers.google.common.hooks.base_google import GoogleBaseHook
from google.auth.credentials import AnonymousCredentials, Credentials
from googleapiclient.discovery import Resource, build
from googleapiclient.http import build_http, set_user_agent

from include.law import MAX_EMAIL_BYTES
from include.mail.message import MessageTooLarge

GMAIL_SEND_SCOPE = "https://www.googleapis.com/auth/gmail.send"
#: Gmail's limit on a message, counted on the RFC 822 bytes (before base64, which adds a third).
MAX_MESSAGE_BYTES = MAX_EMAIL_BYTES
#: The base hook's credential sources; a static ``access_token`` cannot be combined with any of them.
_KEY_OPTIONS = ("key_path", "keyfile_dict", "credential_config_file", "key_secret_name", "is_anonymous")


class GmailHook(GoogleBaseHook):
    """Gmail API (``users.messages.send``) on a Google Cloud connection; see the module docstring.

    :param gcp_conn_id: The Google Cloud connection.
    :param delegate_to: The mailbox to send as: a service account with domain-wide delegation impersonates this
        Workspace user. Falls back to the connection extra ``delegate_to``.
    :param api_endpoint: Replaces ``https://gmail.googleapis.com/`` (e.g. the local stand-in). Falls back to the
        connection extra ``api_endpoint``.
    """

    conn_name_attr = "gcp_conn_id"
    default_conn_name = "google_cloud_default"
    conn_type = "google_cloud_platform"
    hook_name = "Gmail"

    def __init__(
        self,
        gcp_conn_id: str = default_conn_name,
        delegate_to: str | None = None,
        api_endpoint: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(gcp_conn_id=gcp_conn_id, **kwargs)
        self.delegate_to = delegate_to or self._get_field("delegate_to") or None
        self.api_endpoint = api_endpoint or self._get_field("api_endpoint") or None
        self._gmail_credentials: tuple[Credentials, str | None] | None = None
        self._static_token = False

    @property
    def scopes(self) -> list[str]:
        """``gmail.send`` unless the connection extra ``scope`` (comma separated) says otherwise."""
        scope = self._get_field("scope")
        return [s.strip() for s in scope.split(",") if s.strip()] if scope else [GMAIL_SEND_SCOPE]

    def get_credentials_and_project_id(self) -> tuple[Credentials, str | None]:
        """The base hook's credentials, delegated to the mailbox; or the extra's static ``access_token``."""
        if self._gmail_credentials is not None:
            return self._gmail_credentials
        token = self._get_field("access_token")
        if token:
            clashing = [name for name in _KEY_OPTIONS if self._get_field(name)]
            if clashing:
                raise AirflowException(
                    f"Connection {self.gcp_conn_id!r}: 'access_token' cannot be combined with {clashing}."
                )
            if self.delegate_to:
                self.log.info("Static access token: the token's own mailbox sends, delegate_to is not applied.")
            credentials: Credentials = google.oauth2.credentials.Credentials(token=token)
            project_id = self._get_field("project")
            self._static_token = True
        else:
            credentials, project_id = super().get_credentials_and_project_id()
            if self.delegate_to:
                if not hasattr(credentials, "with_subject"):
                    raise AirflowException(
                        f"delegate_to needs service-account credentials (domain-wide delegation); connection "
                        f"{self.gcp_conn_id!r} gives {type(credentials).__name__}."
                    )
                credentials = credentials.with_subject(self.delegate_to)
        self._gmail_credentials = (credentials, project_id)
        return self._gmail_credentials

    @cached_property
    def client(self) -> Resource:
        """The Gmail v1 client (cached), built offline from the bundled discovery document."""
        credentials = self.get_credentials()
        # On a 401 the transport refreshes the credentials and retries; a static token or anonymous credentials
        # cannot be refreshed, so for them Gmail's 401 is the answer (an HttpError), not a RefreshError.
        refreshable = not isinstance(credentials, AnonymousCredentials) and not self._static_token
        http = google_auth_httplib2.AuthorizedHttp(
            credentials,
            http=set_user_agent(build_http(), f"airflow/{airflow_version}"),
            **({} if refreshable else {"refresh_status_codes": ()}),
        )
        return build(
            "gmail",
            "v1",
            http=http,
            cache_discovery=False,
            static_discovery=True,
            client_options=self.get_client_options(self.api_endpoint) if self.api_endpoint else None,
        )

    def get_conn(self) -> Resource:
        """The Gmail v1 client (cached)."""
        return self.client

    @staticmethod
    def mime_bytes(mime: bytes | Message) -> bytes:
        """The exact bytes :meth:`send_message` hands Gmail: ``bytes`` as given, a Message in CRLF wire form."""
        if isinstance(mime, bytes | bytearray | memoryview):
            return bytes(mime)
        if isinstance(mime, Message):
            return mime.as_bytes(policy=mime.policy.clone(linesep="\r\n"))
        raise TypeError(f"expected bytes or email.message.Message, got {type(mime).__name__}")

    def send_message(self, mime: bytes | Message, user_id: str = "me") -> dict[str, Any]:
        """Send one RFC 822 message; returns Gmail's answer (``id``, ``threadId``, ``labelIds``).

        Gmail sends to the To, Cc and Bcc headers. Raises :class:`MessageTooLarge` before any HTTP call when the
        message is over 25 MB, and googleapiclient's ``HttpError`` when Gmail refuses it (``status_code`` 401 for
        missing or bad credentials that cannot be refreshed, 400 for a message it cannot send).
        """
        raw = self.mime_bytes(mime)
        if len(raw) > MAX_MESSAGE_BYTES:
            raise MessageTooLarge(len(raw))
        body = {"raw": base64.urlsafe_b64encode(raw).decode("ascii")}
        # No client-side retries: a send whose answer was lost may have been delivered, and repeating it could
        # email the person twice. The task's own retry decides, with the delivery record in the compliance store.
        response: dict[str, Any] = self.get_conn().users().messages().send(userId=user_id, body=body).execute()
        self.log.info("Gmail accepted message %s (%d bytes)", response.get("id"), len(raw))
        return response
