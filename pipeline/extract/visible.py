"""Read what a PDF shows: text layer where it is real, OCR elsewhere; then fields and kind.

A page has a real text layer when pdfium finds enough characters on it and most of them
are letters or digits. A scanner that stamps a few characters over a full-page image, or
a font without a Unicode map (pdfium then gives control or private-use characters, and
pdfminer ``(cid:N)`` codes), does not count: those pages are OCR'd. Pages are decided one
by one, so a digital invoice with a scanned annex (or the reverse) works.
"""

from __future__ import annotations

import re
from dataclasses import replace

from pydantic import Field

from pipeline import pdfium
from pipeline.extract.classify import classify
from pipeline.extract.fields import PublicStructure, find_fields, settle_for_kind
from pipeline.extract.ocr import ocr_pages
from pipeline.extract.pdf_text import Page, text_layer_pages
from pipeline.models import Finding, Frozen, KindGuess, PieceFields, Severity

#: A real text layer has at least this many letters and digits on the page …
MIN_TEXT_CHARS = 40
#: … and they are at least this share of its visible characters.
MIN_TEXT_RATIO = 0.6
#: Mean OCR word confidence under which a page is reported as poorly read.
LOW_OCR_CONFIDENCE = 0.6

_CID_RE = re.compile(r"\(cid:\d+\)")


class VisibleReading(Frozen):
    """What the visible pages of a PDF say."""

    fields: PieceFields = Field(description="Every canonical field, null when not found.")
    document_kind: KindGuess = Field(description="The kind the titles point to.")
    findings: tuple[Finding, ...] = Field(default=(), description="Doubts met while reading.")
    ocr_pages: tuple[int, ...] = Field(default=(), description="1-based pages read by OCR.")


#: Rules and leaders drawn with characters (``-----``, ``.......``): real text, not letters.
_RULES = re.compile(r"([-._=*·…─])\1{2,}")


def has_text_layer(text: str) -> bool:
    """Whether pdfium's text of a page is a real text layer (see the module docstring)."""
    visible = [c for c in _RULES.sub("", text) if not c.isspace()]
    alnum = sum(c.isalnum() for c in visible)
    return alnum >= MIN_TEXT_CHARS and alnum >= MIN_TEXT_RATIO * len(visible)


def text_layer_usable(page: Page) -> bool:
    """pdfminer could map the glyphs to characters: unmapped ones come out as
    ``(cid:12)`` (a subset font without a Unicode map), and such a page reads better by OCR."""
    text = "".join(w.text for w in page.words)
    unmapped = sum(len(m) for m in _CID_RE.findall(text))
    return unmapped <= 0.1 * len(text)


def read_visible(
    data: bytes,
    *,
    dpi: int = 300,
    ocr_workers: int = 2,
    force_ocr: bool = False,
    public_structure: PublicStructure | None = None,
) -> VisibleReading:
    """Fields and kind of a PDF from its visible content."""
    pages, scanned = read_pages(data, dpi=dpi, ocr_workers=ocr_workers, force_ocr=force_ocr)
    return reading_from_pages(pages, scanned, public_structure=public_structure)


def reading_from_pages(
    pages: list[Page],
    scanned: tuple[int, ...],
    *,
    public_structure: PublicStructure | None = None,
) -> VisibleReading:
    """Fields and kind from pages already read (``read_pages``); ``public_structure``
    is the directory's lookup (``find_fields``)."""
    kind = classify(pages)
    reading = find_fields(pages, kind=kind.value, public_structure=public_structure)
    return VisibleReading(
        fields=settle_for_kind(reading.fields, kind.value),
        document_kind=kind,
        findings=(*reading.findings, *_reading_findings(pages, scanned)),
        ocr_pages=scanned,
    )


def read_pages(
    data: bytes,
    *,
    dpi: int = 300,
    ocr_workers: int = 2,
    force_ocr: bool = False,
    ocr: bool = True,
) -> tuple[list[Page], tuple[int, ...]]:
    """The words of every page, each from its text layer when it is real and usable,
    else by OCR; and the numbers of the OCR'd pages. ``force_ocr`` OCRs every page, as
    if the PDF were a scan (accuracy runs use it to score OCR on digital documents);
    ``ocr=False`` leaves the pages without a usable text layer empty."""
    if force_ocr:
        numbers = range(1, len(pdfium.page_sizes(data)) + 1)
        pages: dict[int, Page] = {}
    else:
        # One pass over the text layer gives both the text that decides whether a page's
        # layer is real and the words of the pages where it is.
        layered = text_layer_pages(data)
        numbers = range(1, len(layered) + 1)
        pages = {
            n: page
            for n, page in layered.items()
            if has_text_layer(page.layer_text) and text_layer_usable(page)
        }
    scanned = tuple(n for n in numbers if n not in pages)
    if not ocr:
        if force_ocr:
            raise ValueError("force_ocr and ocr=False contradict each other")
        unread = {n: replace(layered[n], words=()) for n in scanned}
        return [pages.get(n) or unread[n] for n in numbers], ()
    pages.update(ocr_pages(data, scanned, dpi=dpi, workers=ocr_workers))
    return [pages[n] for n in numbers], scanned


def _reading_findings(pages: list[Page], scanned: tuple[int, ...]) -> list[Finding]:
    findings = []
    if scanned:
        listed = ", ".join(str(n) for n in scanned)
        findings.append(
            Finding(
                code="OCR_USED",
                severity=Severity.INFO,
                message=f"page(s) {listed} have no text layer and were read by OCR",
                location=f"pages {listed}",
            )
        )
    for page in pages:
        if page.number not in scanned or not page.words:
            continue
        mean = sum(w.confidence for w in page.words) / len(page.words)
        if mean < LOW_OCR_CONFIDENCE:
            findings.append(
                Finding(
                    code="OCR_LOW_CONFIDENCE",
                    severity=Severity.WARNING,
                    message=f"page {page.number} was hard to read (mean OCR confidence "
                    f"{mean:.2f}): check the pre-filled values against the scan",
                    location=f"page {page.number}",
                )
            )
    if not any(page.words for page in pages):
        findings.append(
            Finding(
                code="NO_VISIBLE_TEXT",
                severity=Severity.WARNING,
                message="no text could be read on any page: the form must be filled by hand",
            )
        )
    return findings
