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

Every key is declared once, with its kind and default (``_ScenarioKeys``, the
strategy classes); every error reads ``FILE:LINE: reason``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from takedown.operation import read_text
from takedown.p2p.model import FamilyModel, SimError
from takedown.p2p.registry import get
from takedown.p2p.strategies import KINDS, Strategy, check_strategy
from takedown.tomlfile import (
    Context,
    Custom,
    Float,
    Int,
    Invalid,
    KeyPath,
    Str,
    Table,
    Tagged,
    dotted,
    key,
    load_document,
    parse_toml,
    show,
)

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
    doc = parse_toml(display, text, SimError)
    scn = load_document(_File, doc, display, text, SimError, check=_build)
    return scn.replace(name=Path(display).stem)


def _known_family(name: str, where: KeyPath) -> str:
    try:
        get(name)
    except SimError as e:
        raise Invalid(where, str(e)) from None
    return name


def _overrides(v: Any, where: KeyPath, ctx: Context) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise Invalid(where, "family must be a table of model values to override")
    return v


@dataclass(frozen=True)
class _ScenarioKeys:
    family: str = key(Str(), check=_known_family, doc="a family of `takedown sim families`")
    bots: int = key(Int(10, MAX_BOTS), doc="starting population")
    days: float = key(Float(1 / 24, 365, closed=True), 14.0, doc="simulated days")
    seed: int = key(Int(0, 2**32 - 1), 1, doc="same seed, same result")
    round_minutes: float | None = key(Float(1 / 60, 1440, closed=True), None, doc="minutes per round",
                                      doc_default="the family's step")
    metrics_minutes: float | None = key(Float(1 / 60, 1440 * 7, closed=True), None,
                                        doc="how often the metrics are taken (at least a round)",
                                        doc_default="60, or a round if longer")
    title: str = key(Str(), "", doc="what the scenario shows")


@dataclass(frozen=True)
class _File:
    scenario: _ScenarioKeys = key(Table(_ScenarioKeys), doc="the family, population, duration and seed")
    family: dict[str, Any] | None = key(Custom(_overrides, "table of model values"), None,
                                        doc="model values to override (\"what if\")")
    strategy: tuple[Strategy, ...] = key(Tagged("kind", KINDS, check=check_strategy), (),
                                         doc="the takedown plan: any number, any mix, each from its hour")


def _build(f: _File, data: dict, where: KeyPath, ctx: Context) -> Scenario:
    """Cross-field checks, with the family's model: overrides, the round,
    strategies within the scenario's length."""
    s = f.scenario
    model = _override(get(s.family), f.family or {})
    step = s.round_minutes if s.round_minutes is not None else model.round_minutes
    metrics = s.metrics_minutes if s.metrics_minutes is not None else max(60.0, step)
    if metrics < step:
        w = ("scenario", "metrics_minutes")
        raise Invalid(w, f"{dotted(w)} must be a number between {step:g} (the round) and {1440 * 7}, "
                         f"not {show(metrics)}")
    hours = s.days * 24
    for n, st in enumerate(f.strategy):
        if st.at_hour > hours:
            w = ("strategy", n, "at_hour")
            raise Invalid(w, f"{dotted(w)} must be a number between 0 and {hours:g} (the scenario's length), "
                             f"not {show(st.at_hour)}")
    return Scenario(model, s.bots, s.days, s.seed, step, metrics, f.strategy, s.title)


def _override(model: FamilyModel, over: dict) -> FamilyModel:
    types = {"int": int, "float": float, "str": str, "bool": bool}
    declared = {f.name: types.get(str(f.type)) for f in dataclasses.fields(model)}
    kinds = {name: declared[name] or type(value) for name, value, _ in model.parameters()}
    changes = {}
    for k, v in over.items():
        where: KeyPath = ("family", k)
        if k not in kinds:
            raise Invalid(where, f"unknown key {dotted(where)} (model values: {', '.join(kinds)})")
        want = kinds[k]
        if want is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if not isinstance(v, want) or (want is int and isinstance(v, bool)):
            raise Invalid(where, f"{dotted(where)} must be {want.__name__}, not {show(v)}")
        changes[k] = v
    if not changes:
        return model
    try:
        return dataclasses.replace(model, **changes)
    except SimError as e:
        raise Invalid(("family",), str(e)) from None
