"""Writes plain blocklists, one domain or one address a line, under the
abuse.ch banner, as ZeuS Tracker's domain and IP blocklists and Feodo
Tracker's ``ipblocklist.txt`` were (https://feodotracker.abuse.ch/blocklist/):
what a firewall, a proxy or a resolver's local zone loads as it is.

``--param kind=domain`` (the default) lists the tracked domains;
``kind=ip`` the tracked addresses, each once however many ports it was
tracked with (a firewall blocks the host), so this one keeps the addresses
written so far (as integers: about 50 MB per million). A URL's host is in
neither list: a URL is often a page on a hijacked site, and ZeuS Tracker's
lists left hijacked sites out too.
"""

from __future__ import annotations

import ipaddress
from typing import BinaryIO, Iterable

from takedown.errors import TrackerError
from takedown.tracker.formats import ExportContext, Format
from takedown.tracker.formats._abusech import Banner
from takedown.tracker.formats._values import host_port
from takedown.tracker.indicator import Indicator

WHAT = {"domain": "C&C domain blocklist", "ip": "C&C IP blocklist"}


def write(indicators: Iterable[Indicator], ctx: ExportContext, f: BinaryIO) -> int:
    kind = ctx.params.get("kind", "domain")
    if kind not in WHAT:
        raise TrackerError(f"--param kind={kind}: plain lists are of kind domain or ip")
    banner = Banner(f, ctx, WHAT[kind])
    seen: set[int] = set()
    n = 0
    for ind in indicators:
        if ind.kind != kind:
            continue
        host = ind.value
        if kind == "ip":
            host = host_port(ind.value)[0]
            # v6 addresses are kept apart from v4 ones with the same integer
            key = int(ipaddress.ip_address(host)) | ((":" in host) << 128)
            if key in seen:
                continue
            seen.add(key)
        f.write(host.encode("ascii") + b"\n")
        n += 1
    return banner.finish(n)
