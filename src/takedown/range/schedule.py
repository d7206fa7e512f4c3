"""What the range sends on each emulated day: bot sessions and resolver queries.

A pure function of the population, the targets and the seed (no sockets):
:func:`plan_day` gives one day's :class:`Day`, which the sender puts on the
wire and the truth counts. Everything a count depends on is decided here,
so the truth does not depend on timing.

- A bot still infected on a day is online with probability :data:`ONLINE`
  (home machines are off some days); an online bot makes one session at a
  minute of its daily window (its time zone's working day), a few seconds
  into the minute and never in the last ten seconds of the UTC day, so the
  emulated time of every event falls on the day planned.
- An HTTP session carries 1 + Poisson(mean - 1) check-ins on one keep-alive
  connection; a share goes inside TLS; a TCP family sends one greeting.
- A bot that looks a name up does so through its ISP's resolver (one per
  AS, :data:`RESOLVERS` addresses on 127.1.0.0/16), which asks the
  sinkhole once per name per TTL of the answer (the operation's sinkhole
  TTL: :attr:`Targets.ttl`); ordinary users of the taken-over zone add
  :data:`PASSTHROUGH_PER_DAY` lookups of its legitimate names.
- A DGA bot tries the day's names in their generated order and stops at the
  first that answers; the operation sinks them all, so that is the first.
- A bot that obeyed a stop command (its sinkhole answered a check-in with
  its family's stop body, :mod:`takedown.range.sender`) makes no session and
  no lookup from the next day on: the run passes the stopped bots in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Callable

import numpy as np

from takedown.errors import RangeError
from takedown.range import families
from takedown.range.population import Population

#: Chance that a still-infected bot is online on a given day (an assumption:
#: home machines are off on some days; it also keeps the demo's 50,000 bots x
#: 8 weeks within its time budget).
ONLINE = 0.5
#: Emulated resolver addresses (127.1.x.y): one per AS, folded onto this many
#: (an ISP's resolvers serve many infected clients, so most lookups are cached).
RESOLVERS = 50
#: Lookups of the taken-over zone's legitimate names per day, by other users.
PASSTHROUGH_PER_DAY = 500


@dataclass(frozen=True)
class Targets:
    """The names bots look up, from the operation."""

    seized: list[str]  # names of the [[domains]] lists
    zone: list[str]  # blocklisted (exact) names of the taken-over zones
    passthrough: list[str]  # legitimate names of those zones
    dga: dict[str, Callable[[date], list[str]]] = field(default_factory=dict)  # family -> names of a day
    ttl: int = 3600  # the sinkhole's answers' TTL: how long a resolver caches them


@dataclass(frozen=True)
class Day:
    """One emulated day. Sessions in time order; queries in time order."""

    day: int  # from the range's start
    bot: np.ndarray  # int64 index into the population
    time: np.ndarray  # float64 UNIX time (emulated)
    checkins: np.ndarray  # int64: HTTP requests in the session (1 for TCP)
    tls: np.ndarray  # bool: the session is HTTPS
    host: list[str]  # the name the bot reached (its Host / SNI), "" for none
    q_resolver: np.ndarray  # int64 resolver index
    q_time: np.ndarray  # float64 UNIX time (emulated)
    q_name: list[str]

    def __len__(self) -> int:
        return int(self.bot.size)


def resolver_address(i: int) -> str:
    return f"127.1.{i // 250}.{i % 250 + 1}"


def resolvers_of(pop: Population, count: int = RESOLVERS) -> np.ndarray:
    """Each bot's resolver: its AS's (Knuth's multiplicative hash of the ASN),
    or one picked by address where the AS is unknown."""
    asn = pop.asn.astype(np.uint64)
    by_asn = (asn * np.uint64(2654435761) % np.uint64(2**32)) % np.uint64(count)
    by_ip = pop.ip.astype(np.uint64) % np.uint64(count)
    return np.where(pop.asn >= 0, by_asn, by_ip).astype(np.int64)


def day_start(start: date, day: int) -> float:
    return datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp() + day * 86400.0


def plan_day(pop: Population, targets: Targets, start: date, day: int, seed: int,
             resolver: np.ndarray, stopped: np.ndarray | None = None) -> Day:
    """Day ``day``'s sessions and queries. ``stopped`` (bool per bot, or
    None): bots that obeyed a stop command, left out after every random draw,
    so the other bots' sessions are the same as without it."""
    rng = np.random.default_rng([seed, 7, day])
    n = len(pop)
    online = (pop.cleaned_day > day) & (rng.random(n) < ONLINE)
    bot = np.flatnonzero(online)
    minute = (pop.active_start[bot] + (rng.random(bot.size) * pop.active_minutes[bot]).astype(np.int64)) % 1440
    t0 = day_start(start, day)
    time = t0 + minute * 60.0 + rng.uniform(5.0, 50.0, bot.size)
    order = np.argsort(time, kind="stable")
    bot, time = bot[order], time[order]

    fam = pop.family[bot]
    checkins = np.ones(bot.size, np.int64)
    tls = np.zeros(bot.size, bool)
    host = np.full(bot.size, "", dtype=object)
    when = start.fromordinal(start.toordinal() + day)
    for name in np.unique(fam):
        b = families.get(str(name))
        sel = np.flatnonzero(fam == name)
        if b.transport == "http":
            checkins[sel] = 1 + rng.poisson(max(b.checkins_per_session - 1.0, 0.0), sel.size)
            tls[sel] = rng.random(sel.size) < b.tls_share
        names = _names(b.lookup, targets, str(name), when)
        if names:
            # a bot keeps its seized or zone name; a DGA bot stops at the day's first name
            pick = np.zeros(sel.size, np.int64) if b.lookup == "dga" else bot[sel] % len(names)
            host[sel] = np.asarray(names, dtype=object)[pick]
    if stopped is not None:
        # a stopped bot neither checks in nor looks its names up (so its resolver may not ask)
        keep = np.flatnonzero(~stopped[bot])
        bot, time, checkins, tls, host = bot[keep], time[keep], checkins[keep], tls[keep], host[keep]

    q_res, q_time, q_name = _queries(rng, bot, time, host, resolver, targets, t0)
    return Day(day, bot, time, checkins, tls, host.tolist(), q_res, q_time, q_name)


