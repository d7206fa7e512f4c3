"""What the range made true: every session and query it sent, and the counts
the report must show for them.

:class:`Truth` collects each planned :class:`~takedown.range.schedule.Day`
as it is sent, then counts with numpy, by its own path (not the report's
SQL): unique bot addresses and events per day, per ISO week, per country,
AS, family and rule over the period, new and returning addresses per week,
and the resolvers' unique addresses and queries per week. Each HTTP request
is one event; an HTTPS session adds one ``tls`` event for its ClientHello;
a TCP greeting is one event; each resolver query is one DNS event.

What the bots received is truth too: each command a session's responses
carried (:class:`~takedown.range.sender.Received`), counted per family and
command (command events, one per response that carried it, as the sinkhole
records one ``command`` event per command sent, and unique bots), per ISO
week, and the bots stopped per family. The sessions stay what was sent: a
stopped bot's later sessions were never planned, so they are in no count.

:meth:`Truth.write` keeps the evidence beside the counts: ``bots.parquet``
(each bot's address, country, AS, family, time zone, window, clean-up day),
``sessions.parquet`` (bot, emulated time, check-ins, TLS, host),
``queries.parquet`` (resolver address, emulated time, name),
``commands.parquet`` (bot, emulated time of the session, command, responses
that carried it) and ``truth.json`` (the counts).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from takedown.range import families
from takedown.range.population import Population
from takedown.range.schedule import Day, resolver_address
from takedown.range.sender import Received

UNATTRIBUTED = "unattributed"  # as the report shows a check-in no rule attributed


def _week(d: date) -> str:
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


class Truth:
    def __init__(self, pop: Population, start: date, days: int):
        self.pop, self.start, self.days = pop, start, days
        self._s: dict[str, list] = defaultdict(list)
        self._q: dict[str, list] = defaultdict(list)
        self._c: dict[str, list] = defaultdict(list)

    def add(self, d: Day, received: Received | None = None) -> None:
        """Day ``d`` as sent, and the commands its sessions received."""
        self._s["day"].append(np.full(len(d), d.day, np.int64))
        self._s["bot"].append(d.bot)
        self._s["time"].append(d.time)
        self._s["checkins"].append(d.checkins)
        self._s["tls"].append(d.tls)
        self._s["host"].extend(d.host)
        self._q["day"].append(np.full(d.q_time.size, d.day, np.int64))
        self._q["resolver"].append(d.q_resolver)
        self._q["time"].append(d.q_time)
        self._q["name"].extend(d.q_name)
        if received:
            at = np.asarray(received.session, np.int64)
            self._c["day"].append(np.full(at.size, d.day, np.int64))
            self._c["bot"].append(d.bot[at])
            self._c["time"].append(d.time[at])
            self._c["count"].append(np.asarray(received.count, np.int64))
            self._c["command"].extend(received.command)

    def _cat(self, parts: dict[str, list], key: str, dtype) -> np.ndarray:
        got = parts.get(key)
        return np.concatenate(got) if got else np.zeros(0, dtype)

    # -- counting ---------------------------------------------------------

    def _groups(self):
        """Event groups: (bot, day, rule, family, events), one per session and
        one more per HTTPS session (its ClientHello)."""
        day = self._cat(self._s, "day", np.int64)
        bot = self._cat(self._s, "bot", np.int64)
        checkins = self._cat(self._s, "checkins", np.int64)
        tls = self._cat(self._s, "tls", bool)
        fam = self.pop.family[bot]
        rule = np.empty(bot.size, dtype=object)
        family = np.empty(bot.size, dtype=object)
        tls_rule = np.empty(bot.size, dtype=object)
        tls_family = np.empty(bot.size, dtype=object)
        for name in np.unique(fam):
            b = families.get(str(name))
            sel = fam == name
            rule[sel], family[sel] = b.rule, b.family
            tls_rule[sel], tls_family[sel] = b.tls_rule, b.tls_family or UNATTRIBUTED
        t = np.flatnonzero(tls)
        return (np.concatenate([bot, bot[t]]), np.concatenate([day, day[t]]),
                np.concatenate([rule, tls_rule[t]]), np.concatenate([family, tls_family[t]]),
                np.concatenate([checkins, np.ones(t.size, np.int64)]))

    @staticmethod
    def _by(key: np.ndarray, who: np.ndarray, events: np.ndarray) -> dict:
        """key value -> [distinct who, sum of events]."""
        out: dict = {}
        if not key.size:
            return out
        values, kid = np.unique(key, return_inverse=True)
        pairs = np.unique(kid.astype(np.int64) * (int(who.max()) + 1) + who)
        uniq = np.bincount(pairs // (int(who.max()) + 1), minlength=values.size)
        ev = np.bincount(kid, weights=events, minlength=values.size)
        for v, u, e in zip(values.tolist(), uniq.tolist(), ev.tolist()):
            out[v] = [int(u), int(e)]
        return out

    def counts(self) -> dict:
        bot, day, rule, family, events = self._groups()
        dates = [self.start + timedelta(d) for d in range(self.days)]
        week_of_day = np.array([_week(x) for x in dates], dtype=object)
        weeks = list(dict.fromkeys(week_of_day.tolist()))
        wk = week_of_day[day] if day.size else np.zeros(0, dtype=object)
        per_day = self._by(day, bot, events)
        per_week = self._by(wk.astype(str), bot, events)
        # new in a week: the bot's first week is that week
        first_week: dict = {}
        if bot.size:
            wid = np.searchsorted(np.array(weeks), wk.astype(str))  # labels sort in time order
            first = np.full(len(self.pop), len(weeks), np.int64)
            np.minimum.at(first, bot, wid)
            pairs = np.unique(wid * len(self.pop) + bot)
            pw, pb = pairs // len(self.pop), pairs % len(self.pop)
            for i in range(len(weeks)):
                sel = pw == i
                first_week[weeks[i]] = (int(sel.sum()), int((first[pb[sel]] == i).sum()))
        cc = self.pop.cc[bot].astype(str)
        asn = self.pop.asn[bot]
        total_events = int(events.sum())
        qday = self._cat(self._q, "day", np.int64)
        qres = self._cat(self._q, "resolver", np.int64)
        qwk = week_of_day[qday].astype(str) if qday.size else np.zeros(0, str)
        per_res_week = self._by(qwk, qres, np.ones(qres.size, np.int64))
        w0, wn = per_week.get(weeks[0], [0, 0])[0], per_week.get(weeks[-1], [0, 0])[0]
        return {
            "period": {"from": dates[0].isoformat(), "to": dates[-1].isoformat()},
            "week_change_pct": round((wn - w0) * 100.0 / w0, 1) if len(weeks) > 1 and w0 else None,
            "total_unique_ips": int(np.unique(bot).size),
            "total_events": total_events,
            "weeks": [{"week": w, "unique_ips": per_week.get(w, [0, 0])[0], "events": per_week.get(w, [0, 0])[1]}
                      for w in weeks],
            "days": [{"day": dates[d].isoformat(), "unique_ips": per_day.get(d, [0, 0])[0],
                      "events": per_day.get(d, [0, 0])[1]} for d in range(self.days)],
            "new_returning": [{"week": w, "unique_ips": first_week.get(w, (0, 0))[0],
                               "new_ips": first_week.get(w, (0, 0))[1],
                               "returning_ips": first_week.get(w, (0, 0))[0] - first_week.get(w, (0, 0))[1]}
                              for w in weeks],
            "countries": self._by(cc, bot, events),
            "asns": {(None if k < 0 else k): v for k, v in self._by(asn, bot, events).items()},
            "families": self._by(family.astype(str), bot, events),
            "rules": self._by(rule.astype(str), bot, events),
            "resolvers": {
                "total_unique_resolvers": int(np.unique(qres).size),
                "total_events": int(qres.size),
                "weeks": [{"week": w, "unique_resolvers": per_res_week.get(w, [0, 0])[0],
                           "events": per_res_week.get(w, [0, 0])[1]} for w in weeks],
            },
            "commands": self._commands(week_of_day),
        }

    def _commands(self, week_of_day: np.ndarray) -> dict:
        """Per (family, command) and per (ISO week, family, command): unique
        bots and command events; bots stopped per family."""
        bot = self._cat(self._c, "bot", np.int64)
        count = self._cat(self._c, "count", np.int64)
        command = np.asarray(self._c.get("command", []), dtype=object)
        wk = week_of_day[self._cat(self._c, "day", np.int64)] if bot.size else np.zeros(0, dtype=object)
        family = np.empty(bot.size, dtype=object)
        for name in np.unique(self.pop.family[bot]):
            family[self.pop.family[bot] == name] = families.get(str(name)).family
        key = np.asarray([f"{f}\0{c}" for f, c in zip(family.tolist(), command.tolist())], dtype=str)
        wkey = np.asarray([f"{w}\0{k}" for w, k in zip(wk.tolist(), key.tolist())], dtype=str)
        stops = np.unique(bot[command == "stop"]) if bot.size else bot
        stopped: dict = {}
        for name in self.pop.family[stops].tolist():
            fam = families.get(str(name)).family
            stopped[fam] = stopped.get(fam, 0) + 1
        return {
            "total_events": int(count.sum()),
            "by_command": [{"family": f, "command": c, "unique_ips": u, "events": e}
                           for (f, c), (u, e) in _split(self._by(key, bot, count))],
            "weeks": [{"week": w, "family": f, "command": c, "unique_ips": u, "events": e}
                      for (w, f, c), (u, e) in _split(self._by(wkey, bot, count))],
            "stopped": dict(sorted(stopped.items())),
        }

    # -- evidence ---------------------------------------------------------

    def write(self, out: Path, counts: dict | None = None) -> dict:
        """The evidence files and truth.json under ``out``; returns the counts."""
        out.mkdir(parents=True, exist_ok=True)
        p = self.pop
        pq.write_table(pa.table({
            "ip": p.ip_strings(), "cc": p.cc.astype(str), "asn": pa.array(p.asn).cast(pa.int64()),
            "family": p.family.astype(str), "utc_offset": p.utc_offset,
            "window_start_minute": p.active_start, "window_minutes": p.active_minutes,
            "cleaned_day": p.cleaned_day,
        }), out / "bots.parquet")
        bot = self._cat(self._s, "bot", np.int64)
        pq.write_table(pa.table({
            "bot": bot,
            "time": pa.array((self._cat(self._s, "time", np.float64) * 1e6).astype(np.int64),
                             pa.timestamp("us", tz="UTC")),
            "checkins": self._cat(self._s, "checkins", np.int64),
            "tls": self._cat(self._s, "tls", bool),
            "host": pa.array(self._s.get("host", []), pa.string()),
        }), out / "sessions.parquet")
        qres = self._cat(self._q, "resolver", np.int64)
        ids, which = np.unique(qres, return_inverse=True)
        pq.write_table(pa.table({
            "resolver": pa.array([resolver_address(r) for r in ids.tolist()], pa.string()).take(pa.array(which)),
            "time": pa.array((self._cat(self._q, "time", np.float64) * 1e6).astype(np.int64),
                             pa.timestamp("us", tz="UTC")),
            "name": pa.array(self._q.get("name", []), pa.string()),
        }), out / "queries.parquet")
        pq.write_table(pa.table({
            "bot": self._cat(self._c, "bot", np.int64),
            "time": pa.array((self._cat(self._c, "time", np.float64) * 1e6).astype(np.int64),
                             pa.timestamp("us", tz="UTC")),
            "command": pa.array(self._c.get("command", []), pa.string()),
            "count": self._cat(self._c, "count", np.int64),
        }), out / "commands.parquet")
        counts = counts or self.counts()
        (out / "truth.json").write_text(json.dumps(_jsonable(counts), indent=1) + "\n")
        return counts


def _split(by: dict) -> list:
    """``_by`` over NUL-joined keys -> [(key parts, counts)], sorted by key."""
    return sorted((tuple(k.split("\0")), v) for k, v in by.items())


def _jsonable(counts: dict) -> dict:
    out = dict(counts)
    out["asns"] = {("unknown" if k is None else str(k)): v for k, v in counts["asns"].items()}
    return out
