"""The P2P engine (numpy + numba) against the plain reference model
(:mod:`harness.p2p_reference`, dicts and loops, ``random.Random``).

The two draw different random numbers, so they are compared as distributions:
each case runs both over the same ``SEEDS`` and, for every key metric, requires

    |mean_engine - mean_reference| <= 4 * sqrt(se_engine**2 + se_reference**2) + tol

(se: standard error of the mean over the seeds; ``tol``: a small stated slack,
0.02 for shares of bots or entries, one metrics step for hours, a few percent for
rates). The metrics: final commandable, sinkholed, sinkhole in-degree, seen and
largest-component shares; answered share of exchanges; exchanges, fallbacks and
online share per bot; hours to 50% and 90% cut off (a run that never gets there
counts as the hours it ran after the takedown start plus one step, so means stay
comparable). Seeds are fixed, so the comparison is deterministic; a 4-sigma miss
by chance is about 1 in 1,000 a metric.

Populations are small (250-800 bots, one hour to 1.25 days, strategies moved
early) because the reference is plain Python: the whole file takes about a
minute on two cores. ZeroAccess exchanges every second; here its exchange
interval is stretched to 12 s (still several sub-rounds a round) for the same
reason. Run this file directly to print the comparison tables.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from pathlib import Path

import numba
import pytest

from takedown.p2p import engine
from harness import p2p_reference as reference
from takedown.p2p.engine import Result, simulate
from takedown.p2p.scenario import SHIPPED, Scenario, load_scenario

SEEDS = range(1, 11)
SHARE_TOL = 0.02

GOODCOUNT_TOML = """\
# Waledac with Sality-like lists: scores, failing entries dropped, short lists,
# and sinkholes that answer with sinkhole entries.
[scenario]
title = "goodcount"
family = "waledac"
bots = 800
days = 1.25
seed = 1

[family]
ranking = "goodcount"
on_fail = "keep"
peer_list = 30
reply = 10

[[strategy]]
kind = "poison"
at_hour = 12
share_per_hour = 0.5
answer = "list"
"""

NEWEST_DROP_TOML = """\
# Kelihos-like lists that drop silent entries, with silent sinkholes and the
# fallback seized: the newest ranking with on_fail = "drop".
[scenario]
family = "kelihos-b"
bots = 400
days = 0.75
seed = 1
metrics_minutes = 60

[family]
on_fail = "drop"
peer_list = 60
reply = 30

[[strategy]]
kind = "poison"
at_hour = 6
share_per_hour = 0.5
answer = "silent"

