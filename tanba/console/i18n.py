"""Message catalogues: Russian and English in full, Kazakh where translations are given.

One JSON file per language under ``tanba/console/translations`` maps message keys
to text with ``{name}`` placeholders. A key missing in Kazakh falls back to
Russian (the second language of most Kazakh users), then English; a key
missing everywhere shows as itself, so a gap is visible rather than silent.
Catalogue text is trusted (ours); values put into it are escaped by Jinja2
like any other text.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from tanba.console.users import DEFAULT_LANGUAGE, LANGUAGES

FALLBACKS: dict[str, tuple[str, ...]] = {
    "ru": ("ru", "en"),
    "en": ("en",),
    "kk": ("kk", "ru", "en"),
}
LANGUAGE_NAMES = {"ru": "Русский", "en": "English", "kk": "Қазақша"}


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The messages of one language as shipped (read once per process)."""
    text = (
        resources.files("tanba.console").joinpath("translations", f"{lang}.json").read_text("utf-8")
    )
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"translations/{lang}.json must be an object of key: text")
    return {str(k): str(v) for k, v in data.items()}


class Translator:
    """Looks up messages for one language, with fallbacks; ``t(key, **values)``."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self._chain = [catalogue(code) for code in FALLBACKS[self.lang]]

    def __call__(self, key: str, **values: object) -> str:
        for messages in self._chain:
            text = messages.get(key)
            if text is not None:
                return text.format(**values) if values else text
        return key

    def has(self, key: str) -> bool:
        return any(key in m for m in self._chain)


def pick_language(*candidates: str | None, accept: str = "") -> str:
    """The first supported language among ``candidates``, then the Accept-Language header."""
    for c in candidates:
        if c and c in LANGUAGES:
            return c
    for part in accept.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE
