"""The event store: crash-safe Parquet segments under ``{storage}/events``.

Writing: :class:`SegmentWriter` (one per sensor worker and kind).
Reading: :func:`count_events`, :func:`dataset_glob`, :func:`event_files`,
:func:`connect` (a DuckDB connection with an ``events`` view).
The layout and columns are documented in ``docs/events.md`` and
:mod:`takedown.events`.
"""

from takedown.store.reader import connect, count_events, dataset_glob, event_files
from takedown.store.segments import SegmentWriter

__all__ = ["SegmentWriter", "connect", "count_events", "dataset_glob", "event_files"]
