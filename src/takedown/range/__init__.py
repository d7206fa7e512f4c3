"""The range: an emulated infected population for rehearsals and for checking
that the pipeline counts right (issue 7; in progress).

- :mod:`takedown.range.population`: the bots: public IPv4 addresses drawn from
  the real allocations of their country (GeoLite2 country data, as shipped for
  enrichment), with the AS the shipped enrichment data gives, a family, a time
  zone, a daily rhythm and a clean-up day; default country mix: Rustock's first
  week at the sinkhole.
- :mod:`takedown.range.truth`: what the population's schedule makes true:
  unique addresses per day, ISO week, country and AS, for the report to be held
  against.
"""
