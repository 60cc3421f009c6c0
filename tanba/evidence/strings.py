"""The words of evidence documents (report, notices' fill-ins, pictures) in Russian, English and Kazakh.

Contract: one JSON catalogue per language in ``tanba/evidence/translations`` maps a key
to a phrase with ``{name}`` placeholders; every catalogue holds every key (a
test checks it), so a document in one language never borrows another's words.
:func:`text` returns the phrase for ``key`` in ``lang`` formatted with
``values``; a key missing everywhere is a KeyError, so a typo fails the export
instead of printing the key. :func:`localized` picks a name from a mapping of
names by language (a registry's state or authority names), falling back from
Kazakh to Russian, the second language of most Kazakh readers, then to English.
Adding a language is adding a catalogue here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources

LANGUAGES = ("en", "ru", "kk")
DEFAULT_LANGUAGE = "ru"
FALLBACK = {"kk": ("kk", "ru", "en"), "ru": ("ru", "en"), "en": ("en",)}


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The phrases of one language as shipped (read once per process)."""
    if lang not in LANGUAGES:
        raise KeyError(f"no evidence catalogue for language {lang!r}; use one of {LANGUAGES}")
    raw = (
        resources.files("tanba.evidence")
        .joinpath("translations", f"{lang}.json")
        .read_text("utf-8")
    )
    data = json.loads(raw)
    return {str(k): str(v) for k, v in data.items()}


def has(lang: str, key: str) -> bool:
    """Whether the catalogue of ``lang`` holds ``key``."""
    return key in catalogue(lang)


def text(lang: str, key: str, **values: object) -> str:
    """The phrase ``key`` in ``lang``, formatted with ``values``."""
    phrase = catalogue(lang).get(key)
    if phrase is None:
        raise KeyError(f"no phrase {key!r} in tanba/evidence/translations/{lang}.json")
    return phrase.format(**values) if values else phrase


def localized(names: Mapping[str, str], lang: str) -> str:
    """The name in ``lang``, else in its fallback languages; "" when there is none."""
    for candidate in FALLBACK.get(lang, ("en",)):
        if names.get(candidate):
            return names[candidate]
    return ""
