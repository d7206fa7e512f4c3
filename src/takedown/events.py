"""The event schema: one place that defines every stored column.

Every observation a sensor makes is an *event*, stored as one row of a Parquet
file in the segment store (:mod:`takedown.store`). All kinds share the
:data:`COMMON` columns; each kind adds its own (``dns`` adds :data:`DNS`).
Columns are only ever *added*, and always nullable, so files written before a
column existed stay readable: readers combine files with union-by-name
(DuckDB ``read_parquet(..., union_by_name=true)``), and an absent column reads
as NULL.

The hot path does not build dictionaries or objects: a sensor appends one
plain tuple per event, in the order of the kind's *row layout*
(:data:`DNS_ROW` for DNS). Values that are constant for a writer (operation,
sensor, worker) are not in the row; the writer adds them when it flushes.
Everything that costs something (int -> mnemonic, name normalisation,
timestamps) happens once per flush, vectorised over the whole batch, in
:func:`rows_to_table`.

``kind`` and ``date`` are *not* columns of the files: they are hive partition
directories (``events/kind=dns/date=2024-05-01/``) and appear as columns when
the dataset is read with hive partitioning.

DNS events describe **resolvers**, not infected hosts: ``src_ip`` of a DNS
event is the address of the resolver that asked (or, at most, the client
subnet it chose to reveal in ``ecs``). They are never counted as bots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import dns.rcode
import dns.rdatatype
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from takedown.errors import StoreError

#: Version of the stored schema, written in every file's key-value metadata.
#: Bump it when a column is added (never when one would be removed or
#: retyped: that is not allowed).
SCHEMA_VERSION = 3  # 2: src_key, src_cc, src_asn (privacy modes); 3: kind=command


@dataclass(frozen=True)
class Column:
    """One stored column: its name, Arrow type and meaning."""

    name: str
    type: pa.DataType
    doc: str
    #: Always set by the writer (NULL only for a malformed event); the
    #: physical Arrow field is nullable regardless, so schemas can evolve.
    required: bool = True
    #: Parquet dictionary encoding: worth it for columns with few distinct
    #: values per file (faster to write and smaller than plain + zstd).
    dictionary: bool = False
    #: Parquet min/max statistics: written for columns worth pruning on
    #: (time ranges, families); string statistics cost ~5 ns a row each.
    statistics: bool = False

    def field(self) -> pa.Field:
        # The doc stays here (and in docs/events.md), not in every file's
        # footer: it would add ~2.4 kB to each one-second segment.
        return pa.field(self.name, self.type, nullable=True)


TIME_TYPE = pa.timestamp("us", tz="UTC")

#: Columns every kind of event has, in file order.
COMMON: tuple[Column, ...] = (
    Column(
        "time", TIME_TYPE,
        "When the sensor received the request (UTC, microseconds).",
        statistics=True,
    ),
    Column(
        "operation", pa.string(),
        "Name of the operation (takedown case) the sensor serves.",
        dictionary=True,
    ),
    Column(
        "sensor", pa.string(),
        "Sensor instance that observed the event (host or instance name).",
        dictionary=True,
    ),
    Column(
        "worker", pa.int16(),
        "Worker process number within the sensor (SO_REUSEPORT workers).",
        dictionary=True, statistics=True,
    ),
    Column(
        "transport", pa.string(),
        "Transport of the request: 'udp' or 'tcp'.",
        dictionary=True,
    ),
    Column(
        "src_ip", pa.string(),
        "Source address of the request as the sensor sees it (after a trusted PROXY protocol header). "
        "For DNS: a resolver.",
    ),
    Column("src_port", pa.int32(), "Source port of the request."),
    Column(
        "dst_ip", pa.string(),
        "Sensor address the request was sent to.",
        dictionary=True,
    ),
    Column(
        "dst_port", pa.int32(),
        "Sensor port the request was sent to.",
        dictionary=True, statistics=True,
    ),
    Column(
        "rule", pa.string(),
        "Policy rule that matched: 'domain:<family>', 'zone:<zone>:block', 'zone:<zone>:pass', "
        "'dga:<family>:<YYYY-MM-DD>' (a DGA name and its period's first day), a fingerprint rule's name, or 'none'.",
        dictionary=True,
    ),
    Column(
        "family", pa.string(),
        "Botnet family of the matched rule; NULL when no family applies.",
        required=False, dictionary=True, statistics=True,
    ),
)

#: Columns of ``kind=dns`` events, after :data:`COMMON`.
DNS: tuple[Column, ...] = (
    Column(
        "qname", pa.string(),
        "Queried name in presentation form, ASCII-lowercased, without the final dot; the root is '.'; "
        "NULL when the query could not be parsed.",
        dictionary=True,
    ),
    Column(
        "qtype", pa.string(),
        "Query type mnemonic: 'A', 'AAAA', 'HTTPS', ..., 'TYPE65280' for types without one; "
        "NULL if the sensor had none to give.",
        dictionary=True,
    ),
    Column(
        "rcode", pa.string(),
        "Response code mnemonic: 'NOERROR', 'NXDOMAIN', 'REFUSED', ... (extended rcodes included; "
        "a code without a mnemonic is its number).",
        dictionary=True,
    ),
    Column(
        "ecs", pa.string(),
        "EDNS client subnet sent by the resolver, as 'address/source-prefix' (e.g. '198.51.100.0/24'); "
        "NULL when the query carried none. It is the resolver's client network, not a host.",
        required=False, dictionary=True,
    ),
    Column(
        "response", pa.string(),
        "What the sensor did: 'answer' (a full response), 'truncated' (TC=1 over UDP), "
        "'rrl-slip' (rate-limited, truncated reply), 'rrl-drop' (rate-limited, no reply), "
        "'formerr' (malformed query answered FORMERR), 'dropped' (unparseable, no reply), ...",
        dictionary=True,
    ),
)

#: Columns of bot check-ins (``kind=http``, ``tls``, ``tcp``), after :data:`COMMON`.
#: One set for the three kinds, so that a check-in is one shape whatever port
#: it came in on; columns a kind does not fill are NULL.
CHECKIN: tuple[Column, ...] = (
    Column(
        "peer_ip", pa.string(),
        "The TCP peer when a trusted PROXY protocol header gave the source (a load balancer or the "
        "emulated range); NULL for direct connections.",
        required=False, dictionary=True,
    ),
    Column("method", pa.string(), "HTTP method; NULL for TLS and raw TCP.", required=False, dictionary=True),
    Column("host", pa.string(), "HTTP Host header (lowercased, without port), else TLS SNI.", required=False, dictionary=True),
    Column("path", pa.string(), "HTTP path, without the query string.", required=False, dictionary=True),
    Column("query", pa.string(), "HTTP query string, without '?'.", required=False),
    Column("user_agent", pa.string(), "HTTP User-Agent.", required=False, dictionary=True),
    Column(
        "headers", pa.string(),
        "HTTP request headers as received, one 'name: value' per line (names lowercased), capped.",
        required=False,
    ),
    Column("body_len", pa.int64(), "Bytes of request body (HTTP) received.", required=False),
    Column("body_sha256", pa.string(), "SHA-256 of the request body (hex); NULL when empty.", required=False),
    Column("body_head", pa.binary(), "First bytes of the request body (capped).", required=False),
    Column("status", pa.int16(), "HTTP status sent; NULL when the connection was closed without one.", required=False, dictionary=True),
    Column(
        "response", pa.string(),
        "What the sensor did: the response policy applied ('notice', 'empty', 'notfound', 'silent', "
        "'template', 'close' for TLS/TCP), 'command' (a command response under a court's authority: see "
        "kind=command), or the error ('bad-request', 'proxy-refused', 'timeout', 'too-large').",
        dictionary=True,
    ),
    Column("sni", pa.string(), "TLS server name from the ClientHello.", required=False, dictionary=True),
    Column("alpn", pa.string(), "TLS ALPN protocols offered, comma-separated.", required=False, dictionary=True),
    Column("tls_version", pa.string(), "Highest TLS version offered ('1.3', '1.2'...).", required=False, dictionary=True),
    Column("ja3", pa.string(), "JA3 fingerprint (MD5 hex) of the ClientHello.", required=False, dictionary=True),
    Column("ja4", pa.string(), "JA4 fingerprint of the ClientHello.", required=False, dictionary=True),
    Column("first_bytes", pa.binary(), "First bytes the client sent on a raw TCP port (capped).", required=False),
    Column("length", pa.int64(), "Bytes the client sent on the connection (raw TCP) or in the request.", required=False),
)

#: Columns added in schema version 2, at the end of every kind: written when
#: the operation stores source addresses truncated or keyed-hashed
#: (``[events] privacy``), so that reports still count unique addresses
#: exactly and still know where they were.
PRIVACY: tuple[Column, ...] = (
    Column(
        "src_key", pa.string(),
        "Keyed hash (HMAC-SHA256, hex, first 32 digits) of the full source address, under the operation's "
        "privacy key; NULL when addresses are stored in clear. Unique-address counts use it when present.",
        required=False,
    ),
    Column("src_cc", pa.string(), "Country of the full source address, looked up when it was stored "
           "(privacy modes only; NULL otherwise).", required=False, dictionary=True),
    Column("src_asn", pa.int64(), "AS number of the full source address, looked up when it was stored "
           "(privacy modes only; NULL otherwise).", required=False),
)

#: Columns of ``kind=command`` events, after :data:`COMMON` and :data:`CHECKIN`:
#: a command response sent under a court's authority (issue 17, docs/case.md).
#: The check-in it answered is also an event of its own kind (``http``) with
#: ``response = 'command'``; the command event repeats its columns so that it
#: stands alone as evidence of what was sent, to whom, under which authority.
COMMAND: tuple[Column, ...] = (
    Column(
        "authority", pa.string(),
        "Id of the [[case.authorities]] entry (kind = \"command\") the command was sent under.",
        dictionary=True,
    ),
    Column(
        "command", pa.string(),
        "Name of the command sent, as the rules file declares it ('stop', 'uninstall', 'notice', ...).",
        dictionary=True, statistics=True,
    ),
    Column(
        "command_sha256", pa.string(),
        "SHA-256 (hex) of the exact response bytes sent (status line, headers and body).",
        required=False,
    ),
)

#: Columns per kind, in file order (common columns first).
COLUMNS: dict[str, tuple[Column, ...]] = {
    "dns": COMMON + DNS + PRIVACY,
    "http": COMMON + CHECKIN + PRIVACY,
    "tls": COMMON + CHECKIN + PRIVACY,
    "tcp": COMMON + CHECKIN + PRIVACY,
    "command": COMMON + CHECKIN + COMMAND + PRIVACY,
}

#: Kinds whose events are bot check-ins (infected hosts), as opposed to DNS
#: resolver observations.
CHECKIN_KINDS: tuple[str, ...] = ("http", "tls", "tcp")


def dictionary_columns(kind: str) -> list[str]:
    """Columns of ``kind`` written with Parquet dictionary encoding."""
    return [c.name for c in COLUMNS[kind] if c.dictionary]


def statistics_columns(kind: str) -> list[str]:
    """Columns of ``kind`` written with Parquet min/max statistics."""
    return [c.name for c in COLUMNS[kind] if c.statistics]


#: Hive partition columns: directories, not stored in the files.
PARTITIONS: tuple[Column, ...] = (
    Column("kind", pa.string(), "Kind of event: 'dns' (resolver observations); 'http', 'tls', 'tcp' (bot check-ins); "
           "'command' (a command response sent under a court's authority: not a check-in of its own)."),
    Column("date", pa.date32(), "UTC date of 'time' (the directory date=YYYY-MM-DD)."),
)


def schema(kind: str) -> pa.Schema:
    """The Arrow schema of the files of ``kind`` (without the partition columns)."""
    try:
        cols = COLUMNS[kind]
    except KeyError:
        raise StoreError(f"unknown event kind {kind!r} (known: {', '.join(sorted(COLUMNS))})") from None
    return pa.schema(
        [c.field() for c in cols],
        metadata={"takedown.kind": kind, "takedown.schema_version": str(SCHEMA_VERSION)},
    )


_SCHEMAS: dict[str, pa.Schema] = {k: schema(k) for k in COLUMNS}
DNS_SCHEMA: pa.Schema = _SCHEMAS["dns"]

# --------------------------------------------------------------------------
# Row layouts: the tuple a sensor appends per event.
# --------------------------------------------------------------------------

#: The tuple the DNS server appends per query, in this exact order::
#:
#:   (time: float,          # epoch seconds (time.time()), UTC
#:    transport: str,       # 'udp' | 'tcp'
#:    src_ip: str, src_port: int,
#:    dst_ip: str, dst_port: int,
#:    qname: str | None,    # presentation form; case and final dot are normalised at flush
#:    qtype: int | None,    # 0..65535, converted to the mnemonic at flush
#:    rcode: int,           # 0..4095 (extended), converted to the mnemonic at flush
#:    rule: str,            # e.g. 'domain:waledac', 'zone:3322.org:block', 'none'
#:    family: str | None,
#:    ecs: str | None,      # '198.51.100.0/24' or None
#:    response: str)        # 'answer', 'truncated', 'rrl-drop', ...
DNS_ROW: tuple[str, ...] = (
    "time",
    "transport",
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
    "qname",
    "qtype",
    "rcode",
    "rule",
    "family",
    "ecs",
    "response",
)

#: The tuple the network sinkhole appends per check-in (kinds http, tls, tcp)::
#:
#:   (time: float, transport: str, src_ip: str, src_port: int, dst_ip: str, dst_port: int,
#:    rule: str, family: str | None, peer_ip: str | None,
#:    method, host, path, query, user_agent: str | None,
#:    headers: str | None,  # 'name: value' lines
#:    body_len: int | None, body_sha256: str | None, body_head: bytes | None,
#:    status: int | None, response: str,
#:    sni, alpn, tls_version, ja3, ja4: str | None,
#:    first_bytes: bytes | None, length: int | None)
CHECKIN_ROW: tuple[str, ...] = (
    "time", "transport", "src_ip", "src_port", "dst_ip", "dst_port",
    "rule", "family", "peer_ip",
    "method", "host", "path", "query", "user_agent", "headers",
    "body_len", "body_sha256", "body_head", "status", "response",
    "sni", "alpn", "tls_version", "ja3", "ja4", "first_bytes", "length",
)


#: The tuple appended per command sent (kind ``command``): the check-in's row,
#: then the authority's id, the command's name and the SHA-256 of the bytes sent.
COMMAND_ROW: tuple[str, ...] = CHECKIN_ROW + ("authority", "command", "command_sha256")


class CheckinConn(NamedTuple):
    """The connection a check-in came on: the part of a check-in row that is
    the same for every request of one connection (source after a trusted
    PROXY header; ``peer_ip`` the proxy that sent it)."""

    transport: str
    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    peer_ip: str | None = None


class Checkin(NamedTuple):
    """One check-in's own record (the rest of a :data:`CHECKIN_ROW` after its
    time and :class:`CheckinConn`), as the network sinkhole's connections
    produce it (:mod:`takedown.net.connection`) and the check-in buffer
    stores it (:mod:`takedown.store.checkins`). A bot repeating a request
    repeats this record: the buffer keeps it once and each event refers to it.
    Fields the kind does not fill stay None; ``response`` says what was done
    ("empty", "notice", "bad-request", "timeout", "proxy-refused", "close",
    "handshake", "bad-hello"...)."""

    rule: str = "none"
    family: str | None = None
    method: str | None = None
    host: str | None = None
    path: str | None = None
    query: str | None = None
    user_agent: str | None = None
    headers: str | None = None  # 'name: value' lines
    body_len: int | None = None
    body_sha256: str | None = None
    body_head: bytes | None = None
    status: int | None = None
    response: str | None = None
    sni: str | None = None
    alpn: str | None = None
    tls_version: str | None = None
    ja3: str | None = None
    ja4: str | None = None
    first_bytes: bytes | None = None
    length: int | None = None


#: Fields of a connection record and of a check-in record, in tuple order.
CHECKIN_CONN_FIELDS: tuple[str, ...] = CheckinConn._fields
CHECKIN_FIELDS: tuple[str, ...] = Checkin._fields
_in_row = [f for f in CHECKIN_ROW if f != "time"]
if [f for f in _in_row if f in CHECKIN_CONN_FIELDS] != list(CHECKIN_CONN_FIELDS) or \
        [f for f in _in_row if f not in CHECKIN_CONN_FIELDS] != list(CHECKIN_FIELDS):
    raise AssertionError("Checkin/CheckinConn disagree with CHECKIN_ROW")  # pragma: no cover
del _in_row

#: The fields of a :class:`Checkin` a bot varies from one check-in to the
#: next (its id in the query, its body), in tuple order. The network sinkhole
#: hands them apart from the rest of the record, its *base*
#: (:data:`CHECKIN_BASE_FIELDS`: rule, request line, headers, response...),
#: which the bots of a family repeat; the check-in buffer keeps one base per
#: distinct value and the varying fields as columns (takedown.store.checkins,
#: docs/performance.md "The check-in as columns").
CHECKIN_VARYING: tuple[str, ...] = ("query", "body_len", "body_sha256", "body_head")
CHECKIN_BASE_FIELDS: tuple[str, ...] = tuple(f for f in CHECKIN_FIELDS if f not in CHECKIN_VARYING)
# checkin_parts/checkin_join slice by position: the layout must keep these places
if tuple(CHECKIN_FIELDS.index(f) for f in CHECKIN_VARYING) != (5, 8, 9, 10) or len(CHECKIN_FIELDS) != 20:
    raise AssertionError("checkin_parts no longer matches Checkin's fields")  # pragma: no cover
_make_checkin = Checkin._make


def checkin_parts(record: tuple) -> tuple:
    """``(base, query, body_len, body_sha256, body_head)`` of a :class:`Checkin`
    (the base in :data:`CHECKIN_BASE_FIELDS` order, a plain tuple)."""
    return record[:5] + record[6:8] + record[11:], record[5], record[8], record[9], record[10]


def checkin_join(base: tuple, query, body_len, body_sha256, body_head) -> Checkin:
    """The :class:`Checkin` of the parts :func:`checkin_parts` gives."""
    return _make_checkin(base[:5] + (query,) + base[5:7] + (body_len, body_sha256, body_head) + base[7:])

#: Columns the writer fills from its own constants, not from the row.
CONSTANT_COLUMNS: tuple[str, ...] = ("operation", "sensor", "worker")


# --------------------------------------------------------------------------
# Vectorised conversions (built once at import).
# --------------------------------------------------------------------------


def _text_table(size: int, to_text: Callable[[int], str], known: Iterable[int]) -> pa.Array:
    """``to_text(i)`` for i in 0..size-1, calling it only for the ``known`` codes.

    dnspython spells a code without a mnemonic as a fixed prefix and the
    number ('TYPE65280', rcode '4095'); calling it 65536 times would take a
    quarter of a second at import.
    """
    last = size - 1
    prefix = to_text(last)[: -len(str(last))]
    texts = [f"{prefix}{i}" for i in range(size)]
    for code in known:
        if 0 <= code < size:
            texts[code] = to_text(code)
    return pa.array(texts, pa.string())


def _qtype_table() -> pa.Array:
    return _text_table(65536, dns.rdatatype.to_text, (int(t) for t in dns.rdatatype.RdataType))


def _rcode_table() -> pa.Array:
    return _text_table(4096, dns.rcode.to_text, (int(r) for r in dns.rcode.Rcode))


QTYPE_TEXT: pa.Array = _qtype_table()  #: qtype int -> mnemonic, index 0..65535
RCODE_TEXT: pa.Array = _rcode_table()  #: rcode int -> mnemonic, index 0..4095


def _lookup(codes: pa.Array, table: pa.Array) -> pa.Array:
    """Map integer codes to the strings of ``table``; out of range or NULL -> NULL."""
    np_codes = codes.to_numpy(zero_copy_only=False)
    if codes.null_count:
        valid = np.asarray(codes.is_valid(), dtype=bool)
        np_codes = np.where(valid, np_codes, 0).astype(np.int64)
    else:
        valid = None
    bad = (np_codes < 0) | (np_codes >= len(table))
    if valid is not None:
        bad |= ~valid
    if bad.any():
        np_codes = np.where(bad, 0, np_codes)
        return table.take(pa.array(np_codes, pa.int32(), mask=bad))
    return table.take(pa.array(np_codes, pa.int32()))


# A final dot that is not escaped: the prefix consists of plain characters
# and complete escapes (\X or \DDD), so 'a\.' keeps its escaped dot.
_FINAL_DOT = r"^((?:[^\\]|\\.)*)\.$"


def normalise_qnames(names: pa.Array) -> pa.Array:
    """ASCII-lowercase and drop the final (unescaped) dot; the root becomes '.'.

    DNS names compare case-insensitively in ASCII only, so ``ascii_lower`` is
    the right fold. Names already without a final dot are left as they are.
    Names with a backslash escape (rare) go through a regular expression so
    that an escaped dot ('a\\.') is not taken for the final one.
    """
    names = pc.ascii_lower(names)
    stripped = pc.if_else(pc.ends_with(names, "."), pc.utf8_slice_codeunits(names, 0, -1), names)
    escaped = pc.fill_null(pc.match_substring(names, "\\"), False)
    if pc.any(escaped).as_py():
        fixed = pc.replace_substring_regex(names.filter(escaped), pattern=_FINAL_DOT, replacement=r"\1")
        stripped = pc.replace_with_mask(stripped, escaped, fixed)
    return pc.if_else(pc.equal(stripped, ""), ".", stripped)


def _time_array(secs: pa.Array) -> pa.Array:
    """Epoch seconds (float64) -> timestamp[us, UTC]; non-finite or NULL -> NULL."""
    micros = np.rint(secs.to_numpy(zero_copy_only=False) * 1e6)  # NULL -> NaN
    finite = np.isfinite(micros)
    if finite.all():
        return pa.array(micros.astype(np.int64), TIME_TYPE)
    micros[~finite] = 0
    return pa.array(micros.astype(np.int64), TIME_TYPE, mask=~finite)


@dataclass(frozen=True)
class RowLayout:
    """How the tuples a sensor appends map to the columns of a kind.

    ``fields`` is the tuple order. ``row_types`` gives the Arrow type a field
    has *in the row* when it differs from the stored column (epoch float for
    ``time``, int codes for ``qtype``/``rcode``); ``convert`` turns such a
    field into the stored column, vectorised.
    """

    kind: str
    fields: tuple[str, ...]
    row_types: dict[str, pa.DataType]
    convert: dict[str, Callable[[pa.Array], pa.Array]]

    def struct_type(self) -> pa.StructType:
        sch = schema(self.kind)
        return pa.struct(
            [pa.field(n, self.row_types.get(n) or sch.field(n).type) for n in self.fields]
        )


#: Row layout per kind: the order of the tuple a sensor appends.
ROW_LAYOUTS: dict[str, RowLayout] = {
    "dns": RowLayout(
        kind="dns",
        fields=DNS_ROW,
        row_types={"time": pa.float64(), "qtype": pa.int32(), "rcode": pa.int32()},
        convert={
            "time": _time_array,
            "qname": normalise_qnames,
            "qtype": lambda a: _lookup(a, QTYPE_TEXT),
            "rcode": lambda a: _lookup(a, RCODE_TEXT),
        },
    ),
}

for _kind in CHECKIN_KINDS:
    ROW_LAYOUTS[_kind] = RowLayout(
        kind=_kind,
        fields=CHECKIN_ROW,
        row_types={"time": pa.float64()},
        convert={"time": _time_array},
    )

ROW_LAYOUTS["command"] = RowLayout(
    kind="command",
    fields=COMMAND_ROW,
    row_types={"time": pa.float64()},
    convert={"time": _time_array},
)

_STRUCTS: dict[str, pa.StructType] = {k: v.struct_type() for k, v in ROW_LAYOUTS.items()}


def rows_to_table(
    kind: str,
    rows: Sequence[tuple],
    *,
    operation: str,
    sensor: str,
    worker: int,
) -> pa.Table:
    """Build the Arrow table of ``rows`` (tuples in ``ROW_LAYOUTS[kind].fields`` order).

    One C++ pass converts the tuples (as an Arrow struct array, faster than
    transposing them in Python), then the few derived columns are converted
    as whole arrays. A ``None`` in place of a row is skipped. Raises
    ``pa.ArrowInvalid``/``pa.ArrowTypeError`` when a row has the wrong length
    or a value the wrong type; the writer then isolates the bad rows.
    """
    layout = ROW_LAYOUTS[kind]
    sch = _SCHEMAS[kind]
    struct = pa.array(rows, _STRUCTS[kind])
    if struct.null_count:
        struct = struct.filter(struct.is_valid())
    n = len(struct)
    const = {"operation": operation, "sensor": sensor, "worker": worker}
    arrays = []
    for f in sch:
        name = f.name
        if name in const:
            arrays.append(pa.repeat(pa.scalar(const[name], f.type), n))
        elif name in layout.fields:
            col = struct.field(name)
            conv = layout.convert.get(name)
            arrays.append(conv(col) if conv else col)
        else:  # a column this layout does not fill (added for another producer)
            arrays.append(pa.nulls(n, f.type))
    return pa.Table.from_arrays(arrays, schema=sch)


def describe(kind: str | None = None) -> list[tuple[str, str, str]]:
    """(name, type, doc) of every column of ``kind`` (all kinds when None), partitions last."""
    seen: dict[str, Column] = {}
    for k, cols in COLUMNS.items():
        if kind is None or k == kind:
            for c in cols:
                seen.setdefault(c.name, c)
    return [(c.name, str(c.type), c.doc) for c in (*seen.values(), *PARTITIONS)]
