"""Uploads from the booth editor: streamed under the size limit, typed by their bytes, images
re-encoded without metadata, stored by hash, served with the right headers; bad files refused."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlmodel import select
from starlette.applications import Starlette
from starlette.requests import Request

from booths import media
from booths.models import Booth, BoothMedia
from expo import uploads
from expo.accounts.models import User
from expo.config import Settings
from expo.errors import ExpoError, NotFound
from expo.security import CSRF_COOKIE, csrf_token
from expo.uploads import MediaKind, Stored, media_path, sniff
from tests.booths.web import add_owner, browser, csrf_of, floor_of, make_account, post_form
from tests.conftest import make_settings

LIMIT = 300_000


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, upload_max_bytes=LIMIT)


def png(size: tuple[int, int] = (640, 480), *, text: str | None = None) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    out = io.BytesIO()
    if text is None:
        image.save(out, "PNG")
    else:
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_text("Comment", text)
        image.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (320, 240), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}  # GPS position
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def handmade_png(width: int, height: int) -> bytes:
    """A valid PNG header claiming ``width`` x ``height`` pixels, with a tiny compressed body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )


def uploads_root(app: Starlette) -> Path:
    return Path(app.state.platform.settings.data_dir) / "uploads"


def stored_files(app: Starlette) -> list[Path]:
    root = uploads_root(app)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def setup(app: Starlette) -> Booth:
    floor = await floor_of(app)
    booth = floor.booths["Lumen Works"]
    owner = await make_account(app, "owner@example.com", "exhibitor")
    await add_owner(app, booth, owner)
    return booth


async def upload(
    client: httpx.AsyncClient, booth: Booth, name: str, data: bytes, ctype: str = "image/png", **fields: str
) -> httpx.Response:
    page = f"/booths/{booth.id}/edit"
    return await post_form(
        client,
        page,
        f"/booths/{booth.id}/upload",
        {"slot": "media", **fields},
        files={"file": (name, data, ctype)},
    )


async def test_sniffing_uses_bytes_not_names() -> None:
    assert sniff(png()[:64]) is not None and sniff(png()[:64]).kind is MediaKind.IMAGE  # type: ignore[union-attr]
    assert sniff(b"%PDF-1.7\n")
    assert sniff(b"\x00\x00\x00\x18ftypisom" + b"\0" * 20).ext == "mp4"  # type: ignore[union-attr]
    assert sniff(b"\x00\x00\x00\x18ftypavif" + b"\0" * 20) is None  # an AVIF picture is no video
    assert sniff(b"<!doctype html><script>alert(1)</script>") is None


async def test_a_logo_is_reencoded_stored_by_hash_and_served_for_good(app: Starlette) -> None:
    booth = await setup(app)
    async with browser(app, "owner@example.com") as ex:
        response = await upload(ex, booth, "logo.png", png(text="secret comment"), slot="logo")
        assert response.status_code == 303, response.text
        async with app.state.platform.db.session() as session:
            logo = (await session.get(Booth, booth.id)).logo_path
        assert logo is not None and logo.endswith(".png") and len(logo) == 64 + 4
        path = uploads_root(app) / logo[:2] / logo
        assert path.is_file() and b"secret comment" not in path.read_bytes()
        served = await ex.get(f"/media/{logo}")
        assert served.status_code == 200 and served.content == path.read_bytes()
        assert served.headers["content-type"] == "image/png"
        assert served.headers["x-content-type-options"] == "nosniff"
        assert (
            "immutable" in served.headers["cache-control"]
            and "max-age=31536000" in served.headers["cache-control"]
        )
        thumb = await ex.get(f"/media/{logo.replace('.png', '-thumb.png')}")
        assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.content)).size == (480, 360)
        page = await ex.get(f"/expos/fair/booths/{booth.id}")
        assert f'src="/media/{logo.replace(".png", "-thumb.png")}"' in page.text

        # The editor asks before taking it off the booth page, then does.
        editor = await ex.get(f"/booths/{booth.id}/edit")
        assert f'action="/booths/{booth.id}/logo/remove" data-confirm=' in editor.text
        removed = await post_form(ex, f"/booths/{booth.id}/edit", f"/booths/{booth.id}/logo/remove")
        assert removed.status_code == 303
        async with app.state.platform.db.session() as session:
            assert (await session.get(Booth, booth.id)).logo_path is None  # type: ignore[union-attr]
        page = await ex.get(f"/expos/fair/booths/{booth.id}")
        assert logo.replace(".png", "-thumb.png") not in page.text


