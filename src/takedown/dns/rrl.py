"""Response rate limiting per source prefix, so the sinkhole is no amplifier.

After BIND's RRL (Vixie and Schryver, "DNS Response Rate Limiting", 2012):
each source prefix (/24 for IPv4 and /56 for IPv6 by default) earns
``responses_per_second`` credits a second; a prefix in debt gets no answer,
except every ``slip``-th one, sent empty with TC=1 so a real resolver behind
a spoofed flood can still retry over TCP. Debt is bounded at ``window``
seconds' worth, so a prefix recovers within ``window`` seconds of going quiet.
TCP is never limited: a completed handshake proves the source.
"""

from __future__ import annotations

import ipaddress

ALLOW, SLIP, DROP = 0, 1, 2

_MAX_TABLE = 200_000


class RateLimiter:
    def __init__(self, responses_per_second: int, slip: int, window: int, ipv4_prefix: int, ipv6_prefix: int):
        self.rate = float(responses_per_second)
        self.slip = slip
        self.floor = -self.rate * window
        self.v4 = ipv4_prefix
        self.v6 = ipv6_prefix
        self.table: dict[str, list] = {}  # prefix -> [credit, last time, limited count]
        self.by_ip: dict[str, list] = {}  # address -> its prefix's account

    def prefix(self, ip: str) -> str:
        if ":" in ip:
            return str(ipaddress.IPv6Network(f"{ip}/{self.v6}", strict=False).network_address)
        if self.v4 == 24:
            return ip.rpartition(".")[0]
        return str(ipaddress.IPv4Network(f"{ip}/{self.v4}", strict=False).network_address)

    def _state(self, ip: str, now: float) -> list:
        """The shared account of ``ip``'s prefix, remembered per address so
        that the per-query path is one dict lookup."""
        if len(self.by_ip) > _MAX_TABLE:
            self.by_ip.clear()
            self.table.clear()
        key = self.prefix(ip)
        st = self.table.get(key)
        if st is None:
            st = self.table[key] = [self.rate, now, 0]
        self.by_ip[ip] = st
        return st

    def check(self, ip: str, now: float) -> int:
        """ALLOW, SLIP or DROP one response to ``ip`` at time ``now``."""
        st = self.by_ip.get(ip) or self._state(ip, now)
        rate = self.rate
        credit = st[0] + (now - st[1]) * rate
        if credit > rate:
            credit = rate
        st[1] = now
        if credit >= 1.0:
            st[0] = credit - 1.0
            return ALLOW
        credit -= 1.0
        st[0] = credit if credit > self.floor else self.floor
        st[2] += 1
        if self.slip and st[2] % self.slip == 0:
            return SLIP
        return DROP
