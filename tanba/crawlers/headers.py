"""HTTP header values as text, the one way the crawler reads them.

Contract: :func:`header_text` decodes a header name or value as ISO-8859-1
(what HTTP header bytes are by definition, so it never fails);
:func:`first_header` is a response's first value of a header, or "".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapy.http import Response


def header_text(value: bytes | str) -> str:
    """``value`` as text (ISO-8859-1 for bytes)."""
    return value.decode("latin-1") if isinstance(value, bytes) else value


def first_header(response: Response, name: bytes) -> str:
    """The first value of header ``name`` in ``response``, or "" when it has none."""
    value = response.headers.get(name)
    return header_text(value) if value else ""
