"""``takedown case check``: does the order cover what the operation does?

Every name the operation sinks (its ``[[domains]]`` lists, and the ``[[dga]]``
names due at the time checked) must lie in the scope of a ``sink`` authority
valid at that time, and every command response must have a ``command``
authority for its family and command, valid at that time or later (a
command whose authority starts later is *pending*: it will be sent from
then on, which is what the order says; one whose authorities have all
expired, or that no authority names, is an error). Each problem is one
``FILE:LINE: reason`` line: the line of the seized name in its list, of the
``[[dga]]`` entry, of the expired authority, or of the command response.

Zones taken over whole (``[[zones]]``) are not checked yet: their blocklists
sink names under the zone's own authority, which the order grants per zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from takedown.case.seized import Seized, dga_held_on, listed
from takedown.errors import CaseError, RulesError
from takedown.operation import Authority, Case, Operation, read_text
from takedown.tomlfile import KeyPath, Locator, display_path


@dataclass(frozen=True)
class CommandResponse:
    """A command a family's rules answer check-ins with (issue 17 point 6)."""

    family: str
    command: str
    where: str  # FILE:LINE of the response in its rules file


@dataclass
class CheckResult:
    case: Case
    at: datetime
    seized: int = 0
    dga_due: int = 0
    errors: list[str] = field(default_factory=list)
    valid: list[str] = field(default_factory=list)  # authority ids valid at `at`
    expired: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # not yet valid
    commands: int = 0  # command responses checked
    commands_pending: list[str] = field(default_factory=list)  # "family command" whose authority starts later

    @property
    def ok(self) -> bool:
        return not self.errors


def case_of(op: Operation) -> Case:
    if op.case is None:
        raise CaseError(f"{display_path(op.path)}: the operation has no [case] section")
    return op.case


def covers(a: Authority, s: Seized) -> bool:
    """True if the sink/notify authority ``a``'s scope holds the seized name
    ``s``: its family, its list file, or the name or a name above it (a seized
    name stands for itself and every name below it, as in domain lists)."""
    if any(f in a.families for f in s.families) or (s.list_file is not None and s.list_file in a.lists):
        return True
    labels = s.name.split(".")
    return any(".".join(labels[k:]) in a.names for k in range(len(labels) - 1))


def check_case(op: Operation, at: datetime, commands: list[CommandResponse] = ()) -> CheckResult:
    """Hold the operation (and ``commands``) against its case's authorities at ``at`` (UTC)."""
    case = case_of(op)
    loc = Locator(read_text(op.path))
    display = display_path(op.path)
    res = CheckResult(case, at)
    for a in case.authorities:
        if a.valid_at(at):
            res.valid.append(a.id)
        elif a.valid_from > at:
            res.pending.append(a.id)
        else:
            res.expired.append(a.id)

    def at_line(i: int, *rest: str | int) -> str:
        path: KeyPath = ("case", "authorities", i, *rest)
        return f"{display}:{loc.line_of(path)}"

    sinks = [(i, a) for i, a in enumerate(case.authorities) if a.kind == "sink"]
    names = listed(op)
    due = dga_held_on(op, at.date(), loc)
    res.seized, res.dga_due = len(names), len(due)
    lapsed: dict[int, list[Seized]] = {}  # authority index -> names it alone covered, not valid at `at`
    outside: dict[str, list[Seized]] = {}  # DGA entry FILE:LINE -> names, reported once per entry
    for s in names + due:
        scope = [(i, a) for i, a in sinks if covers(a, s)]
        if any(a.valid_at(at) for _, a in scope):
            continue
        if scope:
            for i, _ in scope:
                lapsed.setdefault(i, []).append(s)
        elif s.list_file is not None:
            res.errors.append(f"{s.where}: {s.name} ({s.family}) is seized but outside every sink "
                              f"authority's scope")
        else:
            outside.setdefault(s.where, []).append(s)
    for where, ss in outside.items():
        res.errors.append(f"{where}: {len(ss)} {ss[0].family} DGA name(s) due on {at:%Y-%m-%d} are outside "
                          f"every sink authority's scope ({_some(ss)})")
    for i, ss in sorted(lapsed.items()):
        use = f"{len(ss)} name(s) sunk under it ({_some(ss)})"
        res.errors.append(_in_use(at_line, i, case.authorities[i], at, use))
    notify = [(i, a) for i, a in enumerate(case.authorities) if a.kind == "notify"]
    serving = [lst.kind for lst in (op.http, op.tls) if lst is not None and lst.response == "notice"]
    if notify and serving and not any(a.valid_at(at) for _, a in notify):
        shown = ", ".join(f"[{k}]" for k in serving)
        res.errors.extend(_in_use(at_line, i, a, at, f"{shown} answers check-ins with the notice page")
                          for i, a in notify)
    res.commands = len(commands)
    for c in commands:
        granted = [a for a in case.authorities
                   if a.kind == "command" and a.family == c.family and a.command == c.command]
        if not granted:
            res.errors.append(f"{c.where}: command response {c.command} for {c.family} has no command "
                              f"authority in [case]")
        elif any(a.valid_at(at) for a in granted):
            continue
        elif any(a.valid_from > at for a in granted):
            res.commands_pending.append(f"{c.family} {c.command}")
        else:
            res.errors.append(f"{c.where}: command response {c.command} for {c.family}: authority "
                              f"{', '.join(a.id for a in granted)} expired at "
                              f"{_t(max(a.valid_until for a in granted))}")  # type: ignore[type-var]
    return res


