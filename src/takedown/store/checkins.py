"""A columnar buffer for bot check-in events (kinds http, tls, tcp).

A check-in event is mostly made of two things that repeat: the *connection*
it came on (transport, source and destination, the PROXY peer) and the
*request* it carried (method, host, path, headers, body digest, rule,
family, response...). A bot on a keep-alive connection sends the same
request again and again, and the bots of one family send near-identical
check-ins. So the buffer keeps:

- ``conns``: one :class:`takedown.events.CheckinConn` per connection that
  logged in this period;
- *templates*: one per distinct request record; the sensor re-uses a
  template's index for a repeated request. A template is not kept as a
  record but as columns: the index of its *base* (the fields a family
  repeats, :data:`takedown.events.CHECKIN_BASE_FIELDS`, registered once per
  distinct value in ``bases``) in ``base_ix`` (``array('i')``), and the four
  fields a bot varies per check-in (query, body length, body digest, body
  head: :data:`takedown.events.CHECKIN_VARYING`) as lists of their values;
- per event only two numbers: ``times`` (epoch seconds, ``array('d')``) and
  ``keys`` (``array('q')``: connection index << 32 | template index).

So a check-in that never repeats (each bot id its own request) leaves no
container in the buffer until the flush: four values appended to lists and
an index, where a :class:`takedown.events.Checkin` per template was a
namedtuple the cyclic GC visited until the flush and pyarrow converted
field by field (docs/performance.md "The check-in as columns").

At a flush these are turned into the Arrow table of
:func:`takedown.events.schema` with one ``pa.array`` per varying column and
vectorised ``take`` calls (string columns as dictionary arrays over the
records, without copying). Measured (bench of 80,000 keep-alive check-ins,
this machine): 0.14 us/row to build the table, against 1.5 us/row for the
27-field tuple-per-event path (:func:`takedown.events.rows_to_table`), and
the Parquet write of the result 0.29 us/row against 0.83.

Counting (``tally``, read by the metrics of ``takedown serve``): the events
of each converted batch are counted per family in bulk, never per check-in:
the family column of the batch's request records is dictionary-encoded
(the records are converted anyway) and one ``np.bincount`` over the
template indices gives the events per family.

Indices are only valid within one *generation*: every :meth:`take` starts a
new one (``gen`` changes), so a connection re-registers itself the first time
it logs in a new period, and caches holding template indices are cleared
through the callbacks in :attr:`on_reset`.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from takedown.events import (
    CHECKIN_BASE_FIELDS,
    CHECKIN_CONN_FIELDS,
    CHECKIN_FIELDS,
    CHECKIN_VARYING,
    Checkin,
    _time_array,
    checkin_join,
    checkin_parts,
    schema,
)

log = logging.getLogger(__name__)

#: Fields of a connection record (:class:`takedown.events.CheckinConn`), in tuple order.
CONN_FIELDS: tuple[str, ...] = CHECKIN_CONN_FIELDS
#: Fields of a request record (template: :class:`takedown.events.Checkin`), in tuple order.
TEMPLATE_FIELDS: tuple[str, ...] = CHECKIN_FIELDS
_SHIFT = 32
#: the base of a record that is not a 20-field tuple (a sensor bug): it never
#: converts (its length is wrong), so the events that refer to it are dropped
_MALFORMED = ("malformed",)
_LOW = (1 << _SHIFT) - 1


def template(**fields) -> Checkin:
    """A request record from keyword fields (absent ones NULL, ``rule`` "none");
    ``response`` is required."""
    rec = Checkin(**fields)
    if rec.response is None:
        raise ValueError("a check-in template needs a response")
    return rec


class CheckinBuffer:
    """The events of one writer since its last flush, in columnar form."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._schema = schema(kind)
        self._conn_struct = pa.struct([self._schema.field(f) for f in CONN_FIELDS])
        self._base_struct = pa.struct([self._schema.field(f) for f in CHECKIN_BASE_FIELDS])
        self._varying_types = [self._schema.field(f).type for f in CHECKIN_VARYING]
        self.times = array("d")
        self.keys = array("q")
        self.conns: list[tuple] = []
        self._new_templates()
        #: Changes at every :meth:`take`; a sensor compares it with the
        #: generation its connection index belongs to.
        self.gen = 0
        #: Called (no arguments) when indices of the old generation become invalid.
        self.on_reset: list[Callable[[], None]] = []
        self.rows_rejected = 0
        #: events converted so far per family (None: no family): plain ints,
        #: counted in bulk at each flush (see the module's docstring)
        self.tally: dict[str | None, int] = {}

    def __len__(self) -> int:
        return len(self.times)

    def add_conn(self, record: tuple) -> int:
        """Register a connection record (a :class:`takedown.events.CheckinConn`);
        return its key prefix (index << 32)."""
        self.conns.append(record)
        return (len(self.conns) - 1) << _SHIFT

    def _new_templates(self) -> None:
        #: the distinct bases of this generation, and their indices
        self.bases: list[tuple] = []
        self._base_at: dict[tuple, int] = {}
        self._last_base: tuple | None = None
        self._last_i = 0
        #: per template: its base's index, and its varying fields (CHECKIN_VARYING)
        self.base_ix = array("i")
        self.query: list[str | None] = []
        self.body_len: list[int | None] = []
        self.body_sha256: list[str | None] = []
        self.body_head: list[bytes | None] = []
        # bound once per generation (an attribute load and a bound method less per column)
        self._appends = (self.base_ix.append, self.query.append, self.body_len.append, self.body_sha256.append,
                         self.body_head.append)

    def add_parts(self, base: tuple, query, body_len, body_sha256, body_head) -> int:
        """Register a request record by its parts (:func:`takedown.events.checkin_parts`);
        return its index. The sensor's path: nothing of it is kept as a container.

        The same base object as the last call's is known by identity (the
        sensor shares equal bases: hashing 16 fields costs ~240 ns); others
        by value."""
        if base is self._last_base:
            i = self._last_i
        else:
            try:
                i = self._base_at.get(base)
                if i is None:
                    i = self._base_at[base] = len(self.bases)
                    self.bases.append(base)
            except TypeError:  # an unhashable value (a sensor bug): its own base, judged at the flush like any
                i = len(self.bases)
                self.bases.append(base)
            self._last_base, self._last_i = base, i
        ix, q, n, sha, head = self._appends
        ix(i)
        q(query)
        n(body_len)
        sha(body_sha256)
        head(body_head)
        return len(self.query) - 1

    def add_template(self, record: tuple) -> int:
        """Register a request record (a :class:`takedown.events.Checkin`); return its index."""
        if not isinstance(record, tuple) or len(record) != len(TEMPLATE_FIELDS):
            return self.add_parts(_MALFORMED, None, None, None, None)
        return self.add_parts(*checkin_parts(record))

    @property
    def templates(self) -> list[Checkin]:
        """The request records of this generation, joined from the columns (for
        tests and tools; None for a record that was not a 20-field tuple)."""
        bases = self.bases
        return [None if bases[i] is _MALFORMED else checkin_join(bases[i], *v)
                for i, v in zip(self.base_ix, zip(self.query, self.body_len, self.body_sha256, self.body_head))]

    def log(self, now: float, conn_key: int, tix: int) -> None:
        """One event (the hot path inlines these two appends)."""
        self.times.append(now)
        self.keys.append(conn_key | tix)

    def take(self) -> tuple | None:
        """Everything buffered, as an opaque batch for :func:`batch_to_table`;
        starts a new generation. None when empty."""
        n = len(self.times)
        batch = None
        if n:
            times = np.frombuffer(self.times, dtype=np.float64, count=n).copy()
            keys = np.frombuffer(self.keys, dtype=np.int64, count=n).copy()
            base_ix = np.frombuffer(self.base_ix, dtype=np.int32).copy()
            templates = (self.bases, base_ix, (self.query, self.body_len, self.body_sha256, self.body_head))
            batch = (times, keys, self.conns, templates)
            del self.times[:n]
            del self.keys[:n]
        self.conns = []
        self._new_templates()
        self.gen += 1
        for reset in self.on_reset:
            reset()
        return batch

    def _count(self, family: pa.Array, tix: np.ndarray) -> None:
        """Add a batch's events to :attr:`tally` (one bincount per batch)."""
        enc = family.dictionary_encode(null_encoding="encode")
        names = enc.dictionary.to_pylist()
        per_template = enc.indices.to_numpy(zero_copy_only=False)
        counts = np.bincount(per_template[tix], minlength=len(names))
        tally = self.tally
        for c in np.flatnonzero(counts).tolist():
            tally[names[c]] = tally.get(names[c], 0) + int(counts[c])

    def to_table(self, batch: tuple, *, operation: str, sensor: str, worker: int) -> pa.Table | None:
        """The Arrow table (the kind's full schema) of a batch from :meth:`take`.

        A malformed record (a sensor bug: a value of the wrong type) costs
        the events that refer to it, counted in :attr:`rows_rejected` and
        logged; the rest of the batch is kept.
        """
        times, keys, conns, (bases, base_ix, varying) = batch
        cix = keys >> _SHIFT
        tix = keys & _LOW
        conn_arr, bad_c = records_to_struct(conns, self._conn_struct)
        base_arr, bad_b = records_to_struct(bases, self._base_struct)
        var_arrs, bad_v = columns_to_arrays(varying, self._varying_types)
        bad_t = np.flatnonzero(np.isin(base_ix, bad_b)) if bad_b.size else bad_v
        if bad_b.size and bad_v.size:
            bad_t = np.union1d(bad_t, bad_v)
        if bad_c.size or bad_t.size:
            ok = ~(np.isin(cix, bad_c) | np.isin(tix, bad_t))
            dropped = int((~ok).sum())
            self.rows_rejected += dropped
            log.error("dropping %d malformed %s event(s)", dropped, self.kind)
            times, cix, tix = times[ok], cix[ok], tix[ok]
        n = len(times)
        if n == 0:
            return None
        bix = base_ix[tix]  # per event, its base's index
        self._count(base_arr.field("family"), bix)
        ci = pa.array(cix.astype(np.int32))
        ti = pa.array(tix.astype(np.int32))
        bi = pa.array(bix)
        varying_at = dict(zip(CHECKIN_VARYING, var_arrs))
        const = {"operation": operation, "sensor": sensor, "worker": worker}
        arrays = []
        fields = []
        for f in self._schema:
            name = f.name
            if name == "time":
                col = _time_array(pa.array(times))
            elif name in const:
                col = _spread(pa.array([const[name]], f.type), pa.array(np.zeros(n, dtype=np.int32)))
            elif name in varying_at:
                col = _spread(varying_at[name], ti)
            elif name in _BASE_FIELDS:
                col = _spread(base_arr.field(name), bi)
            elif name in CONN_FIELDS:
                col = _spread(conn_arr.field(name), ci)
            else:  # a column check-ins do not fill
                col = pa.nulls(n, f.type)
            arrays.append(col)
            fields.append(pa.field(name, col.type, f.nullable, f.metadata))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=self._schema.metadata))


