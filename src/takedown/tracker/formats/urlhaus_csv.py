"""URLhaus's database dump, CSV (``downloads/csv``, ``csv_recent``, ``csv_online``), read.

URLhaus (https://urlhaus.abuse.ch/api/#csv) writes quoted columns
``id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter``
under a ``#`` header; ``url_status`` is ``online``, ``offline`` or
``unknown``, ``tags`` a comma-separated list. URLhaus names no malware
family: entries come in as family ``unknown`` unless the importer is given
one (``takedown tracker import --family``); the tags often name it. The
URLhaus id and link, the threat and the reporter go into the notes. URLhaus
lists URLs its community reported and it reviewed: confidence 75.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterator

from takedown.tracker.formats import Format
from takedown.tracker.formats.feodo_csv import c2_status
from takedown.tracker.formats.text import csv_rows, empty, indicator, tag_list, time_field
from takedown.tracker.indicator import Indicator

COLUMNS = ("id", "dateadded", "url", "url_status", "last_online", "threat", "tags", "urlhaus_link", "reporter")
SOURCE = "urlhaus"
CONFIDENCE = 75


def read(path: Path, skipped: Counter | None = None) -> Iterator[Indicator]:
    for row in csv_rows(path, COLUMNS):
        w = row.where
        added = time_field(row["dateadded"], w, "dateadded")
        online = time_field(row["last_online"], w, "last_online")
        notes = [f"URLhaus {row['id']}" + (f" ({row['threat']})" if not empty(row["threat"]) else "")]
        if not empty(row["reporter"]):
            notes.append(f"reported by {row['reporter']}")
        if not empty(row["urlhaus_link"]):
            notes.append(row["urlhaus_link"])
        seen = [t for t in (added, online) if t is not None]
        yield indicator(row["url"], "unknown", "url", f"{w}: url",
                        status=c2_status(row["url_status"], w, "url_status"), first_seen=added,
                        last_online=online, last_seen=max(seen) if seen else None, source=SOURCE,
                        confidence=CONFIDENCE, tags=tag_list(row["tags"]), notes="; ".join(notes))


FORMAT = Format(name="urlhaus-csv", summary="URLhaus's database dump, CSV (malware URLs)", read=read,
                suffix=".csv")
