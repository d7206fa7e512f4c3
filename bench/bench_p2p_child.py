"""The 10,000,000-bot memory run of bench/p2p_bench.py, in its own process."""

from __future__ import annotations

import resource
import time

from takedown.p2p.engine import Simulation
from takedown.p2p.scenario import SHIPPED, load_scenario


def child(bots: int, hours: float) -> dict:
    sc = load_scenario(SHIPPED / "waledac-b49.toml").replace(bots=bots, days=hours / 24)
    t = time.perf_counter()
    sim = Simulation(sc)
    setup = time.perf_counter() - t
    sim.run()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return {"bots": bots, "hours": hours, "setup_s": setup, "arrays_bytes": sim.memory(), "peak_rss_bytes": peak}
