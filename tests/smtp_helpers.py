"""A real SMTP server's handler for tests (aiosmtpd on loopback): it keeps
every envelope it receives."""

from __future__ import annotations


class Collect:
    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        self.envelopes.append(envelope)
        return "250 OK"
