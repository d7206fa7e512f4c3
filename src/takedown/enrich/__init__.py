"""Enrichment: country code, AS number and AS name for IPv4 and IPv6
addresses, a whole batch at a time (docs/enrichment.md).

    e = Enricher.default()
    e.lookup(["8.8.8.8", "2001:4860:4860::8888", "10.0.0.1", "junk"])
    # -> pyarrow.Table with columns cc (string), asn (int64), as_name (string)

Each field is a sorted range table (``takedown.enrich.ranges``); the tables
of all fields are merged into one set of bounds per family, so one search
per address answers every field. Strings are parsed from the Arrow buffers
without a per-address Python loop (``takedown.enrich.addresses``).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from takedown.enrich import mmdb, shipped
from takedown.enrich.addresses import parse
from takedown.enrich.model import AsnField, CountryField, Source
from takedown.enrich.ranges import V4, V6, RangeTable, V4Index, V6Index, segments, union, v6_from_ints
from takedown.errors import EnrichError

__all__ = ["Enricher", "Source", "SCHEMA"]

SCHEMA = pa.schema([("cc", pa.string()), ("asn", pa.int64()), ("as_name", pa.string())])
_CHUNK = 1 << 20  # rows parsed at a time: bounds the temporary arrays (~40 B/row)


class Enricher:
    """Looks up cc, asn and as_name for batches of address strings.

    Build one with :meth:`default`, :meth:`from_mmdb` or :meth:`from_ranges`;
    ``sources`` says where each field's answers come from."""

    def __init__(self, cc: CountryField, asn: AsnField, as_name: AsnField, sources: Iterable[Source]):
        self._cc, self._asn, self._name = cc, asn, as_name
        self.sources: tuple[Source, ...] = tuple(sources)
        # The same table may serve several fields (asn and as_name usually
        # come from one file): search it once.
        tables: list[RangeTable] = []
        self._col: list[int] = []
        for table in (cc.table, asn.table, as_name.table):
            found = next((i for i, t in enumerate(tables) if t is table), None)
            if found is None:
                tables.append(table)
                found = len(tables) - 1
            self._col.append(found)
        self._numbers = pa.array(asn.numbers, pa.int64(), mask=asn.numbers < 0)
        bounds4, self._cols4 = union([t.v4 for t in tables])
        self._index4 = V4Index(bounds4)
        bounds6, self._cols6 = union([t.v6 for t in tables])
        self._index6 = V6Index(bounds6)

    # --- constructors ------------------------------------------------------

    @classmethod
    def default(cls) -> "Enricher":
        """The shipped data: geoip2fast's GeoLite2 Country for cc and the
        ip-location-db ASN table (installed by scripts/bootstrap) for asn and
        as_name. Loaded once per process."""
        return _default()

    @classmethod
    def from_mmdb(cls, country: Path | str | None = None, asn: Path | str | None = None,
                  fallback: "Enricher | None" = None) -> "Enricher":
        """Fields from MaxMind DB files; a field that the given file lacks (or
        whose file is not given) comes from ``fallback``, else is NULL."""
        if country is None and asn is None and fallback is None:
            raise EnrichError("from_mmdb: give a country or asn MaxMind DB file, or a fallback")
        sources: list[Source] = []
        cc = num = name = None
        if country is not None:
            cc, src = mmdb.read_country(Path(country))
            sources.append(src if cc else _without(src, "no country records; cc from the fallback"))
        if asn is not None:
            num, name, src = mmdb.read_asn(Path(asn))
            sources.append(src if src.fields else _without(src, "no AS records; asn and as_name from the fallback"))
        missing = [f for f, have in (("cc", cc), ("asn", num), ("as_name", name)) if have is None]
        if fallback is not None and missing:
            cc = cc or fallback._cc
            num = num or fallback._asn
            name = name or fallback._name
            for src in fallback.sources:
                used = tuple(f for f in src.fields if f in missing)
                if used:
                    sources.append(Source(src.name, src.version, src.date, used, src.note + " (fallback)"))
        elif missing:
            sources.append(Source("none", "", "", tuple(missing), "no data for these fields: they are NULL"))
        return cls(cc or CountryField.empty(), num or AsnField.empty(), name or AsnField.empty(), sources)

    @classmethod
    def from_ranges(cls, rows: Iterable) -> "Enricher":
        """Fields from ``(first_ip, last_ip, cc, asn, as_name)`` rows (inclusive
        ranges, IPv4 or IPv6; None where a row says nothing about a field).
        Where ranges overlap, the one that starts last wins (for networks:
        the most specific)."""
        cc_rows: dict[int, list] = {V4: [], V6: []}
        as_rows: dict[int, list] = {V4: [], V6: []}
        cc_ids: dict[str, int] = {}
        as_ids: dict[tuple, int] = {}
        count = 0
        for i, row in enumerate(rows, 1):
            count = i
            first, last, family, cc, asn, name = _check_row(i, row)
            if cc is not None:
                cc_rows[family].append((first, last, cc_ids.setdefault(cc, len(cc_ids))))
            if asn is not None or name is not None:
                as_rows[family].append((first, last, as_ids.setdefault((asn, name), len(as_ids))))
        cc_field = CountryField(_table(cc_rows), pa.array(list(cc_ids), pa.string()))
        as_field = AsnField(_table(as_rows), np.array([-1 if a is None else a for a, _ in as_ids], np.int64),
                            pa.array([n for _, n in as_ids], pa.string()))
        fields = tuple(f for f, ok in (("cc", cc_ids), ("asn", any(a is not None for a, _ in as_ids)),
                                       ("as_name", any(n is not None for _, n in as_ids))) if ok)
        src = Source("from_ranges", "", "", fields, f"{count} ranges given by the caller")
        return cls(cc_field, as_field, as_field, [src])

    # --- lookup ------------------------------------------------------------

    def lookup(self, ips) -> pa.Table:
        """One row per input, same order: cc, asn, as_name; NULL where the
        address is unknown, private or reserved, or not an address at all
        (bad strings never raise). ``ips``: pyarrow string/binary Array or
        ChunkedArray (dictionary-encoded too), or a sequence of str."""
        parts = []
        for arr in _arrays(ips):
            for start in range(0, len(arr), _CHUNK):
                parts.append(self._lookup_array(arr.slice(start, _CHUNK)))
        if not parts:
            return SCHEMA.empty_table()
        return parts[0] if len(parts) == 1 else pa.concat_tables(parts)

    def _lookup_array(self, arr: pa.Array) -> pa.Table:
        if pa.types.is_dictionary(arr.type):
            # Look up each distinct string once, then spread by the indices.
            per_value = self._value_indices(arr.dictionary)
            idx = arr.indices
            idx_np = pc.fill_null(idx, len(arr.dictionary)).to_numpy(zero_copy_only=False).astype(np.int64)
            cols = [np.append(c, np.int32(-1))[idx_np] for c in per_value]
        else:
            cols = self._value_indices(arr)
        return self._columns(*(cols[c] for c in self._col))

    def _value_indices(self, arr: pa.Array) -> list[np.ndarray]:
        """Per row and per merged table: the value index, -1 if none."""
        parsed = parse(arr)
        seg = self._index4.find(parsed.v4)
        not_v4 = ~parsed.is_v4
        v6 = len(parsed.v6_rows) > 0
        seg6 = self._index6.find(parsed.v6_keys) if v6 else None
        out = []
        for c4, c6 in zip(self._cols4, self._cols6):
            col = c4.take(seg)
            np.putmask(col, not_v4, -1)
            if v6:
                col[parsed.v6_rows] = c6.take(seg6)
            out.append(col)
        return out

    def _columns(self, cc_i: np.ndarray, asn_i: np.ndarray, name_i: np.ndarray) -> pa.Table:
        cc = self._cc.codes.take(pa.array(cc_i, pa.int32(), mask=cc_i < 0))
        at = pa.array(asn_i, pa.int32(), mask=asn_i < 0)
        asn = self._numbers.take(at)
        names = self._name.names.take(at if name_i is asn_i else pa.array(name_i, pa.int32(), mask=name_i < 0))
        return pa.Table.from_arrays([cc, asn, names], schema=SCHEMA)

    def asns_over(self, first: str, last: str) -> frozenset[int | None]:
        """The AS numbers of every range of the asn table from ``first`` to
        ``last`` inclusive (None for a stretch no range covers): one AS alone
        means the whole stretch is announced by it. Reads the flattened
        segments, so a prefix split over many announced ranges is seen whole,
        not only at its two ends."""
        lo, hi = ipaddress.ip_address(first), ipaddress.ip_address(last)
        if lo.version != hi.version or int(lo) > int(hi):
            raise EnrichError(f"asns_over: {first} .. {last} is not a range of one address family")
        seg = self._asn.table.v4 if lo.version == 4 else self._asn.table.v6
        if lo.version == 4:
            keys = np.array([int(lo), int(hi)], np.uint32)
        else:
            keys = v6_from_ints([int(lo), int(hi)])
        k0, k1 = np.searchsorted(seg.bounds, keys, side="right") - 1
        vals = seg.values[k0:k1 + 1]
        numbers = self._asn.numbers
        return frozenset(None if v < 0 or numbers[v] < 0 else int(numbers[v]) for v in np.unique(vals))

    def __repr__(self) -> str:
        return f"Enricher(sources={[f'{s.name} {s.version}'.strip() for s in self.sources]})"


