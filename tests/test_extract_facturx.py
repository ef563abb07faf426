"""The Factur-X cross-check: the visible page against the embedded XML.

Unit tests of ``cross_check`` on hand-built fields, then whole Factur-X PDFs through
``read_piece`` / ``process_deposit``: the demo one (page and XML agree), a tampered one
built here (the XML's total differs from the page's), and the public samples.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import facturx
import pytest

from fixtures.build_demo import build_cii, fixed_facturx_clock, pieces
from fixtures.generator.scan import scan_twin
from pipeline.errors import InternalError
from pipeline.extract.facturx import check_visible_pages, cross_check
from pipeline.extract.pdf_text import Page
from pipeline.formats import Limits
from pipeline.models import (
    DepositFormat,
    ExtractedField,
    FieldSource,
    Finding,
    Outcome,
    PieceDraft,
    PieceFields,
    Severity,
)
from pipeline.process import IntakeContext, build_context, process_deposit, read_piece
from pipeline.settings import load_settings
from tests.conftest import DEMO, REPO, corpus_path

NOW = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)

XML_VALUES = {
    "invoice_number": "PLF-2025-0412",
    "issue_date": "2025-03-12",
    "total_excl_tax": "7850.00",
    "total_tax": "1570.00",
    "total_incl_tax": "9420.00",
    "amount_due": "9420.00",
    "supplier_siret": "55246281400013",
    "recipient_siret": "11000201100044",
    "supplier_vat_id": "FR88552462814",
    "iban": "FR7630004008280001234567841",
}
COMPARED = (
    "invoice_number",
    "issue_date",
    "total_excl_tax",
    "total_tax",
    "total_incl_tax",
    "amount_due",
    "supplier_siret",
    "recipient_siret",
    "supplier_vat_id",
    "iban",
)


def xml_fields(**overrides: str | None) -> PieceFields:
    values = {**XML_VALUES, **overrides}
    return PieceFields(
        **{
            name: ExtractedField(value=value, confidence=1.0, source=FieldSource.XML)
            for name, value in values.items()
        }
    )


def page_fields(confidence: float = 0.9, **overrides: str | None) -> PieceFields:
    values = {**XML_VALUES, **overrides}
    return PieceFields(
        **{
            name: ExtractedField(
                value=value,
                confidence=confidence if value is not None else 0.0,
                source=FieldSource.TEXT_LAYER if value is not None else None,
                page=1 if value is not None else None,
                bbox=(400.0, 610.0, 470.5, 622.4) if value is not None else None,
            )
            for name, value in values.items()
        }
    )


def codes(findings: list[Finding] | tuple[Finding, ...]) -> list[str]:
    return [finding.code for finding in findings]


def mismatched(findings: list[Finding] | tuple[Finding, ...]) -> list[str | None]:
    return [f.field for f in findings if f.code == "FACTURX_MISMATCH"]


def only(findings: list[Finding] | tuple[Finding, ...], code: str) -> Finding:
    matching = [finding for finding in findings if finding.code == code]
    assert len(matching) == 1, codes(findings)
    return matching[0]


# --------------------------------------------------------------------------- cross_check


def test_page_that_agrees_gives_only_the_cross_checked_info() -> None:
    findings = cross_check(xml_fields(), page_fields())
    assert codes(findings) == ["FACTURX_CROSS_CHECKED"]
    checked = findings[0]
    assert checked.severity is Severity.INFO
    for name in COMPARED:
        assert name in checked.message


def test_amount_mismatch_is_a_warning_on_that_field_with_the_page_location() -> None:
    findings = cross_check(xml_fields(), page_fields(total_incl_tax="9240.00"))
    assert mismatched(findings) == ["total_incl_tax"]
    mismatch = only(findings, "FACTURX_MISMATCH")
    assert mismatch.severity is Severity.WARNING
    assert mismatch.message == (
        "the page shows 9240.00 where the embedded XML says 9420.00: "
        "check which one the supplier meant"
    )
    assert mismatch.location == "page 1, bbox [400.0, 610.0, 470.5, 622.4]"
    checked = only(findings, "FACTURX_CROSS_CHECKED")
    assert "disagreed: total_incl_tax" in checked.message


def test_siret_mismatch_is_a_warning() -> None:
    findings = cross_check(xml_fields(), page_fields(supplier_siret="55246281400021"))
    assert mismatched(findings) == ["supplier_siret"]


def test_iban_mismatch_is_a_warning() -> None:
    findings = cross_check(xml_fields(), page_fields(iban="FR7612345000010001234567890"))
    assert mismatched(findings) == ["iban"]


def test_several_mismatches_give_one_warning_each() -> None:
    findings = cross_check(
        xml_fields(), page_fields(total_excl_tax="8750.00", invoice_number="PLF-2025-0413")
    )
    assert mismatched(findings) == ["invoice_number", "total_excl_tax"]


@pytest.mark.parametrize(
    ("xml_value", "page_value"),
    [("7850.00", "7850.0"), ("7850.00", "7850"), ("7850.00", "-7850.00")],
)
def test_amounts_agree_as_decimals(xml_value: str, page_value: str) -> None:
    findings = cross_check(
        xml_fields(total_excl_tax=xml_value), page_fields(total_excl_tax=page_value)
    )
    assert codes(findings) == ["FACTURX_CROSS_CHECKED"]


def test_identifiers_agree_without_spaces_and_case() -> None:
    findings = cross_check(
        xml_fields(),
        page_fields(
            supplier_siret="552 462 814 00013",
            supplier_vat_id="fr 88 552462814",
            iban="FR76 3000 4008 2800 0123 4567 841",
            invoice_number="plf-2025-0412",
        ),
    )
    assert codes(findings) == ["FACTURX_CROSS_CHECKED"]


def test_value_missing_on_the_page_is_not_a_mismatch() -> None:
    findings = cross_check(xml_fields(), page_fields(total_tax=None, recipient_siret=None))
    assert mismatched(findings) == []
    skipped = only(findings, "FACTURX_NOT_CROSS_CHECKED")
    assert skipped.severity is Severity.INFO
    assert "total_tax (not found on the page)" in skipped.message
    assert "recipient_siret (not found on the page)" in skipped.message
    assert "total_tax" not in only(findings, "FACTURX_CROSS_CHECKED").message


def test_value_read_with_low_confidence_is_not_a_mismatch() -> None:
    low = page_fields(confidence=0.3, total_incl_tax="9999.99", supplier_siret="55246281400021")
    findings = cross_check(xml_fields(), low)
    assert mismatched(findings) == []
    assert codes(findings) == ["FACTURX_NOT_CROSS_CHECKED"]
    assert "total_incl_tax (read with confidence 0.30)" in findings[0].message


def test_optional_fields_are_compared_only_when_both_sides_have_them() -> None:
    findings = cross_check(xml_fields(iban=None), page_fields(supplier_vat_id=None))
    assert codes(findings) == ["FACTURX_CROSS_CHECKED"]
    assert "iban" not in findings[0].message
    assert "supplier_vat_id" not in findings[0].message


def test_nothing_comparable_gives_only_the_not_cross_checked_info() -> None:
    findings = cross_check(xml_fields(), PieceFields())
    assert codes(findings) == ["FACTURX_NOT_CROSS_CHECKED"]


def test_date_printed_month_first_agrees() -> None:
    """« Invoice Date 11/03/2017 » on an English page is the 3rd of November."""
    findings = cross_check(
        xml_fields(issue_date="2017-11-03"), page_fields(issue_date="2017-03-11")
    )
    assert codes(findings) == ["FACTURX_CROSS_CHECKED"]


def test_another_date_is_a_mismatch() -> None:
    findings = cross_check(
        xml_fields(issue_date="2025-03-12"), page_fields(issue_date="2025-03-21")
    )
    assert mismatched(findings) == ["issue_date"]


def test_invoice_number_printed_on_the_page_agrees_whatever_the_reader_picked() -> None:
    printed = "Invoice 103767. February 17, 2026 No. Description 1908-S LONDON Schreibtischstuhl"
    findings = cross_check(
        xml_fields(invoice_number="103767"), page_fields(invoice_number="1908-S"), printed=printed
    )
    assert codes(findings) == ["FACTURX_CROSS_CHECKED"]


@pytest.mark.parametrize(
    "printed", ["Invoice 1037670", "Facture n° 2025-103767", "Réf. 103767/2", "Total 77"]
)
def test_invoice_number_not_printed_on_its_own_is_a_mismatch(printed: str) -> None:
    for number in ("103767", "77"):
        findings = cross_check(
            xml_fields(invoice_number=number), page_fields(invoice_number="1908-S"), printed=printed
        )
        assert mismatched(findings) == ["invoice_number"]


def test_printed_text_does_not_excuse_an_amount_mismatch() -> None:
    findings = cross_check(
        xml_fields(), page_fields(total_incl_tax="9240.00"), printed="Total TTC 9420.00 9240.00"
    )
    assert mismatched(findings) == ["total_incl_tax"]


def test_unreadable_pages_give_an_info_finding_not_an_exception() -> None:
    def broken_ocr(data: bytes) -> tuple[list[Page], tuple[int, ...]]:
        raise InternalError("Tesseract is not installed", code="OCR_UNAVAILABLE")

    findings = check_visible_pages(b"%PDF-", xml_fields(), reader=broken_ocr)
    assert codes(findings) == ["FACTURX_NOT_CROSS_CHECKED"]
    assert "OCR_UNAVAILABLE" in findings[0].message


def test_pages_without_any_text_give_an_info_finding() -> None:
    def blank(data: bytes) -> tuple[list[Page], tuple[int, ...]]:
        page = Page(number=1, width=595.0, height=842.0, words=(), source=FieldSource.OCR)
        return [page], (1,)

    findings = check_visible_pages(b"%PDF-", xml_fields(), reader=blank)
    assert codes(findings) == ["FACTURX_NOT_CROSS_CHECKED"]
    assert findings[0].severity is Severity.INFO


# --------------------------------------------------------------------------- whole PDFs


def read(data: bytes, name: str, **settings: str) -> PieceDraft:
    return read_piece(
        data,
        file_name=name,
        settings=load_settings(**settings),
        limits=Limits(),
        trust_roots=[(REPO / "fixtures" / "pki" / "root.pem").read_bytes()],
        validation_time=NOW,
    )


@pytest.fixture
def context(tmp_path: Path) -> IntakeContext:
    settings = load_settings(data_dir=tmp_path, trust_roots=REPO / "fixtures" / "pki" / "root.pem")
    return build_context(settings, clock=lambda: NOW)


def test_demo_facturx_page_agrees_with_its_xml() -> None:
    draft = read((DEMO / "facturx-etat-dgfip.pdf").read_bytes(), "facturx-etat-dgfip.pdf")
    assert draft.format is DepositFormat.FACTURX
    assert mismatched(draft.findings) == []
    checked = only(draft.findings, "FACTURX_CROSS_CHECKED")
    for name in COMPARED:
        assert name in checked.message
    # The XML still makes the draft.
    assert draft.fields.total_incl_tax.source is FieldSource.XML


def test_cross_check_off_compares_nothing() -> None:
    data = (DEMO / "facturx-etat-dgfip.pdf").read_bytes()
    draft = read(data, "facturx-etat-dgfip.pdf", facturx_cross_check="off")
    assert not [f for f in draft.findings if f.code.startswith("FACTURX_")]


def test_cross_check_on_text_layers_still_compares_a_digital_page() -> None:
    data = (DEMO / "facturx-etat-dgfip.pdf").read_bytes()
    draft = read(data, "facturx-etat-dgfip.pdf", facturx_cross_check="text-layer")
    assert "total_incl_tax" in only(draft.findings, "FACTURX_CROSS_CHECKED").message


@pytest.fixture(scope="module")
def scanned_facturx() -> bytes:
    """The demo Factur-X scanned, its XML embedded again: an image-only Factur-X."""
    original = (DEMO / "facturx-etat-dgfip.pdf").read_bytes()
    _, xml = facturx.get_xml_from_pdf(original, check_xsd=False)
    scanned = scan_twin(original, "good", seed="t", issued=date(2025, 1, 1))
    data: bytes = facturx.generate_from_binary(scanned, xml, flavor="factur-x", check_xsd=False)
    return data


def test_scanned_facturx_page_is_ocred_and_agrees(scanned_facturx: bytes) -> None:
    draft = read(scanned_facturx, "scanned-facturx.pdf")
    assert mismatched(draft.findings) == []
    checked = only(draft.findings, "FACTURX_CROSS_CHECKED")
    assert "invoice_number" in checked.message and "total_incl_tax" in checked.message


def test_scanned_facturx_page_is_not_ocred_when_the_check_reads_text_layers_only(
    scanned_facturx: bytes,
) -> None:
    draft = read(scanned_facturx, "scanned-facturx.pdf", facturx_cross_check="text-layer")
    (finding,) = [f for f in draft.findings if f.code.startswith("FACTURX_")]
    assert finding.code == "FACTURX_NOT_CROSS_CHECKED"
    assert "OCR is off" in finding.message
    assert draft.fields.total_incl_tax.source is FieldSource.XML


def tampered_facturx() -> bytes:
    """The digital demo invoice facture-etat-dgfip.pdf (HT 7850.00, TTC 9420.00 on the
    page) with an embedded CII whose first line costs 21.50 instead of 18.50: a coherent
    XML (HT 8750.00, TVA 1750.00, TTC 10500.00) that the page does not show."""
    piece = pieces()["facture-etat-dgfip"]
    first, *rest = piece.lines
    inflated = dataclasses.replace(
        piece, lines=(dataclasses.replace(first, unit_price=Decimal("21.50")), *rest)
    )
    assert inflated.totals.ttc == Decimal("10500.00")
    xml = build_cii(
        inflated,
        buyer_street="139 rue de Bercy",
        buyer_postcode="75012",
        buyer_city="Paris",
        note="Fournitures de bureau.",
    )
    with fixed_facturx_clock(datetime(2025, 3, 12, 10, 0, tzinfo=UTC)):
        tampered: bytes = facturx.generate_from_binary(
            (DEMO / "facture-etat-dgfip.pdf").read_bytes(),
            xml,
            flavor="factur-x",
            level="en16931",
            check_xsd=True,
        )
    return tampered


def test_tampered_facturx_goes_to_review_with_a_mismatch_on_the_total(
    context: IntakeContext,
) -> None:
    result = process_deposit(tampered_facturx(), file_name="facturx-tampered.pdf", context=context)
    assert result.format is DepositFormat.FACTURX
    assert result.outcome is Outcome.REVIEW, result.reason
    assert result.reason.startswith("FACTURX_MISMATCH")
    fields = mismatched(result.findings)
    assert "total_incl_tax" in fields
    assert set(fields) <= {"total_excl_tax", "total_tax", "total_incl_tax", "amount_due"}
    total = next(f for f in result.findings if f.field == "total_incl_tax")
    assert "the page shows 9420.00 where the embedded XML says 10500.00" in total.message
    assert total.location is not None and total.location.startswith("page 1")
    # The booked values stay the XML's.
    assert result.draft is not None
    assert result.draft.fields.total_incl_tax.value == "10500.00"


# --------------------------------------------------------------------------- public samples

OCA = ("oca-edi", "account_invoice_import_facturx", "tests", "files")
ATGP = (
    "zugferd-corpus",
    "ZUGFeRDv2",
    "correct",
    "PHP_@gpFacturX",
    "sample_inofficial_20190125_atgp_factur-x_v_1_0.pdf",
)


def read_sample(*parts: str) -> PieceDraft:
    path = corpus_path(*parts)
    assert path.is_file(), path
    draft = read(path.read_bytes(), path.name)
    for finding in draft.findings:
        if finding.code.startswith("FACTURX_"):
            print(f"{path.name}: {finding.code} {finding.field or ''} {finding.message}")
    return draft


@pytest.mark.parametrize("name", ["Facture_FR_EN16931.pdf", "Facture_FR_BASICWL.pdf"])
def test_akretion_sample_is_cross_checked_and_agrees(name: str) -> None:
    """The Akretion sample: its page (scanned in the EN 16931 flavour, a text layer in the
    BASIC WL one) shows the same invoice FA-2017-0010 as its XML."""
    draft = read_sample(*OCA, name)
    assert draft.format is DepositFormat.FACTURX
    assert mismatched(draft.findings) == []
    checked = only(draft.findings, "FACTURX_CROSS_CHECKED")
    assert "invoice_number" in checked.message
    assert "total_incl_tax" in checked.message


def test_atgp_sample_page_shows_another_invoice_than_its_xml() -> None:
    """The unofficial atgp/factur-x sample embeds Akretion's FA-2017-0010 XML (IBAN
    FR20…) in a German GnuAccounting invoice RE-20190121/507 of 571,04 € whose page
    prints IBAN DE88…: the page and the XML are different invoices."""
    draft = read_sample(*ATGP)
    assert draft.format is DepositFormat.FACTURX
    assert "iban" in mismatched(draft.findings)
    iban = next(f for f in draft.findings if f.field == "iban")
    assert "DE88200800000970375700" in iban.message
    assert "FR2012421242124212421242124" in iban.message
