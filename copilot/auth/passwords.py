"""Password hashes for local users: argon2id through ``argon2-cffi`` (its defaults follow
RFC 9106's recommendations), never our own scheme."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_CHARS = 12


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (salted; the PHC string holds its parameters)."""
    return _hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``; a malformed hash matches nothing."""
    try:
        return _hasher().verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def is_password_hash(value: str) -> bool:
    """Whether ``value`` looks like an argon2 PHC string (what config may hold)."""
    return value.startswith("$argon2")


# A fixed hash to verify against when the user does not exist, so a wrong user name
# costs the same time as a wrong password (no user enumeration by timing).
@cache
def dummy_hash() -> str:
    return hash_password("no user has this password; it only spends the time")
