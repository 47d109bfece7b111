"""Pages in English and Chinese: one message catalogue (``messages.json``) for templates and
scripts, and the reader's choice of language.

The language is, in order: ``?lang=en|zh`` on any page (remembered in the ``ag_lang``
cookie), the cookie, the browser's Accept-Language, else English. Messages are looked up
by key; ``{name}`` placeholders are filled with ``str.format``. Keys starting with ``js.``
are handed to the page's scripts too. A key missing in Chinese falls back to English; a
key missing altogether is a bug, and the catalogue test finds it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

CATALOGUE = Path(__file__).resolve().parent / "messages.json"
LANGUAGES: tuple[Language, ...] = ("en", "zh")
Language = Literal["en", "zh"]
LANG_COOKIE = "ag_lang"
LANG_PARAM = "lang"
COOKIE_SECONDS = 365 * 24 * 3600
LANGUAGE_NAMES = {"en": "English", "zh": "中文"}


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    return data


def message(lang: str, key: str, **values: Any) -> str:
    entry = catalogue()[key]
    text = entry.get(lang) or entry["en"]
    return text.format(**values) if values else text


def has_message(key: str) -> bool:
    return key in catalogue()


def translator(lang: str) -> Callable[..., str]:
    def t(key: str, **values: Any) -> str:
        return message(lang, key, **values)

    return t


def script_messages(lang: str) -> dict[str, str]:
    return {key[3:]: message(lang, key) for key in catalogue() if key.startswith("js.")}


def _valid(value: str | None) -> Language | None:
    return value if value in LANGUAGES else None


def language_of(request: Request) -> Language:
    chosen = _valid(request.query_params.get(LANG_PARAM)) or _valid(
        request.cookies.get(LANG_COOKIE)
    )
    if chosen:
        return chosen
    accept = request.headers.get("accept-language", "").lower()
    first = accept.split(",")[0].strip()
    return "zh" if first.startswith("zh") else "en"


def remember_choice(request: Request, response: Response) -> None:
    chosen = _valid(request.query_params.get(LANG_PARAM))
    if chosen and chosen != request.cookies.get(LANG_COOKIE):
        response.set_cookie(
            LANG_COOKIE, chosen, max_age=COOKIE_SECONDS, httponly=True, samesite="lax"
        )


def language_links(request: Request) -> list[dict[str, str]]:
    """This page in each language: its path and query, with ``lang`` replaced."""
    current = language_of(request)
    links = []
    for lang in LANGUAGES:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != LANG_PARAM]
        query.append((LANG_PARAM, lang))
        links.append(
            {
                "lang": lang,
                "name": LANGUAGE_NAMES[lang],
                "url": f"{request.url.path}?{urlencode(query)}",
                "current": "1" if lang == current else "",
            }
        )
    return links
