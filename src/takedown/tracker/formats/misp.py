"""Writes a MISP feed directory, the layout a MISP instance's "Feeds" page
loads from a URL or a local path (MISP book, "Managing feeds"; PyMISP's
``examples/feed-generator``): one event file ``<uuid>.json`` per family (or
per day of first sighting, ``--param events=day``), ``manifest.json``
(event uuid -> the event's summary) and ``hashes.csv`` (``md5,event uuid``
per attribute value, for MISP's feed correlation).

Each event is a :class:`pymisp.MISPEvent` and its file, manifest entry and
hashes are what :meth:`pymisp.MISPEvent.to_feed` (``with_meta``) gives, as
PyMISP's feed generator writes them; the attributes are written in the shape
pymisp gives them (``MISPAttribute._to_feed``: tests/test_tracker_feeds.py
compares every one, and pymisp's own ``feed_meta_generator`` remakes the
same manifest and hashes from the files), streamed through one part file per
event, because pymisp's objects cost about 0.3 ms and 5 KB an attribute: 5
minutes and 5 GB for a million. Attributes: ``domain``, ``ip-dst``,
``ip-dst|port`` (``address|port``) and ``url``, category ``Network
activity``, ``to_ids`` set; first and last seen are the indicator's first
sighting and last time online; the notes are the comment; the status,
family and tags are attribute tags (``takedown:status="online"``,
``takedown:family="ZeuS"``, the tags as they are). Event and attribute
uuids are UUIDv5 of the family (or day) and of the value, stable across
exports. The AS and country are not carried (MISP keeps them on objects,
not attributes).

``--param org=NAME`` names the creator organisation (``takedown``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path
from typing import IO, Iterable

from takedown.errors import TrackerError
from takedown.tracker.formats import ExportContext, Format
from takedown.tracker.formats._values import host_port, uuid5
from takedown.tracker.indicator import Indicator

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://takedown.invalid/misp")
MODES = ("family", "day")


def _uuid(name: str) -> str:
    return uuid5(NAMESPACE, name)


def attribute(ind: Indicator) -> tuple[str, str]:
    """The MISP type and value of an indicator."""
    if ind.kind == "domain":
        return "domain", ind.value
    if ind.kind == "url":
        return "url", ind.value
    host, port = host_port(ind.value)
    return ("ip-dst", host) if port is None else ("ip-dst|port", f"{host}|{port}")


def tag(name: str) -> dict:
    return {"colour": "#ffffff", "local": False, "name": name, "relationship_type": ""}


def attribute_feed(ind: Indicator, ctx: ExportContext) -> dict:
    """The attribute as ``MISPAttribute._to_feed`` gives it: the feed's
    fields in sorted order, numbers as strings, then the tags."""
    kind, value = attribute(ind)
    a: dict = {"category": "Network activity", "comment": ind.notes, "disable_correlation": False}
    if ind.first_seen is not None:
        a["first_seen"] = ind.first_seen.isoformat()
    if ind.last_online is not None and ind.last_online >= (ind.first_seen or ind.last_online):
        a["last_seen"] = ind.last_online.isoformat()  # MISP refuses a last seen before the first
    a.update({"timestamp": str(int((ind.updated or ctx.now).timestamp())), "to_ids": True, "type": kind,
              "uuid": _uuid(f"attribute:{ind.value}"), "value": value,
              "Tag": [tag(f'takedown:status="{ind.status}"'), tag(f'takedown:family="{ind.family}"'),
                      *(tag(t) for t in ind.tags)]})  # fmt: skip
    return a


# json.dumps(obj, ensure_ascii=False) with the encoder made once: dumps
# makes one per call when given an option (1.5 s of CPU in a million)
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def md5s(kind: str, value: str) -> list[str]:
    """``MISPAttribute.hash_values("md5")``: one per part of a composite value."""
    parts = value.split("|") if "|" in kind else [value]
    return [hashlib.md5(p.encode("utf-8")).hexdigest() for p in parts]


class _Parts:
    """One file of attribute JSON per event, appended to as indicators
    stream in; at most :data:`OPEN` open at once (``--param events=day``
    makes one per day)."""

    OPEN = 64

    def __init__(self, d: Path) -> None:
        self.d = d
        self.d.mkdir()
        self.files: dict[str, Path] = {}
        self.open: dict[str, IO[str]] = {}

    def add(self, key: str, text: str) -> None:
        f = self.open.get(key)
        if f is None:
            if len(self.open) >= self.OPEN:
                self.close()
            path = self.files.setdefault(key, self.d / f"{len(self.files)}.part")
            f = self.open[key] = path.open("a", encoding="utf-8")
            if f.tell():
                f.write(",")
        else:
            f.write(",")
        f.write(text)

    def close(self) -> None:
        for f in self.open.values():
            f.close()
        self.open.clear()


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
    parts = _Parts(d / ".parts")
    n = 0
    with (d / "hashes.csv").open("w", encoding="utf-8") as hashes:
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
            a = attribute_feed(ind, ctx)
            parts.add(key, _ENCODE(a))
            hashes.write("".join(f"{h},{ev.uuid}\n" for h in md5s(a["type"], a["value"])))
            n += 1
    parts.close()
    manifest: dict = {}
    for key, ev in events.items():
        feed = ev.to_feed(with_meta=True)["Event"]
        feed.pop("_hashes")
        manifest.update(feed.pop("_manifest"))
        head = json.dumps(feed, ensure_ascii=False)
        with (d / f"{ev.uuid}.json").open("w", encoding="utf-8") as out, parts.files[key].open(encoding="utf-8") as f:
            out.write('{"Event": ' + head[:-1] + ', "Attribute": [')
            shutil.copyfileobj(f, out)
            out.write("]}}")
    shutil.rmtree(parts.d)
    with (d / "manifest.json").open("w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False)
    return n


FORMAT = Format(name="misp", summary="MISP feed directory (manifest.json, event files, hashes.csv)",
                write_dir=write_dir)
