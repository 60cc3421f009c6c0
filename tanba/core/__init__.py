"""The core: settings, typed events, the bus, the stores, the prints, jurisdictions, the worker.

It imports no stage: ``crawlers``, ``fingerprint`` and ``matcher`` build on it, ``evidence``
and ``console`` on them, and the application (``tanba.app``) on everything.
"""