def rules_commands(op: Operation) -> list[CommandResponse]:
    """The command responses of the operation's rules file (``[fingerprints]
    rules``), each at its ``[[command]]`` line; the shipped rules carry none."""
    if op.fingerprints.rules is None:
        return []
    from takedown.net.fingerprints import RuleSet  # lazy: the rules only when the operation has a file

    path = op.fingerprints.rules
    rules = RuleSet.loads(read_text(path, RulesError), display_path(path))
    return [CommandResponse(c.family, c.name, c.location) for c in rules.commands]


def _in_use(at_line, i: int, a: Authority, at: datetime, use: str) -> str:
    """The error for authority ``a`` (the ``i``-th), not valid at ``at`` while ``use`` depends on it."""
    if a.valid_from > at:
        return (f"{at_line(i, 'valid_from')}: authority {a.id} ({a.kind}) starts at {_t(a.valid_from)}; "
                f"already in use: {use}")
    return (f"{at_line(i, 'valid_until')}: authority {a.id} ({a.kind}) expired at {_t(a.valid_until)}; "
            f"still in use: {use}")


def _t(t: datetime | None) -> str:
    return "never" if t is None else f"{t:%Y-%m-%dT%H:%M:%SZ}"


def _some(ss: list[Seized], n: int = 3) -> str:
    return ", ".join(s.name for s in ss[:n]) + (", ..." if len(ss) > n else "")


def parse_time(text: str) -> datetime:
    """``--at``: an ISO 8601 date (midnight UTC) or date-time; without an
    offset, UTC (the order's times are UTC)."""
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise CaseError(f"--at: {text!r} is not a date or date-time (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)") from None
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def summary(res: CheckResult) -> str:
    """The OK line of ``takedown case check``."""
    c = res.case
    dga = f" and {res.dga_due} DGA name(s) due" if res.dga_due else ""
    return (f"OK: case {c.case_number} ({c.court}, {c.order_type} of {c.order_date}): {res.seized} seized "
            f"name(s){dga} at {_t(res.at)}, each under a valid sink authority; {len(c.authorities)} "
            f"authorities: {len(res.valid)} valid, {len(res.expired)} expired, {len(res.pending)} not yet valid"
            f"{_commands(res)}")


def _commands(res: CheckResult) -> str:
    if not res.commands:
        return ""
    pending = f" ({', '.join(res.commands_pending)})" if res.commands_pending else ""
    return (f"; {res.commands} command response(s): {res.commands - len(res.commands_pending)} authorised, "
            f"{len(res.commands_pending)} pending{pending}")
