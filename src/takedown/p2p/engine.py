"""The simulation engine: a P2P botnet and a takedown plan, in rounds.

State is a few numpy arrays per bot (reachable, infected/cleaned rounds, daily
online window, peer list, last answer, first sinkhole contact); the per-bot
loops run compiled (:mod:`takedown.p2p.kernels`). One round:

1. who is alive (infected, not yet cleaned) and online (daily window in UTC
   from the bot's time zone, or always on);
2. strategies whose hour has come act (clean-up campaign, tier takedown,
   fallback seizure, poisoning: sensors announce sinkhole entries to reachable
   bots);
3. every online bot whose turn it is asks a random entry of its list for
   peers: a live bot answers with itself and its newest entries (and learns
   the asker if the asker is reachable); a sinkhole is seen and answers with
   sinkhole entries or stays silent, as the family allows;
4. bots that heard from no peer for the family's fallback delay turn to the
   fallback (DNS names or hard-coded peers), which is the sinkhole once seized;
5. every ``metrics_minutes``: who the C&C can still command (a chain of live
   list entries to a command source), who lists only sinkholes, the largest
   connected component, the sinkhole share of list entries, unique bots seen
   by the sinkhole.

Seeded: the same scenario and seed give the same result on the same build.
The model and each of its assumptions: docs/sim.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numba
import numpy as np

from takedown.p2p import kernels as k
from takedown.p2p.scenario import Scenario
from takedown.p2p.strategies import Cleanup, Poison, SeizeFallback, TakedownTier

#: UTC offsets of infected machines and their weights (ASSUMED: a rough world mix of
#: the Rustock and Waledac country tables: Americas, Europe, Asia).
TZ_MIX = ((-8, 0.06), (-6, 0.08), (-5, 0.20), (-3, 0.07), (0, 0.06), (1, 0.17), (2, 0.08),
          (3, 0.08), (5.5, 0.07), (7, 0.05), (8, 0.06), (9, 0.02))
_NEVER = np.iinfo(np.int32).max
_LONG_AGO = k.NEVER_HEARD
#: Below this many online bots a round runs on one thread (starting threads for each
#: phase costs more than the work: ZeroAccess asks 60 times a minute); same results.
SERIAL_BELOW = 20_000

COLUMNS = ("hour", "alive", "online", "commandable", "sinkholed", "largest_component", "sinkhole_indegree",
           "seen", "seen_share", "exchanges", "answered", "sinkhole_contacts", "fallbacks", "recovered",
           "fallback_sinkholed", "joined")


@dataclass
class Result:
    scenario: Scenario
    bots_total: int
    rows: list[dict] = field(default_factory=list)
    sinkhole_minutes: dict = field(default_factory=dict)
    wall_seconds: float = 0.0
    memory_bytes: int = 0

    def time_to(self, share: float) -> float | None:
        """Hours from the takedown start until ``share`` of live bots are cut off from the C&C."""
        start = self.scenario.takedown_hour
        if start is None:
            return None
        for r in self.rows:
            if r["hour"] >= start and 1 - r["commandable"] >= share:
                return round(r["hour"] - start, 4)
        return None

    def summary(self) -> dict:
        sc = self.scenario
        last = self.rows[-1] if self.rows else {}
        return {
            "scenario": sc.name, "title": sc.title, "family": sc.model.name,
            "bots": sc.bots, "bots_total": self.bots_total, "days": sc.days, "seed": sc.seed,
            "round_minutes": sc.round_minutes, "rounds": sc.rounds,
            "takedown_hour": sc.takedown_hour,
            "final": {c: last.get(c) for c in ("alive", "commandable", "sinkholed", "largest_component",
                                               "sinkhole_indegree", "seen", "seen_share")},
            "time_to_50_hours": self.time_to(0.5),
            "time_to_90_hours": self.time_to(0.9),
            "time_to_99_hours": self.time_to(0.99),
            "sinkhole_minutes": self.sinkhole_minutes,
            "fallbacks": sum(r["fallbacks"] for r in self.rows),
            "recovered_by_fallback": sum(r["recovered"] for r in self.rows),
            "fallback_sinkholed": sum(r["fallback_sinkholed"] for r in self.rows),
            "strategies": [{"kind": s.kind, **{k2: v for k2, v in vars(s).items()}} for s in sc.strategies],
            "model": {name: value for name, value, _ in sc.model.parameters()},
            "wall_seconds": round(self.wall_seconds, 3),
            "memory_bytes": self.memory_bytes,
        }


class Simulation:
    def __init__(self, scenario: Scenario, *, lcc_every: int | None = None):
        self.sc = sc = scenario
        m = sc.model
        rng = self.rng = np.random.default_rng(sc.seed)
        n0 = sc.bots
        rounds = sc.rounds
        n_new = int(round(n0 * m.new_per_day * sc.days))
        n = self.n = n0 + n_new
        day_rounds = 1440 / sc.round_minutes
        metric_steps = rounds * sc.round_minutes / sc.metrics_minutes
        # the largest component costs a pass over every list (~1 s at 1M bots): ~8 a run by default
        self.lcc_every = lcc_every or max(1, int(np.ceil(metric_steps / 8)))

        self.reach = rng.random(n) < m.reachable
        initial_reach = np.flatnonzero(self.reach[:n0]).astype(np.int32)
        if initial_reach.size < 2:
            self.reach[:2] = True
            initial_reach = np.flatnonzero(self.reach[:n0]).astype(np.int32)
        self.inf_at = np.zeros(n, np.int32)
        self.inf_at[n0:] = rng.integers(1, max(rounds, 2), n_new)
        life = rng.exponential(day_rounds / m.cleanup_per_day, n) if m.cleanup_per_day > 0 else np.full(n, 1e18)
        self.clean_at = np.minimum(self.inf_at + life, _NEVER).astype(np.int32)

        offsets = np.array([o for o, _ in TZ_MIX])
        weights = np.array([w for _, w in TZ_MIX])
        tz = offsets[rng.choice(len(offsets), n, p=weights / weights.sum())]
        local_start = rng.uniform(7, 11, n)
        self.on_start = (((local_start - tz) * 60) % 1440).astype(np.int32)
        on_len = np.clip(rng.normal(m.online_hours, 2.0, n), 1, 24) * 60
        on_len[rng.random(n) < m.always_on] = 1440
        self.on_len = on_len.astype(np.int32)

        # command sources: reachable bots while the upper tier is up (tiered), else
        # botmaster-run peers that never go off or get cleaned
        self.cmd_nodes = rng.choice(initial_reach, min(m.command_nodes, initial_reach.size), replace=False)
        if not m.tiered:
            self.clean_at[self.cmd_nodes] = _NEVER
            self.on_len[self.cmd_nodes] = 1440
        self.is_cmd_node = np.zeros(n, bool)
        self.is_cmd_node[self.cmd_nodes] = True

        poisons = [s for s in sc.strategies if isinstance(s, Poison)]
        self.sink_n = max([p.entries or m.peer_list for p in poisons], default=1)
        self.sink_lo = n
        kk = m.peer_list
        width = max(m.reply + 1, m.fallback_peers, self.sink_n, kk) + 2
        table = 1 << int(np.ceil(np.log2(2 * (kk + width + 1))))
        self.lists = np.full((n, kk), -1, np.int64)
        self.cnt = np.zeros(n, np.int32)
        self.scratch = np.zeros((k.CHUNKS, kk), np.int64)
        self.buf = np.zeros((k.CHUNKS, width), np.int64)
        self.tables = np.zeros((k.CHUNKS, table), np.int64)
        self.slot_eps = np.zeros((k.CHUNKS, table), np.int64)
        self.counter = np.zeros(k.CHUNKS, np.int64)
        self._initial_lists(n0, initial_reach, int(day_rounds))

        self.last_ok = np.full(n, _LONG_AGO, np.int32)
        self.last_ok[:n0] = 0
        self.last_fb = np.full(n, _LONG_AGO, np.int32)
        self.first_seen = np.full(n, -1, np.int32)
        self.phase = rng.integers(0, 1 << 30, n).astype(np.int32)
        self.hard = rng.choice(initial_reach, min(m.fallback_peers, initial_reach.size), replace=False).astype(np.int32)
        self.alive = np.zeros(n, bool)
        self.online = np.zeros(n, bool)
        self.cmd = np.zeros(n, bool)
        self.req_buf = np.zeros(n, np.int32)
        self.parent = np.zeros(n, np.int32)

    def _initial_lists(self, n0: int, pool: np.ndarray, day_rounds: int) -> None:
        """Lists at the start: random reachable peers heard of during the last day, newest first."""
        kk = self.lists.shape[1]
        spacing = max(1, day_rounds // kk)
        base = -(np.arange(kk, dtype=np.int64) * spacing)
        step = 65536
        for lo in range(0, n0, step):
            hi = min(n0, lo + step)
            ids = pool[self.rng.integers(0, pool.size, (hi - lo, kk))].astype(np.int64)
            rank = base[None, :] - self.rng.integers(0, spacing, (hi - lo, 1))
            self.lists[lo:hi] = ((rank + k.OFF) << 32) | ids
            self.cnt[lo:hi] = kk
        k.dedup_rows(self.lists, self.cnt, n0, self.tables[0], self.slot_eps[0], self.counter[:1])

    def memory(self) -> int:
        return sum(v.nbytes for v in vars(self).values() if isinstance(v, np.ndarray))

    def run(self, progress: Callable[[int, int], None] | None = None) -> Result:
        # Results never depend on the thread count; for small populations one thread
        # avoids starting threads for every kernel of every round (100x on a busy machine).
        threads = numba.get_num_threads()
        if self.n <= SERIAL_BELOW:
            numba.set_num_threads(1)
        try:
            return self._run(progress)
        finally:
            numba.set_num_threads(threads)

    def _run(self, progress: Callable[[int, int], None] | None) -> Result:
        sc, m = self.sc, self.sc.model
        t0 = time.perf_counter()
        res = Result(sc, self.n, memory_bytes=self.memory())
        rounds = sc.rounds
        per_hour = 60 / sc.round_minutes
        ex_per_round = sc.round_minutes / m.exchange_minutes
        reps = max(1, int(round(ex_per_round))) if ex_per_round >= 1 else 1
        interval = 1 if ex_per_round >= 1 else max(1, int(round(1 / ex_per_round)))
        fb_rounds = max(1, int(round(m.fallback_hours * per_hour)))
        metric_every = max(1, int(round(sc.metrics_minutes / sc.round_minutes)))
        ranking = k.NEWEST if m.ranking == "newest" else k.GOODCOUNT
        drop = m.on_fail == "drop"
        fb_kind = {"dns": 0, "hardcoded": 1, "none": 2}[m.fallback]
        start = {id(s): int(round(s.at_hour * per_hour)) for s in sc.strategies}
        tier_up, seized = True, False
        poisons: list[Poison] = []
        carry = 0.0
        first_poison_round = min((start[id(s)] for s in sc.strategies if isinstance(s, Poison)), default=None)
        watch = None  # bots online when poisoning started: their minutes to the sinkhole
        pool = np.zeros(0, np.int32)
        acc = dict.fromkeys(COLUMNS[COLUMNS.index("exchanges"):], 0)
        fb_counts = np.zeros((k.CHUNKS, 4), np.int64)
        metric_no = 0
        for t in range(rounds + 1):
            minute = int(round(t * sc.round_minutes)) % 1440
            k.status(t, minute, self.inf_at, self.clean_at, self.on_start, self.on_len, self.alive, self.online)
            if t % metric_every == 0 or t == 1:
                # the botmaster's fast-flux names and the sensors' crawl both see the
                # reachable bots online at the last check
                pool = np.flatnonzero(self.reach & self.online).astype(np.int32)
            for s in sc.strategies:
                if start[id(s)] != t:
                    continue
                if isinstance(s, Cleanup):
                    told = self.alive & (self.rng.random(self.n) < s.notified)
                    if not m.tiered:
                        told &= ~self.is_cmd_node
                    if s.remediation_per_day > 0:
                        wait = self.rng.exponential(per_hour * 24 / s.remediation_per_day, int(told.sum()))
                        self.clean_at[told] = np.minimum(self.clean_at[told], t + 1 + wait).astype(np.int32)
                elif isinstance(s, TakedownTier):
                    tier_up = False
                elif isinstance(s, SeizeFallback):
                    seized = True
                elif isinstance(s, Poison):
                    poisons.append(s)
            if first_poison_round is not None and t == first_poison_round:
                watch = self.online.copy()
            answers = m.sinkhole_answers
            ahead = 0
            if poisons:
                for p in poisons:
                    if p.answer != "auto":
                        answers = p.answer == "list"
                ahead = int(round(max(p.stamp_ahead_hours for p in poisons) * per_hour))
                carry += sum(p.rate_per_hour + p.share_per_hour * pool.size for p in poisons) / per_hour
                n_targets = int(carry)
                carry -= n_targets
                if n_targets and pool.size:
                    targets = np.unique(pool[self.rng.integers(0, pool.size, n_targets)])
                    k.poison(sc.seed, t, targets, self.lists, self.cnt, m.reply, self.sink_lo, self.sink_n, ahead,
                             ranking, self.scratch, self.tables, self.slot_eps, self.counter, self.buf)
            if t > 0:
                if int(self.online.sum()) <= SERIAL_BELOW:
                    self._exchange_serial(t, reps, interval, answers, ahead, ranking, drop, acc)
                else:
                    for sub in range(reps):
                        self._exchange_round(t, sub, interval, answers, ahead, ranking, drop, acc)
                k.fallback(sc.seed, t, self.online, self.lists, self.cnt, self.last_ok, self.last_fb,
                           self.first_seen, fb_rounds, fb_kind, seized, pool, self.hard, m.fallback_peers, ranking,
                           self.scratch, self.tables, self.slot_eps, self.counter, self.buf, fb_counts)
                fb, rec, fbs, joined = fb_counts.sum(axis=0)
                acc["fallbacks"] += int(fb)
                acc["recovered"] += int(rec)
                acc["fallback_sinkholed"] += int(fbs)
                acc["joined"] += int(joined)
            if t % metric_every == 0 or t == rounds:
                res.rows.append(self._metrics(t, tier_up, acc, metric_no % self.lcc_every == 0 or t == rounds))
                acc = dict.fromkeys(acc, 0)
                metric_no += 1
            if progress is not None:
                progress(t, rounds)
        if watch is not None:
            res.sinkhole_minutes = self._sinkhole_minutes(watch, first_poison_round)
        res.wall_seconds = time.perf_counter() - t0
        return res

    def _exchange_serial(self, t: int, reps: int, interval: int, answers: bool, ahead: int, ranking: int,
                         drop: bool, acc: dict) -> None:
        m = self.sc.model
        cap = int(self.online.sum()) + 1
        stats = np.zeros(3, np.int64)
        k.exchange_serial(self.sc.seed, t, reps, interval, self.phase, self.online, self.reach, self.lists, self.cnt,
                          self.last_ok, self.first_seen, self.sink_lo, self.sink_n, answers, ahead, m.reply, m.tries,
                          ranking, drop, self.req_buf, np.empty(cap, np.int64),
                          np.empty(cap, np.int8), np.empty((cap, m.reply + 1), np.int64), np.empty(cap, np.int32),
                          np.empty((cap, m.tries), np.int64), np.empty(cap, np.int32), self.scratch, self.tables,
                          self.slot_eps, self.counter, self.buf, np.empty(cap, np.int64), np.empty(cap, np.int32),
                          stats)
        acc["exchanges"] += int(stats[0])
        acc["answered"] += int(stats[1])
        acc["sinkhole_contacts"] += int(stats[2])

    def _exchange_round(self, t: int, sub: int, interval: int, answers: bool, ahead: int, ranking: int,
                        drop: bool, acc: dict) -> None:
        m = self.sc.model
        a = k.requesters(t, self.online, self.phase, interval, self.cnt, self.req_buf)
        req = self.req_buf[:a]
        if not a:
            return
        peer_of = np.empty(a, np.int64)
        outcome = np.empty(a, np.int8)
        reply = np.empty((a, m.reply + 1), np.int64)
        reply_n = np.empty(a, np.int32)
        failed = np.empty((a, m.tries), np.int64)
        n_failed = np.empty(a, np.int32)
        k.ask(self.sc.seed, t, sub, req, self.lists, self.cnt, self.online, self.sink_lo, self.sink_n, answers,
              ahead, m.reply, m.tries, peer_of, outcome, reply, reply_n, failed, n_failed, self.first_seen)
        k.apply_answers(t, req, self.lists, self.cnt, self.last_ok, peer_of, outcome, reply, reply_n, failed,
                        n_failed, ranking, drop, self.scratch, self.tables, self.slot_eps, self.counter)
        ok = outcome == k.OK_BOT
        acc["exchanges"] += a
        acc["answered"] += int(ok.sum())
        tried = np.arange(m.tries)[None, :] < n_failed[:, None]
        acc["sinkhole_contacts"] += int(((failed >= self.sink_lo) & tried).sum()) + int((outcome == k.OK_SINK).sum())
        push = ok & self.reach[req]
        if push.any():
            js = peer_of[push]
            askers = req[push]
            order = np.argsort(js, kind="stable")
            js, askers = js[order], askers[order]
            cut = np.flatnonzero(np.diff(js)) + 1
            starts = np.concatenate(([0], cut, [js.size])).astype(np.int64)
            targets = js[starts[:-1]]
            k.learn(t, targets, starts, askers, self.lists, self.cnt, ranking, self.scratch, self.tables,
                    self.slot_eps, self.counter, self.buf)

    def _metrics(self, t: int, tier_up: bool, acc: dict, with_lcc: bool) -> dict:
        m = self.sc.model
        source = (self.reach if m.tiered else self.is_cmd_node) & tier_up
        k.commandable(self.alive, source, self.lists, self.cnt, self.sink_lo, self.cmd)
        per_chunk = np.zeros((k.CHUNKS, 3), np.int64)
        k.list_counts(self.alive, self.lists, self.cnt, self.sink_lo, per_chunk)
        only_sink, entries, sink_entries = (int(x) for x in per_chunk.sum(axis=0))
        lcc = k.largest_component(self.alive, self.lists, self.cnt, self.sink_lo, self.parent) if with_lcc else -1
        alive = int(self.alive.sum())
        infected = int((self.inf_at <= t).sum())
        seen = int((self.first_seen >= 0).sum())

        def share(x: int) -> float:
            return round(x / alive, 6) if alive else 0.0

        return {
            "hour": round(t * self.sc.round_minutes / 60, 4),
            "alive": alive,
            "online": int(self.online.sum()),
            "commandable": share(int((self.cmd & self.alive).sum())),
            "sinkholed": share(only_sink),
            "largest_component": share(lcc) if lcc >= 0 else None,
            "sinkhole_indegree": round(sink_entries / entries, 6) if entries else 0.0,
            "seen": seen,
            "seen_share": round(seen / infected, 6) if infected else 0.0,
            **acc,
        }

    def _sinkhole_minutes(self, watch: np.ndarray, r0: int) -> dict:
        fs = self.first_seen[watch]
        reached = fs[fs >= 0]
        minutes = np.maximum((reached.astype(np.float64) - r0) * self.sc.round_minutes, 0)
        out = {"bots_online_at_start": int(watch.sum()), "reached": int(reached.size)}
        if reached.size:
            out.update(median=round(float(np.median(minutes)), 3), p90=round(float(np.percentile(minutes, 90)), 3),
                       within_10_minutes=round(float((minutes <= 10).sum() / watch.sum()), 6))
        return out


def simulate(scenario: Scenario, progress: Callable[[int, int], None] | None = None, **kw) -> Result:
    return Simulation(scenario, **kw).run(progress)
