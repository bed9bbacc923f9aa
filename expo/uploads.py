"""Uploads: received as a stream, checked from their bytes, images re-encoded, stored by content hash.

An upload form (the booth editor's, an expo's banner) is read here rather than by Starlette's
form parser, which would spool any size to a temporary file first: the body is parsed as it
arrives, its file part written to disk with aiofiles, and the request refused (413) as soon as it
passes ``upload_max_bytes``, whether or not it declared a ``Content-Length``.

What a file is comes from its first bytes (PNG, JPEG, WebP, GIF, PDF, MP4, WebM), never from its
name or declared type: an HTML page called ``logo.png`` is refused. Images are decoded by Pillow
under a pixel budget (a small file that decodes to gigapixels is refused, not expanded) and
written again from their pixels alone, which drops EXIF, GPS positions, ICC profiles and anything
smuggled after the image data; a thumbnail is made beside them.

Files are stored as ``<data_dir>/uploads/<first two hex digits>/<sha256>.<ext>``: the uploader's
file name is only ever display text, so no name can reach a path, and one file uploaded twice is
stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import io
import os
import re
import secrets
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import aiofiles
import aiofiles.os
from PIL import Image, ImageOps
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from expo.config import Settings
from expo.errors import N_, BadRequest, Invalid, NotFound, TooLarge, UnsupportedMediaType
from expo.http.inputs import refuse_control_in_fields
from expo.security import CSRF_FIELD, verify_csrf

# Pillow's own guard (a warning past this many pixels, an error past twice as many) stays on for
# every decode in the process; uploads are held to the stricter MAX_PIXELS below as well.
Image.MAX_IMAGE_PIXELS = 64_000_000
MAX_PIXELS = 40_000_000  # 40 megapixels: any real photo or banner, never a decompression bomb
THUMB_SIZE = (480, 480)
FORM_OVERHEAD = 64 * 1024  # room for the form's text fields and part headers beside the file
MAX_FIELDS = 20
MAX_FIELD_BYTES = 8 * 1024
NAME = re.compile(r"^([0-9a-f]{64})(-thumb)?\.(png|jpg|webp|pdf|mp4|webm)$")
CONTENT_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "pdf": "application/pdf",
    "mp4": "video/mp4",
    "webm": "video/webm",
}
# ISO base media files that are pictures, not videos (AVIF, HEIF): refused as videos.
_IMAGE_BRANDS = {b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis"}


class MediaKind(enum.StrEnum):
    """What a stored upload is: a picture, a PDF brochure, a short video."""

    IMAGE = "image"
    BROCHURE = "brochure"
    VIDEO = "video"


@dataclass(frozen=True)
class FileType:
    """What the bytes are: the stored extension, the served type, the media kind."""

    ext: str
    kind: MediaKind
    pillow_format: str | None = None  # set for images

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.ext]


def sniff(head: bytes) -> FileType | None:
    """The type of a file from its first bytes (at least 64 of them when the file has that many)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileType("png", MediaKind.IMAGE, "PNG")
    if head.startswith(b"\xff\xd8\xff"):
        return FileType("jpg", MediaKind.IMAGE, "JPEG")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileType("webp", MediaKind.IMAGE, "WEBP")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return FileType("png", MediaKind.IMAGE, "GIF")  # stored as its first frame, in PNG
    if head.startswith(b"%PDF-"):
        return FileType("pdf", MediaKind.BROCHURE)
    if head[4:8] == b"ftyp" and head[8:12] not in _IMAGE_BRANDS:
        return FileType("mp4", MediaKind.VIDEO)
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head[:64]:
        return FileType("webm", MediaKind.VIDEO)
    return None


@dataclass
class Received:
    """An upload form: its text fields and its one file, spooled to ``path`` (deleted by
    :meth:`discard` or moved away by :func:`store`)."""

    fields: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    filename: str = ""
    size: int = 0

    async def discard(self) -> None:
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                await aiofiles.os.remove(self.path)
            self.path = None


@dataclass(frozen=True)
class Stored:
    """A file in the uploads directory, named by its content."""

    name: str
    thumb_name: str | None
    content_type: str
    kind: MediaKind
    size: int


def uploads_dir(settings: Settings) -> Path:
    return settings.data_path / "uploads"


def media_path(settings: Settings, name: str) -> Path:
    """Where the stored file ``name`` is; :class:`NotFound` for anything that is not a stored name."""
    match = NAME.match(name)
    if match is None:
        raise NotFound(N_("There is nothing at this address."), code="media.unknown")
    path = uploads_dir(settings) / match.group(1)[:2] / name
    if not path.is_file():
        raise NotFound(N_("There is nothing at this address."), code="media.unknown")
    return path


def _too_large(limit: int) -> TooLarge:
    return TooLarge(N_("The file is too large for an upload."), code="upload.too_large", limit=limit)


