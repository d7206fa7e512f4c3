"""``takedown notify``: a day's events as reports for the networks they came from.

:func:`notify` writes, for one UTC day, one CSV per report type (the
Shadowserver formats of :mod:`takedown.analytics.shadowserver`) and per
*owner*:

- ``as<number>`` for every AS with events (``2026-11-20-event4_sinkhole_http-as64500.csv``),
- ``<cc>`` (lowercase) for every country with events,
- ``unknown`` for the events whose AS or country the enricher did not know,
- ``cidr-<network>`` for every network of the contacts file with events
  (the network with each character other than a letter or digit as ``_``:
  ``cidr-192_0_2_0_24``, because IntelMQ's Shadowserver parser only accepts
  file names matching ``(\\w+)(-\\w+)*\\.csv``).

A contacts file routes them (:func:`load_contacts`, docs/notify.md), and
with an SMTP relay each recipient gets one message with all its files
attached, never one per event. The file naming and the IntelMQ check are
described in docs/notify.md.
"""

from __future__ import annotations

import csv
import ipaddress
import os
import re
import smtplib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from takedown.analytics import shadowserver as ss
from takedown.analytics.dataset import IpLookup, arrow_table, open_dataset
from takedown.errors import NotifyError

# --------------------------------------------------------------------------
# The contacts file
# --------------------------------------------------------------------------

CONTACTS_HEADER = ("match", "address", "organisation")
_ASN_RE = re.compile(r"(?i)AS(\d{1,10})")
_CC_RE = re.compile(r"[A-Za-z]{2}")
# A bare mail address: no display name, no list (one address a line).
_ADDRESS_RE = re.compile(r'[^@\s<>(),;:"\[\]]+@[^@\s<>(),;:"\[\]]+')
_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9]")


@dataclass(frozen=True)
class Contact:
    """One line of the contacts file."""

    owner: str  #: the files it receives: 'as64500', 'de' or 'cidr-192_0_2_0_24'
    address: str
    organisation: str
    where: str  #: FILE:LINE
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None


def cidr_owner(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    """The owner name of a network's files: 'cidr-192_0_2_0_24'."""
    return "cidr-" + _FILE_UNSAFE.sub("_", network.compressed)


def _match(text: str, where: str) -> tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network | None]:
    m = _ASN_RE.fullmatch(text)
    if m:
        asn = int(m.group(1))
        if not 0 < asn < 2**32:
            raise NotifyError(f"{where}: match: {text!r} is not an AS number (1 to 4294967295)")
        return f"as{asn}", None
    if "/" in text:
        try:
            net = ipaddress.ip_network(text, strict=True)
        except ValueError as exc:
            raise NotifyError(f"{where}: match: {text!r} is not a network: {exc}") from None
        return cidr_owner(net), net
    if _CC_RE.fullmatch(text):
        return text.lower(), None
    raise NotifyError(
        f"{where}: match: {text!r} is not an AS number (AS64500), a network (192.0.2.0/24) "
        "or a two-letter country code (DE)"
    )


