"""The names an operation seizes, read once for every part of the case.

``case check`` holds them against the order's authorities, ``case appendix``
lists them for the court, ``case verify`` checks their seizure took effect
and ``case notice`` counts them; each reads them here, so that all four see
the same names from the same lines:

- :func:`listed`: every name of the operation's ``[[domains]]`` lists, once,
  in list order, at the line it first appears on, with every family whose
  list names it (a name in two lists is one seizure);
- :func:`dga_held_on` / :func:`dga_held_between`: the ``[[dga]]`` names the
  sinkhole holds on a UTC day or during a window of days, each at its
  ``[[dga]]`` entry's line (takedown.dga.sinking: the period widened by
  ``days_before``/``days_after``, as ``takedown serve`` sinks them).

Zones taken over whole (``[[zones]]``) are not seizures of names at a
registry and are not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from takedown.lists import domain_list_lines
from takedown.operation import Operation, read_text
from takedown.tomlfile import Locator, display_path

__all__ = ["Seized", "listed", "dga_held_on", "dga_held_between", "merged"]


@dataclass(frozen=True)
class Seized:
    """One name the operation sinks, and where it is declared."""

    name: str
    families: tuple[str, ...]  # every family whose list (or DGA) names it, first one first
    where: str  # FILE:LINE: its first line in its list, or its [[dga]] entry's line
    list_file: Path | None = None  # the domain list it first comes from; None for a DGA name

    @property
    def family(self) -> str:
        return self.families[0]


def listed(op: Operation) -> list[Seized]:
    """Every name of the operation's ``[[domains]]`` lists, once, in list order."""
    out: dict[str, Seized] = {}
    for d in op.domains:
        display = display_path(d.file)
        for name, lineno in domain_list_lines(d.file).items():
            _gather(out, Seized(name, (d.family,), f"{display}:{lineno}", d.file))
    return list(out.values())


def _gather(out: dict[str, Seized], s: Seized) -> None:
    """Add ``s`` to ``out``: a name already there keeps its place and line and gains ``s``'s families."""
    old = out.get(s.name)
    if old is None:
        out[s.name] = s
        return
    extra = tuple(f for f in s.families if f not in old.families)
    if extra:
        out[s.name] = Seized(old.name, old.families + extra, old.where, old.list_file)


def _dga_lines(op: Operation, loc: Locator | None) -> dict[str, str]:
    """family -> FILE:LINE of its first ``[[dga]]`` entry."""
    loc = loc or Locator(read_text(op.path))
    display = display_path(op.path)
    return {g.family: f"{display}:{loc.line_of(('dga', i))}" for i, g in reversed(list(enumerate(op.dga)))}


def dga_held_on(op: Operation, day: date, loc: Locator | None = None) -> list[Seized]:
    """The ``[[dga]]`` names held on the UTC day ``day``."""
    if not op.dga:
        return []
    from takedown.dga.sinking import held_on  # lazy: the DGA families only when the operation has [[dga]]

    where = _dga_lines(op, loc)
    return [Seized(h.name, (h.family,), where[h.family]) for h in held_on(op.dga, day).values()]


def dga_held_between(op: Operation, first: date, last: date, loc: Locator | None = None) -> list[Seized]:
    """The ``[[dga]]`` names held on some day of ``first``..``last`` (inclusive), each once."""
    if not op.dga:
        return []
    from takedown.dga.sinking import holdings

    where = _dga_lines(op, loc)
    out: dict[str, Seized] = {}
    for spec in op.dga:
        for h in holdings(spec, first, last):
            _gather(out, Seized(h.name, (h.family,), where[h.family]))
    return list(out.values())


def merged(*groups: list[Seized]) -> list[Seized]:
    """The names of ``groups``, each once: a name in several keeps its first
    place and line and gathers every family."""
    out: dict[str, Seized] = {}
    for group in groups:
        for s in group:
            _gather(out, s)
    return list(out.values())
