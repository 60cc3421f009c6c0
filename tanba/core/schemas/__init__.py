"""Typed, versioned events: one module per topic, plus the envelope in :mod:`.base`.

Workers decode bus messages only through :func:`tanba.core.schemas.base.decode`, never
by reading raw dicts, so a malformed message fails in one place with one error.
"""