def load_contacts(path: Path) -> list[Contact]:
    """Read a contacts file: CSV (UTF-8) with the header ``match,address,organisation``.

    ``match`` is an AS (``AS64500``), a network in CIDR notation
    (``192.0.2.0/24``, ``2001:db8::/32``; no host bits) or a two-letter
    country code; ``address`` one mail address; ``organisation`` free text
    (may be empty; quote it if it has a comma). Blank lines and lines
    starting with ``#`` are skipped. Any error raises :class:`NotifyError`
    ``FILE:LINE: field: reason``. One record a line: a quoted field may not
    span lines, so every error names its line.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NotifyError(f"{path}: cannot read the contacts file: {exc.strerror or exc}") from None
    contacts: list[Contact] = []
    header_seen = False
    for number, raw in enumerate(data.split(b"\n"), 1):
        where = f"{path}:{number}"
        try:
            line = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            raise NotifyError(f"{where}: not UTF-8 text") from None
        if number == 1:
            line = line.removeprefix("\ufeff")  # a BOM, as spreadsheet programs write
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            fields = [f.strip() for f in next(csv.reader([line], strict=True))]
        except csv.Error as exc:
            raise NotifyError(f"{where}: bad CSV ({exc}); a quoted field must end on its line") from None
        if not header_seen:
            if tuple(f.lower() for f in fields) != CONTACTS_HEADER:
                raise NotifyError(f"{where}: header: expected 'match,address,organisation', found {line.strip()!r}")
            header_seen = True
            continue
        if len(fields) != len(CONTACTS_HEADER):
            raise NotifyError(f"{where}: expected 3 fields (match,address,organisation), found {len(fields)}")
        text, address, organisation = fields
        owner, network = _match(text, where)
        if not _ADDRESS_RE.fullmatch(address):
            raise NotifyError(f"{where}: address: {address!r} is not one mail address (abuse@example.net)")
        contacts.append(Contact(owner, address, organisation, where, network))
    if not header_seen:
        raise NotifyError(f"{path}: empty contacts file: expected the header 'match,address,organisation'")
    return contacts


def _cidr_table(ips: Iterable[str], networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> pa.Table:
    """(ip, owner) for every address inside one of ``networks`` (an address
    in nested networks has one row for each).

    Each address is masked once per prefix length in use and looked up in
    a dict, not compared with every network.
    """
    index: dict[tuple[int, int, int], list[str]] = {}
    for net in set(networks):
        key = (net.version, net.prefixlen, int(net.network_address) >> (net.max_prefixlen - net.prefixlen))
        index.setdefault(key, []).append(cidr_owner(net))
    lengths = sorted({(v, p) for v, p, _ in index})
    out_ip: list[str] = []
    out_owner: list[str] = []
    for ip in ips:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            continue
        for version, plen in lengths:
            if version == addr.version:
                for owner in index.get((version, plen, int(addr) >> (addr.max_prefixlen - plen)), ()):
                    out_ip.append(ip)
                    out_owner.append(owner)
    return pa.table({"ip": pa.array(out_ip, pa.string()), "owner": pa.array(out_owner, pa.string())})


# --------------------------------------------------------------------------
# Writing the CSVs
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFile:
    """One CSV written."""

    path: Path
    report: str  #: 'event4_sinkhole_http', ...
    owner: str  #: 'as64500', 'de', 'unknown', 'cidr-192_0_2_0_24'
    rows: int
    events: int  #: rows, except in DNS reports: the sum of ``count``

    @property
    def name(self) -> str:
        return self.path.name


def report_name(day: date, report: str, owner: str) -> str:
    """``YYYY-MM-DD-<type>-<owner>.csv`` (Shadowserver's report-filename.md)."""
    return f"{day.isoformat()}-{report}-{owner}.csv"


def _owned_queries(base: str, report: str, fields: Sequence[str], with_cidr: bool) -> list[str]:
    """Queries of the rows of ``report`` in ``base`` with the owner they go
    to, ordered by owner then time: one query per kind of owner, so that
    each sort holds every row at most once."""
    cols = ", ".join(f'"{f}"' for f in fields)
    where = f"_report = '{report}'"
    order = "ORDER BY owner, _time, src_ip, src_port"
    queries = [
        f"SELECT 'as' || CAST(_asn AS VARCHAR) AS owner, {cols} FROM {base} WHERE {where} AND _asn IS NOT NULL {order}",
        f"SELECT _cc AS owner, {cols} FROM {base} WHERE {where} AND _cc IS NOT NULL {order}",
        f"SELECT 'unknown' AS owner, {cols} FROM {base} WHERE {where} AND (_asn IS NULL OR _cc IS NULL) {order}",
    ]
    if with_cidr:
        cols_b = ", ".join(f'b."{f}"' for f in fields)
        queries.append(f"SELECT m.owner, {cols_b} FROM {base} b JOIN _cidr m ON m.ip = b._ip WHERE {where} "
                       "ORDER BY owner, b._time, b.src_ip, b.src_port")  # fmt: skip
    return queries


class _Csv:
    """One report file being written: a temporary name, renamed when complete,
    so a crash never leaves a truncated report that could be mailed."""

    _OPTIONS = pacsv.WriteOptions(include_header=True, delimiter=",", quoting_style="needed")

    def __init__(self, path: Path, schema: pa.Schema, report: str, owner: str) -> None:
        self.path, self.report, self.owner = path, report, owner
        self.tmp = path.with_name(f".{path.name}.tmp")
        self.rows = self.events = 0
        self._counted = "count" in schema.names
        try:
            self.sink = pa.OSFile(str(self.tmp), "wb")
        except (OSError, pa.ArrowException) as exc:
            raise NotifyError(f"cannot write {path}: {exc}") from None
        try:
            # Arrow quotes every string and no number, as Shadowserver's own files do
            self.writer = pacsv.CSVWriter(self.sink, schema, write_options=self._OPTIONS)
        except (OSError, pa.ArrowException) as exc:
            self.sink.close()
            self.tmp.unlink(missing_ok=True)
            raise NotifyError(f"cannot write {path}: {exc}") from None

    def write(self, batch: pa.RecordBatch) -> None:
        try:
            self.writer.write_batch(batch)
        except (OSError, pa.ArrowException) as exc:
            raise NotifyError(f"cannot write {self.path}: {exc}") from None
        self.rows += batch.num_rows
        self.events += (pc.sum(batch.column("count")).as_py() or 0) if self._counted else batch.num_rows

    def abort(self) -> None:
        try:
            self.writer.close()
            self.sink.close()
        except (OSError, pa.ArrowException):
            pass
        self.tmp.unlink(missing_ok=True)

    def close(self) -> ReportFile:
        try:
            self.writer.close()
            self.sink.close()
            os.replace(self.tmp, self.path)
        except (OSError, pa.ArrowException) as exc:
            raise NotifyError(f"cannot write {self.path}: {exc}") from None
        return ReportFile(self.path, self.report, self.owner, self.rows, self.events)


#: Rows per Arrow batch streamed from DuckDB: the memory a report needs is
#: a few batches, whatever the size of the day.
BATCH_ROWS = 100_000


def _reader(relation: duckdb.DuckDBPyRelation) -> pa.RecordBatchReader:
    # the method's name changed in DuckDB 1.4, as in dataset.arrow_table
    get = getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch
    return get(BATCH_ROWS)


def _write_report(con: duckdb.DuckDBPyConnection, sql: str, out: Path, day: date, report: str) -> list[ReportFile]:
    """Stream ``sql`` (``owner`` then the report's columns, ordered by owner)
    into one file per owner."""
    written: list[ReportFile] = []
    current: _Csv | None = None
    try:
        for batch in _reader(con.sql(sql)):
            body = pa.RecordBatch.from_arrays(batch.columns[1:], names=batch.schema.names[1:])
            runs = pc.run_end_encode(batch.column(0))
            start = 0
            for end, owner in zip(runs.run_ends.to_pylist(), runs.values.to_pylist(), strict=True):
                if current is None or current.owner != owner:
                    if current is not None:
                        written.append(current.close())
                    current = _Csv(out / report_name(day, report, owner), body.schema, report, owner)
                current.write(body.slice(start, end - start))
                start = end
        if current is not None:
            written.append(current.close())
            current = None
    finally:
        if current is not None:  # failed half-way: no temporary left behind
            current.abort()
    return written


def _present(con: duckdb.DuckDBPyConnection, view: str) -> set[str]:
    return set(con.sql(f"SELECT * FROM {view} LIMIT 0").columns)


def write_reports(
    storage: Path,
    out: Path,
    *,
    day: date,
    enricher: IpLookup,
    networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network] = (),
    operation: str = "takedown",
) -> tuple[list[ReportFile], int]:
    """Write the day's report files into ``out``; return them, sorted by name,
    and the number of events withheld (addresses not stored in clear).

    A file of an earlier run is replaced when the same name is written
    again; other files in ``out`` are left alone.
    """
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NotifyError(f"cannot create the output directory {out}: {exc.strerror or exc}") from None
    con = open_dataset(storage, enricher=enricher, date_from=day, date_to=day)
    try:
        _prepare(con, enricher, networks, operation)
        files: list[ReportFile] = []
        for report, fields in ss.REPORTS.items():
            base = "_dnsrows" if report == ss.DNS_REPORT else "_ckrows"
            for sql in _owned_queries(base, report, fields, bool(networks)):
                files += _write_report(con, sql, out, day, report)
        (withheld,) = con.execute(
            f"SELECT (SELECT count(*) FROM _ck WHERE NOT ({ss.CLEAR})) + "
            f"(SELECT count(*) FROM _rs WHERE NOT ({ss.CLEAR}) AND {ss.DNS_SUNK})"
        ).fetchone()
    except duckdb.Error as exc:  # an event file unreadable since open_dataset listed it
        raise NotifyError(f"cannot read the events of {day.isoformat()} under {storage}: {exc}") from None
    finally:
        con.close()
    return sorted(files, key=lambda f: f.name), int(withheld)


