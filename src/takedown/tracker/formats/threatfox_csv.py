"""ThreatFox's IOC export, CSV (``export/csv/recent``, ``full``), read.

ThreatFox (https://threatfox.abuse.ch/export/) writes quoted columns
``first_seen_utc, ioc_id, ioc_value, ioc_type, threat_type, fk_malware,
malware_alias, malware_printable, last_seen_utc, confidence_level,
reference, tags, anonymous, reporter`` with a space after each comma and
``None`` for an absent value. ``ioc_type`` is ``ip:port``, ``domain``,
``url`` or a file hash (``md5_hash``, ``sha256_hash``...). Hashes are not
network indicators: they are skipped and counted, as is any type this
reader does not know, so the caller can say how many it left out.

ThreatFox has no online/offline status: entries come in ``unknown`` (a
check or the operation decides). The family is ``malware_printable``
(``unknown`` for ThreatFox's ``Unknown malware``); the IOC id, threat type,
reporter and reference go into the notes.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterator

from takedown.errors import TrackerError
from takedown.tracker.formats import Format
from takedown.tracker.formats.text import Row, csv_rows, empty, family_name, indicator, tag_list, time_field
from takedown.tracker.indicator import Indicator
from takedown.tracker.formats.threatfox_csv_out import write

COLUMNS = ("first_seen_utc", "ioc_id", "ioc_value", "ioc_type", "threat_type", "fk_malware", "malware_alias",
           "malware_printable", "last_seen_utc", "confidence_level", "reference", "tags", "anonymous", "reporter")
SOURCE = "threatfox"
KINDS = {"ip:port": "ip", "domain": "domain", "url": "url"}


def _confidence(text: str, where: str) -> int:
    if empty(text):
        return 50
    if not text.strip().isdigit() or int(text) > 100:
        raise TrackerError(f"{where}: confidence_level: {text!r} is not an integer 0-100")
    return int(text)


def _notes(row: Row) -> str:
    parts = [f"ThreatFox IOC {row['ioc_id']}" + (f" ({row['threat_type']})" if not empty(row["threat_type"]) else "")]
    if not empty(row["reporter"]):
        parts.append(f"reported by {row['reporter']}")
    if not empty(row["reference"]):
        parts.append(f"reference {row['reference']}")
    return "; ".join(parts)


def _family(row: Row) -> str:
    if row["fk_malware"].lower() == "unknown" or row["malware_printable"].lower() == "unknown malware":
        return "unknown"
    return family_name(row["malware_printable"] or row["fk_malware"])


def read(path: Path, skipped: Counter | None = None) -> Iterator[Indicator]:
    for row in csv_rows(path, COLUMNS):
        w = row.where
        ioc_type = row["ioc_type"].lower()
        kind = KINDS.get(ioc_type)
        if kind is None:
            if empty(ioc_type):
                raise TrackerError(f"{w}: ioc_type is empty")
            if skipped is not None:
                skipped[ioc_type] += 1
            continue
        first = time_field(row["first_seen_utc"], w, "first_seen_utc")
        last = time_field(row["last_seen_utc"], w, "last_seen_utc")
        yield indicator(row["ioc_value"], _family(row), kind, f"{w}: ioc_value",
                        first_seen=first, last_seen=last or first, source=SOURCE,
                        confidence=_confidence(row["confidence_level"], w), tags=tag_list(row["tags"]),
                        notes=_notes(row))


FORMAT = Format(name="threatfox-csv", summary="ThreatFox's IOC export, CSV (ip:port, domain and url IOCs)",
                read=read, write=write, suffix=".csv")
