"""Fuzz takedown.net.proxy.parse_proxy (the PROXY protocol, versions 1 and 2,
haproxy doc/proxy-protocol.txt): a crash is any exception but ProxyError."""

import sys

import atheris

with atheris.instrument_imports(include=["takedown"]):
    from takedown.net import proxy

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import main  # noqa: E402


def TestOneInput(data: bytes) -> None:
    try:
        got = proxy.parse_proxy(data)
        if got is None:
            assert len(data) < proxy.MAX_HEADER, "undecided past MAX_HEADER bytes"
            return
        header, n = got
        assert 0 <= n <= len(data)
        if header is not None:
            header.clock  # noqa: B018 (decodes the clock TLV: may raise ProxyError)
    except proxy.ProxyError:
        return


if __name__ == "__main__":
    main(TestOneInput)