class _FormReader:
    """Feeds a multipart body to python-multipart, collecting text fields and the file's bytes."""

    def __init__(self, boundary: bytes, limit: int) -> None:
        self.limit = limit
        self.received = Received()
        self.pending: list[bytes] = []  # file bytes parsed but not yet written
        self._headers: dict[bytes, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        self._name = ""
        self._is_file = False
        self._file_seen = False
        self._value = bytearray()
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field_data,
                "on_header_value": self._header_value_data,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )

    def _part_begin(self) -> None:
        self._headers, self._value = {}, bytearray()

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        self._is_file = b"filename" in options
        if self._is_file:
            if self._file_seen:
                raise BadRequest(N_("Send one file at a time."), code="upload.one_file")
            self._file_seen = True
            self.received.filename = options[b"filename"].decode("utf-8", "replace")[-200:]

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.received.size += end - start
            if self.received.size > self.limit:
                raise _too_large(self.limit)
            self.pending.append(data[start:end])
        else:
            self._value += data[start:end]
            if len(self._value) > MAX_FIELD_BYTES:
                raise TooLarge(N_("A form field is too long."), code="upload.field_too_long")

    def _part_end(self) -> None:
        if not self._is_file:
            if len(self.received.fields) >= MAX_FIELDS:
                raise BadRequest(N_("The form has too many fields."), code="upload.too_many_fields")
            self.received.fields[self._name] = self._value.decode("utf-8", "replace")


async def receive(request: Request, settings: Settings, secret: str) -> Received:
    """Read an upload form (``multipart/form-data``, one file), CSRF-checked, the file on disk.

    Refused before reading when the declared length is over the limit, and as soon as the file
    passes it otherwise; nothing is left on disk when anything is refused.
    """
    limit = settings.upload_max_bytes
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UnsupportedMediaType(N_("Submit this form from its page."), code="upload.not_multipart")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit + FORM_OVERHEAD):
        raise _too_large(limit)
    spool = uploads_dir(settings) / "incoming"
    await aiofiles.os.makedirs(spool, exist_ok=True)
    reader = _FormReader(boundary, limit)
    path = spool / secrets.token_hex(16)
    reader.received.path = path
    try:
        async with aiofiles.open(path, "wb") as out:
            body = 0
            async for chunk in request.stream():
                body += len(chunk)
                if body > limit + FORM_OVERHEAD:
                    raise _too_large(limit)
                reader.parser.write(chunk)
                for piece in reader.pending:
                    await out.write(piece)
                reader.pending.clear()
            reader.parser.finalize()
        verify_csrf(request, secret, reader.received.fields.get(CSRF_FIELD))
        # The same rule as every other text input; a file's name becomes a media title.
        refuse_control_in_fields(
            [*reader.received.fields.items(), ("filename", reader.received.filename)], "form"
        )
        if not reader.received.filename or reader.received.size == 0:
            raise Invalid(N_("Choose a file to upload."), code="upload.empty")
    except Exception:
        await reader.received.discard()
        raise
    return reader.received


def _reencode(path: Path, kind: FileType) -> tuple[bytes, bytes]:
    """The image at ``path`` written again from its pixels only, and a thumbnail of it."""
    try:
        with warnings.catch_warnings():
            # Past MAX_IMAGE_PIXELS Pillow only warns; make that a refusal too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=[kind.pillow_format or ""]) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise Invalid(N_("The image is too large to decode."), code="upload.too_many_pixels")
                image.seek(0)
                upright = ImageOps.exif_transpose(image)
                transparent = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
                mode = "RGBA" if transparent and kind.ext != "jpg" else "RGB"
                pixels = upright.convert(mode)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Invalid(N_("The image is too large to decode."), code="upload.too_many_pixels") from None
    except (OSError, SyntaxError, ValueError) as exc:  # what Pillow raises for truncated or bogus data
        raise Invalid(N_("The image cannot be read."), code="upload.bad_image", reason=str(exc)) from None
    # A fresh image from the raw pixels carries no metadata at all.
    clean = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    thumb = clean.copy()
    thumb.thumbnail(THUMB_SIZE)
    return _encode(clean, kind.ext), _encode(thumb, kind.ext)


def _encode(image: Image.Image, ext: str) -> bytes:
    out = io.BytesIO()
    if ext == "jpg":
        image.save(out, "JPEG", quality=85, optimize=True)
    elif ext == "webp":
        image.save(out, "WEBP", quality=85)
    else:
        image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + f".{secrets.token_hex(4)}.part")
    partial.write_bytes(data)
    os.replace(partial, target)  # readers see the whole file or none


def _store_sync(settings: Settings, source: Path) -> Stored:
    with source.open("rb") as f:
        head = f.read(64)
    kind = sniff(head)
    if kind is None:
        raise UnsupportedMediaType(
            N_("Upload PNG, JPEG, WebP or GIF images, PDF brochures, or MP4 or WebM videos."),
            code="upload.unsupported_type",
        )
    root = uploads_dir(settings)
    if kind.kind is MediaKind.IMAGE:
        full, thumb = _reencode(source, kind)
        digest = hashlib.sha256(full).hexdigest()
        name, thumb_name = f"{digest}.{kind.ext}", f"{digest}-thumb.{kind.ext}"
        _write(root / digest[:2] / name, full)
        _write(root / digest[:2] / thumb_name, thumb)
        source.unlink(missing_ok=True)
        return Stored(name, thumb_name, kind.content_type, kind.kind, len(full))
    sha = hashlib.sha256()
    with source.open("rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    digest = sha.hexdigest()
    name = f"{digest}.{kind.ext}"
    target = root / digest[:2] / name
    target.parent.mkdir(parents=True, exist_ok=True)
    size = source.stat().st_size
    os.replace(source, target)
    return Stored(name, None, kind.content_type, kind.kind, size)


async def store(settings: Settings, received: Received) -> Stored:
    """Check the received file's type from its bytes, re-encode images, and file it by hash.

    Decoding and hashing run in a worker thread: a 20 MiB image must not stall the event loop.
    """
    assert received.path is not None
    try:
        return await asyncio.to_thread(_store_sync, settings, received.path)
    finally:
        await received.discard()
