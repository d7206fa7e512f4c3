"""Which family, period and parameters produce a name: an index, not a search.

The index maps every name that the registered families generate for a range
of days (with each family's known real-world parameter sets, or its defaults
when it has none) to where it comes from. Building it runs every generator
once per period; a look-up is then one dict access, whatever the number of
families and days. Names are kept lowercased without a final dot.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date, timedelta

from takedown.dga.base import DgaError, Family
from takedown.dga.registry import _ORIGIN, get


@dataclass(frozen=True)
class Origin:
    family: str
    period_start: date
    period_end: date
    index: int  # position in the period's list (the malware's order)
    params: tuple[tuple[str, object], ...]

    def describe(self) -> str:
        p = ", ".join(f"{k}={v}" for k, v in self.params) or "defaults"
        return (f"{self.family}  {self.period_start.isoformat()}..{self.period_end.isoformat()}  "
                f"#{self.index}  ({p})")


def param_sets(family: Family) -> list[dict]:
    """The parameter sets a family is indexed with: its known ones, else its defaults."""
    sets = [dict(k.params) for k in family.known]
    if not sets:
        try:
            sets = [family.resolve({})]
        except DgaError:
            return []  # required parameters and no known values: nothing to index
    return sets


# An origin is packed into one int (index entries are millions: a frozen
# dataclass each cost ~10 us and 200 bytes; measured 138 s -> see bench):
#   position in the period (20 bits) | last day (20) | first day (20) | parameter set (rest)
# with days as proleptic ordinals minus _DAY0 and the parameter set an index
# into MatchIndex._sets (family, params).
_DAY0 = date(1990, 1, 1).toordinal()
_B_POS, _B_DAY = 20, 20
_POS_MASK, _DAY_MASK = (1 << _B_POS) - 1, (1 << _B_DAY) - 1


def _pack(pset: int, first: date, last: date, pos: int) -> int:
    return (((((pset << _B_DAY) | (first.toordinal() - _DAY0)) << _B_DAY) | (last.toordinal() - _DAY0))
            << _B_POS) | pos


class MatchIndex:
    def __init__(self) -> None:
        self._names: dict[str, int | list[int]] = {}
        self._sets: list[tuple[str, tuple[tuple[str, object], ...]]] = []
        self.periods = 0
        self.skipped: list[str] = []  # families that could not be indexed, with why

    def __len__(self) -> int:
        return len(self._names)

    def add_family(self, family: Family, first: date, last: date) -> None:
        sets = param_sets(family)
        if not sets:
            self.skipped.append(f"{family.name}: needs parameters and declares no known ones")
            return
        self.add_runs(family_runs(family, first, last))

    def add_runs(self, runs: list[tuple[tuple, list[tuple[date, date, list[str]]], int]]) -> None:
        """Merge what :func:`family_runs` computed (here or in a worker process)."""
        for (name, params), spans, periods in runs:
            pset = len(self._sets)
            self._sets.append((name, params))
            for first, last, names in spans:
                self._add_run(pset, first, last, names)
            self.periods += periods

    def _add_run(self, pset: int, first: date, last: date, names: list[str]) -> None:
        """Consecutive periods ``first``..``last`` that all generate ``names``."""
        # the parent's serial part (generation runs in workers): kept to a
        # dict probe and an int OR per name; names arrive normalised
        table = self._names
        get = table.get
        base = _pack(pset, first, last, 0)
        for pos, key in enumerate(names):
            packed = base | pos
            old = get(key)
            if old is None:
                table[key] = packed
            elif type(old) is list:
                old.append(packed)
            else:
                table[key] = [old, packed]

    def lookup(self, name: str) -> list[Origin]:
        got = self._names.get(name.strip().lower().rstrip("."))
        if got is None:
            return []
        out = []
        for packed in (got if isinstance(got, list) else [got]):
            pos = packed & _POS_MASK
            packed >>= _B_POS
            last = date.fromordinal((packed & _DAY_MASK) + _DAY0)
            packed >>= _B_DAY
            first = date.fromordinal((packed & _DAY_MASK) + _DAY0)
            family, params = self._sets[packed >> _B_DAY]
            out.append(Origin(family, first, last, pos, params))
        return out


def family_runs(family: Family, first: date, last: date) -> list:
    """For each parameter set of ``family``: the runs of consecutive periods
    with the same names between ``first`` and ``last``, as
    ``((family, params), [(first_day, last_day, names), ...], periods)``."""
    out = []
    for params in param_sets(family):
        resolved = family.resolve(params)
        spans: list[tuple[date, date, list[str]]] = []
        computed: dict = {}  # seed_key -> names: equal seeds are generated once
        start = family.period_start(first, resolved)
        periods = 0
        while start <= last:
            end = family.period_end(start, resolved)
            key = family.seed_key(start, resolved)
            names = computed.get(key)
            if names is None:
                names = computed[key] = [n.lower().rstrip(".") for n in family.names(start, **resolved)]
            if spans and (spans[-1][2] is names or spans[-1][2] == names):
                spans[-1] = (spans[-1][0], end, names)
            else:
                spans.append((start, end, names))
            periods += 1
            start = end + timedelta(days=1)
        out.append(((family.name, tuple(sorted(resolved.items()))), spans, periods))
    return out


def _runs_by_name(name: str, first: date, last: date) -> list:
    return family_runs(get(name), first, last)


def build_index(families: Iterable[Family], first: date, last: date, workers: int | None = None) -> MatchIndex:
    """The index of every name of ``families`` for the periods overlapping ``first``..``last``.

    Generation runs in ``workers`` processes (default: the CPU count), one
    family at a time each; the parent merges as results arrive. Families
    registered only in this process (plugins) are generated here.
    """

    if last < first:
        raise DgaError(f"--to {last} is before --from {first}")
    idx = MatchIndex()
    fams = list(families)
    for fam in fams:
        if not param_sets(fam):
            idx.skipped.append(f"{fam.name}: needs parameters and declares no known ones")
    fams = [f for f in fams if param_sets(f)]
    workers = workers or os.cpu_count() or 1
    shipped = [f for f in fams if _ORIGIN.get(f.name.lower(), "").startswith(("takedown.dga.families", "entry point"))]
    local = [f for f in fams if f not in shipped]
    if workers > 1 and len(shipped) > 1:
        # biggest first, so that the last one to finish is a small one
        shipped.sort(key=lambda f: -f.per_period * max(1, len(f.known)) / max(1, f.period_days))
        with ProcessPoolExecutor(workers) as pool:
            futures = [pool.submit(_runs_by_name, f.name, first, last) for f in shipped]
            for fam in local:
                idx.add_runs(family_runs(fam, first, last))
            for fut in as_completed(futures):
                idx.add_runs(fut.result())
    else:
        for fam in shipped + local:
            idx.add_runs(family_runs(fam, first, last))
    return idx
