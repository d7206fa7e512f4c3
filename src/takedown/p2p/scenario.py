"""Scenario files: a family, a population, a duration and a timed plan.

A scenario is TOML::

    [scenario]
    family = "waledac"        # takedown sim families
    bots = 100000             # starting population
    days = 14
    seed = 1                  # same seed, same result
    round_minutes = 10        # optional: the family's default step
    metrics_minutes = 60      # optional: how often the metrics are taken

    [family]                  # optional: override any model number ("what if")
    exchange_minutes = 30

    [[strategy]]              # any number, any mix, each from its hour
    kind = "poison"           # poison | seize_fallback | takedown_tier | cleanup
    at_hour = 48
    ...

Every error reads ``FILE:LINE: reason``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from takedown.operation import read_text
from takedown.p2p.model import FamilyModel, SimError
from takedown.p2p.registry import get
from takedown.p2p.strategies import KINDS, Strategy
from takedown.tomlfile import KeyPath, Locator, dotted, show, syntax_error

MAX_BOTS = 20_000_000


@dataclass(frozen=True)
class Scenario:
    model: FamilyModel
    bots: int
    days: float
    seed: int
    round_minutes: float
    metrics_minutes: float
    strategies: tuple[Strategy, ...] = ()
    title: str = ""
    name: str = ""

    @property
    def rounds(self) -> int:
        return max(1, round(self.days * 1440 / self.round_minutes))

    @property
    def takedown_hour(self) -> float | None:
        """When the takedown starts: the first strategy's hour (None without any)."""
        return min((s.at_hour for s in self.strategies), default=None)

    def replace(self, **kw: Any) -> Scenario:
        return dataclasses.replace(self, **kw)


class _Reader:
    def __init__(self, display: str, text: str):
        self.display = display
        self.loc = Locator(text)

    def error(self, path: KeyPath, message: str) -> SimError:
        return SimError(f"{self.display}:{self.loc.line_of(path)}: {message}")

    def number(self, table: dict, path: KeyPath, key: str, *, default: Any = None, kind: type = float,
               lo: float | None = None, hi: float | None = None) -> Any:
        if key not in table:
            if default is None:
                raise self.error(path, f"{dotted(path) or 'the file'} is missing required key {key}")
            return default
        v = table[key]
        where = path + (key,)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (kind is int and not isinstance(v, int)):
            raise self.error(where, f"{dotted(where)} must be {'an integer' if kind is int else 'a number'}, "
                                    f"not {show(v)}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise self.error(where, f"{dotted(where)} must be between {lo} and {hi}, not {show(v)}")
        return kind(v)

    def unknown(self, table: dict, path: KeyPath, allowed: set[str]) -> None:
        for k in table:
            if k not in allowed:
                raise self.error(path + (k,), f"unknown key {dotted(path + (k,))} "
                                              f"(expected one of: {', '.join(sorted(allowed))})")


SHIPPED = Path(__file__).resolve().parent / "scenarios"


def shipped_scenarios() -> list[tuple[Path, str]]:
    """The shipped scenario files, each with the line of its header comment that says what it shows."""
    out = []
    for path in sorted(SHIPPED.glob("*.toml")):
        comments = [ln.lstrip("# ").strip() for ln in path.read_text().splitlines() if ln.startswith("#")]
        shows = " ".join(comments)
        shows = shows[shows.find("Shows:"):] if "Shows:" in shows else (comments[0] if comments else "")
        out.append((path, shows))
    return out


def resolve_scenario(text: str) -> Scenario:
    """A scenario from a file path, or from the name of a shipped scenario."""
    path = Path(text)
    if not path.exists() and "/" not in text and (SHIPPED / f"{Path(text).stem}.toml").exists():
        path = SHIPPED / f"{Path(text).stem}.toml"
    return load_scenario(path)


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    display = os.fspath(path)
    text = read_text(path, SimError)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SimError(syntax_error(display, text, str(e))) from None
    scn = parse_scenario(doc, _Reader(display, text))
    return scn.replace(name=Path(display).stem)


def parse_scenario(doc: dict, r: _Reader) -> Scenario:
    r.unknown(doc, (), {"scenario", "family", "strategy"})
    s = doc.get("scenario")
    if not isinstance(s, dict):
        raise r.error((), "the file needs a [scenario] table with at least family and bots")
    r.unknown(s, ("scenario",), {"family", "bots", "days", "seed", "round_minutes", "metrics_minutes", "title"})
    if "family" not in s:
        raise r.error(("scenario",), "scenario is missing required key family")
    try:
        model = get(s["family"])
    except SimError as e:
        raise r.error(("scenario", "family"), str(e)) from None
    over = doc.get("family", {})
    if not isinstance(over, dict):
        raise r.error(("family",), "family must be a table of model values to override")
    model = _override(model, over, r)
    bots = r.number(s, ("scenario",), "bots", kind=int, lo=10, hi=MAX_BOTS)
    days = r.number(s, ("scenario",), "days", default=14, lo=1 / 24, hi=365)
    seed = r.number(s, ("scenario",), "seed", default=1, kind=int, lo=0, hi=2**32 - 1)
    step = r.number(s, ("scenario",), "round_minutes", default=model.round_minutes, lo=1 / 60, hi=1440)
    metrics = r.number(s, ("scenario",), "metrics_minutes", default=max(60.0, step), lo=step, hi=1440 * 7)
    title = s.get("title", "")
    if not isinstance(title, str):
        raise r.error(("scenario", "title"), f"scenario.title must be a string, not {show(title)}")
    raw = doc.get("strategy", [])
    if not isinstance(raw, list):
        raise r.error(("strategy",), "strategy must be an array of tables: [[strategy]]")
    strategies = []
    for n, t in enumerate(raw):
        path: KeyPath = ("strategy", n)
        if not isinstance(t, dict):
            raise r.error(path, "each [[strategy]] must be a table")
        kind = t.get("kind")
        if kind not in KINDS:
            raise r.error(path + ("kind",), f"{dotted(path + ('kind',))} must be one of "
                                            f"{', '.join(KINDS)}, not {show(kind)}")
        strategies.append(KINDS[kind].parse(t, path, r, days * 24))
    return Scenario(model, bots, days, seed, step, metrics, tuple(strategies), title)


def _override(model: FamilyModel, over: dict, r: _Reader) -> FamilyModel:
    types = {"int": int, "float": float, "str": str, "bool": bool}
    declared = {f.name: types.get(str(f.type)) for f in dataclasses.fields(model)}
    kinds = {name: declared[name] or type(value) for name, value, _ in model.parameters()}
    changes = {}
    for k, v in over.items():
        where: KeyPath = ("family", k)
        if k not in kinds:
            raise r.error(where, f"unknown key {dotted(where)} (model values: {', '.join(kinds)})")
        want = kinds[k]
        if want is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if not isinstance(v, want) or (want is int and isinstance(v, bool)):
            raise r.error(where, f"{dotted(where)} must be {want.__name__}, not {show(v)}")
        changes[k] = v
    if not changes:
        return model
    try:
        return dataclasses.replace(model, **changes)
    except SimError as e:
        raise r.error(("family",), str(e)) from None