def _prepare(con: duckdb.DuckDBPyConnection, enricher: IpLookup,
             networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network], operation: str,
             checkins: str = "checkins", resolvers: str = "resolvers") -> None:
    """The day's rows: ``_ckrows`` and ``_dnsrows`` (and ``_cidr``, address -> network owner),
    from the views ``checkins`` and ``resolvers`` (a partner's: only its scope's rows)."""
    con.execute("SET TimeZone = 'UTC'")  # strftime of TIMESTAMPTZ follows it
    con.execute(f"CREATE TEMP VIEW _ck AS {ss.inputs_sql(checkins, ss.CHECKIN_INPUTS, _present(con, checkins))}")
    con.execute(f"CREATE TEMP VIEW _rs AS {ss.inputs_sql(resolvers, ss.DNS_INPUTS, _present(con, resolvers))}")
    # where the sensor addresses are (dst_asn, dst_geo): a few addresses, one lookup
    dst = arrow_table(con.sql("SELECT DISTINCT dst_ip FROM _ck WHERE dst_ip IS NOT NULL")).column("dst_ip")
    dst = dst.combine_chunks() if isinstance(dst, pa.ChunkedArray) else dst
    info = enricher.lookup(dst)
    con.register("_dstinfo", pa.table({"ip": dst, "cc": info.column("cc"), "asn": info.column("asn").cast(pa.int64())}))
    # Check-in rows are a view, computed again by each query (a Parquet scan
    # is cheap): materialised, a day of 2M check-ins took 1.8 GB instead of
    # 1.3 GB. DNS rows are aggregated, far fewer than the events: a table.
    con.execute(f"CREATE TEMP VIEW _ckrows AS {ss.checkin_base_sql('_ck', operation)}")
    con.execute(f"CREATE TEMP TABLE _dnsrows AS {ss.dns_base_sql('_rs')}")
    if networks:
        ips = con.execute("SELECT DISTINCT _ip FROM _ckrows UNION SELECT DISTINCT _ip FROM _dnsrows").fetchall()
        con.register("_cidr", _cidr_table((ip for (ip,) in ips), networks))


