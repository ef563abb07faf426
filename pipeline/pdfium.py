"""Adapter over pypdfium2, the C PDF engine pdfplumber renders with.

Detection needs cheap facts about a PDF (pages, encryption, signatures, attachments) and
OCR needs page images; pdfium gives both in milliseconds. PDFium is not thread-safe, so
every call goes through ``PDFIUM_LOCK``; callers hold it only for the pdfium work itself.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

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


def page_sizes(data: bytes) -> list[tuple[float, float]]:
    """Width and height of each page in PDF points."""
    with open_pdf(data) as document:
        return [document.get_page_size(index) for index in range(len(document))]
