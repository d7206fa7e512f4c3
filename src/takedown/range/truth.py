"""What the range makes true, to hold the report against.

A bot checks in on every day from day 0 until the day before its
``cleaned_day`` (the range sends at least one check-in a day to each active
bot), so the unique addresses of a period are the bots active on any of its
days. Days are counted from ``start`` (a UTC date); weeks are ISO weeks.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from takedown.range.population import Population


def active_on(pop: Population, day: int) -> np.ndarray:
    return pop.cleaned_day > day


def unique_per_day(pop: Population, start: date, days: int) -> dict[str, int]:
    return {(start + timedelta(d)).isoformat(): int(active_on(pop, d).sum()) for d in range(days)}


def _weeks(start: date, days: int) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for d in range(days):
        y, w, _ = (start + timedelta(d)).isocalendar()
        out.setdefault(f"{y}-W{w:02d}", []).append(d)
    return out


def unique_per_week(pop: Population, start: date, days: int) -> dict[str, int]:
    """ISO week -> bots active on any of its days (within the range's days)."""
    # active on some day of [a, b] <=> cleaned_day > a (activity runs from day 0)
    return {week: int((pop.cleaned_day > ds[0]).sum()) for week, ds in _weeks(start, days).items()}


def unique_per_week_by(pop: Population, key: np.ndarray, start: date, days: int) -> dict[str, dict[str, int]]:
    """ISO week -> {key value -> bots}, for key = pop.cc, pop.asn or pop.family."""
    out = {}
    for week, ds in _weeks(start, days).items():
        sel = pop.cleaned_day > ds[0]
        values, counts = np.unique(key[sel].astype(str), return_counts=True)
        out[week] = dict(zip(values.tolist(), counts.tolist()))
    return out
