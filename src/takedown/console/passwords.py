"""Password hashing: Argon2id (RFC 9106) through argon2-cffi.

The parameters are RFC 9106's second recommended option (section 4:
t=3 passes, 64 MiB of memory, 4 lanes), written out here rather than taken
from the library's defaults so that a change of default never silently
weakens them; a stored hash made with other parameters is re-hashed at the
next successful login (``check_needs_rehash``).
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from takedown.errors import ConsoleError

__all__ = ["HASHER", "one_time_password", "hash_password", "verify_password", "needs_rehash", "check_password_rules", "MIN_LENGTH"]

TIME_COST = 3
MEMORY_KIB = 64 * 1024
PARALLELISM = 4
HASHER = PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=PARALLELISM,
                        hash_len=32, salt_len=16, type=Type.ID)
MIN_LENGTH = 12
MAX_LENGTH = 1024  # a password is hashed once per login attempt: bound the work a stranger can ask for

# Verified against when a username does not exist, so that a wrong username
# costs as long as a wrong password and the answer time does not tell them apart.
_DUMMY = HASHER.hash("takedown: no such user")


def check_password_rules(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise ConsoleError(f"password: at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ConsoleError(f"password: at most {MAX_LENGTH} characters")


def one_time_password() -> str:
    """A password an operator hands over and the user must change: 16
    characters of URL-safe base64 (96 random bits), above MIN_LENGTH."""
    return secrets.token_urlsafe(12)


def hash_password(password: str) -> str:
    check_password_rules(password)
    return HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    if len(password) > MAX_LENGTH:
        return False
    try:
        return HASHER.verify(stored if stored else _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    try:
        return HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True