def transparent_png(mode: str) -> bytes:
    """A 64x64 image whose top-left pixel is fully transparent, in ``mode``."""
    out = io.BytesIO()
    if mode == "P":
        image = Image.new("P", (64, 64), 1)
        image.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
        image.putpixel((0, 0), 0)
        image.save(out, "PNG", transparency=0)
    else:
        image = Image.new(mode, (64, 64), (200, 255) if mode == "LA" else (200, 30, 30, 255))
        image.putpixel((0, 0), (0, 0) if mode == "LA" else (0, 0, 0, 0))
        image.save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
async def test_a_transparent_logo_stays_transparent(app: Starlette, mode: str) -> None:
    booth = await setup(app)
    async with browser(app, "owner@example.com") as ex:
        response = await upload(ex, booth, "logo.png", transparent_png(mode), slot="logo")
        assert response.status_code == 303, response.text
        async with app.state.platform.db.session() as session:
            logo = (await session.get(Booth, booth.id)).logo_path
        served = Image.open(io.BytesIO((await ex.get(f"/media/{logo}")).content))
    assert served.convert("RGBA").getpixel((0, 0))[3] == 0  # no black or white box around it
    assert served.convert("RGBA").getpixel((32, 32))[3] == 255


def picture(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(out, fmt)
    return out.getvalue()


WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm" + b"\0" * 200


@pytest.mark.parametrize(
    ("name", "make", "ext", "kind"),
    [
        ("photo.webp", lambda: picture("WEBP"), "webp", "image"),
        ("anim.gif", lambda: picture("GIF"), "png", "image"),  # shown as its first frame
        ("clip.webm", lambda: WEBM, "webm", "video"),
    ],
)
async def test_webp_gif_and_webm_are_recognised_by_their_bytes(
    app: Starlette, name: str, make: Any, ext: str, kind: str
) -> None:
    booth = await setup(app)
    async with browser(app, "owner@example.com") as ex:
        response = await upload(ex, booth, name, make(), "application/octet-stream")
        assert response.status_code == 303, response.text
        async with app.state.platform.db.session() as session:
            item = (await session.exec(select(BoothMedia))).one()
        assert (item.name.rsplit(".", 1)[1], item.kind) == (ext, kind)
        served = await ex.get(f"/media/{item.name}")
        assert served.status_code == 200 and served.headers["content-type"] == item.content_type
        if kind == "image":
            assert Image.open(io.BytesIO(served.content)).size == (64, 48)


def multipart(token: str, fields: list[tuple[bytes, bytes]], image: bytes) -> bytes:
    parts = [(b"csrf_token", token.encode()), *fields]
    body = b"".join(
        b'--b\r\nContent-Disposition: form-data; name="' + name + b'"\r\n\r\n' + value + b"\r\n"
        for name, value in parts
    )
    file_head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="p.png"\r\n'
    return body + file_head + b"Content-Type: image/png\r\n\r\n" + image + b"\r\n--b--\r\n"


async def test_odd_form_fields_are_answered_as_client_mistakes(app: Starlette) -> None:
    booth = await setup(app)
    async with browser(app, "owner@example.com") as ex:
        token = csrf_of((await ex.get(f"/booths/{booth.id}/edit")).text)

        async def send(fields: list[tuple[bytes, bytes]]) -> httpx.Response:
            return await ex.post(
                f"/booths/{booth.id}/upload",
                content=multipart(token, fields, png()),
                headers={"Content-Type": "multipart/form-data; boundary=b"},
            )

        # Bytes that are not UTF-8, in a field's name or value: read with replacement characters.
        odd = await send([(b"slot", b"media"), (b"ti\xfftle", b"x"), (b"title", b"Caf\xe9 \xff")])
        assert odd.status_code == 303, odd.text
        async with app.state.platform.db.session() as session:
            assert (await session.exec(select(BoothMedia))).one().title == "Caf\ufffd \ufffd"
        too_long = await send([(b"slot", b"media"), (b"title", b"x" * 9000)])
        assert too_long.status_code == 413 and "A form field is too long." in too_long.text
        many = await send([(f"f{i}".encode(), b"x") for i in range(30)])
        assert many.status_code == 400 and "The form has too many fields." in many.text


async def test_a_truncated_image_is_refused_as_unreadable(app: Starlette) -> None:
    booth = await setup(app)
    async with browser(app, "owner@example.com") as ex:
        response = await upload(ex, booth, "photo.png", png()[:200])
        assert response.status_code == 422
        assert "The image cannot be read." in response.text
    assert stored_files(app) == []


def test_an_unknown_media_name_is_not_found(settings: Settings) -> None:
    for name in ("a" * 64 + ".png", "../secret_key", "secret_key"):
        with pytest.raises(NotFound) as caught:
            media_path(settings, name)
        assert caught.value.code == "media.unknown"
        assert caught.value.message == "There is nothing at this address."


async def test_photo_metadata_is_stripped(app: Starlette) -> None:
    booth = await setup(app)
    original = jpeg_with_gps()
    assert b"SecretCam" in original
    async with browser(app, "owner@example.com") as ex:
        assert (await upload(ex, booth, "photo.jpg", original, "image/jpeg")).status_code == 303
    async with app.state.platform.db.session() as session:
        item = (await session.exec(select(BoothMedia))).one()
    stored = (uploads_root(app) / item.name[:2] / item.name).read_bytes()
    assert item.content_type == "image/jpeg" and item.title == "photo.jpg"
    assert b"SecretCam" not in stored and not Image.open(io.BytesIO(stored)).getexif()


async def test_too_large_uploads_are_refused_with_and_without_a_length(app: Starlette) -> None:
    booth = await setup(app)
    big = png() + b"\0" * (LIMIT + 10)
    async with browser(app, "owner@example.com") as ex:
        declared = await upload(ex, booth, "big.png", big)
        assert declared.status_code == 413
        assert "The file is too large for an upload." in declared.text

        # Chunked, no Content-Length: refused while streaming, long before the whole body is sent.
        token = csrf_of((await ex.get(f"/booths/{booth.id}/edit")).text)
        sent = 0

        async def body() -> AsyncIterator[bytes]:
            nonlocal sent
            head = (
                f'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
                '--b\r\nContent-Disposition: form-data; name="file"; filename="huge.png"\r\n'
                "Content-Type: image/png\r\n\r\n"
            ).encode()
            yield head + png()
            for _ in range(2000):  # up to 128 MiB, if the server kept reading
                sent += 65536
                yield b"\0" * 65536

        streamed = await ex.post(
            f"/booths/{booth.id}/upload",
            content=body(),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert streamed.status_code == 413
        assert "content-length" not in {k.lower() for k in streamed.request.headers}
        assert sent < 2 * LIMIT
    assert stored_files(app) == []  # nothing half-written, not even in the spool
    async with app.state.platform.db.session() as session:
        assert (await session.exec(select(BoothMedia))).all() == []


async def test_an_html_file_named_png_is_refused(app: Starlette) -> None:
    booth = await setup(app)
    async with browser(app, "owner@example.com") as ex:
        html = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
        response = await upload(ex, booth, "logo.png", html, "image/png", slot="logo")
        assert response.status_code == 415
        assert "Upload PNG, JPEG, WebP or GIF images" in response.text
    assert stored_files(app) == []


@pytest.mark.parametrize(("name", "title"), [("logo.png", "Spring\u0000line"), ("lo\u001bgo.png", "")])
async def test_control_characters_in_upload_fields_are_refused(app: Starlette, name: str, title: str) -> None:
    booth = await setup(app)
    async with browser(app, "owner@example.com") as ex:
        response = await upload(ex, booth, name, png(), title=title)
        assert response.status_code == 422
        assert "control characters" in response.text
    assert stored_files(app) == []
    async with app.state.platform.db.session() as session:
        assert (await session.exec(select(BoothMedia))).all() == []


@pytest.mark.parametrize("which", ["pillow", "header"])
async def test_decompression_bombs_are_refused(app: Starlette, which: str) -> None:
    if which == "pillow":
        out = io.BytesIO()
        Image.new("1", (9000, 9000)).save(out, "PNG", optimize=True)  # 81 megapixels of nothing
        bomb = out.getvalue()
    else:
        bomb = handmade_png(200_000, 200_000)  # 40 gigapixels claimed in a few hundred bytes
    assert len(bomb) < LIMIT
    booth = await setup(app)
    async with browser(app, "owner@example.com") as ex:
        response = await upload(ex, booth, "bomb.png", bomb)
        assert response.status_code == 422
        assert "The image is too large to decode." in response.text
    assert stored_files(app) == []


async def test_names_never_become_paths(app: Starlette) -> None:
    booth = await setup(app)
    async with browser(app, "owner@example.com") as ex:
        response = await upload(ex, booth, "../../../secret_key.png", png())
        assert response.status_code == 303
        for probe in (
            "/media/..%2Fsecret_key",
            "/media/%2E%2E%2F%2E%2E%2Fsecret_key",
            "/media/secret_key",
            "/media/" + "a" * 64 + ".png",
            "/media/" + "A" * 64 + ".png",
        ):
            assert (await ex.get(probe)).status_code == 404, probe
    data_dir = Path(app.state.platform.settings.data_dir)
    assert not (data_dir / "secret_key.png").exists() and not (data_dir.parent / "secret_key.png").exists()
    async with app.state.platform.db.session() as session:
        item = (await session.exec(select(BoothMedia))).one()
    assert item.title == "../../../secret_key.png"  # shown as text only
    assert all(p.is_relative_to(uploads_root(app)) for p in stored_files(app))


async def test_brochures_and_videos_are_served_with_their_types(app: Starlette) -> None:
    booth = await setup(app)
    pdf = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
    mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\0" * 100
    async with browser(app, "owner@example.com") as ex:
        assert (
            await upload(ex, booth, "brochure.pdf", pdf, "application/pdf", title="Catalogue")
        ).status_code == 303
        assert (await upload(ex, booth, "clip.mp4", mp4, "video/mp4")).status_code == 303
        page = await ex.get(f"/expos/fair/booths/{booth.id}")
        async with app.state.platform.db.session() as session:
            items = {m.kind: m for m in (await session.exec(select(BoothMedia))).all()}
        assert (
            "Catalogue" in page.text
            and f'<video controls preload="metadata" src="/media/{items["video"].name}"' in page.text
        )
        brochure = await ex.get(f"/media/{items['brochure'].name}")
        assert brochure.headers["content-type"] == "application/pdf"
        assert brochure.headers["content-disposition"].startswith("attachment")
        video = await ex.get(f"/media/{items['video'].name}")
        assert video.headers["content-type"] == "video/mp4" and video.content == mp4
        # A brochure is not an image: refused as a logo, nothing changed.
        refused = await upload(ex, booth, "logo.pdf", pdf, "application/pdf", slot="logo")
        assert refused.status_code == 422
    async with app.state.platform.db.session() as session:
        assert (await session.get(Booth, booth.id)).logo_path is None


async def test_product_images_show_on_the_product_page(app: Starlette) -> None:
    booth = await setup(app)
    async with app.state.platform.db.session() as session:
        from booths.models import Product

        product = (await session.exec(select(Product).where(Product.booth_id == booth.id))).first()
    assert product is not None
    async with browser(app, "owner@example.com") as ex:
        page = f"/booths/{booth.id}/products/{product.id}"
        response = await post_form(
            ex,
            page,
            f"/booths/{booth.id}/upload",
            {"slot": "product", "product_id": str(product.id)},
            files={"file": ("lamp.webp", png(), "image/webp")},  # the declared type is ignored
        )
        assert response.status_code == 303 and response.headers["location"] == page
        shown = await ex.get(f"/expos/fair/products/{product.id}")
        assert 'class="product-image" src="/media/' in shown.text
        floor_page = await ex.get(f"/expos/fair/booths/{booth.id}")
        assert "-thumb.png" in floor_page.text


async def test_a_brochure_or_a_video_is_refused_as_a_product_picture(app: Starlette) -> None:
    booth = await setup(app)
    async with app.state.platform.db.session() as session:
        from booths.models import Product

        product = (await session.exec(select(Product).where(Product.booth_id == booth.id))).first()
    assert product is not None
    pdf = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
    mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\0" * 100
    async with browser(app, "owner@example.com") as ex:
        page = f"/booths/{booth.id}/products/{product.id}"
        for name, data, ctype in [("sheet.pdf", pdf, "application/pdf"), ("clip.mp4", mp4, "video/mp4")]:
            refused = await post_form(
                ex,
                page,
                f"/booths/{booth.id}/upload",
                {"slot": "product", "product_id": str(product.id)},
                files={"file": (name, data, ctype)},
            )
            assert refused.status_code == 422, name
            assert "Products show images only." in refused.text
        shown = await ex.get(f"/expos/fair/products/{product.id}")
        assert 'class="product-image"' not in shown.text
    async with app.state.platform.db.session() as session:
        assert (await session.exec(select(BoothMedia))).all() == []


async def test_strangers_cannot_upload_to_a_booth(app: Starlette) -> None:
    booth = await setup(app)
    await make_account(app, "other@example.com", "exhibitor")
    async with browser(app, "other@example.com") as other:
        token = csrf_of((await other.get("/my/booths")).text)
        response = await other.post(
            f"/booths/{booth.id}/upload",
            data={"csrf_token": token, "slot": "logo"},
            files={"file": ("logo.png", png(), "image/png")},
        )
        assert response.status_code == 403
    assert stored_files(app) == []


def form_request(
    body: bytes, content_type: str = "multipart/form-data; boundary=b", *, declared: bool = True
) -> Request:
    """A form post as a page's upload route receives it: ``body`` in 64 KiB chunks, with its
    ``Content-Length`` when ``declared``, and the CSRF cookie that :data:`CSRF_TOKEN` signs."""
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)] or [b""]

    async def receive() -> dict[str, Any]:
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    headers = [(b"content-type", content_type.encode()), (b"cookie", f"{CSRF_COOKIE}={CSRF_NONCE}".encode())]
    if declared:
        headers.append((b"content-length", str(len(body)).encode()))
    scope = {"type": "http", "method": "POST", "path": "/upload", "headers": headers, "query_string": b""}
    return Request(scope, receive)


