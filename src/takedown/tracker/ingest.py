"""``takedown tracker import``: a feed file into the store, all or nothing.

The file is read twice: once to check every row (a bad row is a one-line
``FILE:LINE: reason`` and nothing is written: a feed with one broken row in
10,000 is better refused than half-imported), then to write it through the
store in batches. Two passes keep memory bounded whatever the file's size;
the second finds the rows the first accepted (a file changed in between is
checked again row by row, and fails the same way).

What a file does not say can be given: ``family`` (URLhaus and plain lists
name none), ``status`` (plain lists have none), ``source``, ``confidence``.
A given value overrides the file's for every row.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Protocol

from takedown.tracker.formats import get
from takedown.tracker.formats.text import family_name
from takedown.tracker.indicator import Indicator, check_confidence, check_status

__all__ = ["Overrides", "Imported", "read_file", "check_file", "add_file", "import_file", "batches"]

#: Indicators handed to the store at once.
BATCH = 10_000


def batches(items: Iterable[Indicator], size: int | None = None) -> Iterator[list[Indicator]]:
    size = size or BATCH
    batch: list[Indicator] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass(frozen=True, slots=True)
class Overrides:
    family: str | None = None
    status: str | None = None
    source: str | None = None
    confidence: int | None = None

    def check(self) -> "Overrides":
        if self.status is not None:
            check_status(self.status, "--status")
        if self.confidence is not None:
            check_confidence(self.confidence, "--confidence")
        return self

    def apply(self, ind: Indicator) -> Indicator:
        changes = {k: v for k, v in (("family", None if self.family is None else family_name(self.family)),
                                     ("status", self.status), ("source", self.source),
                                     ("confidence", self.confidence)) if v is not None}
        return dataclasses.replace(ind, **changes) if changes else ind


@dataclass(slots=True)
class Imported:
    """What an import did: indicators per kind and the rows skipped, by reason
    (ThreatFox's hash IOCs: ``sha256_hash``...)."""

    kinds: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return sum(self.kinds.values())


def read_file(fmt: str, path: Path, overrides: Overrides = Overrides(),
              skipped: Counter | None = None) -> Iterator[Indicator]:
    """The indicators of ``path`` in format ``fmt`` with ``overrides`` applied."""
    reader = get(fmt, reading=True).read
    overrides.check()
    for ind in reader(Path(path), skipped):
        yield overrides.apply(ind)


class Adder(Protocol):
    def add(self, indicators: Iterable[Indicator], *, by: str, reason: str) -> object: ...


def check_file(fmt: str, path: Path, overrides: Overrides = Overrides()) -> Imported:
    """Read every row of ``path`` (the first pass): what it holds, or the first bad row's error."""
    result = Imported()
    for ind in read_file(fmt, path, overrides, result.skipped):
        result.kinds[ind.kind] += 1
    return result


def add_file(tracker: Adder, fmt: str, path: Path, overrides: Overrides = Overrides()) -> int:
    """Add the indicators of ``path`` to ``tracker`` in batches (the second pass); the count added."""
    reason = f"imported from {Path(path).name}"
    n = 0
    for batch in batches(read_file(fmt, path, overrides)):
        tracker.add(batch, by=f"import:{fmt}", reason=reason)
        n += len(batch)
    return n


def import_file(tracker: Adder, fmt: str, path: Path, overrides: Overrides = Overrides()) -> Imported:
    """Check every row of ``path``, then add them all to ``tracker`` (see the module doc)."""
    result = check_file(fmt, path, overrides)
    add_file(tracker, fmt, path, overrides)
    return result
