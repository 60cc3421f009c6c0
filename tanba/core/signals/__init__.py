"""What a print of each medium is: its schema, its stable ids, how it is decoded and compared.

A signal type (the shape of Meta's ThreatExchange ``SignalType``) is one medium's
print, how two prints are compared, and the index that finds the registered
works a print matches. Tanba keeps each part in the layer that needs it, so no
stage reaches into another:

- here, in the core, the print itself: the pydantic model carried by events,
  its algorithm ids, and the pure-numpy decoding and comparison that both the
  stages need (:mod:`tanba.core.signals.image`, :mod:`tanba.core.signals.audio`);
- in ``tanba/fingerprint/``, the hasher that turns a file into that print (one entry of
  ``tanba.fingerprint.compute.HASHERS``, computed in the decoder sandbox);
- in ``tanba/matcher/``, the signal index that holds registered prints and decides
  matches (``tanba.matcher.signal.SignalIndex``, one implementation per medium).

Adding a medium (video) adds a module in each of the three places and a field
to :class:`tanba.core.schemas.common.Fingerprint`, not a branch in existing code.
"""
