"""Plain lists: one indicator per line (a domain, an IP with optional port,
or a URL; the kind is found per line), ``#`` comments, read.

The lists abuse.ch and others publish for firewalls and resolvers (Feodo
Tracker's ``ipblocklist.txt``, URLhaus's ``text_online``, ZeuS Tracker's
domain and IP blocklists) are this: a ``#`` header, then values. A ``#`` at
the start of a line or after a space starts a comment; a ``#`` inside a
value (a URL's fragment) does not. Entries come in with family ``unknown``,
status ``unknown`` and the file's name as their source; the importer may set
the family and status (``takedown tracker import --family --status``).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Iterator

from takedown.tomlfile import display_path
from takedown.tracker.formats import Format
from takedown.tracker.formats.text import indicator, lines
from takedown.tracker.indicator import Indicator
from takedown.tracker.formats.plain_out import write

_COMMENT = re.compile(r"(?:^|\s)#")


def read(path: Path, skipped: Counter | None = None) -> Iterator[Indicator]:
    shown = display_path(path)
    source = Path(path).name
    for lineno, line in lines(path):
        m = _COMMENT.search(line)
        value = (line[:m.start()] if m else line).strip()
        if value:
            yield indicator(value, "unknown", None, f"{shown}:{lineno}", source=source)


FORMAT = Format(name="plain", summary="a plain list: one domain, IP[:port] or URL per line, '#' comments",
                read=read, write=write, suffix=".txt")