@functools.lru_cache(maxsize=1)
def _default() -> Enricher:
    cc, cc_src = shipped.load_country()
    asn = shipped.load_asn()
    if asn is None:
        asn = AsnField.empty()
        as_src = shipped.asn_source(f"not installed ({shipped.asn_npz_path()} missing: run scripts/bootstrap, "
                                    "which needs npm); asn and as_name are NULL")
    else:
        as_src = shipped.asn_source()
    return Enricher(cc, asn, asn, [cc_src, as_src])


def _without(src: Source, note: str) -> Source:
    return Source(src.name, src.version, src.date, src.fields, f"{src.note}; {note}")


def _arrays(ips) -> list[pa.Array]:
    """The input as string/binary (or dictionary of those) Arrow arrays."""
    if isinstance(ips, (str, bytes)):
        raise EnrichError("lookup: expected a sequence of addresses, got a single string")
    if isinstance(ips, pa.ChunkedArray):
        arrays = list(ips.chunks)
    elif isinstance(ips, pa.Array):
        arrays = [ips]
    else:
        seq = ips if hasattr(ips, "__len__") else list(ips)
        try:
            arrays = [pa.array(seq, pa.string())]
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            # Elements that are not str are not addresses: NULL, never an error.
            arrays = [pa.array([x if isinstance(x, str) else None for x in seq], pa.string())]
    return [_text_array(a) for a in arrays]