SECRET = "uploads-secret-" + "x" * 32
CSRF_NONCE = "nonce-of-this-browser"
CSRF_TOKEN = csrf_token(
    Request({"type": "http", "headers": [(b"cookie", f"{CSRF_COOKIE}={CSRF_NONCE}".encode())]}), SECRET
)


def form(fields: list[tuple[str, str]], files: list[tuple[str, bytes]]) -> bytes:
    """A ``multipart/form-data`` body (boundary ``b``) with the CSRF field first."""
    parts = [
        f'--b\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in [("csrf_token", CSRF_TOKEN), *fields]
    ]
    parts += [
        f'--b\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'.encode()
        + data
        + b"\r\n"
        for name, data in files
    ]
    return b"".join(parts) + b"--b--\r\n"


# What each refusal of an upload form carries: the status and message its page shows, and the code
# that names it for any client (every caller of expo.uploads gets the same error).
FORM_REFUSALS: dict[str, tuple[Callable[[], Request], tuple[int, str, str]]] = {
    "not a form": (
        lambda: form_request(b"file=x", "application/x-www-form-urlencoded"),
        (415, "upload.not_multipart", "Submit this form from its page."),
    ),
    "declared too large": (
        lambda: form_request(form([], [("big.png", b"\0" * (LIMIT + 70_000))])),
        (413, "upload.too_large", "The file is too large for an upload."),
    ),
    "streamed too large": (
        lambda: form_request(form([], [("big.png", b"\0" * (LIMIT + 1))]), declared=False),
        (413, "upload.too_large", "The file is too large for an upload."),
    ),
    "a field too long": (
        lambda: form_request(form([("title", "x" * 9000)], [("p.png", png())])),
        (413, "upload.field_too_long", "A form field is too long."),
    ),
    "too many fields": (
        lambda: form_request(form([(f"f{i}", "x") for i in range(30)], [("p.png", png())])),
        (400, "upload.too_many_fields", "The form has too many fields."),
    ),
    "two files": (
        lambda: form_request(form([], [("a.png", png()), ("b.png", png())])),
        (400, "upload.one_file", "Send one file at a time."),
    ),
    "no file": (
        lambda: form_request(form([("title", "Spring")], [("", b"")])),
        (422, "upload.empty", "Choose a file to upload."),
    ),
}


