"""Fuzz takedown.dns.wire.parse_query (RFC 1035 s4, RFC 6891 s6) and what the
responder does with its result: a crash is any exception but WireError.

The coverage-guided part runs the pure-Python functions (``wire._PURE``):
atheris instruments Python bytecode, not the compiled twin. When the twin is
built (issue 18), every input also goes through it and must give the same
query, the same error or the same bytes: a differential fuzz of the twin."""

import sys

import atheris

with atheris.instrument_imports(include=["takedown"]):
    from takedown.dns import wire

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import main  # noqa: E402

PURE = wire._PURE
TWIN = wire._compiled  # None when not built (or TAKEDOWN_PURE=1)


def _outcome(funcs, data: bytes):
    try:
        q = funcs.parse_query(data)
    except wire.WireError as e:
        return ("error", e.rcode, str(e)), None
    return ("query", q.id, q.qname, q.key, q.qtype, q.question_end), q


def TestOneInput(data: bytes) -> None:
    got, q = _outcome(PURE, data)
    if TWIN is not None:
        twin, tq = _outcome(TWIN, data)
        assert twin == got, (got, twin)
    if q is None:
        err = wire.error_response(data, got[1] if got[1] is not None else wire.FORMERR)
        assert err is None or (len(err) == 12 and err[:2] == data[:2])
        return
    assert 12 < q.question_end <= len(data)
    assert len(q.qname) <= 255 and q.qname.endswith(b"\x00")
    text = PURE.name_to_text(q.key)
    out = PURE.render(q, data, wire.NOERROR, True)
    assert out[:2] == data[:2] and out[12:] == data[12 : q.question_end]
    if TWIN is not None:
        assert TWIN.name_to_text(tq.key) == text
        assert TWIN.render(tq, data, wire.NOERROR, True) == out


if __name__ == "__main__":
    main(TestOneInput)