def _text_array(a: pa.Array) -> pa.Array:
    t = a.type
    if pa.types.is_dictionary(t):
        if not _is_text(t.value_type):
            raise EnrichError(f"lookup: expected address strings, got {t}")
        return a
    if pa.types.is_null(t):
        return pa.nulls(len(a), pa.string())
    if _is_text(t):
        return a
    if hasattr(pa.types, "is_string_view") and (pa.types.is_string_view(t) or pa.types.is_binary_view(t)):
        return a.cast(pa.string() if pa.types.is_string_view(t) else pa.binary())
    raise EnrichError(f"lookup: expected address strings, got {t}")


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t)


def _check_row(i: int, row):
    """Validate one from_ranges row; the message names the row and the field."""
    try:
        first_s, last_s, cc, asn, name = row
    except (TypeError, ValueError):
        raise EnrichError(f"from_ranges row {i}: expected (first_ip, last_ip, cc, asn, as_name)") from None
    addrs = []
    for label, text in (("first_ip", first_s), ("last_ip", last_s)):
        try:
            if not isinstance(text, str):
                raise ValueError
            addrs.append(ipaddress.ip_address(text))
        except ValueError:
            raise EnrichError(f"from_ranges row {i}: {label} {text!r} is not an IP address") from None
    first, last = addrs
    if first.version != last.version:
        raise EnrichError(f"from_ranges row {i}: {first_s} and {last_s} are of different IP versions")
    if int(first) > int(last):
        raise EnrichError(f"from_ranges row {i}: first_ip {first_s} is after last_ip {last_s}")
    if cc is not None and (not isinstance(cc, str) or not cc):
        raise EnrichError(f"from_ranges row {i}: cc {cc!r} is not a non-empty string")
    if asn is not None and (isinstance(asn, bool) or not isinstance(asn, int) or not 0 <= asn < 1 << 32):
        raise EnrichError(f"from_ranges row {i}: asn {asn!r} is not a number 0..4294967295")
    if name is not None and not isinstance(name, str):
        raise EnrichError(f"from_ranges row {i}: as_name {name!r} is not a string")
    return int(first), int(last), first.version, cc, asn, name


def _table(rows: dict[int, list]) -> RangeTable:
    r4, r6 = rows[V4], rows[V6]
    seg4 = segments(V4, np.array([r[0] for r in r4], np.int64), np.array([r[1] for r in r4], np.int64),
                    np.array([r[2] for r in r4], np.int32))
    seg6 = segments(V6, v6_from_ints([r[0] for r in r6]), v6_from_ints([r[1] for r in r6]),
                    np.array([r[2] for r in r6], np.int32))
    return RangeTable(seg4, seg6)