def prepare_views(con: duckdb.DuckDBPyConnection, enricher: IpLookup, *, checkins: str, resolvers: str,
                  operation: str = "takedown") -> None:
    """Build the report rows of the views ``checkins`` and ``resolvers`` of
    ``con`` (an :func:`open_dataset` connection or a view over it, such as a
    partner's scope): the views ``_ck``/``_rs`` (the inputs), ``_ckrows``
    and ``_dnsrows`` (the rows, with ``_report`` and ``_time``) that
    :func:`report_table` reads, with the same columns and row forms as the
    files :func:`write_reports` writes. Over several days a DNS row counts a
    resolver's queries of a name over the whole period."""
    _prepare(con, enricher, (), operation, checkins, resolvers)


def report_table(con: duckdb.DuckDBPyConnection, report: str, *, limit: int | None = None,
                 offset: int = 0) -> tuple[pa.Table, int]:
    """(the rows of ``report`` in Shadowserver's columns, ordered as in its
    file, from ``offset``, at most ``limit`` of them; their total), after
    :func:`prepare_views`."""
    if report not in ss.REPORTS:
        raise ValueError(f"unknown report type {report!r}")
    base = "_dnsrows" if report == ss.DNS_REPORT else "_ckrows"
    cols = ", ".join(f'"{f}"' for f in ss.REPORTS[report])
    where = f"FROM {base} WHERE _report = '{report}'"
    page = f" LIMIT {int(limit)} OFFSET {int(offset)}" if limit is not None else ""
    table = arrow_table(con.sql(f"SELECT {cols} {where} ORDER BY _time, src_ip, src_port{page}"))
    total = table.num_rows if limit is None else con.execute(f"SELECT count(*) {where}").fetchone()[0]
    return table, int(total)


