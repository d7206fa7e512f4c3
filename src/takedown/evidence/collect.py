"""Which files of an operation are evidence, and which are still open.

Sealed: the operation file and every file its Runtime is built from
(:func:`takedown.runtime.watched`), and every file under the storage
directory except

- event days still open: a ``events/kind=K/date=D`` directory is closed when
  the UTC day D has ended and, unless the operation never compacts
  (``[events] compact_after = false``), the day has been compacted with no
  segment written since (every ``*.parquet`` named in its ``.compacted.json``,
  takedown.store.compact). A day is sealed once, after compaction: sealing
  its segments earlier would make compaction look like their removal.
  Today's segments are therefore never sealed;
- hidden files and directories (a leading dot: temporary names, compaction
  staging, the metrics directory): they are renamed or removed by design;
- what changes in place or is secret: databases (``*.sqlite*``), the
  privacy key, the console secret, the generated TLS key and certificate
  (``tls/``), and the evidence directory itself.

and, outside the storage, the outputs the operator names: ``[case] evidence``
and ``takedown evidence seal --include`` (reports, the appendix, exports
written elsewhere). A directory named so is walked as the storage is (hidden
names, databases and secrets left out); a file named so is sealed as it is;
a path under the storage keeps the storage's rules, so naming the storage's
parent does not seal today's segments or the manifest itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Container, Iterable
from datetime import date, datetime, timezone
from pathlib import Path

from takedown.operation import Operation
from takedown.runtime import watched

#: The directory of the manifest and the timestamp tokens, under the storage.
EVIDENCE_DIR = "evidence"
_SKIP_DIRS = {EVIDENCE_DIR, "tls"}
_SKIP_FILES = {"privacy.key", "console.secret"}
_SKIP_SUFFIXES = (".sqlite", ".sqlite-wal", ".sqlite-shm", ".sqlite-journal")


def _day_closed(day_dir: Path, today: date, compacts: bool) -> bool:
    try:
        day = date.fromisoformat(day_dir.name.split("=", 1)[1])
    except (IndexError, ValueError):
        return False
    if day >= today:
        return False
    if not compacts:
        return True
    try:
        done = set(json.loads((day_dir / ".compacted.json").read_text()).get("files", ()))
    except (OSError, ValueError, AttributeError):
        return False
    return all(p.name in done for p in day_dir.glob("*.parquet"))


def _walk(root: Path, skip_dirs: set[str], follow: bool = False) -> list[Path]:
    """The files under ``root`` but the hidden, secret and in-place ones.
    ``follow``: walk into linked directories too, if they lie inside
    ``root``, each real directory once (a directory export is published as a
    link to a hidden versioned directory beside it,
    takedown.tracker.formats.atomic_dir); a link out of ``root`` is left out,
    so a link to a parent neither loops nor seals what was not named."""
    out = []
    inside = Path(os.path.realpath(root))
    walked = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=follow):
        if follow:
            real = os.path.realpath(dirpath)
            if real in walked or not Path(real).is_relative_to(inside):
                dirnames[:] = []
                continue
            walked.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and not (Path(dirpath) == root and d in skip_dirs))
        for name in sorted(filenames):
            if name.startswith(".") or name in _SKIP_FILES or name.endswith(_SKIP_SUFFIXES):
                continue
            out.append(Path(dirpath) / name)
    return out


#: what a day directory looked like when it was found closed: (inode, modification time in ns). Adding
#: a segment, or compaction's swap (a new directory), changes it; a look that finds the same stamp
#: need not read the day's compaction manifest again.
Stamp = tuple[int, int]


def _stamp(day_dir: Path) -> Stamp | None:
    try:
        st = day_dir.stat()
    except OSError:  # pruned or swapped away meanwhile
        return None
    return (st.st_ino, st.st_mtime_ns)


def closed_days(op: Operation, now: datetime | None = None,
                known: Container[tuple[Path, Stamp | None]] = ()) -> tuple[list[tuple[Path, Stamp | None]], int]:
    """(every closed event-day directory with its stamp, sorted, except those
    whose (directory, stamp) is in ``known``; the number of day directories
    still open) for the operation as it stands at ``now``. ``takedown serve``
    passes the days it sealed already (``[case] seal``): a look then costs a
    listing and a ``stat`` per day."""
    today = (now or datetime.now(timezone.utc)).date()
    compacts = op.events.compact_after is not None
    events = Path(os.path.abspath(op.storage)) / "events"
    closed, open_days = [], 0
    for kind_dir in sorted(events.glob("kind=*")) if events.is_dir() else []:
        for day_dir in sorted(kind_dir.glob("date=*")):
            stamp = _stamp(day_dir)  # before the look: a segment landing during it changes the stamp
            if (day_dir, stamp) in known:
                continue
            if _day_closed(day_dir, today, compacts):
                closed.append((day_dir, stamp))
            else:
                open_days += 1
    return closed, open_days


def _named(paths: Iterable[Path]) -> list[Path]:
    """The files of the named files and directories (absolute paths)."""
    out = []
    for p in paths:
        out += _walk(p, set(), follow=True) if p.is_dir() else [p]
    return out


def evidence_files(op: Operation, now: datetime | None = None,
                   include: Iterable[Path] = ()) -> tuple[list[Path], int]:
    """(files to seal, sorted and absolute; number of event-day directories
    left out because still open) for the operation as it stands at ``now``.
    ``include``: files and directories (absolute) sealed with it, each
    file under the storage only if the storage's rules keep it."""
    storage = Path(os.path.abspath(op.storage))
    rest = _walk(storage, _SKIP_DIRS | {"events"})
    closed, open_days = closed_days(op, now)
    days = [p for day_dir, _stamp_then in closed for p in _walk(day_dir, set())]
    kept = set(rest) | set(days)  # a file named inside the storage obeys the storage's rules
    files = [p for p in (Path(os.path.abspath(p)) for p in watched(op)) if not p.is_relative_to(storage) or p in kept]
    files += rest + days
    named = _named(include)
    if named:  # what the operator names may reach into the storage through a link: compared by real path
        real_storage = Path(os.path.realpath(storage))
        real_kept = {Path(os.path.realpath(p)) for p in kept}
        files += [p for p, real in ((p, Path(os.path.realpath(p))) for p in named)
                  if not real.is_relative_to(real_storage) or real in real_kept]
    seen = set()
    unique = []
    for p in files:
        if p not in seen and p.is_file():
            seen.add(p)
            unique.append(p)
    return unique, open_days