@pytest.mark.parametrize("case", FORM_REFUSALS)
async def test_each_refused_upload_form_names_its_reason_and_leaves_nothing_on_disk(
    settings: Settings, case: str
) -> None:
    make, (status, code, message) = FORM_REFUSALS[case]
    with pytest.raises(ExpoError) as caught:
        await uploads.receive(make(), settings, SECRET)
    assert (caught.value.status, caught.value.code, caught.value.message) == (status, code, message)
    if code == "upload.too_large":
        assert caught.value.limit == LIMIT  # type: ignore[attr-defined]
    spool = uploads.uploads_dir(settings) / "incoming"
    assert not spool.exists() or list(spool.iterdir()) == []


async def test_an_upload_form_is_read_with_its_fields_and_its_file(settings: Settings) -> None:
    received = await uploads.receive(
        form_request(form([("title", "Spring")], [("p.png", png())])), settings, SECRET
    )
    assert received.fields["title"] == "Spring" and received.filename == "p.png"
    assert received.path is not None and received.path.read_bytes() == png()
    stored = await uploads.store(settings, received)
    assert stored.kind is MediaKind.IMAGE and stored.content_type == "image/png"


FILE_REFUSALS = {
    "an HTML page": (
        b"<!doctype html><script>alert(1)</script>",
        (
            415,
            "upload.unsupported_type",
            "Upload PNG, JPEG, WebP or GIF images, PDF brochures, or MP4 or WebM videos.",
        ),
    ),
    "a truncated image": (png()[:200], (422, "upload.bad_image", "The image cannot be read.")),
    "a decompression bomb": (
        handmade_png(200_000, 200_000),
        (422, "upload.too_many_pixels", "The image is too large to decode."),
    ),
}