def csv_bytes(table: pa.Table) -> bytes:
    """A report table as its file's bytes (header, then the rows; the CSV dialect of every report file)."""
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, write_options=_Csv._OPTIONS)
    return sink.getvalue().to_pybytes()


def report_csvs(con: duckdb.DuckDBPyConnection, enricher: IpLookup, *, checkins: str, resolvers: str,
                operation: str = "takedown") -> list[tuple[str, bytes, int]]:
    """(report type, CSV bytes, rows) of every report with rows in the views
    ``checkins`` and ``resolvers`` of ``con`` (:func:`prepare_views`): one
    file per report instead of one per owner. For the partner portal's daily
    files, whose owner is the partner's scope rather than an AS or country."""
    prepare_views(con, enricher, checkins=checkins, resolvers=resolvers, operation=operation)
    out: list[tuple[str, bytes, int]] = []
    for report in ss.REPORTS:
        table, rows = report_table(con, report)
        if rows:
            out.append((report, csv_bytes(table), rows))
    return out


# --------------------------------------------------------------------------
# Routing and mail
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One message: a recipient and every file routed to it."""

    address: str
    organisation: str
    files: tuple[ReportFile, ...]

    @property
    def attachments(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.files)

    @property
    def events(self) -> int:
        return sum(f.events for f in self.files)


def route(contacts: Sequence[Contact], files: Sequence[ReportFile]) -> list[Delivery]:
    """One delivery per address (lines with the same address, compared
    case-insensitively, merge), in the order addresses first appear; an
    address with no file gets none."""
    by_owner: dict[str, list[ReportFile]] = {}
    for f in files:
        by_owner.setdefault(f.owner, []).append(f)
    recipients: dict[str, tuple[str, str, dict[Path, ReportFile]]] = {}
    for c in contacts:
        address, organisation, got = recipients.setdefault(c.address.lower(), (c.address, c.organisation, {}))
        if not organisation and c.organisation:
            recipients[c.address.lower()] = (address, c.organisation, got)
        for f in by_owner.get(c.owner, ()):
            got[f.path] = f
    return [
        Delivery(address, organisation, tuple(sorted(got.values(), key=lambda f: f.name)))
        for address, organisation, got in recipients.values()
        if got
    ]


def new_message(sender: str, to: tuple[str, str], subject: str) -> EmailMessage:
    """A mail with its headers: From, To (name, address), Subject, Date and a
    Message-ID in the sender's domain (RFC 5322 3.6)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = formataddr(to)
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    return msg


def message(delivery: Delivery, *, sender: str, day: date, operation: str) -> EmailMessage:
    """The mail of one delivery: a short plain-text body listing the files,
    each file attached as text/csv (base64, so long lines survive relays)."""
    msg = new_message(sender, (delivery.organisation, delivery.address),
                      f"Sinkhole reports {day.isoformat()} ({operation}): {delivery.events} events")
    lines = [
        f"Hello {delivery.organisation or delivery.address},",
        "",
        f"attached are the reports of the sinkhole operation {operation!r} for {day.isoformat()} (UTC)",
        "about addresses in your network or country, in Shadowserver's CSV formats:",
        "",
        *(f"  {f.name}: {f.rows} rows, {f.events} events" for f in delivery.files),
        "",
    ]
    if any(not f.report.endswith("_dns") for f in delivery.files):
        lines.append("The sinkhole and sinkhole_http reports list connections from infected machines.")
    if any(f.report.endswith("_dns") for f in delivery.files):
        lines.append("The sinkhole_dns report lists DNS resolvers that asked for sinkholed names: the")
        lines.append("resolvers are not infected themselves, but some of their users may be.")
    msg.set_content("\n".join(lines) + "\n")
    for f in delivery.files:
        try:
            text = f.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise NotifyError(f"cannot read {f.path}: {exc.strerror or exc}") from None
        msg.add_attachment(text, subtype="csv", charset="utf-8", cte="base64", filename=f.name)
    return msg


#: called once per delivery with its outcome: "sent", "failed" or "written" (no SMTP relay given), and a reason
Record = Callable[[Delivery, str, str], None]


