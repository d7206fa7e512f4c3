"""Range tables from MaxMind DB files (GeoLite2/GeoIP2 Country, ASN, or any
database with the same record fields).

The file is read once by walking its search tree with ``maxminddb``'s
``Reader.__iter__`` (every leaf network and its record; aliased subtrees
such as ``::ffff:0:0/96`` are skipped, IPv4 comes as ``IPv4Network``), and
each network becomes one range. Record fields follow the MaxMind DB
documentation of the GeoIP2 databases: ``country.iso_code`` (else
``registered_country.iso_code``), ``autonomous_system_number``,
``autonomous_system_organization``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import maxminddb
import numpy as np
import pyarrow as pa

from takedown.enrich.model import AsnField, CountryField, Source
from takedown.enrich.ranges import V4, V6, RangeTable, segments, v6_from_ints
from takedown.errors import EnrichError

__all__ = ["read_country", "read_asn"]


def _country_of(record):
    if not isinstance(record, dict):
        return None
    for key in ("country", "registered_country"):
        part = record.get(key)
        if isinstance(part, dict) and isinstance(part.get("iso_code"), str) and part["iso_code"]:
            return part["iso_code"]
    return None


def _asn_of(record):
    if not isinstance(record, dict):
        return None
    number = record.get("autonomous_system_number")
    name = record.get("autonomous_system_organization")
    number = number if isinstance(number, int) and not isinstance(number, bool) and number >= 0 else None
    name = name if isinstance(name, str) else None
    return None if number is None and name is None else (number, name)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _walk(path: Path, extract):
    """Every network with a value: returns the value keys (in first-seen
    order), the per-family ranges and the database's Source fields."""
    index: dict = {}
    f4, p4, v4, f6, p6, v6 = [], [], [], [], [], []
    try:
        with maxminddb.open_database(str(path)) as reader:
            meta = reader.metadata()
            for network, record in reader:
                value = extract(record)
                if value is None:
                    continue
                vid = index.setdefault(value, len(index))
                if network.version == 4:
                    f4.append(int(network.network_address))
                    p4.append(network.prefixlen)
                    v4.append(vid)
                else:
                    f6.append(int(network.network_address))
                    p6.append(network.prefixlen)
                    v6.append(vid)
            db_type, epoch = str(meta.database_type), int(meta.build_epoch)
    except FileNotFoundError:
        raise EnrichError(f"{path}: no such MaxMind DB file") from None
    except (OSError, ValueError, RuntimeError, TypeError, KeyError, IndexError) as exc:
        # maxminddb raises InvalidDatabaseError (a RuntimeError) or ValueError
        # for a file that is not a MaxMind DB.
        raise EnrichError(f"{path}: not a readable MaxMind DB: {_one_line(exc)}") from None
    first4 = np.array(f4, np.int64)
    last4 = first4 + (np.int64(1) << (32 - np.array(p4, np.int64))) - 1
    last6 = [f + (1 << (128 - p)) - 1 for f, p in zip(f6, p6)]
    table = RangeTable(
        segments(V4, first4, last4, np.array(v4, np.int32)),
        segments(V6, v6_from_ints(f6), v6_from_ints(last6), np.array(v6, np.int32)),
    )
    date = dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d") if epoch > 0 else ""
    return list(index), table, (db_type, date)


def _source(path: Path, info, fields) -> Source:
    db_type, date = info
    return Source(name=Path(path).name, version=db_type, date=date, fields=fields, note=f"MaxMind DB file {path}")


def read_country(path: Path) -> tuple[CountryField | None, Source]:
    """The country field of ``path``; None when no record carries one."""
    values, table, info = _walk(path, _country_of)
    field = CountryField(table, pa.array(values, pa.string())) if values else None
    return field, _source(path, info, ("cc",))


def read_asn(path: Path) -> tuple[AsnField | None, AsnField | None, Source]:
    """(numbers, names) fields of ``path``; either is None when no record
    carries it (the caller then takes that field from its fallback)."""
    values, table, info = _walk(path, _asn_of)
    numbers = np.array([-1 if n is None else n for n, _ in values], np.int64)
    names = pa.array([s for _, s in values], pa.string())
    field = AsnField(table, numbers, names)
    has_number = bool(len(numbers)) and bool((numbers >= 0).any())
    has_name = names.null_count < len(names)
    fields = tuple(f for f, ok in (("asn", has_number), ("as_name", has_name)) if ok)
    return (field if has_number else None), (field if has_name else None), _source(path, info, fields)
