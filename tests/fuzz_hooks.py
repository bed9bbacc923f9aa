"""Schemathesis hooks for tests/test_fuzz.py, loaded by the ``st`` process (``SCHEMATHESIS_HOOKS``).

WHIP, WHEP and the rooms' media endpoints take ``application/sdp``, which is text: without a
serializer Schemathesis would skip them as "serialization not possible" instead of sending them
what the document allows (any string), which they must refuse with a 4xx.
"""

from __future__ import annotations

import schemathesis

schemathesis.serializer.alias("application/sdp", "text/plain")
