"""``Accept-Language`` in the simulator: titles in Spanish or Portuguese when a request asks.

Since 2026-08-27 Kalshi answers market data requests in Spanish or Portuguese when the request
carries ``Accept-Language: es`` or ``pt`` (https://docs.kalshi.com/changelog). Raw pages fetched
that way are not reproducible and their subtitles (``80° to 81°``) are no longer the English the
lake stores, so the client pins ``en``. The simulator translates the human-readable titles of every
object in a JSON answer (a small phrase table, enough to make every weather title differ), so a
test catches any request that lets another language through.
"""

from __future__ import annotations

import json
from typing import Any

from kalshi_lake.sim.wire import Reply, dumps

__all__ = ["LANGUAGES", "requested_language", "translate", "translated_reply"]

#: The languages Kalshi translates into; any other (or none, or ``en``) gets English.
LANGUAGES = ("es", "pt")

#: Fields of Series, EventData and Market objects that Kalshi translates.
_FIELDS = frozenset({"title", "subtitle", "sub_title", "yes_sub_title", "no_sub_title"})

_PHRASES: dict[str, tuple[tuple[str, str], ...]] = {
    "es": (
        ("Will the **high temp in ", "¿Será la **temperatura máxima en "),
        ("Will the **low temp in ", "¿Será la **temperatura mínima en "),
        ("Highest temperature", "Temperatura máxima"),
        ("Lowest temperature", "Temperatura mínima"),
        ("** be ", "** "),
        (" or above", " o más"),
        (" or below", " o menos"),
        (" to ", " a "),
        (" in ", " en "),
        (" on ", " el "),
        ("On ", "El "),
    ),
    "pt": (
        ("Will the **high temp in ", "A **temperatura máxima em "),
        ("Will the **low temp in ", "A **temperatura mínima em "),
        ("Highest temperature", "Temperatura máxima"),
        ("Lowest temperature", "Temperatura mínima"),
        ("** be ", "** será "),
        (" or above", " ou mais"),
        (" or below", " ou menos"),
        (" to ", " a "),
        (" in ", " em "),
        (" on ", " em "),
        ("On ", "Em "),
    ),
}


def requested_language(header: str | None) -> str | None:
    """The translation an ``Accept-Language`` header asks for (``es`` or ``pt``), or None for
    English: no header, ``en`` preferred, or only languages Kalshi does not translate into.

    Ranges are taken in order of their ``q`` weight (ties keep header order); the first one
    that is English or a translated language decides.
    """
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for i, item in enumerate(header.split(",")):
        tag, *params = (p.strip() for p in item.split(";"))
        q = 1.0
        for p in params:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        if tag and q > 0:
            ranked.append((-q, i, tag.split("-")[0].lower()))
    for _, _, lang in sorted(ranked):
        if lang == "en":
            return None
        if lang in LANGUAGES:
            return lang
    return None


def _text(s: str, lang: str) -> str:
    for en, other in _PHRASES[lang]:
        s = s.replace(en, other)
    return s


def translate(obj: Any, lang: str) -> Any:
    """A copy of the JSON value ``obj`` with every title field translated into ``lang``."""
    if isinstance(obj, dict):
        return {
            k: _text(v, lang) if k in _FIELDS and isinstance(v, str) else translate(v, lang)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [translate(v, lang) for v in obj]
    return obj


def translated_reply(reply: Reply, lang: str) -> Reply:
    """``reply`` with its titles in ``lang`` (answers without titles are returned as they are)."""
    if reply.status != 200 or b'title"' not in reply.body:
        return reply
    body = dumps(translate(json.loads(reply.body), lang))
    return Reply(reply.status, body, reply.endpoint, reply.content_type)