def send(deliveries: Sequence[Delivery], smtp: tuple[str, int], *, sender: str, day: date,
         operation: str, record: Record | None = None) -> list[Delivery]:
    """Mail every delivery over one SMTP connection; return those sent.
    ``record`` hears of each delivery's outcome, the failed ones included,
    before the error is raised."""
    host, port = smtp
    sent: list[Delivery] = []
    if not deliveries:
        return sent
    try:
        with smtplib.SMTP(host, port, timeout=60) as conn:
            for d in deliveries:
                conn.send_message(message(d, sender=sender, day=day, operation=operation))
                sent.append(d)
                if record is not None:
                    record(d, "sent", f"SMTP {host}:{port}")
    except (smtplib.SMTPException, OSError) as exc:
        failed = deliveries[len(sent)].address if len(sent) < len(deliveries) else "the last message"
        if record is not None:
            for d in deliveries[len(sent):]:
                record(d, "failed", f"SMTP {host}:{port}: {exc}" if d.address == failed
                       else f"not sent: the message to {failed} failed before it")
        raise NotifyError(
            f"SMTP {host}:{port}: cannot send to {failed}: {exc} ({len(sent)} of {len(deliveries)} sent)"
        ) from None
    return sent


# --------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------


def parse_smtp(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[2001:db8::25]:25`` for an IPv6 address) -> (host, port),
    for ``--smtp``."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise NotifyError(f"--smtp: {text!r} is not HOST:PORT (127.0.0.1:25, [::1]:25)")
    return host, int(port)


@dataclass(frozen=True)
class NotifyResult:
    """What :func:`notify` did."""

    day: date
    files: tuple[ReportFile, ...]  #: every CSV written, sorted by name
    deliveries: tuple[Delivery, ...]  #: what the contacts file routes (empty without one)
    sent: tuple[Delivery, ...]  #: the deliveries mailed (empty without smtp)
    withheld: int  #: events not reported: the operation stores no address in clear for them

    def summary(self) -> list[str]:
        """What happened, a line each, for the command's output."""
        lines = [f"{f.path}: {f.rows} rows, {f.events} events" for f in self.files]
        lines.append(f"{len(self.files)} report files for {self.day.isoformat()}")
        if self.withheld:
            lines.append(f"{self.withheld} events withheld: their addresses are not stored in clear (privacy mode)")
        sent = {d.address for d in self.sent}
        for d in self.deliveries:
            state = "sent to" if d.address in sent else "for"
            lines.append(f"{state} {d.address}: {len(d.files)} files, {d.events} events")
        if self.deliveries and not self.sent:
            lines.append("no SMTP relay given: nothing was sent")
        return lines


def notify(
    storage: Path,
    out: Path,
    *,
    day: date,
    enricher: IpLookup,
    contacts: Path | None = None,
    smtp: tuple[str, int] | None = None,
    sender: str = "takedown@localhost",
    operation: str = "takedown",
    record: Record | None = None,
) -> NotifyResult:
    """Write the reports of ``day`` (UTC) into ``out``, route them with the
    ``contacts`` file and, with ``smtp=(host, port)``, mail them: one
    message per recipient. The contacts file and the arguments are checked
    before any file is written; ``record`` hears of every delivery's outcome
    (see :func:`send`)."""
    if smtp is not None and contacts is None:
        raise NotifyError("sending mail (smtp) needs a contacts file")
    if smtp is not None and not (isinstance(smtp[1], int) and 0 < smtp[1] < 65536):
        raise NotifyError(f"SMTP port {smtp[1]!r} is not a port number (1-65535)")
    if not _ADDRESS_RE.fullmatch(sender):
        raise NotifyError(f"sender {sender!r} is not one mail address (takedown@example.net)")
    loaded = load_contacts(contacts) if contacts is not None else []
    networks = [c.network for c in loaded if c.network is not None]
    files, withheld = write_reports(storage, out, day=day, enricher=enricher, networks=networks, operation=operation)
    deliveries = route(loaded, files)
    if smtp is not None:
        sent = send(deliveries, smtp, sender=sender, day=day, operation=operation, record=record)
    else:
        sent = []
        for d in deliveries if record is not None else ():
            record(d, "written", "no SMTP relay given")
    return NotifyResult(day, tuple(files), tuple(deliveries), tuple(sent), withheld)