@pytest.mark.parametrize("case", FILE_REFUSALS)
async def test_each_refused_file_names_its_reason_and_leaves_nothing_on_disk(
    settings: Settings, case: str
) -> None:
    data, (status, code, message) = FILE_REFUSALS[case]
    received = await uploads.receive(form_request(form([], [("f.png", data)])), settings, SECRET)
    with pytest.raises(ExpoError) as caught:
        await uploads.store(settings, received)
    assert (caught.value.status, caught.value.code, caught.value.message) == (status, code, message)
    assert [p for p in uploads.uploads_dir(settings).rglob("*") if p.is_file()] == []


async def test_a_png_is_stored_smaller_than_an_unoptimised_encoder_writes_it(app: Starlette) -> None:
    booth = await setup(app)
    original = png()  # Pillow's defaults: what most tools write
    async with browser(app, "owner@example.com") as ex:
        assert (await upload(ex, booth, "flat.png", original)).status_code == 303
    async with app.state.platform.db.session() as session:
        item = (await session.exec(select(BoothMedia))).one()
    stored = (uploads_root(app) / item.name[:2] / item.name).read_bytes()
    # The same pixels in fewer bytes: every visitor downloads the smaller file.
    assert len(stored) < len(original)
    assert Image.open(io.BytesIO(stored)).tobytes() == Image.open(io.BytesIO(original)).tobytes()


