"""What a DGA family declares, and the contract of ``generate``.

A family is one small module under :mod:`takedown.dga.families` (or an
operator's plugin file) that defines ``FAMILY``, an instance of a
:class:`Family` subclass. It declares how the malware seeds its generator,
what parameters it takes and which real-world values are known, how many
names it makes per period and for how long a period lasts, its TLDs, and the
public sources its algorithm and test vectors come from. ``generate`` returns
the names of the period that contains the given day, in the malware's own
order. All dates are UTC calendar days: no result depends on the machine's
time zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from takedown.errors import TakedownError


class DgaError(TakedownError):
    """A bad family name, parameter or date."""


@dataclass(frozen=True)
class Param:
    """One parameter of a family: a seed, a key, a TLD list choice..."""

    name: str
    kind: type  # int or str
    default: Any = None  # None: required
    doc: str = ""

    def parse(self, text: str) -> Any:
        if self.kind is int:
            try:
                return int(text, 0)
            except ValueError:
                raise DgaError(f"parameter {self.name}: {text!r} is not an integer") from None
        return text


@dataclass(frozen=True)
class Known:
    """A real-world parameter set (a seed seen in a sample), with its source."""

    params: dict
    note: str
    source: str


@dataclass(frozen=True)
class Family:
    """A DGA family. Subclasses implement :meth:`names`."""

    name: str
    aliases: tuple[str, ...] = ()
    seeding: str = "date"  # what the generator is seeded with, in words
    period_days: int = 1  # how long one set of names is used
    per_period: int = 0  # names per period with the default parameters
    tlds: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    known: tuple[Known, ...] = ()
    sources: tuple[str, ...] = ()
    #: The published outputs the tests match, in words (which list, which dates/seeds).
    verified_against: tuple[str, ...] = ()
    epoch: date = date(1970, 1, 1)  # periods are counted from here
    #: False for families seeded without the date (a hard-coded seed domain,
    #: a key): every period has the same names, computed once.
    uses_date: bool = True
    extra: dict = field(default_factory=dict)

    # -- the contract ---------------------------------------------------------

    def period_start(self, day: date, params: dict[str, Any] | None = None) -> date:
        """First day of the period that contains ``day`` (``params``: the resolved
        parameters, for families whose periods depend on a variant)."""
        n = (day - self.epoch).days // self.period_days
        return self.epoch + timedelta(days=n * self.period_days)

    def period_end(self, start: date, params: dict[str, Any] | None = None) -> date:
        """Last day of the period that begins on ``start`` (override with
        ``period_start`` for periods of uneven length: thirds of a month...)."""
        return start + timedelta(days=self.period_days - 1)

    def seed_key(self, start: date, params: dict[str, Any]) -> Any:
        """What the names of the period beginning on ``start`` depend on:
        periods with equal keys have equal names (forecasts and the match
        index compute them once). Override for date groups (Necurs' day // 4)."""
        return None if not self.uses_date else start

    def generate(self, day: date, **params: Any) -> list[str]:
        """The names of the period containing ``day``, in the malware's order."""
        resolved = self.resolve(params)
        return self.names(self.period_start(day, resolved), **resolved)

    def names(self, start: date, **params: Any) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- parameters -----------------------------------------------------------

    def resolve(self, given: dict[str, Any]) -> dict[str, Any]:
        """Defaults filled in; unknown or missing parameters are a DgaError."""
        known = {p.name: p for p in self.params}
        for k in given:
            if k not in known:
                have = ", ".join(known) or "none"
                raise DgaError(f"{self.name}: unknown parameter {k!r} (parameters: {have})")
        out = {}
        for p in self.params:
            if p.name in given:
                v = given[p.name]
                out[p.name] = p.parse(v) if isinstance(v, str) and p.kind is not str else v
            elif p.default is not None:
                out[p.name] = p.default
            else:
                raise DgaError(f"{self.name}: parameter {p.name} is required ({p.doc})")
        return out
