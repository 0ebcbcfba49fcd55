"""TLS for the stand-ins, as the real services have it: Slack is HTTPS only and a mail server offers STARTTLS.

Plain-HTTP stand-ins hide what every connection to the real services costs the workflow (a TLS handshake, and, for a
client that builds a new context per connection, the CA bundle read again: issue #22). :func:`self_signed` makes a
certificate for the loopback addresses; a client trusts it through ``SSL_CERT_FILE`` (read by
:func:`ssl.create_default_context`), so the workflow's clients run unchanged, verification on.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path


def self_signed(directory: str | Path, name: str = "ccpa-standin") -> tuple[Path, Path]:
    """Write ``<name>.crt`` and ``<name>.key`` into ``directory``: a self-signed CA certificate (EC P-256, a day
    valid) for ``localhost``, ``127.0.0.1`` and ``::1``. Returns (certificate, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def server_context(cert: str | Path, key: str | Path) -> ssl.SSLContext:
    """A server-side context presenting ``cert``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    return context


def trust_bundle(cert: str | Path, directory: str | Path) -> Path:
    """``directory/ca-bundle.pem``: the system's CA bundle with ``cert`` appended, for ``SSL_CERT_FILE``.

    The stand-in is trusted and every other CA still is; and a client that builds a context per connection pays what
    it pays in production (parsing ~140 CAs: 26-37 CPU-ms with OpenSSL 3 on the benchmark host), which a bundle of
    the one stand-in CA would hide."""
    paths = ssl.get_default_verify_paths()
    system = next((Path(p) for p in (paths.cafile, paths.openssl_cafile) if p and Path(p).is_file()), None)
    bundle = Path(directory) / "ca-bundle.pem"
    bundle.write_bytes((system.read_bytes() if system else b"") + b"\n" + Path(cert).read_bytes())
    return bundle
