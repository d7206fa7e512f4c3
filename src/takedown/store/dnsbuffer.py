"""A columnar buffer for DNS query events (kind ``dns``).

A DNS event is three things that vary per query (its time, the source
address, the source port) and two that repeat: the *answer* it got (query
name and type, response code, rule, family, ECS, outcome: the same for every
query answered from one cached template) and the *listener* it came to
(transport, destination address and port). So the buffer keeps:

- the answer records, one per answer in this period (fields
  :data:`TEMPLATE_FIELDS`), kept as columns, not tuples: their first five
  fields in one flat list (five items a record) and, for the few records
  whose ECS or outcome is not (None, "answer"), the whole record in a side
  table. The responder registers an answer it knows to be new with
  :meth:`DnsBuffer.fresh` (no tuple, no dictionary: on a cache-cold flood
  every query is a new answer) and remembers its index for the period; the
  rare paths register through :meth:`DnsBuffer.template`, which looks the
  record up first. An answer registered twice gets two indices with equal
  fields, which write the same rows (the table spreads records by index);
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
from bisect import bisect_left

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


_WIDTH = 5  # items a record in the flat list (DnsBuffer.fresh writes the literal)
_FLAT = TEMPLATE_FIELDS[:_WIDTH]  # the fields every answer record keeps there
_PLAIN = (None, "answer")  # (ecs, response) of every answer fresh() registers
_NONES = (None,) * _WIDTH


class _Registry:
    """The answer and listener records of one generation, and the Arrow
    columns of the answers converted so far (each converted once, however
    many periods use it).

    An answer record is five items of ``flat`` (:data:`_FLAT`, in order;
    record ``i`` at ``flat[5 * i:5 * i + 5]``) and, when its ECS and outcome
    are not :data:`_PLAIN`, its whole tuple in ``odd`` (also a record of
    another length than seven: converted as malformed)."""

    def __init__(self, struct: pa.StructType, convert: dict) -> None:
        self.flat: list = []
        self.odd: dict[int, tuple] = {}
        self.odd_at: list[int] = []  #: the keys of ``odd``, ascending (records are only appended)
        self.template_at: dict[tuple, int] = {}  #: records registered by DnsBuffer.template
        self.listeners: list[tuple] = []
        self.listener_at: dict[tuple, int] = {}
        self._types = {f: struct.field(f).type for f in TEMPLATE_FIELDS}
        self._convert = convert
        self._chunks: dict[str, list[pa.Array]] = {f: [] for f in TEMPLATE_FIELDS}
        self._converted = 0
        self.bad = np.empty(0, dtype=np.int64)  #: indices of malformed records
        self.classes = array("i")  #: per answer record, its (rcode, rule) class (DnsBuffer.tally)

    def __len__(self) -> int:
        return len(self.flat) // _WIDTH

    def add(self, record: tuple) -> int:
        """Append ``record`` (no look-up); its index."""
        flat = self.flat
        i = len(flat) // _WIDTH
        if len(record) == len(TEMPLATE_FIELDS):
            flat += record[:_WIDTH]
            if record[_WIDTH:] == _PLAIN:
                return i
        else:
            flat += _NONES
        self.odd[i] = record
        self.odd_at.append(i)
        return i

    def record(self, i: int) -> tuple:
        """Answer record ``i`` as its tuple."""
        rec = self.odd.get(i)
        if rec is None:
            rec = tuple(self.flat[_WIDTH * i:_WIDTH * i + _WIDTH]) + _PLAIN
        return rec

    def _raw(self, lo: int, hi: int) -> dict[str, list | None]:
        """Records ``[lo, hi)`` column by column; ECS and outcome None when all plain."""
        flat = self.flat
        cols: dict[str, list | None] = {f: flat[_WIDTH * lo + j:_WIDTH * hi:_WIDTH] for j, f in enumerate(_FLAT)}
        cols["ecs"] = cols["response"] = None
        odd_at = self.odd_at
        k = bisect_left(odd_at, lo)
        if k < len(odd_at) and odd_at[k] < hi:
            ecs, resp = [None] * (hi - lo), ["answer"] * (hi - lo)
            for i in odd_at[k:bisect_left(odd_at, hi, k)]:
                rec = self.odd[i]
                if len(rec) == len(TEMPLATE_FIELDS):
                    ecs[i - lo], resp[i - lo] = rec[_WIDTH], rec[_WIDTH + 1]
            cols["ecs"], cols["response"] = ecs, resp
        return cols

    def columns(self, upto: int) -> dict[str, pa.ChunkedArray]:
        """The converted answer columns of records ``[0, upto)``: one
        ``pa.array`` per field over the new records (a record with a value
        Arrow cannot take for its field is malformed: its indices in ``bad``)."""
        lo = self._converted
        if upto > lo:
            bad: set[int] = {i for i in self.odd_at[bisect_left(self.odd_at, lo):]
                             if i < upto and len(self.odd[i]) != len(TEMPLATE_FIELDS)}
            for f, values in self._raw(lo, upto).items():
                typ = self._types[f]
                if values is None:  # every record plain: a constant column
                    col = pa.nulls(upto - lo, typ) if f == "ecs" else pa.repeat(pa.scalar("answer", typ), upto - lo)
                else:
                    col = _column(values, typ, lo, bad)
                conv = self._convert.get(f)
                chunks = self._chunks[f]
                chunks.append(conv(col) if conv is not None else col)  # qname, qtype, rcode: once per answer
                if len(chunks) > 32:  # few chunks keep ``take`` cheap; merging is rare
                    chunks[:] = [pa.concat_arrays(chunks)]
            if bad:
                self.bad = np.concatenate([self.bad, np.array(sorted(bad), dtype=np.int64)])
            self._converted = upto
        return {f: pa.chunked_array(c, c[0].type) for f, c in self._chunks.items()}

    def class_pairs(self, lo: int, hi: int):
        """(rcode, rule) of records ``[lo, hi)`` as given, in order."""
        flat, rc, ru = self.flat, _FLAT.index("rcode"), _FLAT.index("rule")
        return zip(flat[_WIDTH * lo + rc:_WIDTH * hi:_WIDTH], flat[_WIDTH * lo + ru:_WIDTH * hi:_WIDTH])


def _column(values: list, typ: pa.DataType, lo: int, bad: set[int]) -> pa.Array:
    """``values`` as an Arrow array of ``typ``; a value it cannot take
    becomes NULL and its record's index (``lo`` + position) goes into ``bad``."""
    try:
        return pa.array(values, typ)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        pass
    good = []
    for k, v in enumerate(values):
        try:
            pa.array([v], typ)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            bad.add(lo + k)
            v = None
        good.append(v)
    return pa.array(good, typ)


