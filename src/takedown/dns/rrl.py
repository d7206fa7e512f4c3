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

Two forms of account. Almost every account is never limited (a resolver's
names), so it is kept as one float, the time its credit was (or would have
been) zero: the credit at ``t`` is ``rate * (t - that)``, capped at
``rate``, and a response moves it on by ``1/rate`` (a generic cell rate
algorithm's theoretical arrival time; ATM Forum TM 4.0, 1996). That is the
same arithmetic as the credit counter while the account is in credit and has
no slip run, with one object per account instead of five, none of them a
container for the cyclic collector to walk: a table of 100,000 accounts per
source is memory-bound, and this form took a check from 0.89 to 0.65 us
(in-process, the DNS benchmark's 200,000 queries, 85,000 accounts). The first
limited response turns it into the full form ``[credit, last time, slip
count]``; back in credit with its slip run over, it returns to the float.

The table of accounts is bounded: when it is full, accounts idle for more
than ``window`` seconds are dropped (they would start afresh anyway), then,
if that is not enough, the least recently used ones, so a flood of distinct
keys cannot grow memory without bound.
"""

from __future__ import annotations

import ipaddress

from takedown.accel import compiled

ALLOW, SLIP, DROP = 0, 1, 2

RESPONSES, REFERRALS, NODATA, NXDOMAINS, ERRORS = 0, 1, 2, 3, 4
CLASS_NAMES = ("responses", "referrals", "nodata", "nxdomains", "errors")
_ALL = 5  # the all-per-second accounts (counters only)
_ALL_KEY = "*"
ERROR_KEY = "!"  # the key of every error response (errors are limited per prefix only)

MAX_TABLE = 262_144  # accounts per worker: about 60 MB at most; one per name in the answer cache (250,000)
_PREFIX_CACHE = 65_536  # remembered address -> prefix mappings

_EXEMPT = "exempt"  # the prefix of an exempt address (no network's text)
# Slack on a short-form account's comparison, in seconds: adding 1/rate a
# rate's worth of times may round a hair past the exact sum; 1 us is a
# thousandth of a credit at the highest rate (1000/s).
_EPS = 1e-6


class RateLimiter:
    """Per-worker RRL state. Not thread-safe (one per event loop)."""

    #: The compiled twin of the fast check (takedown.dns._rrl_c), or None
    #: (not built, or TAKEDOWN_PURE=1); set on an instance before its first
    #: check to choose (tests, bench/rrl_micro.py).
    twin = None

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
        #: prefix -> {key -> [credit, last time, slip count]}
        self.table: dict[str, dict[str, list]] = {}
        self.size = 0  # accounts in the table
        #: address -> its prefix's accounts (the per-query path: two lookups
        #: on strings whose hashes are cached, no tuple)
        self.by_ip: dict[str, dict[str, list]] = {}
        self._exempt_accounts: dict[str, list] = {}  # always empty
        #: decisions per class (and "all"): allowed, [slipped, dropped]
        self.allowed = [0] * 6
        self.limited = [[0, 0] for _ in range(6)]
        self.exempted = 0
        self.evicted = 0
        #: time origin of the short-form accounts (the first check's second),
        #: so their small offsets keep full float precision
        self.epoch: float | None = None
        self.check = self._start

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
        """The account prefix of ``ip`` as text ("192.0.2.0/24"), or "exempt"."""
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

    def _accounts_of(self, ip: str, now: float) -> dict[str, list]:
        """The accounts of ``ip``'s prefix, remembered per address."""
        if len(self.by_ip) >= _PREFIX_CACHE:
            self.by_ip.clear()
        if len(self.table) >= self.max_table:  # prefixes (some without accounts yet)
            self._sweep(now)
        prefix = self.prefix(ip)
        if prefix is _EXEMPT:
            accts = self._exempt_accounts
        else:
            accts = self.table.get(prefix)
            if accts is None:
                accts = self.table[prefix] = {}
        self.by_ip[ip] = accts
        return accts

    def _sweep(self, now: float) -> None:
        """Make room. First forget the accounts that have recovered: full
        credit again (in credit, and idle for a second: a second refills a
        whole rate) or idle past the window; such an account answers exactly
        as a new one would, so forgetting it changes no decision. One pass,
        no sort. Only if the table is still three-quarters full (a flood
        still in debt) are the least recently used forgotten too."""
        t = self.table
        n = self.size
        recovered = now - 1.0
        horizon = now - self.window
        epoch = self.epoch or 0.0
        full = recovered - epoch  # a short-form account emptied before this has full credit

        def gone(a) -> bool:
            if a.__class__ is float:
                return a <= full
            return a[1] < horizon or (a[1] <= recovered and a[0] >= 0.0)

        def last(a) -> float:  # a short form's "empty time" is within a second of its last use
            return a + epoch if a.__class__ is float else a[1]

        for accts in t.values():
            for k in [k for k, a in accts.items() if gone(a)]:
                del accts[k]
        size = sum(len(a) for a in t.values())
        if size > self.max_table * 3 // 4:
            by_age = sorted((last(a), p, k) for p, accts in t.items() for k, a in accts.items())
            for _last, p, k in by_age[: size - self.max_table // 2]:
                del t[p][k]
        for p in [p for p, accts in t.items() if not accts]:
            del t[p]
        self.by_ip.clear()  # it may hold the dicts of prefixes just dropped
        self.size = sum(len(a) for a in t.values())
        self.evicted += n - self.size

    def account(self, prefix: str, key: str) -> float | list | None:
        """The account of ``key`` for ``prefix`` ("192.0.2.0/24"), if there
        is one, as stored: a float in the short form (the time, after
        :attr:`epoch`, at which its credit was zero), else the full form
        ``[credit, last time, slip count]``."""
        return self.table.get(prefix, {}).get(key)

    def counters(self) -> dict:
        """Decisions so far, as a plain dict: per class (and ``all``, the
        all-per-second drops), allowed/slipped/dropped; ``exempt``; ``accounts``."""
        out = {}
        for i, name in enumerate(CLASS_NAMES + ("all",)):
            s, d = self.limited[i]
            out[name] = {"allowed": self.allowed[i], "slipped": s, "dropped": d}
        out["exempt"] = self.exempted
        out["accounts"] = self.size
        out["evicted"] = self.evicted
        return out

    # -- the decision ---------------------------------------------------------

    def _debit(self, ip: str, accts: dict, key: str, rate: float, slip: int, now: float) -> int:
        t = now - self.epoch
        a = accts.get(key)
        if a is None:
            if self.size >= self.max_table:
                self._sweep(now)
                accts = self._accounts_of(ip, now)  # the sweep may have dropped the old dict
            self.size += 1
            a = t - 1.0  # full credit
        if a.__class__ is float:
            if a < t - 1.0:
                a = t - 1.0
            e = a + 1.0 / rate
            if e <= t + _EPS:
                accts[key] = e
                return ALLOW
            a = accts[key] = [rate * (t - a), now, 0]  # limited: the full form from here
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
            if a[2]:
                a[0] = c
            else:  # in credit with no slip run: back to the short form
                accts[key] = t - c / rate
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
        key ``key`` (see the module docstring) to ``ip`` at time ``now``.

        Without ``all_per_second`` an instance answers through
        :meth:`_fast_check`'s closure instead, with the same result."""
        return self._check(ip, cls, key, now)

    def _start(self, ip: str, cls: int, key: str, now: float) -> int:
        """The first check: fix the epoch, then answer through the fast
        closure (or, with ``all_per_second``, where every response debits
        two accounts, through :meth:`_check`)."""
        if self.epoch is None:
            self.epoch = float(int(now))
        if self.all_rate:
            self.check = self._check
        else:
            fast = self._fast_check()
            # the compiled twin takes the closure's common cases and hands it the rest
            self.check = self.twin.FastCheck(self, fast).check if self.twin is not None else fast
        return self.check(ip, cls, key, now)

    def _fast_check(self):
        """``check`` as a closure over the limiter's containers (which are
        only ever cleared, never replaced), the common case inline: an
        account in its short form with a credit to spend, or a class with no
        limit. About 70 ns less a call than a method reading them from
        ``self``. The compiled twin (takedown.dns._rrl_c.FastCheck) does the
        same cases in C and calls this closure for the others."""
        by_ip = self.by_ip
        accounts_of = self._accounts_of
        rates = self.rates
        costs = tuple(1.0 / r if r else 0.0 for r in rates)
        epoch = self.epoch
        allowed = self.allowed
        slow = self._check

        def check(ip: str, cls: int, key: str, now: float) -> int:
            accts = by_ip.get(ip)
            if accts is None:
                accts = accounts_of(ip, now)
            a = accts.get(key)
            if a.__class__ is float:
                t = now - epoch
                if a < t - 1.0:
                    a = t - 1.0
                a += costs[cls]
                if a <= t + _EPS:
                    accts[key] = a
                    allowed[cls] += 1
                    return ALLOW
            elif a is None and accts is not self_exempt:
                if not rates[cls]:
                    allowed[cls] += 1
                    return ALLOW
                if self.size < max_table and costs[cls] <= 1.0:
                    # a new account (every distinct name of a cold run): full
                    # credit less this response, as _debit would make it
                    self.size += 1
                    accts[key] = (now - epoch - 1.0) + costs[cls]
                    allowed[cls] += 1
                    return ALLOW
            return slow(ip, cls, key, now)

        self_exempt = self._exempt_accounts
        max_table = self.max_table
        check.__doc__ = RateLimiter.check.__doc__
        return check

    def _check(self, ip: str, cls: int, key: str, now: float) -> int:
        accts = self.by_ip.get(ip)
        if accts is None:
            accts = self._accounts_of(ip, now)
        if accts is self._exempt_accounts:
            self.exempted += 1
            return ALLOW
        rate = self.rates[cls]
        verdict = self._debit(ip, accts, key, rate, self.slips[cls], now) if rate else ALLOW
        if self.all_rate:
            accts = self.by_ip.get(ip) or self._accounts_of(ip, now)  # (after a sweep)
            if self._debit(ip, accts, _ALL_KEY, self.all_rate, 0, now) != ALLOW:
                # BIND: the all-per-second verdict wins when it limits (never slipped)
                self.limited[_ALL][DROP - 1] += 1
                return DROP
        if verdict == ALLOW:
            self.allowed[cls] += 1
        else:
            self.limited[cls][verdict - 1] += 1
        return verdict


# The compiled twin of the fast check (issue 18, docs/performance.md, "The
# answer record and the new account").
RateLimiter.twin = compiled("takedown.dns._rrl_c")
