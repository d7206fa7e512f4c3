"""The pieces an Enricher is made of: provenance, and one range table per
field group with the values its segments point at."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from takedown.enrich.ranges import RangeTable

__all__ = ["Source", "CountryField", "AsnField"]


@dataclass(frozen=True)
class Source:
    """Where a field's answers come from, for report provenance.

    ``date`` is the data's date (YYYY-MM-DD) when known, else "";
    ``version`` the package or database version, else ""."""

    name: str
    version: str
    date: str
    fields: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class CountryField:
    """Ranges whose values index ``codes`` (ISO 3166-1 alpha-2 codes, or the
    continent codes GeoLite2 uses where it knows no country)."""

    table: RangeTable
    codes: pa.Array

    @staticmethod
    def empty() -> "CountryField":
        return CountryField(RangeTable.empty(), pa.array([], pa.string()))


@dataclass(frozen=True)
class AsnField:
    """Ranges whose values index ``numbers`` (int64, -1 where unknown) and
    ``names`` (nullable strings) together."""

    table: RangeTable
    numbers: np.ndarray
    names: pa.Array

    @staticmethod
    def empty() -> "AsnField":
        return AsnField(RangeTable.empty(), np.zeros(0, np.int64), pa.array([], pa.string()))
