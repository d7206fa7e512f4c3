"""Response rate limiting keyed like BIND 9's, so the sinkhole is no amplifier.

After BIND's RRL (Vixie and Schryver, "DNS Response Rate Limiting", 2012;
BIND 9 ARM, ``rate-limit``; lib/dns/rrl.c): an account is kept per client
prefix (/24 for IPv4 and /56 for IPv6 by default) *and* per response:

========== ============================== =========================
class      account key (besides prefix)   rate
========== ============================== =========================
RESPONSES  query name and type             ``responses_per_second``
REFERRALS  delegation point                ``referrals_per_second``
NODATA     query name (any type)           ``nodata_per_second``
NXDOMAINS  zone (its SOA owner)            ``nxdomains_per_second``
ERRORS     none                            ``errors_per_second``
========== ============================== =========================

so one resolver asking many different names is never limited, while a
repeated question, or a random-subdomain flood (all its NXDOMAINs share the
zone's account), is. The caller computes class and key once per cached
answer; :meth:`RateLimiter.check` is then one dict lookup and arithmetic.

An account earns its rate in credits a second, at most ``rate`` of them; a
response costs one. An account in debt gets no answer, except that every
``slip``-th limited response is sent empty with TC=1 (the first one of a
run slips, as in BIND), so that a real resolver behind a spoofed flood can
retry over TCP. Errors are never slipped, only dropped (BIND: "some error
responses cannot be slipped"). Debt is floored at ``window`` seconds' worth,
and an account idle for more than ``window`` seconds starts afresh with full
credit. ``all_per_second`` adds one more account per prefix for every
response; when it is in debt the response is dropped (never slipped),
whatever its own account says. A rate of 0 means no limit for that class.
Exempt networks are never limited. TCP is never limited (the server does not
ask): a completed handshake proves the source.

The table of accounts is bounded: when it is full, accounts idle for more
than ``window`` seconds are dropped (they would start afresh anyway), then,
if that is not enough, the least recently used ones, so a flood of distinct
keys cannot grow memory without bound.
"""

from __future__ import annotations

import ipaddress

ALLOW, SLIP, DROP = 0, 1, 2

RESPONSES, REFERRALS, NODATA, NXDOMAINS, ERRORS = 0, 1, 2, 3, 4
CLASS_NAMES = ("responses", "referrals", "nodata", "nxdomains", "errors")
_ALL = 5  # the all-per-second accounts (counters only)
_ALL_KEY = "*"
ERROR_KEY = "!"  # the key of every error response (errors are limited per prefix only)

MAX_TABLE = 65_536  # accounts per worker
_PREFIX_CACHE = 65_536  # remembered address -> prefix mappings

_EXEMPT = ""  # the prefix of an exempt address


