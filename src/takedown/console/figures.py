"""The operators' numbers, computed once per period and dataset state.

The whole report (:func:`takedown.analytics.report.summarise`, the code of
``takedown report``) takes about 3 minutes over 100M events: a page cannot
compute it per request. :class:`Figures` keeps the last summary of each
period (``from``, ``to`` as asked) with the dataset state it was computed
from (:func:`takedown.store.reader.dataset_state`: the event files' names,
sizes and times of the period's days). A request whose state matches gets
the kept summary; otherwise a worker thread computes it, one at a time per
period, and the page says so until it is done. A new segment, a compaction
or a pruned day changes the state, so kept figures are never taken for the
present state's.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from takedown.analytics.report import summarise
from takedown.errors import TakedownError
from takedown.store.reader import dataset_state

__all__ = ["Figures", "Entry", "PERIODS", "FIRST_WAIT"]

#: periods kept (the least recently asked is forgotten first)
PERIODS = 16
#: seconds a page request waits for a computation it started before it
#: answers "computing" (a small dataset's figures come in the first answer)
FIRST_WAIT = 1.0


@dataclass
class Entry:
    """One period: the last figures computed (``summary``, the state they are of,
    when they were started), and the computation under way, if any."""

    summary: dict | None = None
    state: tuple | None = None
    as_of: float = 0.0
    running: threading.Event | None = None  # set when the computation under way ends
    started: float = 0.0
    running_state: tuple | None = None
    error: str = ""
    #: the figures drawn as HTML, once per summary: a page of 10,000 ASes takes a second to render
    html: object = None
    html_of: dict | None = None


class Figures:
    """The kept figures of one operation's dataset (one per console process)."""

    def __init__(self, storage, *, enricher: Callable[[], object], operation: str,
                 clock: Callable[[], float]) -> None:
        # a callable: the dataset read again at each look (sources' globs expand anew)
        self.dataset = storage if callable(storage) else (lambda: storage)
        self.enricher = enricher
        self.operation = operation
        self.clock = clock
        self.computed = 0  # computations started (the tests count them)
        self.first_wait = FIRST_WAIT
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple, Entry] = OrderedDict()

    def look(self, date_from: date | None, date_to: date | None, *, start: bool = True) -> tuple[Entry, bool]:
        """(the period's entry, whether its figures are of the present state).

        With ``start``, a period whose figures are missing or stale and
        that nobody computes now is started in a worker thread. Lists the
        period's files: call it from a thread, not the event loop."""
        state = dataset_state(self.dataset(), date_from, date_to)
        key = (date_from, date_to)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = Entry()
                while len(self._entries) > PERIODS:
                    self._entries.popitem(last=False)
            self._entries.move_to_end(key)
            current = entry.summary is not None and entry.state == state
            if start and not current and entry.running is None:
                self._start(entry, key, state)
            return entry, current

    def _start(self, entry: Entry, key: tuple, state: tuple) -> None:
        entry.running, entry.started, entry.running_state, entry.error = threading.Event(), self.clock(), state, ""
        self.computed += 1
        # a daemon thread: a console stopped during a minutes-long report does not wait for it
        threading.Thread(target=self._compute, args=(entry, key, state), name=f"figures-{key}",
                         daemon=True).start()

    def _compute(self, entry: Entry, key: tuple, state: tuple) -> None:
        summary, error = None, ""
        try:
            summary = summarise(self.dataset(), enricher=self.enricher(), date_from=key[0], date_to=key[1],
                                operation=self.operation)
        except TakedownError as exc:  # an unreadable file, a missing database: the page says it
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a worker thread must end its computation in any case
            error = f"the figures could not be computed: {type(exc).__name__}: {exc}"
        with self._lock:
            if summary is not None:
                entry.summary, entry.state, entry.as_of = summary, state, entry.started
            entry.error = error
            done, entry.running, entry.running_state = entry.running, None, None
        done.set()

    @staticmethod
    def wait(entry: Entry, seconds: float) -> None:
        """Wait up to ``seconds`` for the entry's computation under way (from a thread)."""
        running = entry.running
        if running is not None and seconds > 0:
            running.wait(seconds)
