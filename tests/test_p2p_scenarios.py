"""The shipped scenarios reproduce what happened (issue 6, point 5), at sizes a CI
machine runs in seconds: the outcomes are shares, so they hold at a few thousand
bots as at the shipped sizes (figures at full size: docs/sim.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from takedown.errors import SimError
from takedown.p2p.engine import simulate
from takedown.p2p.scenario import SHIPPED, load_scenario, resolve_scenario, shipped_scenarios

TAKEDOWN = str(Path(sys.executable).parent / "takedown")


def run(name: str, **kw):
    return simulate(load_scenario(SHIPPED / f"{name}.toml").replace(**kw)).summary()


@pytest.fixture(scope="module")
def b49():
    return run("waledac-b49", bots=4000, days=4)


@pytest.fixture(scope="module")
def poison_only():
    return run("waledac-poison-only", bots=4000, days=4)


def test_the_shipped_scenarios_are_the_four_of_the_issue():
    names = {p.stem for p, _ in shipped_scenarios()}
    assert names == {"waledac-b49", "waledac-poison-only", "kelihos-b", "zeroaccess-2013"}
    assert all(shows.startswith("Shows:") for _, shows in shipped_scenarios())


def test_waledac_plan_cuts_at_least_90_percent(b49):
    assert b49["final"]["commandable"] <= 0.10
    assert b49["time_to_90_hours"] is not None and b49["time_to_90_hours"] <= 24
    # the seized fallback catches the bots that fall back: seen at the sinkhole
    assert b49["fallback_sinkholed"] > 0 and b49["recovered_by_fallback"] < b49["fallback_sinkholed"]


def test_waledac_poisoning_alone_is_undone_by_the_fallback(b49, poison_only):
    assert poison_only["recovered_by_fallback"] > 0 and poison_only["fallback_sinkholed"] == 0
    assert poison_only["final"]["commandable"] >= 0.5
    assert poison_only["time_to_90_hours"] is None
    assert poison_only["final"]["sinkholed"] < b49["final"]["sinkholed"]


@pytest.fixture(scope="module")
def kelihos():
    from takedown.p2p.engine import Simulation

    sc = load_scenario(SHIPPED / "kelihos-b.toml").replace(bots=2000, days=2.5)
    return sc, Simulation(sc).run()


def test_kelihos_b_falls_to_poisoning_alone(kelihos):
    s = kelihos[1].summary()
    assert [x["kind"] for x in s["strategies"]] == ["poison"]
    assert s["final"]["commandable"] <= 0.10 and s["time_to_90_hours"] is not None
    assert s["final"]["sinkholed"] >= 0.9
    # the sinkholes answer, so a poisoned bot never finds its P2P layer dead
    assert s["fallback_sinkholed"] == 0


def test_kelihos_fallback_does_not_fire_after_poisoning(kelihos):
    sc, result = kelihos
    after = [r for r in result.rows if r["hour"] >= sc.takedown_hour + 12]
    assert after and sum(r["fallbacks"] for r in after) <= 0.01 * sc.bots
    assert sum(r["sinkhole_contacts"] for r in after) > 10 * sc.bots  # they keep talking to the sinkholes


def test_zeroaccess_bots_reach_the_sinkhole_within_minutes():
    s = run("zeroaccess-2013", bots=1000, days=3 / 24)
    sm = s["sinkhole_minutes"]
    assert sm["bots_online_at_start"] > 100
    assert sm["median"] <= 10 and sm["within_10_minutes"] >= 0.5


def test_same_seed_same_result_other_seed_other_result():
    sc = load_scenario(SHIPPED / "waledac-poison-only.toml").replace(bots=1000, days=2.5)
    a, b = simulate(sc).rows, simulate(sc).rows
    c = simulate(sc.replace(seed=sc.seed + 1)).rows
    assert a == b
    assert a != c


def test_cli_run_writes_summary_timeseries_and_charts(tmp_path):
    out = tmp_path / "out"
    p = subprocess.run([TAKEDOWN, "sim", "run", "waledac-b49", "--bots", "2000", "--seed", "3", "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["bots"] == 2000 and s["seed"] == 3 and s["family"] == "waledac"
    for key in ("commandable", "sinkholed"):
        assert 0 <= s["final"][key] <= 1
    assert "time_to_90_hours" in s
    lines = (out / "timeseries.csv").read_text().splitlines()
    assert lines[0].startswith("hour,alive,online,commandable,sinkholed")
    assert len(lines) == 1 + len(range(0, s["rounds"] + 1, 3)) + (0 if s["rounds"] % 3 == 0 else 1)
    for stem in ("shares", "activity"):
        assert (out / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in (out / f"{stem}.svg").read_bytes()[:400]
    assert "cut off from the C&C" in p.stdout and "rounds" in p.stdout


def test_cli_families_and_scenarios():
    p = subprocess.run([TAKEDOWN, "sim", "families"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0
    for name in ("waledac", "kelihos-b", "zeroaccess"):
        assert f"\n{name}" in "\n" + p.stdout
    assert "ASSUMED:" in p.stdout
    p = subprocess.run([TAKEDOWN, "sim", "scenarios"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "waledac-b49" in p.stdout and "Shows:" in p.stdout


@pytest.mark.parametrize("text, where", [
    ('[scenario]\nfamily = "waledac"\nbots = 100\n\n[[strategy]]\nkind = "poisson"\n', ":6: strategy[0].kind must be"),
    ('[scenario]\nfamily = "nope"\nbots = 100\n', ":2: unknown P2P family 'nope'"),
    ('[scenario]\nfamily = "waledac"\nbots = 5\n', ":3: scenario.bots must be an integer between 10 and 20000000, not 5"),
    ('[scenario]\nfamily = "waledac"\nbots = 100\nspeed = 3\n', ":4: unknown key scenario.speed"),
    ('[scenario]\nfamily = "waledac"\nbots = 100\n[family]\nreply = "ten"\n', ":5: family.reply must be int"),
    ('[scenario]\nfamily = "waledac"\nbots = 100\n[family]\nreachable = 2.0\n', ":4: family waledac: reachable"),
    ('[scenario]\nfamily = "waledac"\nbots = 100\n[[strategy]]\nkind = "poison"\nat_hour = 1\n', ":4: strategy[0]: a poison"),
    ('[scenario\nfamily = "waledac"\n', ":1: "),
])
def test_bad_scenarios_are_one_line_errors_with_the_line(tmp_path, text, where):
    f = tmp_path / "s.toml"
    f.write_text(text)
    with pytest.raises(SimError) as e:
        load_scenario(f)
    assert where in str(e.value) and str(e.value).startswith(str(f))
    p = subprocess.run([TAKEDOWN, "sim", "run", str(f), "--out", str(tmp_path / "o")], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 1 and p.stderr.startswith("Error: ") and len(p.stderr.strip().splitlines()) == 1
    assert "Traceback" not in p.stderr


def test_bad_options_are_errors(tmp_path):
    for args in (["--bots", "3"], ["--seed", "-1"]):
        p = subprocess.run([TAKEDOWN, "sim", "run", "waledac-b49", "--out", str(tmp_path), *args],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode != 0 and "Traceback" not in p.stderr


def test_shipped_name_or_path():
    assert resolve_scenario("kelihos-b").model.name == "kelihos-b"
    assert resolve_scenario(str(SHIPPED / "kelihos-b.toml")).bots == 25000
    with pytest.raises(SimError, match="cannot read"):
        resolve_scenario("no-such-scenario")


def test_family_values_can_be_overridden(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('[scenario]\nfamily = "waledac"\nbots = 100\n[family]\nexchange_minutes = 90.5\nreply = 20\n'
                 'tiered = false\nranking = "goodcount"\n')
    m = load_scenario(f).model
    assert (m.exchange_minutes, m.reply, m.tiered, m.ranking) == (90.5, 20, False, "goodcount")
    assert m.peer_list == 100  # the rest is the family's
    f.write_text('[scenario]\nfamily = "waledac"\nbots = 100\n[family]\nranking = "best"\n')
    with pytest.raises(SimError, match=r":4: family waledac: ranking must be one of newest, goodcount"):
        load_scenario(f)


@pytest.mark.parametrize("name, days", [("waledac-b49", 2.5), ("zeroaccess-2013", 2.2 / 24), ("kelihos-b", 1.2)])
def test_one_thread_and_parallel_phases_give_the_same_result(monkeypatch, name, days):
    """Small populations run a round's phases on one thread (engine.SERIAL_BELOW);
    the parallel phases must give exactly the same lists, so the choice never shows."""
    from takedown.p2p import engine

    sc = load_scenario(SHIPPED / f"{name}.toml").replace(bots=800, days=days)
    monkeypatch.setattr(engine, "SERIAL_BELOW", 10**9)
    serial = simulate(sc).rows
    monkeypatch.setattr(engine, "SERIAL_BELOW", -1)
    parallel = simulate(sc).rows
    assert serial == parallel
    assert any(r["answered"] for r in serial)


def test_bad_out_fails_before_the_run(tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    p = subprocess.run([TAKEDOWN, "sim", "run", "waledac-b49", "--out", str(f)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 1 and "cannot create the output directory" in p.stderr
    assert "rounds" not in p.stdout  # no simulation was started
