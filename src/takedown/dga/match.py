"""Which family, period and parameters produce a name: an index, not a search.

The index maps every name that the registered families generate for a range
of days (with each family's known real-world parameter sets, or its defaults
when it has none) to where it comes from. Building it runs every generator
once per period; a look-up is then one dict access, whatever the number of
families and days. Names are kept lowercased without a final dot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from takedown.dga.base import DgaError, Family


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


class MatchIndex:
    def __init__(self) -> None:
        self._names: dict[str, list[Origin]] = {}
        self.periods = 0
        self.skipped: list[str] = []  # families that could not be indexed, with why

    def __len__(self) -> int:
        return len(self._names)

    def add_family(self, family: Family, first: date, last: date) -> None:
        sets = param_sets(family)
        if not sets:
            self.skipped.append(f"{family.name}: needs parameters and declares no known ones")
            return
        for params in sets:
            resolved = family.resolve(params)
            frozen = tuple(sorted(resolved.items()))
            start = family.period_start(first)
            previous: list[str] | None = None
            span: date | None = None
            while start <= last:
                end = family.period_end(start)
                names = family.names(start, **resolved)
                if names != previous:
                    span = start
                    previous = names
                # consecutive periods with the same names (a date-independent
                # seed, Necurs' day // 4 groups) are one origin spanning them all
                for i, name in enumerate(names):
                    entry = self._names.setdefault(name.lower().rstrip("."), [])
                    o = Origin(family.name, span, end, i, frozen)
                    if entry and entry[-1].family == family.name and entry[-1].period_start == span \
                            and entry[-1].params == frozen and entry[-1].index == i:
                        entry[-1] = o
                    else:
                        entry.append(o)
                self.periods += 1
                start = end + timedelta(days=1)

    def lookup(self, name: str) -> list[Origin]:
        return self._names.get(name.strip().lower().rstrip("."), [])


def build_index(families: Iterable[Family], first: date, last: date) -> MatchIndex:
    """The index of every name of ``families`` for the periods overlapping ``first``..``last``."""
    if last < first:
        raise DgaError(f"--to {last} is before --from {first}")
    idx = MatchIndex()
    for fam in families:
        idx.add_family(fam, first, last)
    return idx
