"""A reload is one instant for the whole server (takedown.serve, "Reload"):
no answer from the old data follows one from the new, on any worker.

A real ``takedown serve`` with two workers (two SO_REUSEPORT sockets on one
port) answers a stream of UDP queries, each from a new source port so the
kernel spreads them over both, for one name that every reload flips between
sunk and answered from the zone. Before the fix (serve 685ba71: slot by
slot, the new worker read before the old one stopped) 116 of 370 such
reloads on the shared machine had an old answer after a new one
(docs/performance.md, "The reload handover")."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import dns.message
import pytest

from dns_helpers import SINK_V4, Server, make_operation, query

NAME = "shop.3322.org"  # A 198.51.100.81 in the zone; sunk while on the blocklist
RELOADS = 12


class Stream(threading.Thread):
    """Sequential queries for NAME until stopped; each reply as (time, sunk),
    None for no reply within 2 s."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port = port
        self.stopped = threading.Event()
        self.log: list[tuple[float, bool | None]] = []

    def run(self) -> None:
        wire = query(NAME, "A").to_wire()
        while not self.stopped.is_set():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # a new source port each
                s.settimeout(2)
                s.sendto(wire, ("127.0.0.1", self.port))
                try:
                    r = dns.message.from_wire(s.recv(4096))
                    sunk = SINK_V4 in {rd.to_text() for rr in r.answer for rd in rr}
                except TimeoutError:
                    sunk = None
            self.log.append((time.monotonic(), sunk))


@pytest.fixture
def flips(tmp_path):
    op = make_operation(tmp_path)
    srv = Server.start(op, workers=2)
    blocklist = tmp_path / "3322-blocklist.txt"
    text = blocklist.read_text()
    states = {False: text, True: text.replace("gone.3322.org", NAME)}  # same size: only SIGHUP sees it
    stream = Stream(srv.port)
    stream.start()
    out = []
    try:
        for k in range(RELOADS):
            sunk = k % 2 == 0
            st = blocklist.stat()
            with open(blocklist, "r+") as f:
                f.write(states[sunk])
            os.utime(blocklist, ns=(st.st_atime_ns, st.st_mtime_ns))
            start, first = len(srv.stderr()), len(stream.log)
            srv.send_signal(signal.SIGHUP)
            assert srv.wait_stderr(r"reloaded \(SIGHUP\)", timeout=15, start=start), srv.stderr()[start:]
            time.sleep(0.2)  # answers from the new data after the line
            out.append((sunk, [s for _, s in stream.log[first:]]))
    finally:
        stream.stopped.set()
        stream.join(5)
        rc = srv.stop()
        srv.kill()
    assert rc == 0
    return out


def test_no_old_answer_after_a_new_one_on_any_worker(flips):
    for k, (sunk, seq) in enumerate(flips):
        assert None not in seq, f"reload {k}: {seq.count(None)} of {len(seq)} queries unanswered"
        assert seq and seq[-1] == sunk, f"reload {k}: never answered from the new data: {seq}"
        first_new = seq.index(sunk)
        back = [i for i in range(first_new, len(seq)) if seq[i] != sunk]
        assert not back, f"reload {k}: {len(back)} old answers after the first new one: {seq}"
