"""The takedown plan: timed, composable actions.

Each strategy starts at ``at_hour`` (hours from the simulation start) and acts
until the end; several run together (the Waledac plan is ``poison`` +
``seize_fallback`` + ``takedown_tier``). The engine asks each strategy what it
does in a round; strategies hold no state of their own.

Each strategy's keys in a scenario's ``[[strategy]]`` table are declared on
its dataclass (takedown.tomlfile.key); ``kind`` picks the class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from takedown.tomlfile import Choice, Context, Float, Int, Invalid, KeyPath, dotted, key

#: The longest plan: a year of hours (a scenario's own length bounds it further).
MAX_HOURS = 24 * 366


@dataclass(frozen=True)
class Strategy:
    kind: ClassVar[str] = ""
    at_hour: float = key(Float(0, MAX_HOURS, closed=True), 0.0, model_default=False,
                         doc="hours from the simulation start (at most the scenario's length)")


@dataclass(frozen=True)
class Poison(Strategy):
    """Sensors announce sinkhole entries into the peer lists of the reachable bots they
    reach (crawlers can only contact reachable peers; NAT'd bots get the entries
    second-hand, through the exchange)."""

    kind: ClassVar[str] = "poison"
    entries: int = key(Int(0, 1_000_000), 0,
                       doc="distinct sinkhole entries (fake peers); 0: the family's peer-list size")
    rate_per_hour: float = key(Float(0, 1e9, closed=True), 0.0,
                               doc="reachable bots the sensors announce to per hour...")
    share_per_hour: float = key(Float(0, 100, closed=True), 0.0,
                                doc="...plus this share of the reachable bots online (the crawl's reach)")
    stamp_ahead_hours: float = key(Float(0, 24 * 365, closed=True), 0.0,
                                   doc="how far ahead of the clock the entries' timestamps are set")
    answer: str = key(Choice(("auto", "silent", "list")), "auto",
                      doc='"auto": as the family allows; "silent"; "list"')


@dataclass(frozen=True)
class SeizeFallback(Strategy):
    """The fallback names (or hard-coded addresses) now lead to the sinkhole: a bot that
    falls back is seen there and gets no peers."""

    kind: ClassVar[str] = "seize_fallback"


@dataclass(frozen=True)
class TakedownTier(Strategy):
    """The upper tier (tiered families) or the botmaster-run command peers go down."""

    kind: ClassVar[str] = "takedown_tier"


@dataclass(frozen=True)
class Cleanup(Strategy):
    """A notification campaign: ``notified`` of the live bots' owners are told, and each
    of them cleans the machine at ``remediation_per_day`` (exponential waiting time)."""

    kind: ClassVar[str] = "cleanup"
    notified: float = key(Float(0, 1, closed=True), 0.5, doc="share of the live bots' owners told")
    remediation_per_day: float = key(Float(0, 1000, closed=True), 0.1, doc="cleaning rate of a told owner")


KINDS: dict[str, type[Strategy]] = {c.kind: c for c in (Poison, SeizeFallback, TakedownTier, Cleanup)}


def check_strategy(s: Strategy, data: dict[str, Any], where: KeyPath, ctx: Context) -> Strategy:
    """Cross-field checks of one [[strategy]], after its keys are parsed."""
    if isinstance(s, Poison) and s.rate_per_hour == 0 and s.share_per_hour == 0:
        raise Invalid(where, f"{dotted(where)}: a poison strategy needs rate_per_hour or share_per_hour")
    return s
