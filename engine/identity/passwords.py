"""Password hashing with argon2id (argon2-cffi's RFC 9106 profile); only hashes are ever stored."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from engine.store.errors import InvalidInput
from engine.store.text import unstorable

MIN_LENGTH = 12
# Long enough for any passphrase; a bound so that nobody makes the server hash megabytes.
MAX_LENGTH = 1024

_hasher = PasswordHasher()


def check_acceptable(password: str) -> None:
    """Refuse a password too short to resist guessing (length is what counts: no composition rules)."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"密码太短 The password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"密码太长 The password may have at most {MAX_LENGTH} characters")
    problem = unstorable(password)
    if problem:
        raise InvalidInput(f"密码无效 The password is not valid: {problem}")


def hash_password(password: str) -> str:
    check_acceptable(password)
    return _hasher.hash(password)


@functools.cache
def _dummy_hash() -> str:
    # Made on first use, not at import: hashing costs 64 MiB and tens of milliseconds.
    return _hasher.hash("not a password anybody has")


def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; with no stored hash, as slow a refusal as a wrong password.

    Verifying against a dummy hash keeps the time of an answer from telling which usernames exist.
    """
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was made with other parameters than today's: rehash it at the next login."""
    return _hasher.check_needs_rehash(stored)
