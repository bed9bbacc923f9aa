"""The PDF certificate of a signing ceremony, written with fpdf2.

It lists what the HTML certificate lists: each document's name, size and SHA-256, each party, the
name its signer typed, the time (UTC and the expo's timezone) and the client address, so that
whoever holds a file can compare its SHA-256 with the one signed. Text is set in DejaVu Sans with
a CJK fallback font (Droid Sans Fallback, Debian's ``fonts-droid-fallback``; ``scripts/test``
installs it) so Chinese names and titles print; a machine without those fonts gets a certificate in
PDF's built-in Helvetica, with any character it cannot show replaced by "?".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF

from expo.errors import N_
from expo.i18n import translate
from expo.signing.services import Record

FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/local/share/fonts"))
TEXT_FONTS = ("dejavu/DejaVuSans.ttf", "noto/NotoSans-Regular.ttf", "liberation/LiberationSans-Regular.ttf")
BOLD_FONTS = ("dejavu/DejaVuSans-Bold.ttf", "noto/NotoSans-Bold.ttf", "liberation/LiberationSans-Bold.ttf")
MONO_FONTS = ("dejavu/DejaVuSansMono.ttf", "noto/NotoSansMono-Regular.ttf")
CJK_FONTS = ("droid/DroidSansFallbackFull.ttf", "droid/DroidSansFallback.ttf")


def _find(names: tuple[str, ...]) -> Path | None:
    for folder in FONT_DIRS:
        for name in names:
            if (folder / name).is_file():
                return folder / name
    return None


@dataclass(frozen=True)
class Links:
    """Where the certificate and the verification page are, absolute."""

    certificate: str
    verify: str


class _Certificate(FPDF):
    """An A4 page set-up with the fonts this machine has."""

    def __init__(self) -> None:
        super().__init__(format="A4")
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(18, 18, 18)
        text, mono, cjk = _find(TEXT_FONTS), _find(MONO_FONTS), _find(CJK_FONTS)
        self.unicode = text is not None
        if text is not None:
            self.add_font("text", "", str(text))
            self.add_font("text", "B", str(_find(BOLD_FONTS) or text))
            self.add_font("mono", "", str(mono or text))
            if cjk is not None:
                self.add_font("cjk", "", str(cjk))
                self.set_fallback_fonts(["cjk"], exact_match=False)
        self.text_font = "text" if self.unicode else "helvetica"
        self.mono_font = "mono" if self.unicode else "courier"

    def line_of(
        self, text: str, size: float = 10, *, mono: bool = False, bold: bool = False, gap: float = 1.5
    ) -> None:
        if not self.unicode:
            text = text.encode("latin-1", "replace").decode("latin-1")
        self.set_font(self.mono_font if mono else self.text_font, style="B" if bold else "", size=size)
        self.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        self.ln(gap)


def _times(moment: datetime, zone_name: str, done: Record) -> tuple[str, str]:
    utc = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    local = moment.astimezone(done.expo.zone).strftime("%Y-%m-%d %H:%M:%S")
    return utc, f"{local} ({zone_name})"


def render_pdf(done: Record, links: Links) -> bytes:
    """The certificate of ``done`` as PDF bytes, in the active language."""
    pdf = _Certificate()
    pdf.set_title(translate(N_("Signing certificate")))
    pdf.add_page()
    pdf.line_of(translate(N_("Signing certificate")), 18, bold=True, gap=3)
    pdf.line_of(done.room.title, 13, bold=True)
    pdf.line_of(done.expo.title, 10, gap=3)
    if done.ceremony.completed_at is not None:
        utc, local = _times(done.ceremony.completed_at, done.expo.timezone, done)
        pdf.line_of(translate(N_("Complete: every party signed every document.")) + f" {utc} · {local}")
    else:
        status = translate(
            N_("In progress: %(signed)s of %(needed)s signatures."), signed=done.signed, needed=done.needed
        )
        pdf.line_of(status)
    pdf.line_of(translate(N_("Certificate: %(url)s"), url=links.certificate), 9, gap=4)
    for number, item in enumerate(done.documents, 1):
        document = item.document
        title = translate(N_("Document %(number)s: %(name)s"), number=number, name=document.name)
        pdf.line_of(title, 12, bold=True)
        pdf.line_of(translate(N_("%(size)s bytes"), size=document.size_bytes), 9)
        pdf.line_of("SHA-256", 9, gap=0.5)
        pdf.line_of(document.sha256, 10, mono=True, gap=3)
        for signed in item.signatures:
            party, signature = signed.party, signed.signature
            pdf.line_of(translate(N_("Party: %(party)s"), party=party.party), 10, bold=True, gap=0.5)
            pdf.line_of(translate(N_("Signer: %(name)s"), name=party.signer_name), 9, gap=0.5)
            if signature is None:
                pdf.line_of(translate(N_("Not signed yet.")), 9, gap=3)
                continue
            utc, local = _times(signature.signed_at, done.expo.timezone, done)
            pdf.line_of(translate(N_("Signed as: %(name)s"), name=signature.typed_name), 9, gap=0.5)
            pdf.line_of(translate(N_("Time: %(utc)s · %(local)s"), utc=utc, local=local), 9, gap=0.5)
            pdf.line_of(translate(N_("Address: %(ip)s"), ip=signature.ip or "—"), 9, gap=0.5)
            pdf.line_of(translate(N_("SHA-256 when signed:")) + " " + signature.sha256, 8, mono=True, gap=3)
        pdf.ln(2)
    pdf.line_of(
        translate(
            N_("To check a file, compare its SHA-256 with the one above, or upload it at %(url)s"),
            url=links.verify,
        ),
        9,
    )
    return bytes(pdf.output())