[[strategy]]
kind = "seize_fallback"
at_hour = 6
"""


def shortened(name: str, *, bots: int, days: float, at_hour: float, **model: object) -> Scenario:
    """A shipped scenario, smaller and shorter, every strategy moved to ``at_hour``;
    ``model`` overrides family values."""
    sc = load_scenario(SHIPPED / f"{name}.toml")
    strategies = tuple(dataclasses.replace(s, at_hour=at_hour) for s in sc.strategies)
    if model:
        sc = sc.replace(model=dataclasses.replace(sc.model, **model))
    return sc.replace(bots=bots, days=days, strategies=strategies)


def from_toml(tmp: Path, name: str, text: str) -> Scenario:
    path = tmp / f"{name}.toml"
    path.write_text(text)
    return load_scenario(path)


CASES = {
    # Operation b49: poisoning (silent sinkholes) + fallback seizure + tier takedown
    "waledac-b49": lambda tmp: shortened("waledac-b49", bots=800, days=1.25, at_hour=12),
    # poisoning alone: the DNS fallback hands live repeaters back
    "waledac-poison-only": lambda tmp: shortened("waledac-poison-only", bots=800, days=1.25, at_hour=12),
    # answering sinkholes, 500-entry lists, exchanges every 10 minutes
    "kelihos-b": lambda tmp: shortened("kelihos-b", bots=250, days=0.5, at_hour=3),
    # flat P2P, one try, 16-entry replies, hard-coded fallback, 5 sub-rounds a round
    "zeroaccess": lambda tmp: shortened("zeroaccess-2013", bots=250, days=1 / 24, at_hour=0.5, exchange_minutes=0.2),
    # goodcount ranking (entries dropped by score) through a [family] table
    "goodcount": lambda tmp: from_toml(tmp, "goodcount", GOODCOUNT_TOML),
    # newest ranking with on_fail = "drop", silent sinkholes, seized fallback
    "newest-drop": lambda tmp: from_toml(tmp, "newest-drop", NEWEST_DROP_TOML),
}


# -- statistics ----------------------------------------------------------------


def key_metrics(res: Result) -> dict[str, float]:
    sc = res.scenario
    s = res.summary()
    final = s["final"]
    rows = res.rows
    exchanges = sum(r["exchanges"] for r in rows)
    step_hours = sc.metrics_minutes / 60
    out = {
        "commandable": final["commandable"],
        "sinkholed": final["sinkholed"],
        "sinkhole_indegree": final["sinkhole_indegree"],
        "seen_share": final["seen_share"],
        "largest_component": final["largest_component"],
        "answered_share": sum(r["answered"] for r in rows) / exchanges if exchanges else 0.0,
        "exchanges_per_bot": exchanges / res.bots_total,
        "fallbacks_per_bot": s["fallbacks"] / res.bots_total,
        "online_share": statistics.fmean(r["online"] / r["alive"] for r in rows if r["alive"]),
    }
    if sc.takedown_hour is not None:
        never = sc.days * 24 - sc.takedown_hour + step_hours
        for share in (0.5, 0.9):
            hours = res.time_to(share)
            out[f"time_to_{int(share * 100)}_hours"] = never if hours is None else hours
    return out


def tolerance(metric: str, sc: Scenario, mean: float) -> float:
    """The stated slack added to the 4-sigma bound."""
    if metric.startswith("time_to"):
        return sc.metrics_minutes / 60  # one metrics step
    if metric in ("exchanges_per_bot", "fallbacks_per_bot"):
        return 0.03 * abs(mean) + 0.02  # 3% of the rate
    return SHARE_TOL


def compare(sc: Scenario, engine: list[Result], ref: list[Result]) -> tuple[list[str], str]:
    """(failed metrics, a table of every metric: means, standard errors, difference, bound)."""
    e_m = [key_metrics(r) for r in engine]
    r_m = [key_metrics(r) for r in ref]
    lines = [f"{'metric':<20} {'engine':>9} {'se':>7} {'reference':>9} {'se':>7} {'diff':>8} {'bound':>7}"]
    failed = []
    for metric in e_m[0]:
        a = [m[metric] for m in e_m]
        b = [m[metric] for m in r_m]
        ma, mb = statistics.fmean(a), statistics.fmean(b)
        se_a = statistics.stdev(a) / math.sqrt(len(a))
        se_b = statistics.stdev(b) / math.sqrt(len(b))
        bound = 4 * math.hypot(se_a, se_b) + tolerance(metric, sc, (ma + mb) / 2)
        ok = abs(ma - mb) <= bound
        if not ok:
            failed.append(metric)
        lines.append(f"{metric:<20} {ma:9.4f} {se_a:7.4f} {mb:9.4f} {se_b:7.4f} {ma - mb:+8.4f} {bound:7.4f}"
                     + ("" if ok else "  <-- FAIL"))
    return failed, "\n".join(lines)


def run_both(sc: Scenario, seeds=SEEDS) -> tuple[list[Result], list[Result]]:
    engine = [simulate(sc.replace(seed=s)) for s in seeds]
    ref = [reference.run(sc.replace(seed=s)) for s in seeds]
    return engine, ref


# -- engine against reference ----------------------------------------------------


@pytest.fixture(autouse=True, scope="module")
def one_numba_thread():
    """These populations are tiny: starting numba's threads for every parallel kernel
    costs far more than the work (10-100x on a busy two-core machine). The engine's
    results do not depend on the number of threads (checked below)."""
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)



@pytest.mark.parametrize("case", list(CASES))
def test_engine_matches_reference(case, tmp_path):
    sc = CASES[case](tmp_path)
    engine, ref = run_both(sc)
    failed, table = compare(sc, engine, ref)
    assert not failed, f"{case}: engine and reference disagree on {', '.join(failed)}\n{table}"


# -- sanity: tests that fail when something is plainly wrong ---------------------------


def test_engine_is_deterministic_and_seeded():
    sc = shortened("waledac-b49", bots=400, days=0.5, at_hour=4)
    a, b = simulate(sc), simulate(sc)
    assert a.rows == b.rows and a.sinkhole_minutes == b.sinkhole_minutes
    c = simulate(sc.replace(seed=sc.seed + 1))
    assert c.rows != a.rows


@pytest.mark.parametrize("case", ["zeroaccess", "goodcount"])
def test_engine_threads_and_serial_rounds_give_the_same_rows(case, tmp_path, monkeypatch):
    """The comparisons above run on one thread and, the populations being small, with
    every round serial (engine.SERIAL_BELOW); the parallel phases on all threads
    must give the very same rows (ZeroAccess with two sub-rounds a round, to keep it quick)."""
    sc = CASES[case](tmp_path)
    if case == "zeroaccess":
        sc = sc.replace(model=dataclasses.replace(sc.model, exchange_minutes=0.5))
    serial = simulate(sc)
    monkeypatch.setattr(engine, "SERIAL_BELOW", -1)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    try:
        parallel = simulate(sc)
    finally:
        numba.set_num_threads(1)
    assert parallel.rows == serial.rows and parallel.sinkhole_minutes == serial.sinkhole_minutes


def test_reference_is_deterministic_and_seeded():
    sc = shortened("waledac-b49", bots=300, days=0.5, at_hour=4)
    a, b = reference.run(sc), reference.run(sc)
    assert a.rows == b.rows
    assert reference.run(sc.replace(seed=sc.seed + 1)).rows != a.rows


def test_both_respond_to_poisoning_and_nothing_without_a_plan():
    """With no strategy nothing reaches the sinkhole and the C&C commands (almost)
    every bot; the b49 plan cuts them off and lists fill with sinkhole entries."""
    plan = shortened("waledac-b49", bots=400, days=0.75, at_hour=6)
    quiet = plan.replace(strategies=())
    for run in (simulate, reference.run):
        base = run(quiet).rows[-1]
        hit = run(plan).rows[-1]
        assert base["seen"] == 0 and base["sinkhole_indegree"] == 0 and base["sinkholed"] == 0, run
        assert base["commandable"] > 0.95, run
        assert hit["commandable"] < 0.05, run
        assert hit["sinkhole_indegree"] > 0.5 and hit["seen_share"] > 0.5, run


def test_reference_result_works_with_the_engine_result_api():
    sc = shortened("kelihos-b", bots=200, days=0.5, at_hour=3)
    res = reference.run(sc)
    eng = simulate(sc)
    assert [r["hour"] for r in res.rows] == [r["hour"] for r in eng.rows]
    assert set(res.rows[0]) == set(eng.rows[0])
    assert [r["largest_component"] is None for r in res.rows] == [r["largest_component"] is None for r in eng.rows]
    s = res.summary()
    assert set(s) == set(eng.summary())
    assert s["sinkhole_minutes"]["bots_online_at_start"] > 0
    assert set(s["sinkhole_minutes"]) == set(eng.summary()["sinkhole_minutes"])


# -- the reference's list operations -------------------------------------------


def test_reference_list_operations():
    peers = [(10, 5), (8, 3), (2, 9)]
    # newest: a node in both keeps its higher rank; the bot itself is never listed; K kept
    assert reference.merge_newest(peers, [(9, 9), (7, 1), (1, 5)], 3, self_id=1) == [(10, 5), (9, 9), (8, 3)]
    assert reference.merge_newest(peers, [(11, 4)], 4, self_id=0) == [(11, 4), (10, 5), (8, 3), (2, 9)]
    # goodcount: new nodes take free slots, else only a failing last slot
    full = [(3, 1), (0, 2)]
    reference.offer_goodcount(full, 7, 2, self_id=0)
    assert full == [(3, 1), (0, 2)]
    failing = [(3, 1), (-1, 2)]
    reference.offer_goodcount(failing, 7, 2, self_id=0)
    assert failing == [(3, 1), (0, 7)]
    scored = [(0, 4), (-2, 6)]
    reference.entry_failed(scored, 6, goodcount=True, drop=False)
    assert scored == [(0, 4)]  # -3 is the drop score
    kept = [(5, 4), (4, 6)]
    reference.entry_failed(kept, 6, goodcount=False, drop=False)
    assert kept == [(5, 4), (4, 6)]
    reference.entry_failed(kept, 6, goodcount=False, drop=True)
    assert kept == [(5, 4)]
    window = reference.sinkhole_entries(3, 7, sink_lo=100, sink_n=4, start=2)
    assert window == [(7, 103), (7, 102), (7, 100)]


if __name__ == "__main__":  # the comparison tables
    import sys
    import tempfile
    import time

    numba.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        for name in sys.argv[1:] or CASES:
            t0 = time.perf_counter()
            scenario = CASES[name](Path(d))
            e, r = run_both(scenario)
            bad, text = compare(scenario, e, r)
            print(f"== {name} ({time.perf_counter() - t0:.1f} s){' FAILED: ' + ', '.join(bad) if bad else ''}")
            print(text)
