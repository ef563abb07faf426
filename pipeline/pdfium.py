"""Adapter over pypdfium2, the C PDF engine Chrome (and pdfplumber) render with.

Detection needs cheap facts about a PDF (pages, encryption, signatures, attachments), OCR
needs page images and the text-layer reader needs each character with its box
(``page_chars``); pdfium gives all three in milliseconds. PDFium is not thread-safe, so
every call goes through ``PDFIUM_LOCK``; callers hold it only for the pdfium work itself.
"""

from __future__ import annotations

import ctypes
import math
import threading
from array import array
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import NamedTuple

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from pipeline.errors import CorruptPdf, EncryptedPdf, InputTooLarge

PDFIUM_LOCK = threading.RLock()

_FPDF_ERR_PASSWORD = 4
_FPDF_ERR_SECURITY = 5


@dataclass(frozen=True)
class Attachment:
    name: str
    data: bytes


@dataclass(frozen=True)
class PdfFacts:
    page_count: int
    signature_sub_filters: tuple[str, ...]
    attachments: tuple[Attachment, ...]


@contextmanager
def open_pdf(data: bytes) -> Iterator[pdfium.PdfDocument]:
    """Open a PDF from bytes under the lock; encrypted or unreadable PDFs raise."""
    with PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            code = getattr(exc, "err_code", None)
            if code in (_FPDF_ERR_PASSWORD, _FPDF_ERR_SECURITY):
                raise EncryptedPdf(
                    "the PDF is protected by a password; ask the sender for an unprotected copy"
                ) from exc
            raise CorruptPdf(
                "the PDF structure is damaged and cannot be read; ask the sender to export it again"
            ) from exc
        try:
            if pdfium_c.FPDF_GetSecurityHandlerRevision(document.raw) != -1:
                raise EncryptedPdf(
                    "the PDF is encrypted (owner password); deposits must not be protected: "
                    "ask the sender for an unprotected copy"
                )
            yield document
        finally:
            document.close()


def inspect_pdf(data: bytes, *, max_pages: int, max_attachment_bytes: int) -> PdfFacts:
    """Pages, signature SubFilters and embedded files of a PDF."""
    with open_pdf(data) as document:
        page_count = len(document)
        if page_count == 0:
            raise CorruptPdf("the PDF has no pages", code="PDF_NO_PAGES")
        if page_count > max_pages:
            raise InputTooLarge(
                f"the PDF has {page_count} pages, over the limit of {max_pages}; "
                "split it into one file per piece",
                code="TOO_MANY_PAGES",
            )
        return PdfFacts(
            page_count=page_count,
            signature_sub_filters=tuple(_signature_sub_filters(document)),
            attachments=tuple(_attachments(document, max_attachment_bytes)),
        )


def _signature_sub_filters(document: pdfium.PdfDocument) -> Iterator[str]:
    for index in range(pdfium_c.FPDF_GetSignatureCount(document.raw)):
        signature = pdfium_c.FPDF_GetSignatureObject(document.raw, index)
        size = pdfium_c.FPDFSignatureObj_GetSubFilter(signature, None, 0)
        if size <= 0:
            yield ""
            continue
        buffer = ctypes.create_string_buffer(size)
        pdfium_c.FPDFSignatureObj_GetSubFilter(signature, buffer, size)
        yield buffer.value.decode("latin-1")


def _attachments(document: pdfium.PdfDocument, max_bytes: int) -> Iterator[Attachment]:
    for index in range(document.count_attachments()):
        attachment = document.get_attachment(index)
        name = attachment.get_name()
        # Only invoice XML matters for detection; skip big files instead of loading them.
        if not name.lower().endswith(".xml"):
            continue
        data = bytes(attachment.get_data())
        if len(data) > max_bytes:
            raise InputTooLarge(
                f"the embedded file {name!r} is {len(data)} bytes, over the limit of {max_bytes}",
                code="EMBEDDED_FILE_TOO_LARGE",
            )
        yield Attachment(name=name, data=data)


def page_texts(data: bytes) -> list[str]:
    """The text pdfium finds on each page (fast: decides whether a text layer is real)."""
    with open_pdf(data) as document:
        texts = []
        for page in document:
            text_page = page.get_textpage()
            texts.append(text_page.get_text_range())
            text_page.close()
            page.close()
        return texts


def render_pages(data: bytes, page_numbers: list[int], *, dpi: int) -> dict[int, Image.Image]:
    """Render the given 1-based pages to greyscale images at ``dpi``."""
    images: dict[int, Image.Image] = {}
    with open_pdf(data) as document:
        for number in page_numbers:
            page = document[number - 1]
            bitmap = page.render(scale=dpi / 72.0, grayscale=True)
            images[number] = bitmap.to_pil()
            page.close()
    return images


