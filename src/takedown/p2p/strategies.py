"""The takedown plan: timed, composable actions.

Each strategy starts at ``at_hour`` (hours from the simulation start) and acts
until the end; several run together (the Waledac plan is ``poison`` +
``seize_fallback`` + ``takedown_tier``). The engine asks each strategy what it
does in a round; strategies hold no state of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from takedown.tomlfile import KeyPath, dotted, show


@dataclass(frozen=True)
class Strategy:
    kind: ClassVar[str] = ""
    at_hour: float

    @classmethod
    def parse(cls, t: dict, path: KeyPath, r: Any, hours: float) -> Strategy:
        """A strategy with no keys of its own; those with keys override this."""
        return cls(cls._common(t, path, r, hours, set()))

    @staticmethod
    def _common(t: dict, path: KeyPath, r: Any, hours: float, allowed: set[str]) -> float:
        r.unknown(t, path, allowed | {"kind", "at_hour"})
        return r.number(t, path, "at_hour", default=0.0, lo=0, hi=hours)


@dataclass(frozen=True)
class Poison(Strategy):
    """Sensors announce sinkhole entries into the peer lists of the reachable bots they
    reach (crawlers can only contact reachable peers; NAT'd bots get the entries
    second-hand, through the exchange)."""

    kind: ClassVar[str] = "poison"
    entries: int = 0  # distinct sinkhole entries (fake peers); 0: the family's peer-list size
    rate_per_hour: float = 0.0  # reachable bots the sensors announce to per hour...
    share_per_hour: float = 0.0  # ...plus this share of the reachable bots online (the crawl's reach)
    stamp_ahead_hours: float = 0.0  # how far ahead of the clock the entries' timestamps are set
    answer: str = "auto"  # "auto": as the family allows; "silent"; "list"

    @classmethod
    def parse(cls, t, path, r, hours):
        at = cls._common(t, path, r, hours, {"entries", "rate_per_hour", "share_per_hour", "stamp_ahead_hours",
                                             "answer"})
        answer = t.get("answer", "auto")
        if answer not in ("auto", "silent", "list"):
            raise r.error(path + ("answer",), f"{dotted(path + ('answer',))} must be auto, silent or list, "
                                              f"not {show(answer)}")
        rate = r.number(t, path, "rate_per_hour", default=0.0, lo=0, hi=1e9)
        share = r.number(t, path, "share_per_hour", default=0.0, lo=0, hi=100)
        if rate == 0 and share == 0:
            raise r.error(path, f"{dotted(path)}: a poison strategy needs rate_per_hour or share_per_hour")
        return cls(at, r.number(t, path, "entries", default=0, kind=int, lo=0, hi=1_000_000), rate, share,
                   r.number(t, path, "stamp_ahead_hours", default=0.0, lo=0, hi=24 * 365), answer)


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
    notified: float = 0.5
    remediation_per_day: float = 0.1

    @classmethod
    def parse(cls, t, path, r, hours):
        at = cls._common(t, path, r, hours, {"notified", "remediation_per_day"})
        return cls(at, r.number(t, path, "notified", default=0.5, lo=0, hi=1),
                   r.number(t, path, "remediation_per_day", default=0.1, lo=0, hi=1000))


KINDS: dict[str, type[Strategy]] = {c.kind: c for c in (Poison, SeizeFallback, TakedownTier, Cleanup)}
