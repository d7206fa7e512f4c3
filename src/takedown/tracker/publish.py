"""One export of the tracker: a selection of indicators written in one
format, atomically, with the format's next serial and the latest changes
(what ``takedown tracker export`` runs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from takedown.errors import TrackerError
from takedown.tracker import formats
from takedown.tracker.indicator import utc
from takedown.tracker.store import Tracker

__all__ = ["Exported", "export_selection", "parse_params"]

CHANGES_IN_CONTEXT = 100  # the latest changes an export sees (an Atom feed's entries)


@dataclass(frozen=True, slots=True)
class Exported:
    format: str
    path: Path
    count: int
    serial: int


def parse_params(items: list[str] | None) -> dict[str, str]:
    """``--param key=value`` options as a dict."""
    params: dict[str, str] = {}
    for item in items or []:
        k, sep, v = item.partition("=")
        if not sep or not k.strip():
            raise TrackerError(f"--param: {item!r} is not key=value")
        params[k.strip()] = v
    return params


def export_selection(tracker: Tracker, fmt_name: str, out: Path, *, family=None, status=None, kind=None,
                     params: dict[str, str] | None = None, sinkhole_v4: str | None = None,
                     sinkhole_v6: str | None = None, now: datetime | None = None, **context) -> Exported:
    """Write the indicators matching the filters in format ``fmt_name`` to
    ``out``. The serial is taken only once the format is known, so a typo
    in ``--format`` spends none; ``context``: more ExportContext fields
    (origin, title, link)."""
    fmt = formats.get(fmt_name)
    now = utc(now or datetime.now(timezone.utc))
    selection = tracker.select(family=family, status=status, kind=kind)
    ctx = formats.ExportContext(now=now, serial=tracker.next_serial(fmt.name, now=now), sinkhole_v4=sinkhole_v4,
                                sinkhole_v6=sinkhole_v6, changes=tracker.changes(limit=CHANGES_IN_CONTEXT),
                                params=dict(params or {}), **context)
    count = formats.export(fmt, selection, ctx, Path(out))
    return Exported(fmt.name, Path(out), count, ctx.serial)