def scan_resolutions(data: bytes, page_numbers: Sequence[int]) -> dict[int, float | None]:
    """For each 1-based page, the resolution in dots per inch of the image that covers
    most of it (a scanned page is one such image); None when no image covers half of it."""
    with open_pdf(data) as document:
        resolutions: dict[int, float | None] = {}
        for number in page_numbers:
            page = document[number - 1]
            try:
                resolutions[number] = _page_image_resolution(page)
            finally:
                page.close()
        return resolutions


def _page_image_resolution(page: pdfium.PdfPage) -> float | None:
    width, height = page.get_size()
    best: tuple[float, float] | None = None  # (area covered, dpi)
    for image in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2):
        try:
            left, bottom, right, top = image.get_bounds()
            pixels_wide, pixels_high = image.get_px_size()
        except pdfium.PdfiumError:
            continue  # an image pdfium cannot size draws nothing to read
        area = (right - left) * (top - bottom)
        if area > 0 and area >= 0.5 * width * height and (not best or area > best[0]):
            # Pixels per square inch, so that an image turned a quarter is sized the same
            # as an upright one.
            best = (area, math.sqrt(pixels_wide * pixels_high / area) * 72.0)
    return best[1] if best else None


def page_sizes(data: bytes) -> list[tuple[float, float]]:
    """Width and height of each page in PDF points."""
    with open_pdf(data) as document:
        return [document.get_page_size(index) for index in range(len(document))]


# --------------------------------------------------------------------------- characters


class TextChar(NamedTuple):
    """One character of a page's text layer, in the page's displayed frame.

    The box is in PDF points with the origin at the top-left of the page as shown (the
    crop box, turned by the page's /Rotate): ``x0``/``x1`` span the glyph's advance,
    ``bottom`` is the font's descent under the baseline and ``top`` is one em above it,
    as pdfminer boxes characters. ``upright`` is false for text that runs up, down or
    upside down on the page as shown. ``unmapped`` marks a glyph the font gives no Unicode
    for (``text`` is then pdfium's stand-in, usually the raw character code).
    ``space_before`` says a blank comes just before it in the text: one drawn, or one
    pdfium inferred from a gap; blanks themselves are not returned.
    """

    text: str
    x0: float
    top: float
    x1: float
    bottom: float
    size: float
    upright: bool
    unmapped: bool
    space_before: bool


@dataclass(frozen=True)
class PageChars:
    """The characters of one page, in content-stream order, and its displayed size."""

    width: float
    height: float
    chars: tuple[TextChar, ...]
    #: pdfium's text of the page, blanks included: what tells a real text layer from a
    #: scanner's few stray characters over an image.
    text: str = ""


def _display_frame(page: pdfium.PdfPage) -> tuple[float, float, tuple[float, ...]]:
    """Width and height of the page as shown, and the affine map (a, b, c, d, e, f) from
    PDF user space to it: x' = a*x + b*y + c, y' = d*x + e*y + f (top-left origin)."""
    left, bottom, right, top = page.get_bbox()
    rotation = page.get_rotation() % 360
    if rotation == 90:
        return top - bottom, right - left, (0.0, 1.0, -bottom, 1.0, 0.0, -left)
    if rotation == 180:
        return right - left, top - bottom, (-1.0, 0.0, right, 0.0, 1.0, -bottom)
    if rotation == 270:
        return top - bottom, right - left, (0.0, -1.0, top, -1.0, 0.0, right)
    return right - left, top - bottom, (1.0, 0.0, -left, 0.0, -1.0, top)


def page_chars(data: bytes, page_numbers: list[int] | None = None) -> dict[int, PageChars]:
    """The text-layer characters of the given 1-based pages (all when ``None``), with
    their boxes.

    Blanks are not returned as characters: the next character says it follows one.
    """
    result: dict[int, PageChars] = {}
    with open_pdf(data) as document:
        numbers = range(1, len(document) + 1) if page_numbers is None else page_numbers
        for number in numbers:
            page = document[number - 1]
            try:
                text_page = page.get_textpage()
                try:
                    chars = _page_chars(page, text_page)
                    result[number] = replace(chars, text=text_page.get_text_range())
                finally:
                    text_page.close()
            finally:
                page.close()
    return result


