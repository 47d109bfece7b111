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
    """A new password that is refused; the message says why, in words for the user."""


# Passwords that lists of leaked passwords put at the top, in English- and Chinese-speaking
# countries alike, and words a student of this course would try first. Compared lower-cased,
# and also without trailing digits and punctuation ("password123!" is "password").
COMMON = frozenset(
    """
    password passw0rd p@ssword p@ssw0rd pass1234 password1 passwd secret letmein welcome
    welcome1 admin administrator root qwerty qwertyui qwertyuiop asdfghjk asdfghjkl zxcvbnm
    qazwsx qazwsxedc zaq12wsx 1qaz2wsx 1q2w3e4r 1q2w3e4r5t q1w2e3r4 qweasdzxc iloveyou
    woaini woaini1314 wo ai ni 5201314 1314520 520520 abc123 abcd1234 a123456 aa123456
    qq123456 a1234567 a12345678 aaaaaaaa 11111111 00000000 88888888 66666666 12345678
    123456789 1234567890 0123456789 87654321 11223344 12341234 123123123 147258369 159357
    football baseball basketball soccer dragon monkey shadow master sunshine princess
    trustno1 superman batman michael jennifer jordan23 hello hello123 hellokitty
    computer internet google facebook tencent baidu taobao login student students teacher
    school college university course homework deeplearning machinelearning pytorch tensorflow
    python autograder mnist changeme default guest test test1234 testing
    """.split()
)


def check_new_password(password: str, login: str | None = None) -> None:
    """Refuse a password that is too short or long, one of the commonly used ones (also
    with digits or punctuation appended), one character or two repeated, a run like
    12345678 or abcdefgh, or one containing the user's login name."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password may have at most {MAX_LENGTH} characters")
    lowered = password.lower()
    stem = lowered.rstrip("0123456789!@#$%^&*.?_-~ ")
    if (
        lowered in COMMON
        or " ".join(lowered.split()) in COMMON
        or (len(stem) >= 4 and stem in COMMON)
    ):
        raise WeakPassword("this password is one of the most common ones: choose another")
    if len(set(lowered)) <= 2:
        raise WeakPassword("a password needs more than one or two different characters")
    steps = {ord(b) - ord(a) for a, b in zip(lowered, lowered[1:], strict=False)}
    if steps in ({1}, {-1}):
        raise WeakPassword("a run of characters such as 12345678 or abcdefgh is too easy to guess")
    if login and len(login) >= 3 and login.lower() in lowered:
        raise WeakPassword("a password may not contain your login name")


def hash_password(password: str, *, check: bool = True, login: str | None = None) -> str:
    """The argon2id hash of a new password, checked first (``check=False``: an existing
    password being re-hashed with newer parameters at sign-in, never refused there)."""
    if check:
        check_new_password(password, login)
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
