"""Fuzz takedown.net.http.RequestParser (RFC 9112 framing, llhttp validity):
a crash is any exception but HttpError.

Input: one control byte, then the byte stream of one connection. The
control byte is the size of the pieces the stream is fed in (0: whole), so
requests split anywhere (header section, chunk-size lines, bodies) are
fuzzed too. Small limits, so that every limit is within the fuzzer's reach;
the parser caches are shared by every input, as a listener's are, so the
cached paths (known header sections, known header lines) are fuzzed too.
"""

import sys

import atheris

with atheris.instrument_imports(include=["takedown"]):
    from takedown.net.http import HttpError, ParserCaches, RequestParser

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import main  # noqa: E402

CACHES = ParserCaches()


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    step = data[0] or len(data)
    stream = data[1:]
    p = RequestParser(max_header_bytes=512, max_headers=16, max_body_bytes=1024, body_head_bytes=16, caches=CACHES)
    try:
        for i in range(0, len(stream), step):
            for req in p.feed(stream[i : i + step]):
                assert req.body_len <= 1024 and len(req.body_head) <= 16
            p.pending()
            p.expects_continue()
    except HttpError as e:
        assert 400 <= e.status <= 505
        try:
            p.feed(b"GET / HTTP/1.1\r\n\r\n")
        except HttpError as again:
            assert again is e, "a failed parser must refuse with the same error"
        else:
            raise AssertionError("a failed parser accepted more input")


if __name__ == "__main__":
    main(TestOneInput)
