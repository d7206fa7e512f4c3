"""A columnar buffer for DNS query events (kind ``dns``).

A DNS event is three things that vary per query (its time, the source
address, the source port) and two that repeat: the *answer* it got (query
name and type, response code, rule, family, ECS, outcome: the same for every
query answered from one cached template) and the *listener* it came to
(transport, destination address and port). So the buffer keeps:

- ``templates``: one record per distinct answer in this period, in
  :data:`TEMPLATE_FIELDS` order; the responder remembers a cached answer's
  index for the period and re-uses it;
- ``listeners``: one ``(transport, dst_ip, dst_port)`` per listener;
- per event ``times`` (``array('d')``), ``srcs`` (a list of the source
  address strings) and ``keys`` (``array('q')``: template index << 32 |
  listener index << 16 | source port).

A tuple per event (:data:`takedown.events.DNS_ROW`) is a container the
cyclic collector must visit (a gen-0 pass every ~700 queries, walking 13
items each) and costs 0.6 us a row to convert; these arrays hold no
containers. Measured on this machine, 200,000 events of the DNS benchmark's
query mix: see ``bench/RESULTS.md`` (DNS, "the columnar query log").

Indices are only valid within one *generation*: every :meth:`take` starts a
new one (``gen`` is a new object), so a holder of a template or listener
index compares the generation it belongs to before using it.

Counting (``tally``, read by the metrics of ``takedown serve``): the events
of each converted batch are counted per (rcode, rule) in bulk, never per
query: each answer record gets a small class number once, when a batch
first uses it, and a batch is then one ``np.bincount`` over the class
numbers of its template indices.
"""

from __future__ import annotations

import logging
from array import array

import numpy as np
import pyarrow as pa

from takedown.events import DNS_ROW, ROW_LAYOUTS, _time_array, schema
from takedown.store.checkins import records_to_struct

log = logging.getLogger(__name__)

#: Fields of an answer record, in tuple order.
TEMPLATE_FIELDS: tuple[str, ...] = ("qname", "qtype", "rcode", "rule", "family", "ecs", "response")
#: Fields of a listener record, in tuple order.
LISTENER_FIELDS: tuple[str, ...] = ("transport", "dst_ip", "dst_port")
TEMPLATE_SHIFT = 32
LISTENER_SHIFT = 16
_MAX_LISTENERS = 1 << 16
#: Distinct answers remembered before the registry starts afresh (at a take):
#: about four times the responder's answer cache.
MAX_TEMPLATES = 1_000_000
_ROW_AT = {f: i for i, f in enumerate(DNS_ROW)}
_TPL_AT = tuple(_ROW_AT[f] for f in TEMPLATE_FIELDS)
# add_row slices the record out of the row: the layout must keep them last, in order
if _TPL_AT != tuple(range(6, 13)) or len(DNS_ROW) != 13:
    raise ImportError(f"DNS_ROW no longer ends with the answer record's fields {TEMPLATE_FIELDS}")


class _Registry:
    """The answer and listener records of one generation, and the Arrow
    columns of the answers converted so far (each converted once, however
    many periods use it)."""

    def __init__(self, struct: pa.StructType, convert: dict) -> None:
        self.templates: list[tuple] = []
        self.template_at: dict[tuple, int] = {}
        self.listeners: list[tuple] = []
        self.listener_at: dict[tuple, int] = {}
        self._struct = struct
        self._convert = convert
        self._chunks: dict[str, list[pa.Array]] = {f: [] for f in TEMPLATE_FIELDS}
        self._converted = 0
        self.bad = np.empty(0, dtype=np.int64)  #: indices of malformed records
        self.classes = array("i")  #: per answer record, its (rcode, rule) class (DnsBuffer.tally)

    def columns(self, upto: int) -> dict[str, pa.ChunkedArray]:
        """The converted answer columns of records ``[0, upto)``."""
        if upto > self._converted:
            arr, bad = records_to_struct(self.templates[self._converted:upto], self._struct)
            if bad.size:
                self.bad = np.concatenate([self.bad, bad + self._converted])
            for f, chunks in self._chunks.items():
                col = arr.field(f)
                conv = self._convert.get(f)
                chunks.append(conv(col) if conv is not None else col)  # qname, qtype, rcode: once per answer
                if len(chunks) > 32:  # few chunks keep ``take`` cheap; merging is rare
                    chunks[:] = [pa.concat_arrays(chunks)]
            self._converted = upto
        return {f: pa.chunked_array(c, c[0].type) for f, c in self._chunks.items()}


