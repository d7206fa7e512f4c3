"""Checking whether tracked C&Cs are live: ``takedown tracker check``.

What abuse.ch's trackers did for every listed server: resolve the name, try
the C&C's port, fetch the URL, and mark the indicator ``online`` or
``offline`` with the time of the check (ZeuS Tracker's "status" and "last
checked" columns; Feodo Tracker's ``status`` and ``last_online``). A
takedown adds two statuses to verify: a name that resolves to the
operation's own sinkhole is ``sinkholed``, and a ``seized`` or ``sinkholed``
name that resolves anywhere else is a seizure that did not hold (the
registry or registrar reverted it, the criminals moved the name), which is
reported loudly.

Three parts, so the decisions can be tested without a network:

- the decision (:func:`decide`): pure, from what was observed (a
  :class:`Resolution`, the :class:`Attempt` list) to a :class:`CheckResult`;
- the probes (:class:`Checker`): a thin asyncio runner that resolves through
  the one configured resolver only (dnspython's asyncio resolver, RFC 1035
  A and RFC 3596 AAAA), connects over TCP, sends a minimal HTTP/1.1 GET
  (RFC 9112) for URLs, under a token bucket (rate), a semaphore
  (concurrency) and a deadline per target;
- the store glue is the caller's: results are handed to a callback as they
  come, so an interrupted run keeps what it checked.

Every probe goes to the criminals' servers (docs/tracker.md, "Checking"):
route it through a dedicated host or namespace, never from the sinkhole.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import ssl
import string
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import dns.asyncresolver
import dns.exception
import dns.rdatatype
import dns.resolver

from takedown.errors import TrackerError
from takedown.hostport import join
from takedown.tracker.indicator import Indicator, parse_value, utc

__all__ = ["CheckConfig", "Resolution", "Attempt", "CheckResult", "TokenBucket", "Checker", "decide",
           "is_due", "parse_duration", "parse_rate", "parse_resolver", "targets", "run_checks", "check_store",
           "check_indicators"]

#: The ports a bare domain or IP (no port in the indicator) is tried on,
#: in order: C&C panels of ZeuS, SpyEye and their successors sat on HTTPS
#: or HTTP (abuse.ch's Feodo Tracker lists 443 and 80 first among ports).
DEFAULT_PORTS = (443, 80)
_SCHEME_PORTS = {"http": 80, "https": 443}
_HELD = ("seized", "sinkholed")  # statuses a takedown made, which a check verifies
#: The GET's User-Agent: a common browser's, not one that names the tool or
#: the team (a C&C operator reads his logs too); ``--user-agent`` changes it.
DEFAULT_USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-5][0-9][0-9])(?: |\r?\n|$)")
_DURATION = re.compile(r"([0-9]+)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


# -- parsing the command's options ---------------------------------------------


def parse_duration(text: str, what: str = "--stale-after") -> timedelta:
    """``90s``, ``30m``, ``6h``, ``2d``, ``1w`` or a sum (``1h30m``)."""
    s = text.strip().lower()
    parts = _DURATION.findall(s)
    if not s or "".join(n + u for n, u in parts) != s.replace(" ", ""):
        raise TrackerError(f"{what}: {text!r} is not a duration (e.g. 30m, 6h, 2d, 1h30m)")
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in parts))


def parse_rate(text: str, what: str = "--rate") -> float:
    """Checks per second: ``10``, ``10/s``, ``120/m``."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(?:/\s*([smh]))?\s*", text)
    if not m or float(m.group(1)) <= 0:
        raise TrackerError(f"{what}: {text!r} is not a positive rate (e.g. 10/s, 120/m)")
    return float(m.group(1)) / _UNITS[m.group(2) or "s"]


