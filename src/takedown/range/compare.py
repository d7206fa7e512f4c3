"""Hold a report's numbers against the range's truth, count by count.

Every count of the report's ``summary.json`` that the range knows is
compared: the totals and the change from the first week to the last, each week and each day (unique addresses and events),
new and returning addresses per week, each country, AS, family and rule
(unique addresses and events over the period), the resolvers' unique
addresses and queries per week and in total, and the commands the bots
received (unique addresses and command events per family and command, over
the period and per ISO week). A key present on one side only is a
difference too.
"""

from __future__ import annotations


def _table(rows: list[dict], key: str, fields: tuple[str, ...]) -> dict:
    return {r[key]: [r[f] for f in fields] for r in rows}


def differences(summary: dict, truth: dict) -> list[str]:
    """One line per count that differs (empty: the report equals the truth)."""
    out: list[str] = []

    def same(what: str, got, want) -> None:
        if got != want:
            out.append(f"{what}: report {got}, truth {want}")

    for k in ("total_unique_ips", "total_events", "week_change_pct"):
        same(k, summary.get(k), truth[k])
    pairs = (
        ("weeks", "week", ("unique_ips", "events")),
        ("days", "day", ("unique_ips", "events")),
        ("new_returning", "week", ("unique_ips", "new_ips", "returning_ips")),
    )
    for name, key, fields in pairs:
        got = _table(summary.get(name, []), key, fields)
        want = _table(truth[name], key, fields)
        for k in sorted(set(got) | set(want), key=str):
            same(f"{name} {k} {'/'.join(fields)}", got.get(k), want.get(k))
    for name, key in (("countries", "cc"), ("asns", "asn"), ("families", "family"), ("rules", "rule")):
        got = _table(summary.get(name, []), key, ("unique_ips", "events"))
        want = truth[name]
        for k in sorted(set(got) | set(want), key=str):
            same(f"{name} {k} unique_ips/events", got.get(k), want.get(k))
    r, t = summary.get("resolvers", {}), truth["resolvers"]
    for k in ("total_unique_resolvers", "total_events"):
        same(f"resolvers {k}", r.get(k), t[k])
    got = _table(r.get("weeks", []), "week", ("unique_resolvers", "events"))
    want = _table(t["weeks"], "week", ("unique_resolvers", "events"))
    for k in sorted(set(got) | set(want)):
        same(f"resolvers week {k} unique_resolvers/events", got.get(k), want.get(k))
    _commands(summary.get("commands", {}), truth.get("commands", {}), same)
    return out


def _commands(report: dict, truth: dict, same) -> None:
    same("commands total_events", report.get("total_events", 0), truth.get("total_events", 0))
    for name, keys in (("by_command", ("family", "command")), ("weeks", ("week", "family", "command"))):
        got = {tuple(r[k] for k in keys): [r["unique_ips"], r["events"]] for r in report.get(name, [])}
        want = {tuple(r[k] for k in keys): [r["unique_ips"], r["events"]] for r in truth.get(name, [])}
        for k in sorted(set(got) | set(want)):
            same(f"commands {' '.join(k)} unique_ips/events", got.get(k), want.get(k))
