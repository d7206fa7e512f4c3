"""Writes ThreatFox's CSV export (https://threatfox.abuse.ch/export/): the
abuse.ch banner, the header as a ``#`` comment, and one quoted row per IOC in
ThreatFox's columns (:data:`COLUMNS`).

Mapping: ``ioc_value``/``ioc_type`` are the domain (``domain``), the
address with its port (``ip:port``, IPv6 in brackets) or the URL (``url``);
``threat_type`` is ``botnet_cc``; ``fk_malware`` and ``malware_printable``
the family; ``last_seen_utc`` when it was last seen online;
``confidence_level`` our confidence; ``reference`` our source; ``tags``
comma-separated; ``reporter`` the ``reporter`` parameter (``takedown``).
Empty text fields are ``None``, as ThreatFox writes them.

What ThreatFox cannot carry is left out: an address without a port
(ThreatFox has ``ip:port`` only), and the status, AS and country (ThreatFox
publishes none of them). One difference in bytes: ThreatFox separates fields
with ``", "``; this export writes plain RFC 4180 ``","``, which IntelMQ's
generic CSV parser (and :mod:`csv`) read without a special dialect.
"""

from __future__ import annotations

import csv
from typing import BinaryIO, Iterable

from takedown.tracker.formats import ExportContext, Format
from takedown.tracker.formats._abusech import Banner, Text, stamp
from takedown.tracker.formats._values import host_port
from takedown.tracker.indicator import Indicator

COLUMNS = ("first_seen_utc", "ioc_id", "ioc_value", "ioc_type", "threat_type", "fk_malware", "malware_alias",
           "malware_printable", "last_seen_utc", "confidence_level", "is_compromised", "reference", "tags",
           "anonymous", "reporter")  # fmt: skip

IOC_TYPES = {"domain": "domain", "ip": "ip:port", "url": "url"}


def write(indicators: Iterable[Indicator], ctx: ExportContext, f: BinaryIO) -> int:
    banner = Banner(f, ctx, "IOCs (CSV, ThreatFox's columns)")
    reporter = ctx.params.get("reporter", "takedown")
    n = 0
    with Text(f) as out:
        out.write("# " + ",".join(f'"{c}"' for c in COLUMNS) + "\n")
        w = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for ind in indicators:
            if ind.kind == "ip" and host_port(ind.value)[1] is None:
                continue
            w.writerow((stamp(ind.first_seen), "" if ind.id is None else ind.id, ind.value, IOC_TYPES[ind.kind],
                        "botnet_cc", ind.family, "None", ind.family, stamp(ind.last_online), ind.confidence,
                        "False", ind.source or "None", ",".join(ind.tags) or "None", "0", reporter))  # fmt: skip
            n += 1
    return banner.finish(n)
