"""What the abuse.ch-style exports share: the ``#`` banner at the top of
their files and their time formats.

abuse.ch's lists (ZeuS Tracker's blocklists, Feodo Tracker's
``ipblocklist.csv``/``.txt``, ThreatFox's CSV exports:
https://feodotracker.abuse.ch/blocklist/, https://threatfox.abuse.ch/export/)
open with a box of ``#`` lines: the title, when the list was generated, the
terms of use; times are UTC, ``YYYY-MM-DD HH:MM:SS``, last-online dates
``YYYY-MM-DD``. Ours add the number of entries, which the banner says before
the entries are written: the count is a fixed-width field filled in by
seeking back when the last entry is out, so 1M entries stream through.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import BinaryIO

from takedown.errors import TrackerError
from takedown.tracker.formats import ExportContext

WIDTH = 72  # the box's inner width, as abuse.ch's banners
_COUNT_DIGITS = 12


def stamp(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S") if t else ""


def day(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d") if t else ""


def _boxed(text: str) -> str:
    return f"# {text.ljust(WIDTH - 4)} #\n"


class Banner:
    """Writes the banner; :meth:`finish` puts the count into it."""

    def __init__(self, f: BinaryIO, ctx: ExportContext, what: str) -> None:
        if not f.seekable():
            raise TrackerError("abuse.ch-style exports need a seekable file (the count is filled in at the end)")
        self.f = f
        rule = "#" * WIDTH + "\n"
        terms = ctx.params.get("terms", ctx.link)
        head = rule + _boxed(f"{ctx.title}: {what}") + _boxed(f"Last updated: {stamp(ctx.now)} UTC")
        label = "Number of entries: "
        f.write(head.encode("utf-8"))
        self._at = f.tell() + len(f"# {label}".encode())
        f.write(_boxed(label + " " * _COUNT_DIGITS).encode("utf-8"))
        tail = _boxed("") + _boxed(f"Terms of use: {terms}") + rule + "#\n"
        f.write(tail.encode("utf-8"))

    def finish(self, count: int) -> int:
        end = self.f.tell()
        self.f.seek(self._at)
        self.f.write(str(count).ljust(_COUNT_DIGITS).encode("ascii"))
        self.f.seek(end)
        return count


class Text:
    """A UTF-8 text view of the binary export file for :mod:`csv`, detached
    (not closed) when done, so the banner can still seek in the file."""

    def __init__(self, f: BinaryIO) -> None:
        self.io = io.TextIOWrapper(f, encoding="utf-8", newline="")

    def __enter__(self) -> io.TextIOWrapper:
        return self.io

    def __exit__(self, *exc) -> None:
        self.io.flush()
        self.io.detach()
