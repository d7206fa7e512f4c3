"""Gafgyt (BASHLITE): a hard-coded C&C address, no DNS; the bot connects and
registers with "BUILD <arch>\\n"; attributed by the shipped rule
``gafgyt-build-register``.

BASHLITE source (leaked 2015), client.c main(): sockprintf(mainCommSock,
"BUILD %s", getBuild()).

No commands (``Behaviour.commands`` is empty): the sinkhole answers commands
over HTTP only, and a raw TCP bot of the range hangs up after its greeting
without reading an answer.
"""

from takedown.range.families.base import Behaviour

BEHAVIOUR = Behaviour(
    name="gafgyt",
    transport="tcp",
    lookup=None,
    rule="gafgyt-build-register",
    family="gafgyt",
    source="BASHLITE source, client.c (BUILD <arch> greeting)",
    greeting=b"BUILD MIPSEL\n",
)
