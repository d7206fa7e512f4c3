"""P2P botnet takedown planning: simulate the botnet and the plan before the day.

- :mod:`takedown.p2p.model`, :mod:`takedown.p2p.families`: family models, each
  value with its source or marked as an assumption;
- :mod:`takedown.p2p.scenario`, :mod:`takedown.p2p.strategies`: scenario files
  and the timed, composable plan;
- :mod:`takedown.p2p.engine` (with :mod:`takedown.p2p.kernels`): the vectorised,
  compiled simulation; tests/harness/p2p_reference.py: the same model written
  plainly, to validate it;
- :mod:`takedown.p2p.output`: summary.json, timeseries.csv, charts.

See docs/sim.md.
"""
