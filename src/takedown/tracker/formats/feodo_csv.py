"""Feodo Tracker's botnet C2 IP blocklist, CSV (``ipblocklist.csv``), read.

abuse.ch's Feodo Tracker (https://feodotracker.abuse.ch/blocklist/) lists
the C&C servers of Dridex, Emotet, TrickBot, QakBot and others as
``first_seen_utc,dst_ip,dst_port,c2_status,last_online,malware`` under a
``#`` header; ``last_online`` is a date. An address is listed only after it
answered as a botnet C2 (Feodo Tracker's own rule), so its confidence is 100.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterator

from takedown.errors import TrackerError
from takedown.tracker.indicator import STATUSES
from takedown.tracker.formats import Format
from takedown.tracker.formats.text import Row, csv_rows, empty, family_name, indicator, time_field
from takedown.tracker.indicator import Indicator
from takedown.tracker.formats.feodo_csv_out import write

COLUMNS = ("first_seen_utc", "dst_ip", "dst_port", "c2_status", "last_online", "malware")
SOURCE = "feodotracker"
#: Feodo Tracker lists an address only once it answered as a C2.
CONFIDENCE = 100


def ip_port(ip: str, port: str, where: str) -> str:
    """``1.2.3.4:443`` or ``[2001:db8::1]:443`` from an address and a port (either may lack)."""
    if empty(ip):
        raise TrackerError(f"{where}: no IP address")
    host = ip.strip().strip("[]")
    if empty(port):
        return host
    return f"[{host}]:{port.strip()}" if ":" in host else f"{host}:{port.strip()}"


def c2_status(text: str, where: str, column: str) -> str:
    """Feodo's ``online``/``offline``; also ``sinkholed``, ``seized`` and
    ``unknown``, which takedown's own Feodo-format exports carry."""
    status = text.strip().lower() or "unknown"
    if status not in STATUSES:
        raise TrackerError(f"{where}: {column}: {text!r} is not one of {', '.join(STATUSES)}")
    return status


def feodo_indicator(*, ip: str, port: str, status: str, first_seen, last_online, malware: str, where: str,
                    **more) -> Indicator:
    """An indicator from one Feodo Tracker entry (CSV row or JSON object)."""
    seen = [t for t in (first_seen, last_online) if t is not None]
    return indicator(ip_port(ip, port, where), family_name(malware), "ip", where,
                     status=status, first_seen=first_seen, last_online=last_online,
                     last_seen=max(seen) if seen else None, source=SOURCE, confidence=CONFIDENCE, **more)


def _indicator(row: Row) -> Indicator:
    w = row.where
    return feodo_indicator(ip=row["dst_ip"], port=row["dst_port"], where=w,
                           status=c2_status(row["c2_status"], w, "c2_status"),
                           first_seen=time_field(row["first_seen_utc"], w, "first_seen_utc"),
                           last_online=time_field(row["last_online"], w, "last_online"),
                           malware=row["malware"])


def read(path: Path, skipped: Counter | None = None) -> Iterator[Indicator]:
    for row in csv_rows(path, COLUMNS):
        yield _indicator(row)


FORMAT = Format(name="feodo-csv", summary="Feodo Tracker's C2 IP blocklist, CSV (ipblocklist.csv)", read=read, write=write,
                suffix=".csv")