def _page_chars(page: pdfium.PdfPage, text_page: pdfium.PdfTextPage) -> PageChars:
    width, height, (a, b, c, d, e, f) = _display_frame(page)
    raw = text_page.raw
    count = pdfium_c.FPDFText_CountChars(raw)
    if count <= 0:
        return PageChars(width=width, height=height, chars=())
    codes = _code_points(raw, count)
    rect = pdfium_c.FS_RECTF()
    matrix = pdfium_c.FS_MATRIX()
    get_box = pdfium_c.FPDFText_GetLooseCharBox
    get_matrix = pdfium_c.FPDFText_GetMatrix
    get_size = pdfium_c.FPDFText_GetFontSize
    map_error = pdfium_c.FPDFText_HasUnicodeMapError
    chars: list[TextChar] = []
    skip = -1
    space_before = False
    last_band: tuple[float, float] | None = None
    upright, size = True, 0.0
    for index, code in enumerate(codes):
        if index == skip:
            continue
        char = chr(code)
        if 0xD800 <= code < 0xDC00 and index + 1 < count and 0xDC00 <= codes[index + 1] < 0xE000:
            char = chr(0x10000 + ((code - 0xD800) << 10) + (codes[index + 1] - 0xDC00))
            code, skip = ord(char), index + 1
        elif 0xD800 <= code < 0xE000:
            char = " "  # half of a symbol pdfium could not keep whole (an emoji)
        if char.isspace():
            # pdfium turns some drawn spaces (a justified line placing each word on its
            # own) into generated ones: both break words; its generated line breaks do
            # not. A drawn tab or return breaks words too, unless it stands in for a
            # glyph without a Unicode value (handled below).
            if code >= 0x20:
                space_before = True
                continue
            if pdfium_c.FPDFText_IsGenerated(raw, index) == 1:
                space_before = space_before or char not in "\r\n"
                continue
            if map_error(raw, index) != 1:
                space_before = True
                continue
        unmapped = _is_unmapped(code)
        if unmapped and pdfium_c.FPDFText_IsHyphen(raw, index) == 1:
            char, unmapped = "-", False  # pdfium marks a hyphen that ends a line
        elif map_error(raw, index) == 1:
            unmapped = True
        if not get_box(raw, index, rect):
            continue
        band = (rect.bottom, rect.top)
        if band != last_band:
            # A new run of text (font, size or direction): glyphs of one run share the
            # vertical extent of their loose boxes, and their em and direction.
            if not get_matrix(raw, index, matrix):
                continue
            last_band = band
            # The run direction of the glyph on the page as shown, and its em.
            dx, dy = a * matrix.a + b * matrix.b, d * matrix.a + e * matrix.b
            upright = dx > 0 and abs(dy) <= dx
            size = get_size(raw, index) * math.hypot(matrix.c, matrix.d)
        # Corners of the loose box (advance x font ascent/descent) in the displayed frame.
        xa, ya = a * rect.left + b * rect.bottom + c, d * rect.left + e * rect.bottom + f
        xb, yb = a * rect.right + b * rect.top + c, d * rect.right + e * rect.top + f
        x0, x1 = (xa, xb) if xa <= xb else (xb, xa)
        y0, y1 = (ya, yb) if ya <= yb else (yb, ya)
        if x1 < 0 or y1 < 0 or x0 > width or y0 > height:
            continue  # outside the page as shown: nobody sees it
        chars.append(TextChar(char, x0, y1 - size, x1, y1, size, upright, unmapped, space_before))
        space_before = False
    return PageChars(width=width, height=height, chars=tuple(chars))


def _code_points(raw: pdfium_c.FPDF_TEXTPAGE, count: int) -> Sequence[int]:
    """The code of each character index: read in one call when that text lines up with
    the indexes, else index by index. pdfium leaves some glyphs without a Unicode value
    out of the text it returns, and writes a character beyond the BMP as two UTF-16 units
    (its character list keeps one index per character; the high surrogate, in fact)."""
    units = array("H", bytes((count + 1) * 2))
    address, _ = units.buffer_info()
    pointer = ctypes.cast(address, ctypes.POINTER(ctypes.c_ushort))
    written = pdfium_c.FPDFText_GetText(raw, 0, count, pointer)
    del units[count:]
    if written == count + 1 and not any(0xD800 <= unit < 0xE000 for unit in units):
        return units
    return [pdfium_c.FPDFText_GetUnicode(raw, index) for index in range(count)]


def _is_unmapped(code: int) -> bool:
    # pdfium's stand-ins for glyphs without a Unicode value: U+FFFE/U+FFFD, control
    # codes and private-use code points (the raw character code of a subset font).
    return (
        code in (0xFFFE, 0xFFFD) or code < 0x20 or 0xE000 <= code <= 0xF8FF  # private use
    )
