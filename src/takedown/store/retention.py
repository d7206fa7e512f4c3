"""Retention: removing whole day partitions older than a limit.

Events are kept per kind and UTC day (``events/kind=K/date=YYYY-MM-DD/``), so
removing a day is removing a directory: no file is rewritten, and a reader
that listed the files before still sees a consistent snapshot (a file that
vanished reads as empty, :mod:`takedown.store.reader`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from takedown.errors import StoreError


@dataclass(frozen=True)
class Partition:
    kind: str
    day: date
    path: Path
    files: int


def partitions(storage: Path) -> list[Partition]:
    """Every ``kind=*/date=*`` directory of the dataset, oldest first."""
    root = Path(storage) / "events"
    out = []
    if not root.is_dir():
        return out
    for kind_dir in sorted(root.glob("kind=*")):
        for day_dir in sorted(kind_dir.glob("date=*")):
            try:
                day = date.fromisoformat(day_dir.name.split("=", 1)[1])
            except ValueError:
                continue  # not ours: never delete what we cannot read the date of
            files = sum(1 for _ in day_dir.glob("*.parquet"))
            out.append(Partition(kind_dir.name.split("=", 1)[1], day, day_dir, files))
    return sorted(out, key=lambda p: (p.day, p.kind))


def prune(storage: Path, older_than_days: int, *, today: date | None = None,
          dry_run: bool = False) -> list[Partition]:
    """Remove the day partitions whose whole day ended more than
    ``older_than_days`` days ago (UTC): with 30, on 2026-11-25 the last day
    removed is 2026-10-25. Returns the partitions removed (or that would be)."""
    if older_than_days < 0:
        raise StoreError(f"--older-than must be 0 or more days, not {older_than_days}")
    today = today or datetime.now(timezone.utc).date()
    limit = today - timedelta(days=older_than_days)
    doomed = [p for p in partitions(storage) if p.day < limit]
    if not dry_run:
        for p in doomed:
            try:
                shutil.rmtree(p.path)
                # and what a killed compaction of that day left (takedown.store.compact)
                for left in p.path.parent.glob(f".compact-*.{p.path.name}"):
                    shutil.rmtree(left)
            except OSError as exc:
                raise StoreError(f"cannot remove {p.path}: {exc.strerror or exc}") from None
    return doomed