def test_what_a_file_is_does_not_depend_on_how_much_of_it_the_caller_read() -> None:
    """The type comes from the first 64 bytes; more bytes after them change nothing."""
    ebml = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84"
    for offset, ext in ((60, "webm"), (61, None)):  # "webm" inside the first 64 bytes, or not
        data = ebml + b"\0" * (offset - len(ebml)) + b"webm" + b"\0" * 200
        for head in (data[:64], data[:128], data):
            found = sniff(head)
            assert (found.ext if found else None) == ext, (offset, len(head))


async def test_another_booths_product_cannot_be_given_pictures(app: Starlette) -> None:
    booth = await setup(app)
    async with app.state.platform.db.session() as session:
        from booths.models import Product

        product = (await session.exec(select(Product).where(Product.booth_id != booth.id))).first()
    assert product is not None
    async with browser(app, "owner@example.com") as ex:
        refused = await post_form(
            ex,
            f"/booths/{booth.id}/edit",
            f"/booths/{booth.id}/upload",
            {"slot": "product", "product_id": str(product.id)},
            files={"file": ("lamp.png", png(), "image/png")},
        )
        assert refused.status_code == 404 and "This booth has no such product." in refused.text
    async with app.state.platform.db.session() as session:
        assert (await session.exec(select(BoothMedia))).all() == []
        # What the booths' media service answers any caller: the product is not this booth's.
        owner = (await session.exec(select(User).where(User.email == "owner@example.com"))).one()
        stored = Stored("a" * 64 + ".png", None, "image/png", MediaKind.IMAGE, 10)
        with pytest.raises(NotFound) as caught:
            await media.add_media(session, booth, stored, owner, product_id=product.id)
    assert (caught.value.code, caught.value.message) == ("product.unknown", "This booth has no such product.")