class RateLimiter:
    """Per-worker RRL state. Not thread-safe (one per event loop)."""

    def __init__(
        self,
        responses_per_second: int = 20,
        *,
        referrals_per_second: int | None = None,
        nodata_per_second: int | None = None,
        nxdomains_per_second: int | None = None,
        errors_per_second: int | None = None,
        all_per_second: int = 0,
        slip: int = 2,
        window: int = 15,
        ipv4_prefix: int = 24,
        ipv6_prefix: int = 56,
        exempt=(),
        max_table: int = MAX_TABLE,
    ):
        r = responses_per_second

        def rate(v):
            return float(r if v is None else v)

        #: rate per class (credits a second); 0 = no limit
        self.rates = (rate(r), rate(referrals_per_second), rate(nodata_per_second),
                      rate(nxdomains_per_second), rate(errors_per_second))
        self.all_rate = float(all_per_second)
        #: slip per class: errors are never slipped
        self.slips = (slip, slip, slip, slip, 0)
        self.window = float(window)
        self.v4 = ipv4_prefix
        self.v6 = ipv6_prefix
        self.exempt = tuple(ipaddress.ip_network(n, strict=False) for n in exempt)
        self.max_table = max(16, max_table)
        #: (prefix, key) -> [credit, last time, slip count]
        self.table: dict[tuple[str, str], list] = {}
        self.prefixes: dict[str, str] = {}  # address -> prefix ("" = exempt)
        #: decisions per class (and "all"): [allowed, slipped, dropped]
        self.counts = [[0, 0, 0] for _ in range(6)]
        self.exempted = 0
        self.evicted = 0

    @classmethod
    def from_config(cls, rrl, **kw) -> RateLimiter | None:
        """The limiter of an operation's ``[dns.rrl]`` (a
        :class:`takedown.operation.Rrl`), or None when it is disabled."""
        if not rrl.enabled:
            return None
        return cls(
            rrl.responses_per_second,
            referrals_per_second=rrl.referrals_per_second,
            nodata_per_second=rrl.nodata_per_second,
            nxdomains_per_second=rrl.nxdomains_per_second,
            errors_per_second=rrl.errors_per_second,
            all_per_second=rrl.all_per_second,
            slip=rrl.slip,
            window=rrl.window,
            ipv4_prefix=rrl.ipv4_prefix,
            ipv6_prefix=rrl.ipv6_prefix,
            exempt=rrl.exempt,
            **kw,
        )

    # -- bookkeeping ----------------------------------------------------------

    def prefix(self, ip: str) -> str:
        """The account prefix of ``ip`` as text ("192.0.2.0/24"), or "" if exempt."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return ip  # not an address (a test's or a Unix socket's peer): itself
        if self.exempt and any(addr in n for n in self.exempt):
            return _EXEMPT
        if addr.version == 6:
            if addr.ipv4_mapped is not None:
                addr = addr.ipv4_mapped
            else:
                return str(ipaddress.IPv6Network(f"{addr}/{self.v6}", strict=False))
        return str(ipaddress.IPv4Network(f"{addr}/{self.v4}", strict=False))

    def _prefix_of(self, ip: str) -> str:
        if len(self.prefixes) >= _PREFIX_CACHE:
            self.prefixes.clear()
        p = self.prefixes[ip] = self.prefix(ip)
        return p

    def _sweep(self, now: float) -> None:
        """Make room: forget idle accounts, then the least recently used."""
        t = self.table
        n = len(t)
        horizon = now - self.window
        idle = [k for k, a in t.items() if a[1] < horizon]
        for k in idle:
            del t[k]
        if len(t) > self.max_table * 3 // 4:
            by_age = sorted(t.items(), key=lambda kv: kv[1][1])
            for k, _a in by_age[: len(t) - self.max_table // 2]:
                del t[k]
        self.evicted += n - len(t)

    def counters(self) -> dict:
        """Decisions so far, as a plain dict: per class (and ``all``, the
        all-per-second drops), allowed/slipped/dropped; ``exempt``; ``accounts``."""
        out = {}
        for i, name in enumerate(CLASS_NAMES + ("all",)):
            a, s, d = self.counts[i]
            out[name] = {"allowed": a, "slipped": s, "dropped": d}
        out["exempt"] = self.exempted
        out["accounts"] = len(self.table)
        out["evicted"] = self.evicted
        return out

    # -- the decision ---------------------------------------------------------

    def _debit(self, k: tuple, rate: float, slip: int, now: float) -> int:
        t = self.table
        a = t.get(k)
        if a is None:
            if len(t) >= self.max_table:
                self._sweep(now)
            a = t[k] = [rate, now, 0]
        else:
            age = now - a[1]
            if age > 0.0:
                a[1] = now
                if age > self.window:
                    a[0] = rate
                    a[2] = 0
                else:
                    c = a[0] + rate * age
                    if c >= rate:
                        c = rate
                        a[2] = 0
                    a[0] = c
        c = a[0] - 1.0
        if c >= 0.0:
            a[0] = c
            return ALLOW
        floor = -self.window * rate
        a[0] = c if c > floor else floor
        if slip:
            n = a[2]
            a[2] = 0 if n + 1 >= slip else n + 1
            if n == 0:
                return SLIP
        return DROP

    def check(self, ip: str, cls: int, key: str, now: float) -> int:
        """ALLOW, SLIP or DROP one UDP response of class ``cls`` with account
        key ``key`` (see the module docstring) to ``ip`` at time ``now``."""
        prefix = self.prefixes.get(ip)
        if prefix is None:
            prefix = self._prefix_of(ip)
        if not prefix:
            self.exempted += 1
            return ALLOW
        rate = self.rates[cls]
        verdict = self._debit((prefix, key), rate, self.slips[cls], now) if rate else ALLOW
        if self.all_rate and self._debit((prefix, _ALL_KEY), self.all_rate, 0, now) != ALLOW:
            # BIND: the all-per-second verdict wins when it limits (never slipped)
            self.counts[_ALL][DROP] += 1
            return DROP
        self.counts[cls][verdict] += 1
        return verdict
