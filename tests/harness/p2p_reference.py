"""The P2P model written for reading: one object per bot, dicts and loops.

This is the same model as :mod:`takedown.p2p.engine` (numpy driver) and
:mod:`takedown.p2p.kernels` (numba loops), step by step, without packed
integers, chunks or counter-based random draws. It exists to check the engine:
``tests/test_p2p_reference.py`` runs both on small scenarios over many seeds
and compares the statistics. It draws from one ``random.Random(seed)`` stream,
so it does not reproduce the engine's numbers, only their distribution.

A peer list is a Python list of ``(rank, node)`` tuples, highest first (tuple
order: rank, then node id, as the engine's packed entries). With the "newest"
ranking the rank is the round the entry was last heard of; with "goodcount" it
is the entry's score. Node ids ``>= sink_lo`` (after every bot) are sinkhole
entries, interchangeable fake peers.

One round ``t`` (``t = 0`` sets the scene: no exchange, no fallback):

1. status: a bot is alive if infected and not yet cleaned, online if alive and
   inside its daily window (UTC, from its time zone) or always on;
2. the pool (reachable bots online) is refreshed at every metrics step and at
   round 1: it is what the sensors' crawl and the botmaster's DNS names see;
3. strategies whose hour has come act (clean-up campaign, tier takedown,
   fallback seizure, poisoning joins the active poisonings);
4. poisoning: ``rate_per_hour`` plus ``share_per_hour`` times the pool's size
   announcements an hour (fractions carried), each to a random pool bot
   (distinct targets), of ``min(reply, entries)``
   sinkhole entries stamped ``ahead`` rounds in the future;
5. ``reps`` synchronous exchanges (sub-rounds), each in three phases:
   phase 1, every requester (online, non-empty list, its turn) tries up to
   ``tries`` random entries until one answers, reading the lists as they were
   when the sub-round began: a sinkhole entry is "seen" and answers with
   sinkhole entries or stays silent; an online bot answers with itself (heard
   of now) and its ``reply`` best entries; phase 2, each requester updates its
   own list (failures, then the answer); phase 3, each bot that answered learns
   its reachable askers (heard of now);
6. fallback: online bots that heard from no peer for ``fallback_hours`` (and
   did not fall back as long) turn to DNS (a fresh list from the pool) or the
   hard-coded peers, or, once seized, the sinkhole (seen, nothing learnt); a
   new bot (empty list, never heard from a peer) bootstraps the same way
   (counted as "joined", not as a fallback);
7. every ``metrics_minutes`` (and at the end): the metrics row.

``run(scenario)`` returns an engine :class:`~takedown.p2p.engine.Result`, so
``time_to`` and ``summary`` work on it. ``reference_speed`` times it for the
benchmark (``python -m harness.p2p_reference SCENARIO --bots 10000``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

from takedown.p2p.engine import TZ_MIX, Result
from takedown.p2p.scenario import SHIPPED, Scenario, load_scenario
from takedown.p2p.strategies import Cleanup, Poison, SeizeFallback, TakedownTier

NEVER = 2**31 - 1  # "not cleaned" (the engine's int32 maximum)
LONG_AGO = -(2**30)  # "never heard from a peer" / "never fell back"
DROP_AFTER = -3  # goodcount: an entry whose score falls to this is removed


class Bot:
    """One infected machine."""

    __slots__ = ("id", "reachable", "infected_at", "cleaned_at", "on_start", "on_len", "peers", "last_ok",
                 "last_fallback", "first_seen", "phase", "command_node")

    def __init__(self, id: int):
        self.id = id
        self.reachable = False
        self.infected_at = 0  # round
        self.cleaned_at = NEVER  # round
        self.on_start = 0  # minute of the UTC day its machine is switched on
        self.on_len = 1440  # minutes a day it is on
        self.peers: list[tuple[int, int]] = []  # (rank, node), highest first
        self.last_ok = LONG_AGO  # round it last heard an answer
        self.last_fallback = LONG_AGO  # round it last turned to the fallback
        self.first_seen = -1  # round the sinkhole first saw it
        self.phase = 0  # its turn, when it exchanges less often than once a round
        self.command_node = False


# -- one peer list -------------------------------------------------------------


def merge_newest(peers: list[tuple[int, int]], offered: list[tuple[int, int]], size: int,
                 self_id: int) -> list[tuple[int, int]]:
    """The ``size`` highest-ranked distinct nodes of ``peers`` and ``offered`` (both
    highest first); a node in both keeps its higher rank; a bot never lists itself."""
    if len(peers) == size and offered and offered[0] < peers[-1]:
        return peers  # all offered entries rank below the whole (full) list: nothing changes
    out: list[tuple[int, int]] = []
    listed: set[int] = {self_id}
    for rank, node in sorted(peers + offered, reverse=True):
        if node in listed:
            continue  # a lower copy of a node already kept, or the bot itself
        listed.add(node)
        out.append((rank, node))
        if len(out) == size:
            break
    return out


def offer_goodcount(peers: list[tuple[int, int]], node: int, size: int, self_id: int) -> None:
    """Goodcount: a new node (score 0) only takes a free slot, or the last slot when
    that entry is failing (score below 0)."""
    if len(peers) == size and peers[-1][0] >= 0:
        return  # full, and no entry failing: no room whoever is offered
    if node == self_id or any(n == node for _, n in peers):
        return
    if len(peers) < size:
        peers.append((0, node))
    elif peers[-1][0] < 0:
        peers[-1] = (0, node)
    else:
        return
    peers.sort(reverse=True)


def entry_failed(peers: list[tuple[int, int]], node: int, goodcount: bool, drop: bool) -> None:
    """``node`` did not answer: goodcount takes a point off (removed at DROP_AFTER);
    newest drops it if the family drops silent entries, else keeps it."""
    for x, (rank, n) in enumerate(peers):
        if n != node:
            continue
        if goodcount:
            if rank - 1 <= DROP_AFTER:
                del peers[x]
            else:
                peers[x] = (rank - 1, n)
                peers.sort(reverse=True)
        elif drop:
            del peers[x]
        return


def credit_goodcount(peers: list[tuple[int, int]], node: int) -> None:
    """Goodcount: the entry that answered earns a point."""
    for x, (rank, n) in enumerate(peers):
        if n == node:
            peers[x] = (rank + 1, n)
            peers.sort(reverse=True)
            return


def sinkhole_entries(count: int, rank: int, sink_lo: int, sink_n: int, start: int) -> list[tuple[int, int]]:
    """``count`` distinct sinkhole entries (a cyclic window of the fake ids from ``start``), highest first."""
    ids = sorted(((start + x) % sink_n for x in range(count)), reverse=True)
    return [(rank, sink_lo + i) for i in ids]


# -- the simulation ------------------------------------------------------------


class ReferenceSimulation:
    def __init__(self, scenario: Scenario, *, lcc_every: int | None = None):
        self.sc = sc = scenario
        m = sc.model
        self.rng = rng = random.Random(sc.seed)
        n0 = sc.bots
        rounds = sc.rounds
        n_new = int(round(n0 * m.new_per_day * sc.days))
        self.n = n = n0 + n_new
        day_rounds = 1440 / sc.round_minutes
        metric_steps = rounds * sc.round_minutes / sc.metrics_minutes
        self.lcc_every = lcc_every or max(1, math.ceil(metric_steps / 8))
        self.bots = bots = [Bot(i) for i in range(n)]

        for b in bots:
            b.reachable = rng.random() < m.reachable
        initial_reach = [b.id for b in bots[:n0] if b.reachable]
        if len(initial_reach) < 2:
            bots[0].reachable = bots[1].reachable = True
            initial_reach = [b.id for b in bots[:n0] if b.reachable]

        offsets = [o for o, _ in TZ_MIX]
        weights = [w for _, w in TZ_MIX]
        for b in bots:
            # bots of the starting population are infected at round 0, new ones at a random round
            b.infected_at = 0 if b.id < n0 else rng.randrange(1, max(rounds, 2))
            if m.cleanup_per_day > 0:
                life = rng.expovariate(m.cleanup_per_day / day_rounds)
                b.cleaned_at = min(int(b.infected_at + life), NEVER)
            tz = rng.choices(offsets, weights)[0]
            local_start = rng.uniform(7, 11)
            b.on_start = int(((local_start - tz) * 60) % 1440)
            hours = min(max(rng.gauss(m.online_hours, 2.0), 1), 24)
            b.on_len = 1440 if rng.random() < m.always_on else int(hours * 60)
            b.phase = rng.randrange(1 << 30)

        # command sources: reachable bots while the upper tier is up (tiered), else
        # botmaster-run peers that never go off or get cleaned
        self.command_nodes = rng.sample(initial_reach, min(m.command_nodes, len(initial_reach)))
        for i in self.command_nodes:
            bots[i].command_node = True
            if not m.tiered:
                bots[i].cleaned_at = NEVER
                bots[i].on_len = 1440

        poisons = [s for s in sc.strategies if isinstance(s, Poison)]
        self.sink_n = max([p.entries or m.peer_list for p in poisons], default=1)
        self.sink_lo = n

        # lists at the start: random reachable peers heard of during the last day, newest first
        size = m.peer_list
        spacing = max(1, int(day_rounds) // size)
        for b in bots[:n0]:
            late = rng.randrange(spacing)
            seen: set[int] = set()
            for x in range(size):
                node = initial_reach[rng.randrange(len(initial_reach))]
                if node == b.id or node in seen:
                    continue
                seen.add(node)
                b.peers.append((-x * spacing - late, node))
            b.last_ok = 0
        self.hard = rng.sample(initial_reach, min(m.fallback_peers, len(initial_reach)))

    def is_alive(self, b: Bot, t: int) -> bool:
        return b.infected_at <= t < b.cleaned_at

    def run(self, progress: Callable[[int, int], None] | None = None) -> Result:
        sc, m, rng, bots = self.sc, self.sc.model, self.rng, self.bots
        t0 = time.perf_counter()
        res = Result(sc, self.n)
        rounds = sc.rounds
        per_hour = 60 / sc.round_minutes
        ex_per_round = sc.round_minutes / m.exchange_minutes
        reps = max(1, int(round(ex_per_round))) if ex_per_round >= 1 else 1
        interval = 1 if ex_per_round >= 1 else max(1, int(round(1 / ex_per_round)))
        fb_rounds = max(1, int(round(m.fallback_hours * per_hour)))
        metric_every = max(1, int(round(sc.metrics_minutes / sc.round_minutes)))
        start = {id(s): int(round(s.at_hour * per_hour)) for s in sc.strategies}
        first_poison = min((start[id(s)] for s in sc.strategies if isinstance(s, Poison)), default=None)
        tier_up, seized = True, False
        poisons: list[Poison] = []
        carry = 0.0
        watch: list[int] | None = None  # bots online when poisoning started
        pool: list[int] = []
        counts = dict.fromkeys(("exchanges", "answered", "sinkhole_contacts", "fallbacks", "recovered",
                                "fallback_sinkholed", "joined"), 0)
        metric_no = 0
        for t in range(rounds + 1):
            minute = int(round(t * sc.round_minutes)) % 1440
            alive = [self.is_alive(b, t) for b in bots]
            online = [alive[b.id] and (minute - b.on_start) % 1440 < b.on_len for b in bots]
            if t % metric_every == 0 or t == 1:
                pool = [b.id for b in bots if b.reachable and online[b.id]]

            for s in sc.strategies:
                if start[id(s)] != t:
                    continue
                if isinstance(s, Cleanup):
                    for b in bots:
                        told = rng.random() < s.notified
                        if not told or not alive[b.id] or (b.command_node and not m.tiered):
                            continue
                        if s.remediation_per_day > 0:
                            wait = rng.expovariate(s.remediation_per_day / (per_hour * 24))
                            b.cleaned_at = min(b.cleaned_at, int(t + 1 + wait))
                elif isinstance(s, TakedownTier):
                    tier_up = False
                elif isinstance(s, SeizeFallback):
                    seized = True
                elif isinstance(s, Poison):
                    poisons.append(s)
            if t == first_poison:
                watch = [b.id for b in bots if online[b.id]]

            answers = m.sinkhole_answers
            ahead = 0
            if poisons:
                for p in poisons:
                    if p.answer != "auto":
                        answers = p.answer == "list"
                ahead = int(round(max(p.stamp_ahead_hours for p in poisons) * per_hour))
                carry += sum(p.rate_per_hour + p.share_per_hour * len(pool) for p in poisons) / per_hour
                n_targets = int(carry)
                carry -= n_targets
                if n_targets and pool:
                    targets = sorted({pool[rng.randrange(len(pool))] for _ in range(n_targets)})
                    for i in targets:
                        self.poison(bots[i], t, ahead)

            if t > 0:
                for _ in range(reps):
                    self.exchange(t, interval, online, answers, ahead, counts)
                self.fallback(t, online, pool, fb_rounds, seized, counts)

            if t % metric_every == 0 or t == rounds:
                with_lcc = metric_no % self.lcc_every == 0 or t == rounds
                res.rows.append(self.metrics(t, alive, online, tier_up, counts, with_lcc))
                counts = dict.fromkeys(counts, 0)
                metric_no += 1
            if progress is not None:
                progress(t, rounds)
        if watch is not None:
            res.sinkhole_minutes = self.sinkhole_minutes(watch, first_poison)
        res.wall_seconds = time.perf_counter() - t0
        return res

    # -- the steps of a round ---------------------------------------------------

    def poison(self, b: Bot, t: int, ahead: int) -> None:
        """Sensors announce sinkhole entries (stamped ``ahead`` rounds ahead) to ``b``."""
        m = self.sc.model
        count = min(m.reply, self.sink_n)
        fake = sinkhole_entries(count, t + ahead, self.sink_lo, self.sink_n, self.rng.randrange(self.sink_n))
        if m.ranking == "newest":
            b.peers = merge_newest(b.peers, fake, m.peer_list, b.id)
        else:
            for _, node in fake:
                offer_goodcount(b.peers, node, m.peer_list, b.id)

    def exchange(self, t: int, interval: int, online: list[bool], answers: bool, ahead: int,
                 counts: dict) -> None:
        """One synchronous exchange: ask (reading the lists as they are), update own list, learn askers."""
        m, rng, bots, sink_lo = self.sc.model, self.rng, self.bots, self.sink_lo
        goodcount = m.ranking == "goodcount"
        drop = m.on_fail == "drop"
        requesters = [b for b in bots if online[b.id] and b.peers and (interval <= 1 or (t + b.phase) % interval == 0)]

        # phase 1: ask; nobody's list changes in this phase
        asked = []  # (bot, failed nodes, answering node or None, "bot"/"sink", the answer's entries)
        for b in requesters:
            failed: list[int] = []
            peer, kind, answer = None, None, []
            for _ in range(m.tries):
                _, j = b.peers[rng.randrange(len(b.peers))]
                if j >= sink_lo:
                    if b.first_seen < 0:
                        b.first_seen = t
                    if not answers:
                        failed.append(j)
                        continue
                    count = min(m.reply, self.sink_n)
                    peer, kind = j, "sink"
                    answer = sinkhole_entries(count, t + ahead, sink_lo, self.sink_n, rng.randrange(self.sink_n))
                    break
                if not online[j]:
                    failed.append(j)
                    continue
                # the peer's answer: itself, heard of now, and its best entries
                peer, kind = j, "bot"
                answer = sorted(bots[j].peers[:m.reply] + [(t, j)], reverse=True)
                break
            asked.append((b, failed, peer, kind, answer))
            counts["exchanges"] += 1
            counts["answered"] += kind == "bot"
            counts["sinkhole_contacts"] += sum(1 for j in failed if j >= sink_lo) + (kind == "sink")

        # phase 2: each requester updates its own list
        for b, failed, peer, kind, answer in asked:
            if goodcount or drop:
                for node in failed:
                    entry_failed(b.peers, node, goodcount, drop)
            if peer is None:
                continue
            b.last_ok = t
            if not goodcount:
                b.peers = merge_newest(b.peers, answer, m.peer_list, b.id)
            else:
                credit_goodcount(b.peers, peer)
                for _, node in answer:
                    if node != peer:
                        offer_goodcount(b.peers, node, m.peer_list, b.id)

        # phase 3: a bot that answered learns the reachable bots that asked it
        askers: dict[int, list[int]] = {}
        for b, _, peer, kind, _ in asked:
            if kind == "bot" and b.reachable:
                askers.setdefault(peer, []).append(b.id)
        for j, who in askers.items():
            target = bots[j]
            if not goodcount:
                target.peers = merge_newest(target.peers, [(t, a) for a in who], m.peer_list, j)
            else:
                for a in sorted(who):
                    offer_goodcount(target.peers, a, m.peer_list, j)

    def fallback(self, t: int, online: list[bool], pool: list[int], fb_rounds: int, seized: bool,
                 counts: dict) -> None:
        """Bots that heard from no peer for ``fb_rounds`` rounds turn to the fallback."""
        m, rng = self.sc.model, self.rng
        if m.fallback == "none":
            return
        for b in self.bots:
            if not online[b.id] or t - b.last_ok < fb_rounds or t - b.last_fallback < fb_rounds:
                continue
            b.last_fallback = t
            joining = b.last_ok <= LONG_AGO  # a new bot bootstrapping (never heard from a peer), not a fallback
            counts["joined" if joining else "fallbacks"] += 1
            if seized:  # the names (or addresses) lead to the sinkhole: seen, nothing learnt
                if not joining:
                    counts["fallback_sinkholed"] += 1
                if b.first_seen < 0:
                    b.first_seen = t
                continue
            if m.fallback == "dns":
                found = [pool[rng.randrange(len(pool))] for _ in range(m.fallback_peers)] if pool else []
            else:
                found = [h for h in self.hard if online[h]]
            if not found:
                continue
            if not joining:
                counts["recovered"] += 1
            b.last_ok = t
            fresh = sorted(((t, node) for node in found), reverse=True)
            if m.ranking == "newest":
                # a fresh list from DNS replaces the old one; hard-coded peers join it
                keep = [] if m.fallback == "dns" else b.peers
                b.peers = merge_newest(keep, fresh, m.peer_list, b.id)
            else:
                for _, node in fresh:
                    offer_goodcount(b.peers, node, m.peer_list, b.id)

    # -- metrics -----------------------------------------------------------------

    def metrics(self, t: int, alive: list[bool], online: list[bool], tier_up: bool, counts: dict,
                with_lcc: bool) -> dict:
        m, bots, sink_lo = self.sc.model, self.bots, self.sink_lo
        live = [b for b in bots if alive[b.id]]
        # the sinkhole's share of the lists
        only_sink = entries = sink_entries = 0
        for b in live:
            sinks = len([j for _, j in b.peers if j >= sink_lo])
            entries += len(b.peers)
            sink_entries += sinks
            if b.peers and sinks == len(b.peers):
                only_sink += 1

        # commandable: a chain of live bots' list entries leads to a command source (a
        # bot pulls commands from the peers it lists); sweep until nothing changes
        command = [False] * self.n
        if tier_up:
            for b in live:
                command[b.id] = b.reachable if m.tiered else b.command_node
        changed = any(command)
        while changed:
            changed = False
            for b in live:
                if not command[b.id] and any(j < sink_lo and command[j] for _, j in b.peers):
                    command[b.id] = changed = True

        lcc = self.largest_component(live, alive) if with_lcc else -1
        n_alive = len(live)
        infected = sum(1 for b in bots if b.infected_at <= t)
        seen = sum(1 for b in bots if b.first_seen >= 0)

        def share(x: int) -> float:
            return round(x / n_alive, 6) if n_alive else 0.0

        return {
            "hour": round(t * self.sc.round_minutes / 60, 4),
            "alive": n_alive,
            "online": sum(online),
            "commandable": share(sum(command)),
            "sinkholed": share(only_sink),
            "largest_component": share(lcc) if lcc >= 0 else None,
            "sinkhole_indegree": round(sink_entries / entries, 6) if entries else 0.0,
            "seen": seen,
            "seen_share": round(seen / infected, 6) if infected else 0.0,
            **counts,
        }

    def largest_component(self, live: list[Bot], alive: list[bool]) -> int:
        """Size of the largest connected component of live bots linked by list entries
        between live bots (either direction): union-find over the entries."""
        parent = {b.id: b.id for b in live}

        def root(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for b in live:
            for _, j in b.peers:
                if j < self.sink_lo and alive[j]:
                    a, c = root(b.id), root(j)
                    if a != c:
                        parent[a] = c
        sizes: dict[int, int] = {}
        for b in live:
            r = root(b.id)
            sizes[r] = sizes.get(r, 0) + 1
        return max(sizes.values(), default=0)

    def sinkhole_minutes(self, watch: list[int], first_poison: int) -> dict:
        reached = [self.bots[i].first_seen for i in watch if self.bots[i].first_seen >= 0]
        minutes = sorted(max((fs - first_poison) * self.sc.round_minutes, 0) for fs in reached)
        out = {"bots_online_at_start": len(watch), "reached": len(reached)}
        if minutes:
            out.update(median=round(_percentile(minutes, 50), 3), p90=round(_percentile(minutes, 90), 3),
                       within_10_minutes=round(sum(1 for x in minutes if x <= 10) / len(watch), 6))
        return out


def _percentile(ordered: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    pos = (len(ordered) - 1) * q / 100
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def run(scenario: Scenario, progress: Callable[[int, int], None] | None = None, **kw) -> Result:
    """Run ``scenario`` with the reference model; the engine's Result format."""
    return ReferenceSimulation(scenario, **kw).run(progress)


