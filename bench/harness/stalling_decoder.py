"""The decoder child of the hostile-media worker test: interlaced PNGs never finish decoding.

Run as ``python -m bench.harness.stalling_decoder --memory-budget N`` by a
:class:`~tanba.fingerprint.sandbox.Sandbox` whose ``module`` names it. It is the real
child (:func:`tanba.fingerprint.sandbox_child.main`) but for Pillow's loading of an
Adam7-interlaced PNG, which waits forever instead of decoding.

Why: ``png-slow-decode`` (13,000² interlaced zeros) takes a few seconds to decode
on one machine and under the test's time limit on a faster one, so whether it
ran past the limit said more about the machine than about Tanba. What the test
holds Tanba to is what happens when a decode runs past the limit: the child is
killed, the file is quarantined with the reason, the next files are fingerprinted.
Here that decode runs past any limit by construction. ``python -m bench.reliability``
still decodes the real file and prints how long it took.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from PIL import ImageFile, PngImagePlugin

from tanba.fingerprint import sandbox_child

_load = ImageFile.ImageFile.load


def _load_or_stall(image: ImageFile.ImageFile) -> Any:
    if isinstance(image, PngImagePlugin.PngImageFile) and image.info.get("interlace"):
        threading.Event().wait()  # never set: a decoder stuck in a loop
    return _load(image)


ImageFile.ImageFile.load = _load_or_stall  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(sandbox_child.main())
