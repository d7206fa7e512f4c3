"""A self-signed certificate for finishing TLS handshakes at the sinkhole.

Bots rarely check certificates (and the sinkhole cannot hold the criminals'
keys), so a generated certificate is enough to read the HTTP inside a TLS
check-in. It is made once per storage directory and reused, so all workers
and restarts present the same one.
"""

from __future__ import annotations

import datetime
import os
import ssl
from pathlib import Path

from takedown.errors import ServeError


def ensure_self_signed(directory: Path, common_name: str = "sinkhole") -> tuple[Path, Path]:
    """(certificate, key) PEM files in ``directory``, generated if missing."""
    # lazy: cryptography is loaded only on the run that has to make the certificate
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cert_path, key_path = directory / "sinkhole-cert.pem", directory / "sinkhole-key.pem"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ServeError(f"cannot create {directory}: {e.strerror or e}") from None
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    tmp_key, tmp_cert = key_path.with_suffix(".tmp"), cert_path.with_suffix(".tmp")
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    tmp_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp_key, key_path)
    os.replace(tmp_cert, cert_path)
    return cert_path, key_path


def self_signed_context(directory: Path) -> ssl.SSLContext:
    cert, key = ensure_self_signed(directory)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1  # old bots speak old TLS
    try:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.load_cert_chain(cert, key)
    return ctx
