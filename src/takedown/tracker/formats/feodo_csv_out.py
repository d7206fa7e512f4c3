"""Writes Feodo Tracker's ``ipblocklist.csv`` (https://feodotracker.abuse.ch/blocklist/):
the abuse.ch banner, then the quoted header
``"first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"``
and one quoted row per C&C address.

Feodo Tracker lists addresses only: domains and URLs are left out of this
export (the RPZ, ThreatFox CSV, plain domain list and STIX carry them). An IP
tracked without a port gets an empty ``dst_port``; an IPv6 address is
written bare, as Feodo writes ``dst_ip``. ``c2_status`` carries our status as
it is (Feodo's own are ``online``/``offline``; ours add ``sinkholed``,
``seized``, ``unknown``).
"""

from __future__ import annotations

import csv
from typing import BinaryIO, Iterable

from takedown.tracker.formats import ExportContext, Format
from takedown.tracker.formats._abusech import Banner, Text, day, stamp
from takedown.tracker.formats._values import host_port
from takedown.tracker.indicator import Indicator

COLUMNS = ("first_seen_utc", "dst_ip", "dst_port", "c2_status", "last_online", "malware")


def write(indicators: Iterable[Indicator], ctx: ExportContext, f: BinaryIO) -> int:
    banner = Banner(f, ctx, "C2 IP blocklist (CSV)")
    n = 0
    with Text(f) as out:
        w = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        w.writerow(COLUMNS)
        for ind in indicators:
            if ind.kind != "ip":
                continue
            host, port = host_port(ind.value)
            w.writerow((stamp(ind.first_seen), host, port or "", ind.status, day(ind.last_online), ind.family))
            n += 1
    return banner.finish(n)