# -- benchmark entry -----------------------------------------------------------


def speed_scenario(scenario: str | Path | Scenario = "waledac-b49", *, bots: int = 10_000,
                   days: float | None = 1.0, at_hour: float | None = 12.0, seed: int = 1) -> Scenario:
    """``scenario`` (a shipped scenario name, a TOML file or a Scenario) resized for a
    timing run: ``bots`` bots, ``days`` days (None: as is), every strategy moved to
    ``at_hour`` (None: as is; strategies after the end are then dropped). The
    benchmark runs the engine on the same scenario."""
    if not isinstance(scenario, Scenario):
        path = Path(scenario)
        if not path.exists():
            path = SHIPPED / f"{scenario}.toml"
        scenario = load_scenario(path)
    sc = scenario.replace(bots=bots, seed=seed, days=scenario.days if days is None else days)
    strategies = sc.strategies
    if at_hour is not None:
        strategies = tuple(dataclasses.replace(s, at_hour=min(at_hour, sc.days * 24)) for s in strategies)
    return sc.replace(strategies=tuple(s for s in strategies if s.at_hour <= sc.days * 24))


def reference_speed(scenario: str | Path | Scenario = "waledac-b49", *, bots: int = 10_000,
                    days: float | None = 1.0, at_hour: float | None = 12.0, seed: int = 1) -> dict:
    """Time the reference on :func:`speed_scenario` (same arguments): set-up and run
    seconds, exchanges a second, and the final metrics."""
    sc = speed_scenario(scenario, bots=bots, days=days, at_hour=at_hour, seed=seed)
    t0 = time.perf_counter()
    sim = ReferenceSimulation(sc)
    setup = time.perf_counter() - t0
    res = sim.run()
    exchanges = sum(r["exchanges"] for r in res.rows)
    return {
        "scenario": sc.name, "family": sc.model.name, "bots": sc.bots, "bots_total": res.bots_total,
        "days": sc.days, "rounds": sc.rounds, "seed": sc.seed, "takedown_hour": sc.takedown_hour,
        "setup_seconds": round(setup, 3), "run_seconds": round(res.wall_seconds, 3),
        "wall_seconds": round(setup + res.wall_seconds, 3),
        "seconds_per_round": round(res.wall_seconds / (sc.rounds + 1), 6),
        "exchanges": exchanges,
        "exchanges_per_second": round(exchanges / res.wall_seconds) if res.wall_seconds else None,
        "final": res.summary()["final"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.p2p_reference",
                                 description="time the plain reference P2P model (for bench/)")
    ap.add_argument("scenario", nargs="?", default="waledac-b49", help="shipped scenario name or TOML file")
    ap.add_argument("--bots", type=int, default=10_000)
    ap.add_argument("--days", type=float, default=1.0)
    ap.add_argument("--at-hour", type=float, default=12.0, help="move every strategy to this hour")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    out = reference_speed(a.scenario, bots=a.bots, days=a.days, at_hour=a.at_hour, seed=a.seed)
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
