"""What the checks say to a student, in English and Chinese, from one catalogue.

A check kind never writes a sentence inline: it calls ``say(key, **values)``, which looks the
key up in the JSON files of ``autograder/grading/messages/`` (one file per area, a key in one
file only) and fills ``{placeholders}`` (with ``str.format`` specs such as ``{acc:.1%}``) in
both languages. The result is a ``Said``: the English and the Chinese text side by side,
which concatenate like strings, so a message built of parts (a reason inside a sentence, a
hint on a line of its own) stays whole in each language. A value that is itself a ``Said``
fills each language with its own text; anything else (numbers, names, the student's own
error output, which is Python's and stays as it is) fills both the same.

The stored outcome row keeps ``message`` (English) and ``message_zh``; pages in Chinese
show the latter. ``tests/test_check_messages.py`` fails when a key lacks a language, when
the two languages' placeholders differ, or when the code names a key the catalogue lacks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

CATALOGUE_DIR = Path(__file__).resolve().parent / "messages"
LANGUAGES = ("en", "zh")


class CatalogueError(ValueError):
    """A message file that is not a catalogue: a bug in the product, found by the tests."""


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """Every key of every file in ``messages/``, each with its English and Chinese."""
    merged: dict[str, dict[str, str]] = {}
    for path in sorted(CATALOGUE_DIR.glob("*.json")):
        entries = json.loads(path.read_text(encoding="utf-8"))
        for key, entry in entries.items():
            if key in merged:
                raise CatalogueError(f"{path.name}: the key {key!r} is in another file too")
            if not isinstance(entry, dict) or set(entry) != set(LANGUAGES):
                raise CatalogueError(f"{path.name}: {key!r} needs exactly the keys en and zh")
            merged[key] = entry
    return merged


@dataclass(frozen=True, eq=False)
class Said:
    """A message in both languages. Read as a string (``str()``, ``in``, ``==`` with a
    ``str``, ``startswith``) it is its English, which is what logs and the CLI show."""

    en: str
    zh: str

    def __str__(self) -> str:
        return self.en

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Said):
            return (self.en, self.zh) == (other.en, other.zh)
        return isinstance(other, str) and self.en == other

    def __hash__(self) -> int:
        return hash(self.en)

    def __contains__(self, part: str) -> bool:
        return part in self.en

    def __add__(self, other: Said | str) -> Said:
        o = as_said(other)
        return Said(self.en + o.en, self.zh + o.zh)

    def __radd__(self, other: str) -> Said:
        return as_said(other) + self

    def __bool__(self) -> bool:
        return bool(self.en)

    def join(self, parts: Iterable[Said | str]) -> Said:
        """``parts`` with this text between them, like ``str.join``."""
        items = [as_said(p) for p in parts]
        return Said(self.en.join(p.en for p in items), self.zh.join(p.zh for p in items))

    def startswith(self, prefix: str) -> bool:
        return self.en.startswith(prefix)


def as_said(text: Said | str) -> Said:
    """``text`` as a ``Said``: a plain string (a number, a name, the student's own output) is
    the same in both languages."""
    return text if isinstance(text, Said) else Said(text, text)


def english(text: Said | str) -> str:
    return text.en if isinstance(text, Said) else text


def chinese(text: Said | str) -> str:
    return text.zh if isinstance(text, Said) else text


def say(key: str, /, **values: Any) -> Said:
    """The catalogue's message ``key`` with ``values`` filled in, in both languages."""
    try:
        entry = catalogue()[key]
    except KeyError:
        raise CatalogueError(f"no message {key!r} in {CATALOGUE_DIR}") from None
    en = {k: v.en if isinstance(v, Said) else v for k, v in values.items()}
    zh = {k: v.zh if isinstance(v, Said) else v for k, v in values.items()}
    return Said(entry["en"].format(**en), entry["zh"].format(**zh))


SEP = Said("; ", "；")
SPACE = Said(" ", "")
