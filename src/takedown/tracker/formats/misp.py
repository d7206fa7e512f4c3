"""Writes a MISP feed directory, the layout a MISP instance's "Feeds" page
loads from a URL or a local path (MISP book, "Managing feeds"; PyMISP's
``examples/feed-generator``): one event file ``<uuid>.json`` per family (or
per day of first sighting, ``--param events=day``), ``manifest.json``
(event uuid -> the event's summary) and ``hashes.csv`` (``md5,event uuid``
per attribute value, for MISP's feed correlation).

The events are :class:`pymisp.MISPEvent` objects and the files are what
:meth:`pymisp.MISPEvent.to_feed` (``with_meta``) gives, as PyMISP's feed
generator writes them. Attributes: ``domain``, ``ip-dst``, ``ip-dst|port``
(``address|port``) and ``url``, category ``Network activity``, ``to_ids``
set; first and last seen are the indicator's first sighting and last time
online; the notes are the comment; the status and tags are attribute tags
(``takedown:status="online"``, the tags as they are). Event and attribute
uuids are UUIDv5 of the family (or day) and of the value, stable across
exports. The AS and country are not carried (MISP keeps them on objects,
not attributes). An event holds all its attributes until it is written:
memory grows with the largest event (pymisp's objects, about 5 KB an
attribute).

``--param org=NAME`` names the creator organisation (``takedown``).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Iterable

from takedown.errors import TrackerError
from takedown.tracker.formats import ExportContext, Format
from takedown.tracker.indicator import Indicator

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://takedown.invalid/misp")
MODES = ("family", "day")


def _uuid(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, name))


def attribute(ind: Indicator) -> tuple[str, str]:
    """The MISP type and value of an indicator."""
    if ind.kind == "domain":
        return "domain", ind.value
    if ind.kind == "url":
        return "url", ind.value
    v = ind.parsed
    return ("ip-dst", v.host) if v.port is None else ("ip-dst|port", f"{v.host}|{v.port}")


def write_dir(indicators: Iterable[Indicator], ctx: ExportContext, d: Path) -> int:
    # lazy: the formats registry imports every format module, most exports need no pymisp
    from pymisp import MISPEvent, MISPOrganisation

    mode = ctx.params.get("events", "family")
    if mode not in MODES:
        raise TrackerError(f"--param events={mode}: one of {', '.join(MODES)}")
    org = MISPOrganisation()
    org.name = ctx.params.get("org", "takedown")
    org.uuid = _uuid(f"org:{org.name}")
    events: dict[str, MISPEvent] = {}
    n = 0
    for ind in indicators:
        seen = ind.first_seen or ind.last_seen or ctx.now
        key = ind.family if mode == "family" else seen.strftime("%Y-%m-%d")
        ev = events.get(key)
        if ev is None:
            ev = events[key] = MISPEvent()
            ev.uuid = _uuid(f"event:{mode}:{key}")
            ev.info = (f"{ctx.title}: {key} C&C indicators" if mode == "family"
                       else f"{ctx.title}: C&C indicators first seen {key}")  # fmt: skip
            ev.Orgc = org
            ev.date = ctx.now.date() if mode == "family" else seen.date()
            ev.timestamp = ctx.now
            ev.publish_timestamp = ctx.now
            ev.published = True
            ev.analysis = 2  # completed
            ev.threat_level_id = 1  # high: live C&C infrastructure
        kind, value = attribute(ind)
        a = ev.add_attribute(kind, value, category="Network activity", to_ids=True, comment=ind.notes,
                             uuid=_uuid(f"attribute:{ind.value}"), timestamp=ind.updated or ctx.now)  # fmt: skip
        if ind.first_seen is not None:
            a.first_seen = ind.first_seen
        if ind.last_online is not None and ind.last_online >= seen:  # MISP refuses last before first
            a.last_seen = ind.last_online
        a.add_tag(f'takedown:status="{ind.status}"')
        a.add_tag(f'takedown:family="{ind.family}"')
        for tag in ind.tags:
            a.add_tag(tag)
        n += 1
    manifest: dict = {}
    hashes: list[str] = []
    for ev in events.values():
        feed = ev.to_feed(with_meta=True)["Event"]
        hashes += [f"{h},{ev.uuid}" for h in feed.pop("_hashes")]
        manifest.update(feed.pop("_manifest"))
        _dump(d / f"{ev.uuid}.json", {"Event": feed})
    _dump(d / "manifest.json", manifest)
    (d / "hashes.csv").write_text("".join(f"{h}\n" for h in hashes), encoding="utf-8")
    return n


def _dump(path: Path, obj: dict) -> None:
    with path.open("w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, default=_json)


def _json(o):
    if isinstance(o, datetime):  # a to_feed value pymisp leaves as a datetime
        return o.isoformat()
    raise TypeError(f"{type(o).__name__} is not JSON")


FORMAT = Format(name="misp", summary="MISP feed directory (manifest.json, event files, hashes.csv)",
                write_dir=write_dir)
