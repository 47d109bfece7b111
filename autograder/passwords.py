"""Passwords: argon2id through argon2-cffi's ``PasswordHasher`` (its defaults follow RFC 9106's
low-memory recommendation). Only the hash is stored; hashes made with older parameters are
upgraded at the next successful sign-in."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 8
MAX_LENGTH = 1024  # argon2 takes any length; a cap keeps a request from costing much
# No 0/O, 1/l/I: initial passwords are read off a printed sheet.
_INITIAL_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
INITIAL_LENGTH = 14

_hasher = PasswordHasher()
# Initial passwords are random (about 81 bits), so guessing them is hopeless however fast
# the hash: a light argon2id keeps a roster of hundreds importable in a request. The hash
# is upgraded to the full parameters when the user chooses their own password.
_initial_hasher = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
# Compared against when the account does not exist, so that a missing account takes as
# long to refuse as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class WeakPassword(ValueError):
    """A new password that is too short or too long; the message says which."""


def check_new_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password may have at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_new_password(password)
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; always does the same work, even without a hash."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def initial_password() -> str:
    """A random password to hand out once (about 81 bits)."""
    return "".join(secrets.choice(_INITIAL_ALPHABET) for _ in range(INITIAL_LENGTH))


def hash_initial_password(password: str) -> str:
    """The hash of a password made by ``initial_password`` (never of one a person chose)."""
    if len(password) != INITIAL_LENGTH or set(password) - set(_INITIAL_ALPHABET):
        raise WeakPassword("not an initial password")
    return _initial_hasher.hash(password)