class _Classes(dict):
    """(rcode, rule) -> class number; a pair not seen before gets the next
    number and is appended to ``keys``."""

    def __init__(self, keys: list) -> None:
        super().__init__()
        self.keys = keys

    def __missing__(self, pair: tuple) -> int:
        c = self[pair] = len(self.keys)
        self.keys.append(pair)
        return c


class DnsBuffer:
    """The DNS events of one writer since its last flush, in columnar form."""

    _registry = _Registry  # (a test's reference registry replaces it)

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
        self._class_keys: list[tuple[int, str]] = []
        self._class_of: dict[tuple[int, str], int] = _Classes(self._class_keys)
        self.times = array("d")
        self.srcs: list[str] = []
        self.keys = array("q")
        self._reg = self._registry(self._tpl_struct, self._convert)
        self._flat = self._reg.flat  # fresh()'s list, the registry's
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
            i = reg.template_at[record] = reg.add(record)
        return i << TEMPLATE_SHIFT

    def fresh(self, qname: str, qtype: int, rcode: int, rule: str, family: str | None) -> int:
        """The key part (index << 32) of a new answer record ``(qname, qtype,
        rcode, rule, family, None, "answer")`` the caller knows it has not
        registered in this generation (the responder's miss): appended
        without a look-up and without a tuple kept."""
        flat = self._flat
        i = len(flat) // 5  # _WIDTH items a record
        flat += (qname, qtype, rcode, rule, family)
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
            batch = (times, self.srcs[:n], keys, reg, len(reg), list(reg.listeners))
            del self.times[:n]
            del self.keys[:n]
            del self.srcs[:n]
        if len(reg) > self.max_templates:
            self._reg = self._registry(self._tpl_struct, self._convert)
            self._flat = self._reg.flat
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
            qn, qt, rc, rule, fam, ecs, resp = reg.record(k >> TEMPLATE_SHIFT)
            out.append((t, tr, src, k & 0xFFFF, dip, dport, qn, qt, rc, rule, fam, ecs, resp))
        return out

    def _count(self, reg: _Registry, ntpl: int, tix: np.ndarray) -> None:
        """Add a batch's events to :attr:`tally`: one class number per answer
        record (:meth:`_classify`), then one bincount per batch."""
        classes = reg.classes
        if len(classes) < ntpl:
            self._classify(reg, ntpl)
        codes = np.frombuffer(classes, dtype=np.int32, count=ntpl)[tix]
        counts = np.bincount(codes, minlength=len(self._class_keys))
        tally = self.tally
        for c in np.flatnonzero(counts).tolist():
            k = self._class_keys[c]
            tally[k] = tally.get(k, 0) + int(counts[c])

    def _classify(self, reg: _Registry, ntpl: int) -> None:
        """Give the answer records up to ``ntpl`` their (rcode, rule) class
        numbers (a new pair the next number), in one C loop."""
        # no list of pairs: zip reuses its tuple when the consumer drops it,
        # so no tuple per record is made; a new pair is numbered by _Classes
        reg.classes.extend(map(self._class_of.__getitem__, reg.class_pairs(len(reg.classes), ntpl)))

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
