"""Writes a STIX 2.1 bundle (OASIS, STIX Version 2.1, 2021: sections 4.3
indicator, 4.12 malware, 5.1 relationship, 9 patterning): per indicator an
``indicator`` with its pattern and an ``indicates`` relationship to one
``malware`` object per family (``is_family`` true).

Patterns: ``[domain-name:value = '...']``, ``[ipv4-addr:value = '...']`` (or
``ipv6-addr``), ``[url:value = '...']``, and for an address with a port
``[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value
= '...' AND network-traffic:dst_port = N]``, quotes and backslashes escaped. Ids are UUIDv5 from the value (the
family for a malware object): a re-export keeps every id, and a consumer
updates rather than duplicates. ``created`` and ``valid_from`` are the first
sighting, ``modified`` the last change of an exported field; ``labels`` the
status and the tags; ``confidence`` ours (STIX's 0-100 scale is the same);
the source is an external reference, the notes the description.

The malware objects are made by :mod:`stix2`; the indicators and
relationships are written as JSON in the shape :mod:`stix2` gives them
(tests/test_tracker_feeds.py parses every one back with :func:`stix2.parse`,
which validates the pattern, and compares), because building each through
:mod:`stix2` costs about 0.9 ms (its pattern validator), 15 minutes for a
million indicators against the issue's 30 s. They are filled into JSON
templates, each string through the json module's own escaping, rather than
built as dicts for :func:`json.dumps` (a million took 25.6 s of CPU, now 13.1,
the store's reading included; tests/test_tracker_pinned.py holds the output
to what json.dumps wrote). The
bundle is streamed: objects are written to the file in chunks as they are
made.
"""

from __future__ import annotations

import functools
import json
import uuid
from datetime import datetime, timezone
from json.encoder import encode_basestring
from typing import BinaryIO, Iterable

from takedown.tracker.formats import ExportContext, Format
from takedown.tracker.formats._values import host_port, uuid5
from takedown.tracker.indicator import Indicator

#: UUIDv5 namespace of takedown's STIX ids (itself UUIDv5 of a URL in the URL namespace)
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://takedown.invalid/stix/2.1")


def stix_id(kind: str, name: str) -> str:
    return f"{kind}--{uuid5(NAMESPACE, f'{kind}:{name}')}"


def timestamp(t: datetime) -> str:
    # STIX 2.1 3.2: created/modified to the millisecond; t is UTC to the second (indicator.utc)
    return t.isoformat()[:19] + ".000Z"


_timestamp = functools.lru_cache(maxsize=1 << 16)(timestamp)  # an export's rows share few times


def _quoted(s: str) -> str:
    """A STIX pattern string literal (STIX 2.1 9.2: ``\\'`` and ``\\\\`` escapes)."""
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pattern(ind: Indicator) -> str:
    """As :mod:`stix2.patterns` writes it (tests compare), by string
    formatting: that module's expression trees cost 40 us an indicator."""
    if ind.kind == "domain":
        return f"[domain-name:value = {_quoted(ind.value)}]"
    if ind.kind == "url":
        return f"[url:value = {_quoted(ind.value)}]"
    host, port = host_port(ind.value)
    addr = "ipv6-addr" if ":" in host else "ipv4-addr"
    if port is None:
        return f"[{addr}:value = {_quoted(host)}]"
    return (f"[network-traffic:dst_ref.type = '{addr}' AND network-traffic:dst_ref.value = {_quoted(host)} "
            f"AND network-traffic:dst_port = {port}]")


#: the malware objects' created and modified: one fixed time, so that every
#: export's object of a family (same id) is the same version of it (STIX 2.1
#: 3.6: an object with the same id and modified must be the same)
MALWARE_TIME = datetime(1970, 1, 1, tzinfo=timezone.utc)


def malware(family: str) -> str:
    import stix2  # lazy: the formats registry imports every format module, most exports need no stix2

    m = stix2.v21.Malware(id=stix_id("malware", family.lower()), created=MALWARE_TIME, modified=MALWARE_TIME,
                          name=family, is_family=True)  # fmt: skip
    return m.serialize()


def objects(ind: Indicator, ctx: ExportContext, malware_id: str) -> tuple[str, str]:
    """The indicator and its relationship as JSON text, as :mod:`stix2`
    serializes them (the same keys in the same order, json.dumps's
    separators; tests compare)."""
    created = ind.first_seen or ind.last_seen or ctx.now
    modified = max(created, ind.updated or created)
    c, m = _timestamp(created), _timestamp(modified)
    ident = stix_id("indicator", ind.value)
    # stix2-validator (check 303): name and description SHOULD both be present
    description = ind.notes or f"{ind.family} C&C {ind.kind}, {ind.status}"
    labels = ", ".join(map(encode_basestring, (ind.status, *ind.tags)))
    refs = ""
    if ind.source:
        # STIX 2.1 2.5: a reference needs a description, url or external_id besides its name
        refs = (f', "external_references": [{{"source_name": {encode_basestring(ind.source)}, '
                f'"description": "reported the indicator"}}]')
    indicator = (f'{{"type": "indicator", "spec_version": "2.1", "id": "{ident}", "created": "{c}", '
                 f'"modified": "{m}", "name": {encode_basestring(ind.value)}, '
                 f'"description": {encode_basestring(description)}, "indicator_types": ["malicious-activity"], '
                 f'"pattern": {encode_basestring(pattern(ind))}, "pattern_type": "stix", "pattern_version": "2.1", '
                 f'"valid_from": "{c[:19]}Z", "labels": [{labels}], "confidence": {int(ind.confidence)}{refs}}}')
    rel = (f'{{"type": "relationship", "spec_version": "2.1", '
           f'"id": "{stix_id("relationship", f"{ind.value} {malware_id}")}", "created": "{c}", "modified": "{m}", '
           f'"relationship_type": "indicates", "source_ref": "{ident}", "target_ref": "{malware_id}"}}')
    return indicator, rel


def write(indicators: Iterable[Indicator], ctx: ExportContext, f: BinaryIO) -> int:
    bundle = stix_id("bundle", f"{ctx.origin} {ctx.serial} {ctx.now.isoformat()}")
    f.write(f'{{"type": "bundle", "id": "{bundle}", "objects": ['.encode())
    families: dict[str, str] = {}
    out: list[str] = []
    lead = "\n"  # before the first object; ",\n" before every other

    def flush() -> None:
        nonlocal lead
        if out:
            f.write((lead + ",\n".join(out)).encode("utf-8"))
            lead = ",\n"
            out.clear()

    n = 0
    for ind in indicators:
        key = ind.family.lower()
        if key not in families:
            text = malware(ind.family)
            families[key] = json.loads(text)["id"]
            out.append(text)
        out += objects(ind, ctx, families[key])
        n += 1
        if len(out) >= 8192:  # a few MB a write
            flush()
    flush()
    f.write(b"\n]}\n")
    return n


FORMAT = Format(name="stix", summary="STIX 2.1 bundle: indicators, malware families, indicates relationships",
                write=write, suffix=".json")
