"""The alerts tests write straight into a store: :mod:`tanba.app.demo.alerts`, where benches
may import them too (a bench must not import the tests)."""

from tanba.app.demo.alerts import MATCHES, make_alert, with_page_capture

__all__ = ["MATCHES", "make_alert", "with_page_capture"]
