"""What every page and API method of the console reaches: the operation,
the stores, the console key, the templates, the settings and the clock.

Built once per process (:func:`build`); the tracker shares the console's
engine (one database, one connection pool).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from takedown.console import nav
from takedown.console.secret import Secret, load_secret, secret_path
from takedown.console.store import ConsoleStore
from takedown.operation import Console, Operation
from takedown.tracker.db import resolve_url

__all__ = ["ConsoleContext", "build", "templates"]


def templates() -> Environment:
    """Jinja2 with autoescaping on for every template (an indicator value, a
    user agent or a hostname with markup in it is shown as text)."""
    env = Environment(loader=PackageLoader("takedown.console", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["utc"] = lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) if t else "-"
    env.globals["operator_nav"] = nav.OPERATOR
    env.globals["partner_nav"] = nav.PARTNER
    env.filters["thousands"] = lambda n: f"{n:,}" if isinstance(n, int) else n
    return env


@dataclass
class ConsoleContext:
    operation: Operation
    store: ConsoleStore
    secret: Secret
    settings: Console
    env: Environment = field(default_factory=templates)
    now: Callable[[], float] = time.time
    #: True when the console is reached over TLS (its own, or a proxy's): cookies are Secure
    secure: bool = False
    #: the address lookup of the numbers and events pages; None: the operation's (``[enrich]``)
    enricher: object | None = None

    def lookup(self):
        """The enricher of the operation's events (built once, on first use)."""
        if self.enricher is None:
            from takedown.enrich.choice import for_operation

            self.enricher = for_operation(self.operation)
        return self.enricher

    def __post_init__(self) -> None:
        # the store reads the clock through the context, so a test that sets
        # ctx.now moves sessions, lock-outs and audit times together
        self.store.clock = lambda: self.now()

    @cached_property
    def tracker(self):
        from takedown.tracker.store import Tracker  # the tracker's pages only

        return Tracker(self.store.engine)

    @cached_property
    def figures(self):
        """The operators' numbers, kept per period and dataset state."""
        from takedown.console.figures import Figures

        return Figures(lambda: self.dataset, enricher=self.lookup, operation=self.operation.name, clock=lambda: self.now())

    @property
    def storage(self) -> Path:
        return self.operation.storage

    @property
    def dataset(self):
        """The events the console reads: the storage and ``[events] sources``
        (globs expanded again at each use, so a new sensor's storage shows)."""
        from takedown.store.reader import operation_dataset

        return operation_dataset(self.operation)


def build(op: Operation, *, db: str | None = None) -> ConsoleContext:
    settings = op.console or Console()
    url = resolve_url(db or op.database.url or None, op.storage)
    store = ConsoleStore.open(url)
    secure = settings.secure_cookies if settings.secure_cookies is not None else settings.certificate is not None
    return ConsoleContext(operation=op, store=store, secret=load_secret(secret_path(op)), settings=settings,
                          secure=secure)
