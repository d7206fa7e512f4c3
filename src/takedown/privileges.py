"""Who ``takedown serve`` runs as: bind as root, then drop to ``[service] user``.

A sinkhole serves ports 53, 80 and 443, which only root (or a process with
``CAP_NET_BIND_SERVICE``) may bind, and it reads packets from anyone on the
Internet: it must not read them as root. Two ways to start it:

* as root (a plain init script, a container): the parent binds every
  listener, gives the storage to the service user, then calls
  :func:`drop`: supplementary groups cleared (``setgroups``), group before
  user (``setresgid`` then ``setresuid``: once the user is set, the group
  can no longer be changed), real, effective and saved ids all set, so
  nothing can switch back; :func:`drop` checks that ``setuid(0)`` fails.
  This is the order of OpenBSD's privilege-separated daemons and nginx's
  ``user`` directive (https://nginx.org/en/docs/ngx_core_module.html#user).
  Workers are forked after it, so no worker and no reload ever runs as root.
* as the user itself with the ambient capability ``CAP_NET_BIND_SERVICE``
  (the systemd unit, contrib/systemd/takedown@.service): nothing to
  switch; after binding, :func:`drop_capabilities` empties every capability
  set (capabilities(7)), so a worker cannot bind a privileged port either.

Started as root without ``[service] user``, serve refuses to run unless
``[service] allow_root = true``. Started as another user than ``user``,
it cannot switch and says so (as nginx does), then serves as it is.
"""

from __future__ import annotations

import ctypes
import grp
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from takedown.errors import ServeError
from takedown.operation import Operation

#: capabilities(7): capset(2) with version 3 takes two 32-bit data words.
_CAP_VERSION_3 = 0x20080522
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4


@dataclass(frozen=True)
class Account:
    """The user and group to run as, resolved on this machine."""

    user: str
    uid: int
    group: str
    gid: int


def plan(op: Operation, euid: int | None = None) -> Account | None:
    """The account ``takedown serve`` must drop to, or None to stay as it is.

    Raises ServeError (one line naming the key) when started as root
    without ``[service] user`` and without ``allow_root``, or when the user
    or group does not exist here. Runs before anything is bound.
    """
    euid = os.geteuid() if euid is None else euid
    s = op.service
    if s.user is None:
        if euid == 0 and not s.allow_root:
            raise ServeError(f"{op.path}: takedown serve was started as root and [service] user is not set: "
                             "set it (and group) to the account to run as after binding, "
                             "or [service] allow_root = true to keep running as root")
        return None
    try:
        pw = pwd.getpwnam(s.user)
    except KeyError:
        raise ServeError(f"{op.path}: [service] user = {s.user!r}: no such user on this machine "
                         "(docs/deploy.md creates it)") from None
    if pw.pw_uid == 0 and not s.allow_root:
        raise ServeError(f"{op.path}: [service] user = {s.user!r} is root (uid 0): name an unprivileged user, "
                         "or set [service] allow_root = true to run as root")
    if s.group is None:
        gid = pw.pw_gid
        try:
            group = grp.getgrgid(gid).gr_name
        except KeyError:
            group = str(gid)
    else:
        try:
            gid = grp.getgrnam(s.group).gr_gid
        except KeyError:
            raise ServeError(f"{op.path}: [service] group = {s.group!r}: no such group on this machine") from None
        group = s.group
    return Account(s.user, pw.pw_uid, group, gid)


def mismatch(account: Account) -> str | None:
    """Why a process not started as root cannot become ``account`` (None: it already is)."""
    if os.geteuid() == account.uid and os.getegid() == account.gid:
        return None
    return (f"[service] user = {account.user!r} is applied only when takedown serve is started as root; "
            f"serving as uid {os.geteuid()} gid {os.getegid()}")


def own_storage(storage: Path, account: Account) -> None:
    """Create ``storage`` and give the service user what the server writes into.

    Run as root before :func:`drop`. An earlier run as root may have left
    root-owned directories: the storage, its top-level entries (the privacy
    key among them), ``events/kind=*`` and their ``date=*`` days are given to
    the user. Files inside a day are left as they are (the user may still
    rename and remove them: that is the directory's write permission), so the
    cost does not grow with the number of segments.
    """
    try:
        storage.mkdir(parents=True, exist_ok=True)
        _chown(storage, account)
        for entry in _entries(storage):
            _chown(entry, account)
        for kind in _entries(storage / "events", dirs_only=True):
            _chown(kind, account)
            for day in _entries(kind, dirs_only=True):
                _chown(day, account)
    except OSError as e:
        raise ServeError(f"storage {storage}: cannot give it to user {account.user}: {e.strerror or e}") from None


def _entries(directory: Path, dirs_only: bool = False) -> list[Path]:
    try:
        with os.scandir(directory) as it:
            return [Path(e.path) for e in it if not dirs_only or e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def _chown(path: Path, account: Account) -> None:
    st = os.lstat(path)
    if (st.st_uid, st.st_gid) != (account.uid, account.gid) and not stat.S_ISLNK(st.st_mode):
        os.chown(path, account.uid, account.gid, follow_symlinks=False)


def drop(account: Account) -> None:
    """Become ``account`` for good (run as root, after binding). Raises
    ServeError if any id could not be set or root can be regained."""
    try:
        os.setgroups([])
        os.setresgid(account.gid, account.gid, account.gid)
        os.setresuid(account.uid, account.uid, account.uid)
    except OSError as e:
        raise ServeError(f"cannot switch to user {account.user} group {account.group}: {e.strerror or e}") from None
    if os.getresuid() != (account.uid,) * 3 or os.getresgid() != (account.gid,) * 3 \
            or set(os.getgroups()) - {account.gid}:
        raise ServeError(f"switching to user {account.user} left other ids: uid {os.getresuid()}, "
                         f"gid {os.getresgid()}, groups {os.getgroups()}")
    if account.uid != 0:
        try:
            os.setuid(0)
        except PermissionError:
            pass
        else:
            raise ServeError(f"after switching to user {account.user}, setuid(0) still succeeds")
    drop_capabilities()


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """Empty the ambient, effective, permitted and inheritable capability sets
    of this process (not root: root's are restored by the kernel's rules for
    uid 0, so serve only calls this when it is not root)."""
    if os.geteuid() == 0 or not any(v for k, v in capabilities().items() if k != "CapBnd"):
        return  # nothing to drop (a plain user's start): no capset, which a sandbox may forbid
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    data = (_CapData * 2)()
    if libc.capset(ctypes.byref(_CapHeader(_CAP_VERSION_3, 0)), data) != 0:
        raise ServeError(f"cannot drop capabilities: {os.strerror(ctypes.get_errno())}")
    left = {k: v for k, v in capabilities().items() if k in ("CapEff", "CapPrm", "CapAmb") and v}
    if left:
        raise ServeError(f"capabilities left after dropping them: {left}")


def capabilities() -> dict[str, int]:
    """This process's capability sets from /proc/self/status (CapEff, CapPrm, CapAmb, ...)."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Cap"):
            name, _, value = line.partition(":")
            out[name] = int(value, 16)
    return out


def unreadable(paths: list[Path]) -> Path | None:
    """The first of ``paths`` this process cannot read and search (its Python
    installation, the package), else None. After :func:`drop`,
    a module or a file the workers or a reload need later must be there for
    the user: a Python under /root (mode 0700) is not."""
    for p in paths:
        if not os.access(p, os.R_OK | os.X_OK):
            return p
    return None
