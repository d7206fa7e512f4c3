"""A round-robin TCP relay on loopback: one listening port in front of
several upstreams, each new connection sent to the next upstream in turn.

It stands for what spreads one botnet's check-ins over several sinkhole
sensors in a real operation (anycast, DNS round robin, a load balancer),
so that a bot checking in twice is seen by two sensors. Bytes are copied
unchanged both ways: a PROXY protocol header the client sends reaches the
sensor as sent (the sensors trust loopback peers).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading


class Relay:
    """Relays ``127.0.0.1:<port>`` to ``upstreams`` (``(host, port)``), in turn, in a thread of its own."""

    def __init__(self, upstreams: list[tuple[str, int]]):
        self.upstreams = upstreams
        self._next = itertools.cycle(range(len(upstreams)))
        self.sent = [0] * len(upstreams)  # connections per upstream
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=1024), self.loop).result()
        self.port = self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        i = next(self._next)
        self.sent[i] += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstreams[i])
        except OSError:
            writer.close()
            return
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                with contextlib.suppress(OSError):
                    w.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, asyncio.IncompleteReadError):
            writer.close()  # a reset on one side ends the other: nobody waits for bytes that never come

    def close(self) -> None:
        async def stop():
            self.server.close()
            # connections the client left open (keep-alive) end with the relay
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in rest:
                t.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
