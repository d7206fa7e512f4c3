"""Prometheus metrics of ``takedown serve`` (docs/metrics.md).

The metrics are kept with ``prometheus_client`` in its multiprocess mode
(prometheus_client README, "Multiprocess Mode (E.g. Gunicorn)"): every
process (the parent, each worker, a compaction process) writes its own
values to memory-mapped files in one directory, and the control listener
(:mod:`takedown.control`) sums them at each scrape. A counter of a worker
that has exited stays in its file, so totals never go down across reloads
and restarts; gauges are "live" ones, whose files are removed when their
process is reaped (:func:`process_dead`).

The library chooses its mode when it is imported, from
``PROMETHEUS_MULTIPROC_DIR``: :func:`prepare` sets it (and wipes the
directory) before anything imports ``prometheus_client``, which is why this
module imports it only inside functions.

Nothing here is called per query or per request. The workers count in bulk
(:class:`Publisher`): the event buffers count each flushed batch with one
``np.bincount`` (``DnsBuffer.tally``, ``CheckinBuffer.tally``), the rate
limiter, the PROXY refusals and the segment writers keep plain integers,
and once per flush interval the publisher adds what changed to the
Prometheus counters.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

#: Set (to the metrics directory) in every process of a ``takedown serve``
#: that has a ``[control]`` listener, inherited by what it starts.
ENV = "TAKEDOWN_METRICS_DIR"
_PROM_ENV = "PROMETHEUS_MULTIPROC_DIR"

_metrics = None


def prepare(directory: Path) -> None:
    """Make ``directory`` the (empty) metrics directory of this process and
    of every process it starts. Call it before ``prometheus_client`` is
    imported: ValueError when it already was, in single-process mode."""
    import sys

    values = sys.modules.get("prometheus_client.values")
    if values is not None and not getattr(values.ValueClass, "_multiprocess", False):
        raise ValueError("prometheus_client was imported before the metrics directory was set")
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[_PROM_ENV] = os.environ[ENV] = str(directory)


def enabled() -> bool:
    """Whether this process belongs to a ``takedown serve`` with metrics."""
    return bool(os.environ.get(ENV))


def remove_stale(parent: Path) -> None:
    """Remove the metrics directories (named by their server's pid) of
    servers that no longer run."""
    for d in parent.glob("[0-9]*"):
        try:
            os.kill(int(d.name), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (PermissionError, ValueError):  # alive (another user's), or not ours
            pass


class _Metrics:
    """Every metric, created once per process tree (a forked worker re-opens
    its own files on first use: prometheus_client checks the pid)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge

        def counter(name, doc, labels=()):
            return Counter(name, doc, labels, registry=None)

        def gauge(name, doc, labels=(), mode="livesum"):
            return Gauge(name, doc, labels, registry=None, multiprocess_mode=mode)

        # Counter names are given without "_total": the library adds it.
        self.dns_queries = counter("takedown_dns_queries", "DNS queries logged, by response code and the kind "
                                   "of policy rule that answered", ("rcode", "rule_kind"))
        self.checkins = counter("takedown_checkins", "Bot check-ins logged, by event kind and family",
                                ("kind", "family"))
        self.rrl = counter("takedown_dns_rrl_responses", "Response rate limiting decisions, by response class "
                           "and decision", ("class", "decision"))
        self.rrl_exempt = counter("takedown_dns_rrl_exempt_responses", "Responses to exempt clients (never limited)")
        self.rrl_accounts = gauge("takedown_dns_rrl_accounts", "Rate limiting accounts held by the workers")
        self.commands_sent = counter("takedown_commands_sent", "Command responses sent under a court's "
                                     "authority, by family and command", ("family", "command"))
        self.proxy_refused = counter("takedown_proxy_refused", "PROXY protocol headers refused (untrusted peer, "
                                     "malformed, too long)")
        self.dns_errors = counter("takedown_dns_internal_errors", "Queries not answered because of an internal error")
        self.events_buffered = gauge("takedown_events_buffered", "Events taken in and not yet written, by kind",
                                     ("kind",))
        self.events_written = counter("takedown_events_written", "Events written to Parquet segments, by kind",
                                      ("kind",))
        self.event_files = counter("takedown_event_files_written", "Parquet segments written, by kind", ("kind",))
        self.write_errors = counter("takedown_events_write_errors", "Failed segment writes (the events are "
                                    "retried), by kind", ("kind",))
        self.events_dropped = counter("takedown_events_dropped", "Events lost, by kind and reason (rejected: "
                                      "malformed; overflow: writes kept failing)", ("kind", "reason"))
        self.flush_lag = gauge("takedown_events_flush_lag_seconds", "Age of the oldest event not yet on disk "
                               "(at most; the worst worker), by kind", ("kind",), mode="livemax")
        self.reloads = counter("takedown_reloads", "Reloads, by outcome (ok; failed: the previous runtime keeps "
                               "serving; partial: a new worker did not start)", ("outcome",))
        self.restarts = counter("takedown_worker_restarts", "Workers that exited and were started again")
        self.compactions = counter("takedown_compactions", "Compaction runs, by outcome", ("outcome",))
        self.compaction_seconds = counter("takedown_compaction_seconds", "Time spent compacting")


def metrics() -> _Metrics:
    global _metrics
    if _metrics is None:
        _metrics = _Metrics()
    return _metrics


def record_reload(outcome: str) -> None:
    """A reload ended: ``ok``, ``failed`` or ``partial``."""
    if enabled():
        metrics().reloads.labels(outcome).inc()


def record_worker_restart() -> None:
    if enabled():
        metrics().restarts.inc()


def record_compaction(seconds: float, outcome: str = "ok") -> None:
    """A compaction run ended (``ok`` or ``failed``) after ``seconds``. For
    the compaction code, in any process ``takedown serve`` starts (forked
    or spawned: the directory is inherited); a no-op elsewhere."""
    if enabled():
        m = metrics()
        m.compactions.labels(outcome).inc()
        m.compaction_seconds.inc(max(0.0, seconds))


def start_parent() -> None:
    """Create the series the parent owns, at zero, so an alert on them has
    a value from the first scrape; import what a scrape needs now, on the
    main thread, not first on the control thread."""
    import prometheus_client.exposition  # noqa: F401
    import prometheus_client.multiprocess  # noqa: F401

    m = metrics()
    for outcome in ("ok", "failed", "partial"):
        m.reloads.labels(outcome)
    for outcome in ("ok", "failed"):
        m.compactions.labels(outcome)
    m.restarts.inc(0)
    m.compaction_seconds.inc(0)


def process_dead(pid: int) -> None:
    """A reaped process's live gauges leave the totals (its counters stay)."""
    if enabled():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, os.environ[ENV])


