"""Test and benchmark helpers (not used by the sensors at run time).

:mod:`takedown.testing.peers` starts real reference authoritative servers
(NSD, BIND 9) on loopback, for the differential test (``tests/differential``)
and the benchmarks (``bench/``).
"""
