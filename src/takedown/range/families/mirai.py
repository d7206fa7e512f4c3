"""Mirai: the bot resolves its CNC name (here a blocklisted name of the
taken-over dynamic-DNS zone), connects and sends 00 00 00 01 and a one-byte
id length (0: no id); attributed by the shipped rule ``mirai-cnc-handshake``.

Mirai source (leaked 2016), bot/main.c; Antonakakis et al., "Understanding
the Mirai Botnet", USENIX Security 2017 (CNC names on dynamic DNS).

No commands (``Behaviour.commands`` is empty): the sinkhole answers commands
over HTTP only, and a raw TCP bot of the range hangs up after its greeting
without reading an answer.
"""

from takedown.range.families.base import Behaviour

BEHAVIOUR = Behaviour(
    name="mirai",
    transport="tcp",
    lookup="zone",
    rule="mirai-cnc-handshake",
    family="mirai",
    source="Mirai source, bot/main.c (CNC greeting 00 00 00 01, id length)",
    greeting=b"\x00\x00\x00\x01\x00",
)
