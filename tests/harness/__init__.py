"""Test and benchmark harnesses, kept out of the installed package.

- :mod:`harness.peers` starts real reference servers (NSD, BIND 9, nginx) on
  loopback for the differential tests and the benchmarks.
- :mod:`harness.p2p_reference` is the plain per-bot re-implementation of the
  P2P engine that the engine is validated against.

``tests/`` is on pytest's ``pythonpath`` (pyproject.toml); the benchmarks put
it on ``sys.path`` themselves.
"""
