"""What a range bot makes of its sinkhole's answers: the commands in them.

A bot of a family that obeys commands (``Behaviour.commands``) keeps the
bytes the sinkhole sends back on its session (plain HTTP, or HTTP inside
TLS); when the session ends, :func:`commands_in` frames the pipelined
responses and counts those whose body is exactly one of the family's command
bodies. A body that merely contains a command's bytes is no command, nor is
a command's text in a header.

Framing follows RFC 9112 section 6.3: a response to a 1xx, 204 or 304 has no
body; otherwise ``Content-Length`` gives its length, and without one the
body runs to the close. ``Transfer-Encoding`` is never used by takedown's
sinkhole: a response with it ends the framing (what follows is not read as
commands). Responses are matched to requests in order (RFC 9112 9.3.2).

Cost: most sessions carry no command, and a command body is a whole
response body, so its bytes are somewhere in what came back: the bytes are
searched first, once, for the start the family's command bodies share (the
range's all begin ``takedown-range/1``), and framed only when it is there.
Measured with timeit on the 2-core test machine: a ZeuS session of six 200s
with empty bodies costs 1.4 to 2.7 us, one of six notice pages (3.4 kB
each, the demo's answer) 8 to 14 us (a busy machine, load 6); framing costs
about 2.7 us a response. The range's budget is ~250 us a session.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

_NO_BODY = (b"204", b"304")  # and every 1xx


class Commands:
    """A family's commands as a bot recognises them: each body's command, and
    the bytes every body starts with (what the first search looks for)."""

    __slots__ = ("bodies", "needles")

    def __init__(self, commands: Mapping[str, bytes]):
        self.bodies = {body: name for name, body in commands.items()}
        # without trailing whitespace: CPython's search skips ahead on the needle's
        # last byte, and a space or newline is everywhere in an HTML page (2x slower)
        common = os.path.commonprefix(list(self.bodies)).rstrip()
        self.needles = (common,) if len(common) >= 4 else tuple(self.bodies)


def commands_in(data: bytes, known: Commands) -> dict[str, int]:
    """``{command: responses carrying it}`` in the HTTP/1.1 responses of
    ``data`` (everything a session received, in order). Empty when none is
    there."""
    if not any(n in data for n in known.needles):
        return {}
    bodies = known.bodies
    out: dict[str, int] = {}
    for body in responses(data):
        name = bodies.get(body)
        if name is not None:
            out[name] = out.get(name, 0) + 1
    return out


def responses(data: bytes) -> list[bytes]:
    """The bodies of the complete HTTP/1.1 responses at the start of ``data``
    (a truncated last response is left out)."""
    out: list[bytes] = []
    pos, n = 0, len(data)
    while pos < n:
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            break
        head = data[pos:end].split(b"\r\n")
        status = head[0].split(b" ", 2)
        if len(status) < 2 or not status[0].startswith(b"HTTP/"):
            break  # not a response: nothing after it can be framed
        pos = end + 4
        if status[1] in _NO_BODY or status[1][:1] == b"1":
            continue
        length = None
        for line in head[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    return out
            elif name == b"transfer-encoding":
                return out
        if length is None:  # the body runs to the close
            out.append(data[pos:])
            break
        if length < 0 or pos + length > n:
            break
        out.append(data[pos:pos + length])
        pos += length
    return out
