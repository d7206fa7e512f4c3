"""Fuzz takedown.net.tls.parse_client_hello (RFC 8446 s4.1.2, JA3, JA4): a
crash is any exception but TlsError."""

import sys

import atheris

with atheris.instrument_imports(include=["takedown"]):
    from takedown.net import tls

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import main  # noqa: E402


def TestOneInput(data: bytes) -> None:
    tls.looks_like_tls(data)
    try:
        hello = tls.parse_client_hello(data)
    except tls.TlsError:
        return
    if hello is not None:
        hello.version  # noqa: B018 (a property that reads the parsed versions)
        assert len(hello.ja3_hash) == 32 and hello.ja4.startswith("t")


if __name__ == "__main__":
    main(TestOneInput)
