"""The sinkhole's live status for the operators' status page: the
operation's ``[control]`` listener (docs/metrics.md) scraped over HTTP and
parsed with prometheus_client's own text parser.

Rates are differences between two scrapes made by this console process:
the previous scrape of the same listener is kept in memory, and a rate is
(counter now - counter then) / seconds between them. The first view after
the console starts has totals only; the page refreshes itself every few
seconds, so rates appear at the next refresh. A counter that went down
(the server restarted) gives no rate for that refresh.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from takedown.hostport import split_listen

__all__ = ["Scrape", "Status", "scrape", "status", "Rates"]

#: the previous scrape older than this gives no rate (a stale baseline averages too much)
MAX_BASELINE = 300.0


@dataclass(frozen=True)
class Scrape:
    at: float
    samples: dict[tuple[str, frozenset], float]

    def series(self, name: str) -> list[tuple[dict, float]]:
        return [(dict(labels), v) for (n, labels), v in self.samples.items() if n == name]

    def by(self, name: str, label: str) -> dict[str, float]:
        """``name`` summed per value of ``label``."""
        out: dict[str, float] = defaultdict(float)
        for labels, v in self.series(name):
            out[labels.get(label, "")] += v
        return dict(out)

    def total(self, name: str) -> float:
        return sum(v for _, v in self.series(name))


@dataclass
class Status:
    """What the status page shows; ``error`` set when the listener did not answer."""

    listen: str | None
    error: str = ""
    health: tuple[int, str] | None = None
    interval: float | None = None  #: seconds between the two scrapes the rates come from
    queries: dict[str, dict] = field(default_factory=dict)  #: rule kind -> total, per_second
    rcodes: dict[str, float] = field(default_factory=dict)
    checkins: dict[str, dict] = field(default_factory=dict)  #: kind -> total, per_second
    rrl: dict[str, float] = field(default_factory=dict)  #: decision -> total
    writers: list[dict] = field(default_factory=list)  #: kind, buffered, lag, errors, dropped, written
    reloads: dict[str, float] = field(default_factory=dict)
    worker_restarts: float = 0.0
    workers: list[dict] = field(default_factory=list)  #: per slot: slot, up, why (the /healthz line)


def _get(listen: str, path: str, timeout: float) -> tuple[int, str]:
    host, port = split_listen(listen)
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        c.close()


def scrape(listen: str, *, timeout: float = 2.0, now=time.monotonic) -> Scrape:
    status, text = _get(listen, "/metrics", timeout)
    if status != 200:
        raise OSError(f"/metrics answered HTTP {status}")
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return Scrape(now(), samples)


class Rates:
    """The previous scrape per listener, shared by the requests of one process."""

    def __init__(self) -> None:
        self._last: dict[str, Scrape] = {}
        self._lock = threading.Lock()

    def swap(self, listen: str, new: Scrape) -> Scrape | None:
        with self._lock:
            old = self._last.get(listen)
            self._last[listen] = new
        if old is None or not 0 < new.at - old.at <= MAX_BASELINE:
            return None
        return old


def _rated(now: dict[str, float], then: dict[str, float] | None, seconds: float | None) -> dict[str, dict]:
    out = {}
    for k, v in sorted(now.items()):
        before = then.get(k, 0.0) if then is not None else None
        rate = (v - before) / seconds if before is not None and seconds and v >= before else None
        out[k] = {"total": v, "per_second": rate}
    return out


def status(listen: str | None, rates: Rates, *, slots: int = 1, timeout: float = 2.0) -> Status:
    """The status of the server whose control listener is ``listen`` (None:
    the operation has no ``[control]``) running ``slots`` workers: a slot is
    up unless a line of ``/healthz`` names it (docs/metrics.md)."""
    st = Status(listen)
    if listen is None:
        st.error = "the operation has no [control] section: no metrics to read"
        return st
    try:
        new = scrape(listen, timeout=timeout)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        st.error = f"the control listener {listen} is not answering: {exc}"
        return st
    old = rates.swap(listen, new)
    try:
        st.health = _get(listen, "/healthz", timeout)
    except (OSError, http.client.HTTPException) as exc:
        st.health = (0, f"not answering: {exc}")
    lines = st.health[1].splitlines() if st.health[0] else []
    st.interval = new.at - old.at if old else None
    q = new.by("takedown_dns_queries_total", "rule_kind")
    st.queries = _rated(q, old.by("takedown_dns_queries_total", "rule_kind") if old else None, st.interval)
    st.rcodes = dict(sorted(new.by("takedown_dns_queries_total", "rcode").items()))
    c = new.by("takedown_checkins_total", "kind")
    st.checkins = _rated(c, old.by("takedown_checkins_total", "kind") if old else None, st.interval)
    st.rrl = dict(sorted(new.by("takedown_dns_rrl_responses_total", "decision").items()))
    kinds = sorted(set(new.by("takedown_events_buffered", "kind")) | set(new.by("takedown_events_written_total", "kind")))
    for kind in kinds:
        st.writers.append({
            "kind": kind,
            "buffered": new.by("takedown_events_buffered", "kind").get(kind, 0.0),
            "lag": new.by("takedown_events_flush_lag_seconds", "kind").get(kind, 0.0),
            "written": new.by("takedown_events_written_total", "kind").get(kind, 0.0),
            "errors": new.by("takedown_events_write_errors_total", "kind").get(kind, 0.0),
            "dropped": new.by("takedown_events_dropped_total", "kind").get(kind, 0.0),
            # failing now (docs/metrics.md, /healthz), not merely once since the start
            "failing": any(f"its {kind} events cannot be written" in line for line in lines),
        })
    st.reloads = dict(sorted(new.by("takedown_reloads_total", "outcome").items()))
    st.worker_restarts = new.total("takedown_worker_restarts_total")
    for slot in range(slots):
        why = [line for line in lines if line.startswith(f"worker {slot} ")]
        st.workers.append({"slot": slot, "up": st.health[0] != 0 and not why, "why": "; ".join(why)})
    return st
