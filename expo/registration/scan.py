"""Reading a badge's QR code from a camera frame that the check-in desk sends.

Browsers without ``BarcodeDetector`` (Chromium on Linux, Firefox) post downscaled frames; the
server decodes them with zxing-cpp, a maintained decoder that works offline. A frame is refused
before decoding when it is not a PNG, JPEG or WebP image or has more pixels than any camera frame
needs; a frame without a QR code is no error, just nothing found.
"""

from __future__ import annotations

import io
import warnings

import zxingcpp
from PIL import Image, UnidentifiedImageError

from expo.errors import N_, Invalid

MAX_FRAME_BYTES = 2 * 1024 * 1024
MAX_FRAME_PIXELS = 4096 * 4096
FORMATS = {"PNG", "JPEG", "WEBP"}
MEDIA_TYPES = ("image/png", "image/jpeg", "image/webp")


def _not_an_image() -> Invalid:
    return Invalid(N_("This is not a camera picture (PNG, JPEG or WebP)."), code="checkin.not_an_image")


def read_qr(data: bytes) -> str | None:
    """The text of the first QR code in the picture ``data``, or ``None`` when it shows none.

    :class:`Invalid` (``checkin.not_an_image``) for anything that is not a picture of a sane size.
    Blocking (decoding takes a few milliseconds a frame): call it from a worker thread.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in FORMATS or image.width * image.height > MAX_FRAME_PIXELS:
                raise _not_an_image()
            grey = image.convert("L")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, Warning):
        raise _not_an_image() from None
    found = zxingcpp.read_barcodes(grey, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    for barcode in found:
        if barcode.valid and barcode.text:
            return str(barcode.text)
    return None
