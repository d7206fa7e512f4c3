"""Writes an Atom feed (RFC 4287) of the latest status changes
(``ExportContext.changes``, newest first): one entry per change, "VALUE:
OLD -> NEW", with when, by whom or what, and why; what a feed reader or a
partner's automation follows, as ZeuS Tracker's RSS feeds were followed.

Entry ids are tag URIs (RFC 4151) made of the feed's host, the day of the
change and the change itself (value, time, new status): the same change
keeps its id in every export, so a reader shows it once. ``updated`` is the
change's time; the feed's is the newest change's (the export time when
there is none). Characters XML 1.0 cannot carry (C0 controls but tab and
newlines) are dropped from the text.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import BinaryIO, Iterable
from urllib.parse import quote, urlsplit

from takedown.tracker.formats import ExportContext, Format
from takedown.tracker.indicator import Change, Indicator

NS = "http://www.w3.org/2005/Atom"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def rfc3339(t: datetime) -> str:
    return t.isoformat()[:19] + "Z"  # t is UTC to the second (indicator.utc)


def _text(s: str) -> str:
    return _NOT_XML.sub("", s)


def entry_id(ctx: ExportContext, c: Change) -> str:
    host = urlsplit(ctx.link).hostname or "takedown.invalid"
    return f"tag:{host},{c.at:%Y-%m-%d}:change/{quote(c.value, safe='')}/{int(c.at.timestamp())}/{c.new}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{NS}}}{tag}", attrs)
    if text is not None:
        el.text = _text(text)
    return el


def write(indicators: Iterable[Indicator], ctx: ExportContext, f: BinaryIO) -> int:
    """The feed of ``ctx.changes``; ``indicators`` are not read (the changes
    name their values)."""
    ET.register_namespace("", NS)
    feed = ET.Element(f"{{{NS}}}feed")
    _sub(feed, "id", ctx.link)
    _sub(feed, "title", f"{ctx.title}: status changes")
    _sub(feed, "updated", rfc3339(max((c.at for c in ctx.changes), default=ctx.now)))
    _sub(_sub(feed, "author"), "name", ctx.title)
    _sub(feed, "link", href=ctx.link)
    _sub(feed, "generator", "takedown")
    for c in ctx.changes:
        e = _sub(feed, "entry")
        _sub(e, "id", entry_id(ctx, c))
        _sub(e, "title", f"{c.value}: {c.old or 'new'} -> {c.new}")
        _sub(e, "updated", rfc3339(c.at))
        _sub(e, "link", href=f"{ctx.link}#{quote(c.value, safe='')}")
        _sub(e, "category", term=c.new)
        why = f" ({c.reason})" if c.reason else ""
        was = f"from {c.old} " if c.old else "(new) "
        _sub(e, "summary", f"{c.value} changed {was}to {c.new} at {rfc3339(c.at)} by {c.by}{why}")
    ET.ElementTree(feed).write(f, encoding="utf-8", xml_declaration=True)
    return len(ctx.changes)


FORMAT = Format(name="atom", summary="Atom feed (RFC 4287) of the latest status changes", write=write,
                suffix=".xml")