_BASE_FIELDS = frozenset(CHECKIN_BASE_FIELDS)


def columns_to_arrays(columns: tuple[list, ...], types: list[pa.DataType]) -> tuple[list[pa.Array], np.ndarray]:
    """One Arrow array per column of values; a value of the wrong type becomes
    NULL, and the indices of the rows that had one are returned."""
    arrays = []
    bad: list[int] = []
    for values, typ in zip(columns, types):
        try:
            arrays.append(pa.array(values, typ))
            continue
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            pass
        good = list(values)
        for i, v in enumerate(values):
            try:
                pa.array([v], typ)
            except (pa.ArrowException, TypeError, ValueError, OverflowError):
                bad.append(i)
                good[i] = None
        arrays.append(pa.array(good, typ))
    return arrays, np.unique(np.array(bad, dtype=np.int64))


def records_to_struct(records: list[tuple], struct: pa.StructType) -> tuple[pa.StructArray, np.ndarray]:
    """Convert records; malformed ones become NULL, their indices returned."""
    try:
        return pa.array(records, struct), np.empty(0, dtype=np.int64)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        pass
    good, bad = [], []
    for i, rec in enumerate(records):
        try:
            pa.array([rec], struct)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            bad.append(i)
            good.append(None)
        else:
            good.append(rec)
    return pa.array(good, struct), np.array(bad, dtype=np.int64)


def _spread(values: pa.Array, indices: pa.Array) -> pa.Array:
    """``values`` taken at ``indices``, without copying strings where possible.

    A string or binary column without NULLs becomes a dictionary array over
    the records' own values (zero copy; the Parquet writer stores it as its
    dictionary page directly); an all-NULL column a NULL array; anything
    else a plain ``take``. Dictionary columns are read back as plain strings
    (the files carry no Arrow schema: see takedown.store.segments).
    """
    n = len(indices)
    if values.null_count == len(values):
        return pa.nulls(n, values.type)
    if values.null_count == 0 and (pa.types.is_string(values.type) or pa.types.is_binary(values.type)):
        return pa.DictionaryArray.from_arrays(indices, values)
    return values.take(indices)
