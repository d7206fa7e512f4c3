"""Command responses under a court's authority (issue 17 point 6, docs/case-commands.md).

In Coreflood (2011) the FBI's substitute C&C servers answered the bots with
a stop command a court had authorised (United States v. John Doe 1 et al.,
D. Conn., civil action 3:11-cv-00561, temporary restraining order of April
2011); in
Bredolab (2010) the Dutch police told the bots to fetch a program that
showed the infection notice. A rules file's ``[[command]]`` tables
(:class:`takedown.net.fingerprints.Command`) give the bytes of such a
command; the operation's ``[[case.authorities]]`` of ``kind = "command"``
say when it may be sent. :class:`CommandTable` joins the two when the
Runtime is built, and :meth:`CommandTable.pick` decides, per check-in, on
the connection's clock (the emulated clock in range mode), which command,
if any, answers it: an authority that ends at midnight stops at midnight,
with no reload.

Only families with at least one authorised command are in the table: the
connections look a matched family up once (``family in table.families``)
and do nothing more for the others.
"""

from __future__ import annotations

from collections.abc import Sequence

from takedown.net.fingerprints import Command
from takedown.operation import Authority

__all__ = ["CommandTable", "Window"]

_INF = float("inf")


class Window:
    """One authority's validity as epoch seconds: ``start <= t < end``."""

    __slots__ = ("authority", "start", "end")

    def __init__(self, authority: str, start: float, end: float) -> None:
        self.authority = authority
        self.start = start
        self.end = end

    @classmethod
    def of(cls, a: Authority) -> Window:
        end = a.valid_until.timestamp() if a.valid_until is not None else _INF
        return cls(a.id, a.valid_from.timestamp(), end)

    def __repr__(self) -> str:
        return f"Window({self.authority!r}, {self.start}, {self.end})"


class CommandTable:
    """The rules' commands joined with the case's command authorities.

    ``families`` maps a family to its commands (file order), each with the
    windows of the authorities that allow it; a command no authority names
    is left out (it can never be sent) and listed in :attr:`uncovered`
    (``FILE:LINE: ...`` lines, which ``takedown serve`` prints as warnings).
    """

    def __init__(self, commands: Sequence[Command] = (), authorities: Sequence[Authority] = ()) -> None:
        by_family: dict[str, list[tuple[Command, tuple[Window, ...]]]] = {}
        self.uncovered: list[str] = []
        for c in commands:
            windows = tuple(Window.of(a) for a in authorities
                            if a.kind == "command" and a.family == c.family and a.command == c.name)
            if windows:
                by_family.setdefault(c.family, []).append((c, windows))
            else:
                self.uncovered.append(f"{c.location}: command {c.name} for {c.family} is never sent: no "
                                      f"[[case.authorities]] entry of kind command covers it")
        self.families: dict[str, tuple[tuple[Command, tuple[Window, ...]], ...]] = {
            f: tuple(v) for f, v in by_family.items()}
        self.commands = tuple(c for v in self.families.values() for c, _ in v)

    def __bool__(self) -> bool:
        return bool(self.families)

    def __repr__(self) -> str:
        return f"<CommandTable {len(self.commands)} authorised commands, {len(self.uncovered)} uncovered>"

    def pick(self, family: str, t: float) -> tuple[Command, str] | None:
        """The command that answers a check-in of ``family`` at ``t`` (epoch
        seconds, the connection's clock) and the id of the authority it is
        sent under: the first of the family's commands, in file order, with
        an authority valid at ``t``. None: answer as the policy says."""
        for c, windows in self.families.get(family, ()):
            for w in windows:
                if w.start <= t < w.end:
                    return c, w.authority
        return None