def exposition() -> tuple[bytes, str]:
    """The Prometheus text format of every process's values, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, os.environ[ENV])
    return generate_latest(registry), CONTENT_TYPE_LATEST


def rule_kind(rule: str | None) -> str:
    """The kind of a DNS event's rule (takedown.dns.policy names them
    ``domain:F``, ``dga:F:DATE``, ``zone:Z:block``, ``zone:Z:pass``, ``none``):
    ``domain``, ``dga``, ``zone`` (a blocklisted name: sunk), ``zone_pass``
    (answered from the original zone), ``none``. A label of few values, as
    Prometheus labels must be."""
    if not rule:
        return "none"
    if rule.startswith("zone:"):
        return "zone_pass" if rule.endswith(":pass") else "zone"
    head = rule.partition(":")[0]
    return head if head in ("domain", "dga", "none") else "other"


class Publisher:
    """One worker's counts, added to the Prometheus metrics once per flush
    interval (:meth:`publish`). Its sources keep plain cumulative integers;
    the publisher remembers what it has added and adds the difference.

    ``writers``: the worker's SegmentWriters (their ``dns`` or ``checkins``
    buffers carry ``tally``); ``rrl``: its RateLimiter or None;
    ``proxy_refused`` and ``dns_errors``: callables returning the counts;
    ``commands_sent``: one returning the net sensor's (family, command) ->
    count dict (takedown.net.connection.Counters)."""

    def __init__(self, writers, rrl, proxy_refused, dns_errors, commands_sent=dict) -> None:
        self.writers = writers
        self.rrl = rrl
        self.proxy_refused = proxy_refused
        self.dns_errors = dns_errors
        self.commands_sent = commands_sent
        self.m = metrics()
        self._seen: dict[tuple, float] = {}
        self._rcode_text: dict[int, str] = {}
        for w in writers:  # series at zero from the start, for rates and alerts
            self.m.events_written.labels(w.kind)
            self.m.write_errors.labels(w.kind)
        if rrl is not None:
            for cls, d in rrl.counters().items():
                if isinstance(d, dict):
                    for decision in d:
                        self.m.rrl.labels(cls, decision)

    def _add(self, counter, key: tuple, total: float) -> None:
        seen = self._seen.get((counter, key), 0)
        if total > seen:
            (counter.labels(*key) if key else counter).inc(total - seen)
            self._seen[(counter, key)] = total

    def _rcode(self, rc: int) -> str:
        text = self._rcode_text.get(rc)
        if text is None:
            import dns.rcode

            try:
                text = dns.rcode.to_text(rc)
            except ValueError:
                text = str(rc)
            self._rcode_text[rc] = text
        return text

    def publish(self) -> None:
        m = self.m
        now = time.time()
        queries: dict[tuple[str, str], int] = {}
        for w in self.writers:
            kind = w.kind
            if w.dns is not None:
                for (rc, rule), n in list(w.dns.tally.items()):
                    k = (self._rcode(rc), rule_kind(rule))
                    queries[k] = queries.get(k, 0) + n
            if w.checkins is not None:
                for family, n in list(w.checkins.tally.items()):
                    self._add(m.checkins, (kind, family or "none"), n)
            self._add(m.events_written, (kind,), w.rows_written)
            self._add(m.event_files, (kind,), w.files_written)
            self._add(m.write_errors, (kind,), w.write_errors)
            self._add(m.events_dropped, (kind, "rejected"), w.rows_rejected)
            self._add(m.events_dropped, (kind, "overflow"), w.rows_dropped)
            m.events_buffered.labels(kind).set(w.buffered())
            m.flush_lag.labels(kind).set(max(0.0, now - w.synced_at))
        for k, n in queries.items():  # several rules share a kind: their sum is the total
            self._add(m.dns_queries, k, n)
        if self.rrl is not None:
            for cls, d in self.rrl.counters().items():
                if isinstance(d, dict):
                    for decision, n in d.items():
                        self._add(m.rrl, (cls, decision), n)
            self._add(m.rrl_exempt, (), self.rrl.exempted)
            m.rrl_accounts.set(self.rrl.size)
        self._add(m.proxy_refused, (), self.proxy_refused())
        for k, n in list(self.commands_sent().items()):
            self._add(m.commands_sent, k, n)
        self._add(m.dns_errors, (), self.dns_errors())
