"""Fuzz the sans-I/O sinkhole connection (takedown.net.connection): PROXY
header, HTTP, TLS ClientHello and handshake, raw TCP, as the shell drives
them. A crash is any exception: ``receive``, ``timeout`` and ``closed``
turn every bad input into commands (a 4xx, a close), never an exception.

Input: two control bytes, then the peer's byte stream. Byte 0: bits 0-1
the listener (HTTP, TLS, TLS with the handshake, raw TCP), bit 2 whether
the peer is a trusted PROXY-protocol sender, bit 3 a timeout before the
close. Byte 1: the size of the reads the stream arrives in (0: whole).
Listener states are shared by every input (request cache, parser caches,
per-source counts), as a listener's connections share them.
"""

import sys

import atheris

with atheris.instrument_imports(include=["takedown"]):
    from takedown.net.certs import self_signed_context
    from takedown.net.connection import Answer, Close, ListenerState, Record, Send
    from takedown.net.fingerprints import RuleSet
    from takedown.net.responses import ResponsePolicy
    from takedown.operation import Listener

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import main, scratch  # noqa: E402

_KINDS = (("http", False), ("tls", False), ("tls", True), ("tcp", False))
_SRC = ("192.0.2.7", 40000)
_DST = ("127.0.0.1", 8443)


def _states() -> dict:
    ctx = self_signed_context(scratch("tls"))
    rules = RuleSet.shipped()
    out = {}
    for i, (kind, handshake) in enumerate(_KINDS):
        for trusted in (False, True):
            lst = Listener(kind=kind, listen=("127.0.0.1:8443",), response="notice", handshake=handshake,
                           trusted_proxies=("192.0.2.0/24",) if trusted else (), emulated_clock=trusted,
                           max_header_bytes=512, max_body_bytes=1024, requests_per_connection=8)
            out[i, trusted] = ListenerState(lst, rules=rules, policy=ResponsePolicy(), ssl_context=ctx)
    return out


STATES = _states()
_clock = [1_700_000_000.25]


def _check(cmds, closed: list) -> None:
    for c in cmds:
        assert type(c) in (Send, Record, Answer, Close), c
        assert not (closed and type(c) in (Send, Answer)), "bytes sent after Close"
        if type(c) is Close or (type(c) is Answer and c.close):
            closed.append(True)


def TestOneInput(data: bytes) -> None:
    if len(data) < 2:
        return
    ctl, step, stream = data[0], data[1] or len(data), data[2:]
    st = STATES[ctl & 3, bool(ctl & 4)]
    now = _clock[0] = _clock[0] + 0.3
    conn = st.connect(_SRC, _DST, now)
    closed: list = []
    for i in range(0, len(stream), step):
        _check(conn.receive(stream[i : i + step], now), closed)
        if conn.done:
            break
    if ctl & 8:
        _check(conn.timeout(now + 60), closed)
    _check(conn.closed(now + 61), closed)
    assert not st.per_source, "a closed connection is still counted against its source"


if __name__ == "__main__":
    main(TestOneInput)
