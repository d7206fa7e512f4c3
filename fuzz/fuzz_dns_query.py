"""Fuzz takedown.dns.wire.parse_query (RFC 1035 s4, RFC 6891 s6) and what the
responder does with its result: a crash is any exception but WireError."""

import sys

import atheris

with atheris.instrument_imports(include=["takedown"]):
    from takedown.dns import wire

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import main  # noqa: E402


def TestOneInput(data: bytes) -> None:
    try:
        q = wire.parse_query(data)
    except wire.WireError as e:
        err = wire.error_response(data, e.rcode if e.rcode is not None else wire.FORMERR)
        assert err is None or (len(err) == 12 and err[:2] == data[:2])
        return
    assert 12 < q.question_end <= len(data)
    assert len(q.qname) <= 255 and q.qname.endswith(b"\x00")
    wire.name_to_text(q.key)
    out = wire.render(q, data, wire.NOERROR, True)
    assert out[:2] == data[:2] and out[12:] == data[12 : q.question_end]


if __name__ == "__main__":
    main(TestOneInput)
