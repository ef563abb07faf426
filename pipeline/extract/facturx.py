"""The Factur-X cross-check: does the visible page say what the embedded XML says?

A Factur-X PDF carries its invoice twice: as the CII XML embedded in the PDF/A-3, which
is authoritative and gives the piece's fields (DESIGN 2), and as the pages a person
reads. The paying body reads the page while the platform books the XML, so a page that
shows another amount, another SIRET or another IBAN than its XML is a known fraud
pattern. This module reads the pages and compares them with the XML fields:

- a field read on the page with confidence >= ``MIN_CONFIDENCE`` whose normalised value
  differs from the XML's gives a ``FACTURX_MISMATCH`` warning (the piece goes to review);
- a field the page reading did not find, or found with low confidence, is not compared
  (reading limits must not send honest invoices to review): ``FACTURX_NOT_CROSS_CHECKED``
  (info) lists them, with why;
- ``FACTURX_CROSS_CHECKED`` (info) says which fields agreed, so a verdict shows the check
  ran;
- pages that cannot be read at all give an info finding, never an exception: the XML
  alone still makes the piece.

Two reading limits met on the public samples are not taken for disagreements: a numeric
date printed month first (``11/03/2017`` on an English-language page, read as the 11th of
March) agrees when day and month swapped give the XML's date; and an invoice number
agrees when the XML's number is printed on the page, even if the page reader picked
another candidate (an item or order number).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from pipeline.errors import IntakeError
from pipeline.extract.pdf_text import Page
from pipeline.extract.visible import read_pages, reading_from_pages
from pipeline.models import AMOUNT_FIELDS, ExtractedField, Finding, PieceFields, Severity

#: Fields always compared, in DESIGN 4.1 order.
COMPARED_FIELDS: tuple[str, ...] = (
    "invoice_number",
    "issue_date",
    "total_excl_tax",
    "total_tax",
    "total_incl_tax",
    "amount_due",
    "supplier_siret",
    "recipient_siret",
)
#: Fields compared only when both the XML and the page give them: many profiles
#: (MINIMUM, BASIC WL) and many pages leave them out, and that says nothing.
OPTIONAL_FIELDS: tuple[str, ...] = ("supplier_vat_id", "iban")

#: A value read on the page with less confidence than this is not compared.
MIN_CONFIDENCE = 0.5

#: An invoice number this long or longer, printed on the page, agrees with the XML.
MIN_PRINTED_REFERENCE = 4

#: ``read_pages``'s shape: the words of every page, and the numbers of the OCR'd pages.
PageReader = Callable[[bytes], tuple[list[Page], tuple[int, ...]]]


@dataclass(frozen=True)
class _Skipped:
    name: str
    why: str


def check_visible_pages(
    data: bytes,
    xml_fields: PieceFields,
    *,
    dpi: int = 300,
    ocr_workers: int = 2,
    ocr: bool = True,
    reader: PageReader | None = None,
) -> list[Finding]:
    """Read the visible pages of a Factur-X PDF and cross-check them with its XML fields.

    ``ocr=False`` reads text layers only: image-only pages are not compared (the OCR of a
    page costs seconds, too much for some EDI volumes). ``reader`` replaces
    ``read_pages`` (tests inject a failing one). Pages that cannot be read give an info
    finding: no ``IntakeError`` (unreadable page, OCR failure) escapes.
    """
    read = reader or (lambda pdf: read_pages(pdf, dpi=dpi, ocr_workers=ocr_workers, ocr=ocr))
    try:
        pages, scanned = read(data)
        if not any(page.words for page in pages):
            why = "no text could be read on the visible pages"
            if not ocr:
                why = "the visible pages have no text layer and OCR is off for this check"
            return [
                _not_checked(
                    f"{why}; the embedded XML was used alone and not compared with what "
                    "the pages show"
                )
            ]
        visible = reading_from_pages(pages, scanned)
    except IntakeError as exc:
        return [
            _not_checked(
                f"the visible pages could not be read ({exc.one_line()}); the embedded XML "
                "was used alone and not compared with what the pages show"
            )
        ]
    printed = " ".join(word.text for page in pages for word in page.words)
    return cross_check(xml_fields, visible.fields, printed=printed)


def cross_check(
    xml_fields: PieceFields, visible: PieceFields, *, printed: str | None = None
) -> list[Finding]:
    """Compare the embedded XML's fields with those read on the visible pages.

    One ``FACTURX_MISMATCH`` warning per field that disagrees, then an info finding
    listing the fields that agreed (``FACTURX_CROSS_CHECKED``) and one listing those that
    could not be compared (``FACTURX_NOT_CROSS_CHECKED``), each only when not empty.
    ``printed`` is the text of the pages, when known: an invoice number the XML gives and
    the page prints agrees, whichever candidate the page reader settled on.
    """
    mismatches: list[Finding] = []
    agreed: list[str] = []
    skipped: list[_Skipped] = []
    for name in (*COMPARED_FIELDS, *OPTIONAL_FIELDS):
        optional = name in OPTIONAL_FIELDS
        xml_value = xml_fields.value(name)
        seen: ExtractedField = getattr(visible, name)
        if xml_value is None or not xml_value.strip():
            if not optional:
                skipped.append(_Skipped(name, "absent from the XML"))
            continue
        if seen.value is None or not seen.value.strip():
            if not optional:
                skipped.append(_Skipped(name, "not found on the page"))
            continue
        if seen.confidence < MIN_CONFIDENCE:
            skipped.append(_Skipped(name, f"read with confidence {seen.confidence:.2f}"))
            continue
        if _agree(name, seen.value, xml_value, printed):
            agreed.append(name)
        else:
            mismatches.append(_mismatch(name, seen, xml_value))

    findings = list(mismatches)
    compared = len(agreed) + len(mismatches)
    if compared:
        agreed_text = ", ".join(agreed) if agreed else "none"
        message = (
            f"the visible page was compared with the embedded XML on {compared} field(s); "
            f"agreed: {agreed_text}"
        )
        if mismatches:
            disagreed = ", ".join(finding.field or "" for finding in mismatches)
            message += f"; disagreed: {disagreed}"
        findings.append(
            Finding(code="FACTURX_CROSS_CHECKED", severity=Severity.INFO, message=message)
        )
    if skipped:
        listed = "; ".join(f"{item.name} ({item.why})" for item in skipped)
        findings.append(
            _not_checked(f"not compared between the visible page and the embedded XML: {listed}")
        )
    return findings


def _agree(name: str, page_value: str, xml_value: str, printed: str | None) -> bool:
    if _normalised(name, page_value) == _normalised(name, xml_value):
        return True
    if name == "issue_date":
        return _day_month_swapped(page_value) == xml_value.strip()
    if name == "invoice_number" and printed is not None:
        return _is_printed(xml_value, printed)
    return False


def _day_month_swapped(iso: str) -> str | None:
    """``2017-03-11`` -> ``2017-11-03``: the same numeric date read in the other order."""
    try:
        read = date.fromisoformat(iso.strip())
        return read.replace(month=read.day, day=read.month).isoformat()
    except ValueError:
        return None


def _is_printed(reference: str, printed: str) -> bool:
    """Whether ``reference`` is printed on the page as a token of its own (not inside a
    longer reference such as ``2025-103767``), spaces and case aside; a reference shorter than
    ``MIN_PRINTED_REFERENCE`` characters is too likely to be printed by chance."""
    token = "".join(reference.split()).upper()
    text = " ".join(printed.split()).upper()
    return len(token) >= MIN_PRINTED_REFERENCE and bool(
        re.search(rf"(?<![A-Z0-9/_.-]){re.escape(token)}(?![A-Z0-9/_-]|\.[A-Z0-9])", text)
    )


def _normalised(name: str, value: str) -> str | Decimal:
    """The value as compared: amounts as Decimal (sign ignored, since credit notes carry
    positive amounts whatever the page prints), the rest without spaces, upper case."""
    if name in AMOUNT_FIELDS:
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            amount = None
        if amount is not None and amount.is_finite():
            return abs(amount)
    return "".join(value.split()).upper()


def _mismatch(name: str, seen: ExtractedField, xml_value: str) -> Finding:
    return Finding(
        code="FACTURX_MISMATCH",
        severity=Severity.WARNING,
        field=name,
        message=f"the page shows {seen.value} where the embedded XML says {xml_value}: "
        "check which one the supplier meant",
        location=_location(seen),
    )


def _location(seen: ExtractedField) -> str | None:
    if seen.page is None:
        return None
    if seen.bbox is None:
        return f"page {seen.page}"
    box = ", ".join(f"{coordinate:.1f}" for coordinate in seen.bbox)
    return f"page {seen.page}, bbox [{box}]"


def _not_checked(message: str) -> Finding:
    return Finding(code="FACTURX_NOT_CROSS_CHECKED", severity=Severity.INFO, message=message)
