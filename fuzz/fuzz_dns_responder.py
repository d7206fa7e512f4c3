"""Fuzz takedown.dns.responder.Responder.respond with a real compiled Policy
(the example operation and a zone of every record shape the responder
treats apart), rate limiting on and an emulated-clock network trusted.

Input: one control byte, then the packet. Control bits: 0 the transport
(0 UDP, 1 TCP); 1-2 the source address (one of them in the emulated-clock
network); 3-7 how far the clock moves (so RRL windows pass). A crash is any
exception (respond never raises: bad packets are answered or dropped), a
response that does not echo the query ID, or a UDP response larger than the
server's payload limit (RFC 6891 s6.2.5; 512 without EDNS, RFC 1035 s4.2.1,
but a FORMERR header for an unparsable packet is always 12 bytes).
"""

import sys

import atheris

with atheris.instrument_imports(include=["takedown"]):
    from takedown.dns.policy import Policy
    from takedown.dns.responder import Responder
    from takedown.dns import wire
    from takedown.dns.rrl import RateLimiter
    from takedown.operation import load_operation
    from takedown.store.dnsbuffer import DnsBuffer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import RESPONDER_ZONE, main, scratch, tests_on_path  # noqa: E402

MAX_UDP = 1232
SOURCES = ("127.0.0.1", "192.0.2.77", "2001:db8::7", "198.51.100.9")


def _responder() -> Responder:
    tests_on_path()
    from dns_helpers import make_operation

    path = make_operation(scratch("responder"), extra_zones={"fuzz.test": RESPONDER_ZONE},
                          rrl={"enabled": True, "responses_per_second": 5, "slip": 2},
                          max_udp_payload=MAX_UDP)
    policy = Policy(load_operation(path), serial=1)
    return Responder(policy, DnsBuffer(), max_udp_payload=MAX_UDP,
                     rrl=RateLimiter(5, errors_per_second=5, slip=2), emulated_clock=("127.0.0.0/8",))


R = _responder()
_clock = [1_700_000_000.0]
_calls = [0]


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    ctl, packet = data[0], data[1:]
    tcp = ctl & 1
    src = SOURCES[(ctl >> 1) & 3]
    _clock[0] += (ctl >> 3) * 0.25
    out = R.respond(packet, src, 40000, "tcp" if tcp else "udp", "127.0.0.1", 53, _clock[0])
    _calls[0] += 1
    if _calls[0] % 4096 == 0:
        R.events.take()  # what the writer does once a second: the buffer never grows without bound
    if out is None:
        return
    assert out[:2] == packet[:2], "response ID differs from the query's"
    assert len(out) <= 65535
    if not tcp:
        try:
            q = wire.parse_query(packet)
            limit = 512 if q.edns is None else min(max(q.edns.udp_size, 512), MAX_UDP)
        except wire.WireError:
            limit = 12
        assert len(out) <= limit, f"UDP response of {len(out)} bytes over the {limit}-byte limit"


if __name__ == "__main__":
    main(TestOneInput)