def parse_resolver(text: str | None) -> tuple[str, int]:
    """The resolver the checks ask: an IP literal with an optional port
    (``192.0.2.1``, ``127.0.0.1:5353``, ``[::1]:5353``; port 53 when none).
    There is no default on purpose: asking a public resolver would tell its
    operator, and through it possibly the criminals, what the takedown
    team is looking at."""
    if not text:
        raise TrackerError("--resolver is required: checks resolve names only through the resolver you "
                           "name (an IP address, e.g. 127.0.0.1:5353); there is no default")
    host, port = text.strip(), 53
    if host.startswith("["):
        inner, sep, rest = host[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise TrackerError(f"--resolver: {text!r} is not ADDR[:PORT] (IPv6 as [::1]:5353)")
        host, port_text = inner, rest[1:]
    elif host.count(":") == 1:
        host, port_text = host.split(":")
    else:
        port_text = ""
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise TrackerError(f"--resolver: port {port_text!r} is not 1-65535")
        port = int(port_text)
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        raise TrackerError(f"--resolver: {text!r} is not an IP address (a name would itself need DNS)") from None
    return host, port


@dataclass(frozen=True, slots=True)
class CheckConfig:
    resolver: tuple[str, int]
    rate: float = 10.0  # targets started per second
    burst: int = 1  # targets the bucket lets start at once after a pause
    concurrency: int = 20
    timeout: float = 5.0  # seconds for one target, all its steps together
    ports: tuple[int, ...] = DEFAULT_PORTS
    sinkhole: frozenset[str] = frozenset()  # the operation's sinkhole addresses; empty: none known
    user_agent: str = DEFAULT_USER_AGENT
    # networks probes may connect to; None: any. A resolved address outside
    # them is not connected to (outcome "not allowed"): the demo and the tests
    # confine every probe to loopback whatever a name resolves to.
    only: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None = None

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise TrackerError("--rate: must be above 0")
        if self.concurrency < 1:
            raise TrackerError(f"--concurrency: {self.concurrency} is not 1 or more")
        if not 0 < self.timeout <= 600:
            raise TrackerError(f"--timeout: {self.timeout:g} is not between 0 and 600 seconds")
        if not self.ports or not all(0 < p < 65536 for p in self.ports):
            raise TrackerError(f"--port: {self.ports} are not ports 1-65535")
        if not self.user_agent.isascii() or not self.user_agent.isprintable():
            raise TrackerError(f"--user-agent: {self.user_agent!r} is not printable ASCII")


def parse_networks(texts) -> tuple:
    """``--only`` values: networks in CIDR notation (an address alone is its
    own /32 or /128)."""
    out = []
    for t in texts:
        try:
            out.append(ipaddress.ip_network(t.strip(), strict=False))
        except ValueError:
            raise TrackerError(f"--only: {t!r} is not a network (CIDR, e.g. 127.0.0.0/8)") from None
    return tuple(out)


def is_due(ind: Indicator, now: datetime, stale_after: timedelta) -> bool:
    """Never checked, or last checked more than ``stale_after`` before
    ``now`` (the store's ``select(stale_before=)``)."""
    return ind.last_checked is None or ind.last_checked < now - stale_after


# -- what was observed, and the decision ---------------------------------------


@dataclass(frozen=True, slots=True)
class Resolution:
    """The A and AAAA answers for a host (``error``: why there are none:
    ``NXDOMAIN``, ``no A/AAAA records``, ``SERVFAIL``, ``timeout``)."""

    host: str
    addresses: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at ``address:port``: ``outcome`` is ``open``, ``refused``,
    ``timeout``, ``unreachable``, ``error`` or ``not allowed`` (outside
    :attr:`CheckConfig.only`: never tried); for URLs ``http_status`` is the
    status code of the answer to the GET (None: no HTTP answer)."""

    address: str
    port: int
    outcome: str
    http_status: int | None = None
    http_error: str | None = None

    @property
    def where(self) -> str:
        return join(self.address, self.port)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one check found, as the store records it (``record_check``):
    ``online``, the ``status`` the indicator has after the check, the
    ``reason`` for the history and the ``address`` it was reached at (or
    resolved to). ``alarm``: a seizure that did not hold."""

    value: str
    at: datetime
    online: bool
    status: str
    reason: str
    address: str | None = None
    alarm: bool = False
    http_status: int | None = None
    detail: dict = field(default_factory=dict)


def _attempt_text(a: Attempt, url: str | None) -> str:
    if url is None or a.outcome != "open":
        return f"tcp connect {a.where} {a.outcome}"
    if a.http_status is not None:
        return f"http GET {url} at {a.where}: {a.http_status}"
    return f"http GET {url} at {a.where}: {a.http_error or 'no HTTP response'}"


def decide(ind: Indicator, at: datetime, resolution: Resolution | None, attempts: Iterable[Attempt],
           sinkhole: frozenset[str] = frozenset(), url: str | None = None,
           timed_out: str | None = None) -> CheckResult:
    """The outcome of one check from what was observed.

    ``resolution`` is None for an IP indicator. ``attempts`` are the TCP
    connects (with the GET's answer for a URL, ``url`` given) in the order
    made. ``timed_out`` names the step the target's deadline cut short.

    Online: a TCP connect succeeded (for a URL: and an HTTP answer came,
    whatever its code). A name resolving to a sinkhole address is
    ``sinkholed`` (a ``seized`` one stays ``seized``: that is how a seizure
    looks when it holds). A ``seized``/``sinkholed`` indicator found
    resolving elsewhere, or answering when it is no sinkhole address, is an
    alarm and takes the status the probe found; one that is simply gone
    (NXDOMAIN, refused) keeps its status. Without sinkhole addresses (no
    operation) a held indicator's status is kept: the check cannot tell
    the sinkhole from the criminals' server."""
    at = utc(at)
    attempts = list(attempts)
    addresses = resolution.addresses if resolution is not None else tuple(dict.fromkeys(a.address for a in attempts))
    held = ind.status in _HELD
    detail: dict = {"addresses": list(addresses),
                    "attempts": [{"address": a.address, "port": a.port, "outcome": a.outcome,
                                  **({"http_status": a.http_status} if a.http_status is not None else {})}
                                 for a in attempts]}
    prefix = ""
    if resolution is not None:
        detail["resolved"] = resolution.error or "ok"
        if resolution.error:
            prefix = f"dns {resolution.host}: {resolution.error}"
    sunk = [a for a in addresses if a in sinkhole]
    if sunk:
        status = "seized" if ind.status == "seized" else "sinkholed"
        return CheckResult(ind.value, at, False, status, f"resolves to the sinkhole {', '.join(sunk)}",
                           sunk[0], detail=detail)

    live = next((a for a in attempts if a.outcome == "open" and (url is None or a.http_status is not None)), None)
    if live is not None:
        reason, online, address = _attempt_text(live, url), True, live.address
    else:
        last = attempts[-1] if attempts else None
        steps = [prefix] if prefix else []
        if last is not None:
            steps.append(_attempt_text(last, url))
            if len(attempts) > 1:
                steps[-1] += f" (and {len(attempts) - 1} other tr{'y' if len(attempts) == 2 else 'ies'})"
        if timed_out:
            steps.append(f"timeout during {timed_out}")
        reason = "; ".join(steps) or "nothing to try"
        online, address = False, last.address if last else (addresses[0] if addresses else None)
    found = "online" if online else "offline"
    if not held:
        return CheckResult(ind.value, at, online, found, reason, address,
                           http_status=live.http_status if live else None, detail=detail)
    if not sinkhole:
        return CheckResult(ind.value, at, online, ind.status,
                           f"{reason} (no sinkhole addresses to compare: status kept)", address,
                           http_status=live.http_status if live else None, detail=detail)
    elsewhere = resolution is not None and bool(addresses)
    if elsewhere or online:
        where = f"resolves to {', '.join(addresses)}" if elsewhere else "answers"
        return CheckResult(ind.value, at, online, found,
                           f"{ind.status} but {where}, not the sinkhole: the seizure did not hold; {reason}",
                           address, alarm=True, http_status=live.http_status if live else None, detail=detail)
    return CheckResult(ind.value, at, False, ind.status, reason, address, detail=detail)


# -- what to probe --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    indicator: Indicator
    host: str
    is_ip: bool
    ports: tuple[int, ...]
    scheme: str | None = None  # URLs
    url: str | None = None
    request_target: str = "/"  # path and query of the GET
    host_header: str = ""


def targets(ind: Indicator, default_ports: tuple[int, ...] = DEFAULT_PORTS) -> Target:
    """What a check of ``ind`` connects to (pure)."""
    v = parse_value(ind.value, ind.kind, what=ind.value)
    try:
        ipaddress.ip_address(v.host)
        is_ip = True
    except ValueError:
        is_ip = False
    if v.kind != "url":
        return Target(ind, v.host, is_ip, (v.port,) if v.port else default_ports)
    port = v.port or _SCHEME_PORTS.get(v.scheme or "")
    ports = (port,) if port else default_ports
    rest = v.text.split("://", 1)[1]
    slash = rest.find("/")
    request_target = rest[slash:] if slash >= 0 else "/"
    authority = rest[:slash] if slash >= 0 else rest
    return Target(ind, v.host, is_ip, ports, v.scheme, v.text, request_target, authority.rpartition("@")[2])


# -- rate and concurrency --------------------------------------------------------


class TokenBucket:
    """At most ``burst`` starts at once and ``rate`` per second on average
    (the token bucket of RFC 2697's committed rate). ``clock``/``sleep``
    are injectable so tests count starts against a fake clock."""

    def __init__(self, rate: float, burst: int = 1, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.rate, self.burst = rate, max(1, burst)
        self._clock, self._sleep = clock, sleep
        self._tokens = float(self.burst)
        self._last = clock()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:  # first come, first served: waiters queue on the lock
            while True:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1 - 1e-9:  # float sums of sleeps fall just short of a whole token
                    self._tokens = max(0.0, self._tokens - 1)
                    return
                await self._sleep((1 - self._tokens) / self.rate)


# -- the probes -------------------------------------------------------------------


class Checker:
    """Probes targets over the network, as bounded by a :class:`CheckConfig`."""

    def __init__(self, config: CheckConfig, *, clock: Callable[[], datetime] | None = None) -> None:
        self.config = config
        self._now = clock or (lambda: utc(datetime.now(timezone.utc)))
        r = dns.asyncresolver.Resolver(configure=False)  # never /etc/resolv.conf
        r.nameservers = [config.resolver[0]]
        r.port = config.resolver[1]
        r.cache = None
        self._resolver = r
        self._tls = ssl.create_default_context()
        # a liveness check, not trust: C&C servers present self-signed certificates
        self._tls.check_hostname = False
        self._tls.verify_mode = ssl.CERT_NONE
        self.max_in_flight = 0  # the most targets probed at once (what the semaphore allowed)
        self._in_flight = 0

    async def resolve(self, host: str, timeout: float) -> Resolution:
        async def one(rdtype: str) -> tuple[list[str], str | None]:
            try:
                answer = await self._resolver.resolve(host, rdtype, search=False, raise_on_no_answer=False,
                                                      lifetime=timeout)
            except dns.resolver.NXDOMAIN:
                return [], "NXDOMAIN"
            except dns.resolver.NoNameservers:
                return [], "SERVFAIL"
            except dns.exception.Timeout:
                return [], f"no answer from the resolver {join(*self.config.resolver)} in {timeout:g} s"
            except dns.exception.DNSException as exc:
                return [], f"{type(exc).__name__}: {exc}"
            return [r.address for r in answer.rrset or ()], None

        (v4, e4), (v6, e6) = await asyncio.gather(one("A"), one("AAAA"))
        addresses = tuple(v4 + v6)
        if addresses:
            return Resolution(host, addresses)
        return Resolution(host, (), e4 or e6 or "no A/AAAA records")

    async def connect(self, target: Target, address: str, port: int, progress: list[str] | None = None) -> Attempt:
        """One TCP connect (then TLS for an https URL, and the GET, for a
        URL); ``progress`` gets ``connected`` once the connection is up and
        ``tls`` once the handshake is done, for a caller whose deadline may
        cut this short."""
        progress = [] if progress is None else progress
        if self.config.only is not None and not any(ipaddress.ip_address(address) in n for n in self.config.only):
            return Attempt(address, port, "not allowed")
        try:
            reader, writer = await asyncio.open_connection(address, port)
        except ConnectionRefusedError:
            return Attempt(address, port, "refused")
        except OSError as exc:
            return Attempt(address, port, "unreachable" if exc.errno else "error")
        progress.append("connected")
        try:
            if target.url is None:
                return Attempt(address, port, "open")
            if target.scheme == "https":
                try:
                    await writer.start_tls(self._tls, server_hostname=None if target.is_ip else target.host)
                except (ssl.SSLError, OSError) as exc:
                    why = getattr(exc, "reason", None) or type(exc).__name__
                    return Attempt(address, port, "open", http_error=f"TLS handshake failed ({why})")
                progress.append("tls")
            return await self._get(target, address, port, reader, writer)
        finally:
            # no graceful close: a TLS shutdown waits for the peer's close_notify, which
            # a silent C&C never sends, and would hold the target past its deadline
            writer.transport.abort()

    async def _get(self, target: Target, address: str, port: int, reader: asyncio.StreamReader,
                   writer: asyncio.StreamWriter) -> Attempt:
        # a path as written in a feed may hold spaces or non-ASCII: percent-encoded (RFC 3986, 2.1)
        path = quote(target.request_target, safe=string.punctuation)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {target.host_header}\r\n"
                     f"User-Agent: {self.config.user_agent}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
                     .encode("ascii"))
        try:
            await writer.drain()
            line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            line = exc.partial
        except asyncio.LimitOverrunError:
            return Attempt(address, port, "open", http_error="status line over 64 KiB")
        except (OSError, ssl.SSLError) as exc:
            return Attempt(address, port, "open", http_error=f"connection failed ({type(exc).__name__})")
        m = _STATUS_LINE.match(line)
        if m is None:
            return Attempt(address, port, "open",
                           http_error="not an HTTP response" if line else "closed without an HTTP response")
        return Attempt(address, port, "open", http_status=int(m.group(1)))

    async def check(self, ind: Indicator) -> CheckResult:
        """One target, within the configured timeout."""
        cfg = self.config
        at = self._now()
        target = targets(ind, cfg.ports)
        resolution: Resolution | None = None
        attempts: list[Attempt] = []
        step, progress = "start", []
        deadline = asyncio.get_running_loop().time() + cfg.timeout
        try:
            async with asyncio.timeout_at(deadline):
                if target.is_ip:
                    addresses: tuple[str, ...] = (target.host,)
                else:
                    step = f"dns {target.host} via {join(*cfg.resolver)}"
                    resolution = await self.resolve(target.host, cfg.timeout)
                    addresses = resolution.addresses
                if not any(a in cfg.sinkhole for a in addresses):
                    for address in addresses:
                        for port in target.ports:
                            step = f"{'http GET' if target.url else 'tcp connect'} {join(address, port)}"
                            progress.clear()
                            attempt = await self.connect(target, address, port, progress)
                            attempts.append(attempt)
                            if attempt.outcome == "open" and (target.url is None or attempt.http_status):
                                return decide(ind, at, resolution, attempts, cfg.sinkhole, target.url)
        except TimeoutError:
            if step.startswith(("tcp", "http")):
                address, _, port = step.split(" ")[-1].rpartition(":")
                if progress:  # connected: the handshake or the GET got no answer in time
                    what = "no TLS handshake" if target.scheme == "https" and "tls" not in progress else "no answer"
                    attempts.append(Attempt(address.strip("[]"), int(port), "open",
                                            http_error=f"{what} in {cfg.timeout:g} s"))
                else:
                    attempts.append(Attempt(address.strip("[]"), int(port), "timeout"))
            return decide(ind, at, resolution, attempts, cfg.sinkhole, target.url, timed_out=step)
        return decide(ind, at, resolution, attempts, cfg.sinkhole, target.url)

    async def run(self, indicators: Iterable[Indicator], record: Callable[[CheckResult], None],
                  bucket: TokenBucket | None = None) -> int:
        """Check every indicator, calling ``record`` with each result as it
        comes (on the loop's thread); the number checked."""
        cfg = self.config
        bucket = bucket or TokenBucket(cfg.rate, cfg.burst)
        slots = asyncio.Semaphore(cfg.concurrency)
        tasks: set[asyncio.Task] = set()
        count = 0

        async def one(ind: Indicator) -> None:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            try:
                record(await self.check(ind))
            finally:
                self._in_flight -= 1
                slots.release()

        for ind in indicators:
            # a slot before a token: a token taken while every slot is busy would be spent late
            await slots.acquire()
            await bucket.acquire()
            task = asyncio.create_task(one(ind))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            count += 1
        while tasks:
            await asyncio.gather(*list(tasks))
        return count


def run_checks(indicators: Iterable[Indicator], config: CheckConfig, record: Callable[[CheckResult], None]) -> int:
    """:meth:`Checker.run` on a fresh event loop (the command's entry)."""
    return asyncio.run(Checker(config).run(indicators, record))


def check_store(tracker: Any, config: CheckConfig, *, now: datetime, stale_after: timedelta,
                family: str | None = None, on_result: Callable[[CheckResult], None] | None = None) -> int:
    """Check the indicators of a :class:`takedown.tracker.store.Tracker`
    that are due and record each result in it (:func:`check_indicators`).

    The due indicators are streamed from the store (its ``select`` reads
    a page at a time by id, each page a short read, so recording results
    meanwhile does not wait on a reader)."""
    stale_before = now - stale_after
    due = (ind for ind in tracker.select(family=family, stale_before=stale_before) if is_due(ind, now, stale_after))
    return check_indicators(tracker, due, config, on_result=on_result)


def check_indicators(tracker: Any, indicators: Iterable[Indicator], config: CheckConfig, *,
                     on_result: Callable[[CheckResult], None] | None = None) -> int:
    """Check ``indicators`` (tracked by ``tracker``) and record each result
    in it (``record_check``: the status, a history row with the reason and
    what was tried, ``last_checked``, ``last_online``, the address
    reached); ``on_result`` sees each result after it is recorded."""

    def record(r: CheckResult) -> None:
        tracker.record_check(r.value, at=r.at, online=r.online, reason=r.reason, address=r.address,
                             status=r.status, detail={**r.detail, **({"alarm": True} if r.alarm else {}),
                                                      **({"http_status": r.http_status}
                                                         if r.http_status is not None else {})})
        if on_result is not None:
            on_result(r)

    return run_checks(indicators, config, record)
