"""The range: an emulated infected population for rehearsals and for checking
that the pipeline counts right (docs/range.md).

- :mod:`takedown.range.population`: the bots: public IPv4 addresses drawn from
  the real allocations of their country, the AS the shipped enrichment data
  gives, a family, a time zone, a daily rhythm and a clean-up day; default
  country mix: Rustock's first week at the sinkhole.
- :mod:`takedown.range.families`: what each family does on the wire, one
  module each.
- :mod:`takedown.range.schedule`: each emulated day's sessions and resolver
  queries (pure).
- :mod:`takedown.range.sender`: puts a day on the wire (uvloop).
- :mod:`takedown.range.truth`, :mod:`takedown.range.compare`: what was sent,
  counted, and held against a report.
- :mod:`takedown.range.run` (``takedown range``), :mod:`takedown.range.demo`
  (``takedown demo``, ``make run``), with :mod:`takedown.range.tracking`
  (the demo's C&C tracker) and :mod:`takedown.range.cnc` (emulated C&C
  servers on loopback).
"""