def _names(lookup: str | None, targets: Targets, family: str, when: date) -> list[str]:
    if lookup == "seized":
        return targets.seized
    if lookup == "zone":
        return targets.zone
    if lookup == "dga":
        gen = targets.dga.get(family)
        if gen is None:

            raise RangeError(f"family {family} looks up DGA names, but the operation has no [[dga]] entry for it")
        return gen(when)
    return []


def _queries(rng, bot, time, host, resolver, targets: Targets, t0: float):
    """Resolver queries: one per (resolver, name, cache period), at its first asker's time."""
    asks = np.flatnonzero(host != "")
    res = resolver[bot[asks]]
    names = host[asks]
    times = time[asks] - 1.0  # the lookup just before the check-in
    if targets.passthrough:
        k = PASSTHROUGH_PER_DAY
        res = np.concatenate([res, rng.integers(0, resolver.max() + 1 if resolver.size else 1, k)])
        names = np.concatenate([names, np.asarray(targets.passthrough, dtype=object)[
            rng.integers(0, len(targets.passthrough), k)]])
        times = np.concatenate([times, t0 + rng.uniform(5.0, 86380.0, k)])
    if not res.size:
        return np.zeros(0, np.int64), np.zeros(0), []
    period = ((times - t0) // max(targets.ttl, 1)).astype(np.int64)
    _, name_id = np.unique(names.astype(str), return_inverse=True)
    key = (res * (name_id.max() + 1) + name_id) * 100_000 + period
    order = np.lexsort((times, key))
    first = np.ones(order.size, bool)
    first[1:] = key[order][1:] != key[order][:-1]
    keep = order[first]
    keep = keep[np.argsort(times[keep], kind="stable")]
    return res[keep].astype(np.int64), times[keep], names[keep].tolist()
