"""The console's key: 32 random bytes in a file only its owner reads.

It signs the session cookies and derives each API key's secret
(:mod:`takedown.console.apikeys`), so the database alone (a backup, a
replica) lets no one forge a session or sign an API request. It is created
on first use (``console.secret`` in the operation's storage unless
``[console] secret_file`` says where); replacing it logs every user out and
invalidates every API key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from takedown.errors import ConsoleError
from takedown.operation import Operation

__all__ = ["Secret", "secret_path", "load_secret"]

DEFAULT_FILE = "console.secret"


@dataclass(frozen=True)
class Secret:
    key: bytes

    def derive(self, purpose: str) -> bytes:
        """A key for one purpose ('session', 'csrf', 'api:<key id>'), so that no
        two uses share key material."""
        return hmac.new(self.key, purpose.encode(), hashlib.sha256).digest()


def secret_path(op: Operation) -> Path:
    if op.console is not None and op.console.secret_file is not None:
        return op.console.secret_file
    return op.storage / DEFAULT_FILE


def load_secret(path: Path) -> Secret:
    """The key in ``path``, created (mode 0600) when the file does not exist."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it meanwhile
            return load_secret(path)
        except OSError as e:
            raise ConsoleError(f"cannot create the console key {path}: {e.strerror or e}") from None
        text = secrets.token_hex(32)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
    except (OSError, UnicodeDecodeError) as e:
        raise ConsoleError(f"cannot read the console key {path}: {getattr(e, 'strerror', None) or e}") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 32:
        raise ConsoleError(f"{path}: not a console key (64 hexadecimal digits); remove it to make a new one")
    if os.stat(path).st_mode & 0o077:
        raise ConsoleError(f"{path}: the console key is readable by others (chmod 600 it)")
    return Secret(key)