class DnsBuffer:
    """The DNS events of one writer since its last flush, in columnar form."""

    def __init__(self, max_templates: int = MAX_TEMPLATES) -> None:
        sch = schema("dns")
        self._schema = sch
        layout = ROW_LAYOUTS["dns"]
        row_type = {f: layout.row_types.get(f) or sch.field(f).type for f in DNS_ROW}
        self._tpl_struct = pa.struct([pa.field(f, row_type[f]) for f in TEMPLATE_FIELDS])
        self._lst_struct = pa.struct([pa.field(f, row_type[f]) for f in LISTENER_FIELDS])
        self._convert = layout.convert
        self.max_templates = max_templates
        #: events converted so far per (rcode, rule): plain ints, counted in
        #: bulk at each flush (see the module's docstring)
        self.tally: dict[tuple[int, str], int] = {}
        self._class_of: dict[tuple[int, str], int] = {}
        self._class_keys: list[tuple[int, str]] = []
        self.times = array("d")
        self.srcs: list[str] = []
        self.keys = array("q")
        self._reg = _Registry(self._tpl_struct, self._convert)
        #: Changes when the registry starts afresh (see :data:`MAX_TEMPLATES`):
        #: indices of another generation are void.
        self.gen = object()
        self.rows_rejected = 0

    def __len__(self) -> int:
        return len(self.times)

    def template(self, record: tuple) -> int:
        """The key part (index << 32) of an answer record (:data:`TEMPLATE_FIELDS`),
        registered on first use."""
        reg = self._reg
        i = reg.template_at.get(record)
        if i is None:
            i = reg.template_at[record] = len(reg.templates)
            reg.templates.append(record)
        return i << TEMPLATE_SHIFT

    def listener(self, transport: str, dst_ip: str, dst_port: int) -> int:
        """The key part (index << 16) of a listener, registered on first use."""
        reg = self._reg
        k = (transport, dst_ip, dst_port)
        i = reg.listener_at.get(k)
        if i is None:
            if len(reg.listeners) >= _MAX_LISTENERS:
                raise ValueError(f"more than {_MAX_LISTENERS} DNS listeners in one generation")
            i = reg.listener_at[k] = len(reg.listeners)
            reg.listeners.append(k)
        return i << LISTENER_SHIFT

    def log(self, now: float, src_ip: str, src_port: int, key: int) -> None:
        """One event; ``key`` = template part | listener part (the hot path inlines this)."""
        self.times.append(now)
        self.srcs.append(src_ip)
        self.keys.append(key | src_port)

    def add_row(self, row: tuple) -> None:
        """One event as a :data:`takedown.events.DNS_ROW` tuple (the rare
        paths: errors, misses, EDNS options, rate-limited answers)."""
        tk = self.template(row[6:13])  # TEMPLATE_FIELDS are the row's last seven (checked at import)
        self.times.append(row[0])
        self.srcs.append(row[2])
        self.keys.append(tk | self.listener(row[1], row[4], row[5]) | row[3])

    def take(self) -> tuple | None:
        """Everything buffered, as an opaque batch for :meth:`to_table`. None
        when empty. A registry grown past ``max_templates`` starts afresh."""
        n = len(self.times)
        reg = self._reg
        batch = None
        if n:
            times = np.frombuffer(self.times, dtype=np.float64, count=n).copy()
            keys = np.frombuffer(self.keys, dtype=np.int64, count=n).copy()
            batch = (times, self.srcs[:n], keys, reg, len(reg.templates), list(reg.listeners))
            del self.times[:n]
            del self.keys[:n]
            del self.srcs[:n]
        if len(reg.templates) > self.max_templates:
            self._reg = _Registry(self._tpl_struct, self._convert)
            self.gen = object()
        return batch

    def rows(self, batch: tuple | None = None) -> list[tuple]:
        """The events buffered (or of ``batch``) as :data:`takedown.events.DNS_ROW`
        tuples, in order (tests, tools)."""
        if batch is None:
            times, srcs, keys, reg = list(self.times), self.srcs, list(self.keys), self._reg
            listeners = reg.listeners
        else:
            times, srcs, keys, reg, _n, listeners = batch
            times, keys = times.tolist(), keys.tolist()
        out = []
        for t, src, k in zip(times, srcs, keys):
            tr, dip, dport = listeners[(k >> LISTENER_SHIFT) & 0xFFFF]
            qn, qt, rc, rule, fam, ecs, resp = reg.templates[k >> TEMPLATE_SHIFT]
            out.append((t, tr, src, k & 0xFFFF, dip, dport, qn, qt, rc, rule, fam, ecs, resp))
        return out

    def _count(self, reg: _Registry, ntpl: int, tix: np.ndarray) -> None:
        """Add a batch's events to :attr:`tally`: one class number per answer
        record (given once, in Python), then one bincount per batch."""
        classes = reg.classes
        if len(classes) < ntpl:
            at, keys = self._class_of, self._class_keys
            rc, ru = TEMPLATE_FIELDS.index("rcode"), TEMPLATE_FIELDS.index("rule")
            for rec in reg.templates[len(classes):ntpl]:
                k = (rec[rc], rec[ru])
                c = at.get(k)
                if c is None:
                    c = at[k] = len(keys)
                    keys.append(k)
                classes.append(c)
        codes = np.frombuffer(classes, dtype=np.int32, count=ntpl)[tix]
        counts = np.bincount(codes, minlength=len(self._class_keys))
        tally = self.tally
        for c in np.flatnonzero(counts).tolist():
            k = self._class_keys[c]
            tally[k] = tally.get(k, 0) + int(counts[c])

    def to_table(self, batch: tuple, *, operation: str, sensor: str, worker: int) -> pa.Table | None:
        """The Arrow table (the ``dns`` schema) of a batch from :meth:`take`.

        Answer records are converted once (the first period that uses them)
        and spread over the events by index, as are the listeners. A
        malformed record (a bug: a value of the wrong type) costs the events
        that refer to it, counted in :attr:`rows_rejected` and logged; the
        rest of the batch is kept.
        """
        times, srcs, keys, reg, ntpl, listeners = batch
        tix = keys >> TEMPLATE_SHIFT
        lix = (keys >> LISTENER_SHIFT) & 0xFFFF
        tcols = reg.columns(ntpl)
        lst, bad_l = records_to_struct(listeners, self._lst_struct)
        try:
            src = pa.array(srcs, pa.string())
            bad_s = None
        except (pa.ArrowException, TypeError, ValueError):
            src = pa.array([s if isinstance(s, str) else None for s in srcs], pa.string())
            bad_s = np.array([not isinstance(s, str) for s in srcs], dtype=bool)
        if reg.bad.size or bad_l.size or bad_s is not None:
            ok = ~(np.isin(tix, reg.bad) | np.isin(lix, bad_l))
            if bad_s is not None:
                ok &= ~bad_s
            dropped = int((~ok).sum())
            if dropped:
                self.rows_rejected += dropped
                log.error("dropping %d malformed dns event(s)", dropped)
                times, keys, tix, lix = times[ok], keys[ok], tix[ok], lix[ok]
                src = src.filter(pa.array(ok))
        n = len(times)
        if n == 0:
            return None
        self._count(reg, ntpl, tix)
        ti = pa.array(tix)
        li = pa.array(lix.astype(np.int32))
        const = {"operation": operation, "sensor": sensor, "worker": worker}
        arrays = []
        for f in self._schema:
            name = f.name
            if name == "time":
                col = _time_array(pa.array(times))
            elif name == "src_ip":
                col = src
            elif name == "src_port":
                col = pa.array((keys & 0xFFFF).astype(np.int32))
            elif name in const:
                col = pa.repeat(pa.scalar(const[name], f.type), n)
            elif name in LISTENER_FIELDS:
                col = lst.field(name)
                # most batches come to one listener: a constant, not a take
                col = pa.repeat(col[0], n) if len(listeners) == 1 else col.take(li)
            elif name in tcols:
                col = tcols[name]
                col = pa.nulls(n, col.type) if col.null_count == len(col) else col.take(ti).combine_chunks()
            else:  # a column DNS events do not fill
                col = pa.nulls(n, f.type)
            arrays.append(col.cast(f.type) if col.type != f.type else col)
        return pa.Table.from_arrays(arrays, schema=self._schema)
