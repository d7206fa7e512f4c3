"""Readiness for systemd's ``Type=notify`` (sd_notify(3), without libsystemd).

The protocol is one datagram per state change, newline-separated
``KEY=VALUE`` lines, sent to the AF_UNIX datagram socket named in
``$NOTIFY_SOCKET``; a name starting with ``@`` is in the abstract namespace
(its ``@`` stands for a leading NUL byte). ``READY=1`` ends start-up,
``RELOADING=1`` ... ``READY=1`` brackets a reload, ``STOPPING=1`` starts
the shutdown, ``STATUS=`` is free text for ``systemctl status``. See
sd_notify(3) and systemd's "Interface Portability and Stability" notes on
the notify socket (https://systemd.io/PORTABILITY_AND_STABILITY/).

Without ``$NOTIFY_SOCKET`` (not started by systemd) every call does nothing.
A failed send is reported to the caller, never raised: a server keeps
serving when its supervisor's socket went away.
"""

from __future__ import annotations

import os
import socket
import time


def notify(*states: str, environ: dict[str, str] | None = None) -> bool:
    """Send ``states`` (``"READY=1"``, ``"STATUS=..."``) as one datagram.
    True if it was sent; False without ``$NOTIFY_SOCKET`` or on an error."""
    addr = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    elif not addr.startswith("/"):  # unset, or a vsock address (VMs), which this server has no use for
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(addr)
            s.sendall("\n".join(states).encode())
    except OSError:
        return False
    return True


def reloading() -> tuple[str, str]:
    """The states that open a reload: systemd 253's ``Type=notify-reload``
    wants the monotonic time with ``RELOADING=1``; older ones ignore it."""
    return "RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}"
