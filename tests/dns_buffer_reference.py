"""The DNS event buffer's answer registry as it was before ``DnsBuffer.fresh``
(a 7-tuple per answer record, deduplicated through a dictionary, converted at
the flush by ``records_to_struct``): the reference the columnar registry is
compared with (tests/test_dns_buffer_fresh.py) and the "old" path of
bench/dns_buffer_micro.py. Kept verbatim in behaviour; not in the package.
"""

from __future__ import annotations

from array import array

import numpy as np
import pyarrow as pa

from takedown.store.checkins import records_to_struct
from takedown.store.dnsbuffer import TEMPLATE_FIELDS, DnsBuffer


class TupleRegistry:
    """One generation's answer records as tuples (main before fresh())."""

    flat = None  # (DnsBuffer binds fresh()'s list; TupleBuffer.fresh does not use it)

    def __init__(self, struct: pa.StructType, convert: dict) -> None:
        self.templates: list[tuple] = []
        self.template_at: dict[tuple, int] = {}
        self.listeners: list[tuple] = []
        self.listener_at: dict[tuple, int] = {}
        self._struct = struct
        self._convert = convert
        self._chunks: dict[str, list[pa.Array]] = {f: [] for f in TEMPLATE_FIELDS}
        self._converted = 0
        self.bad = np.empty(0, dtype=np.int64)
        self.classes = array("i")

    def __len__(self) -> int:
        return len(self.templates)

    def add(self, record: tuple) -> int:
        self.templates.append(record)
        return len(self.templates) - 1

    def record(self, i: int) -> tuple:
        return self.templates[i]

    def columns(self, upto: int) -> dict[str, pa.ChunkedArray]:
        if upto > self._converted:
            arr, bad = records_to_struct(self.templates[self._converted:upto], self._struct)
            if bad.size:
                self.bad = np.concatenate([self.bad, bad + self._converted])
            for f, chunks in self._chunks.items():
                col = arr.field(f)
                conv = self._convert.get(f)
                chunks.append(conv(col) if conv is not None else col)
                if len(chunks) > 32:
                    chunks[:] = [pa.concat_arrays(chunks)]
            self._converted = upto
        return {f: pa.chunked_array(c, c[0].type) for f, c in self._chunks.items()}


class TupleBuffer(DnsBuffer):
    """A DnsBuffer over :class:`TupleRegistry`: ``fresh`` is the responder's
    call before (``template`` of the 7-tuple), and the tally counts each
    record in a Python loop, as it did."""

    _registry = TupleRegistry

    def fresh(self, qname, qtype, rcode, rule, family) -> int:
        return self.template((qname, qtype, rcode, rule, family, None, "answer"))

    def _classify(self, reg, ntpl: int) -> None:
        classes = reg.classes
        at, keys = self._class_of, self._class_keys
        rc, ru = TEMPLATE_FIELDS.index("rcode"), TEMPLATE_FIELDS.index("rule")
        for rec in reg.templates[len(classes):ntpl]:
            k = (rec[rc], rec[ru])
            c = at.get(k)
            if c is None:
                c = at[k] = len(keys)
                keys.append(k)
            classes.append(c)


__all__ = ["TupleBuffer", "TupleRegistry"]
