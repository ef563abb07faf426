"""The UBL and CII extractors: real files against their ground truth, then small inline
documents for what the corpus lacks (Chorus Pro specifics, legacy cadres, broken values).

The corpus tests read ``../shared/corpus`` (beside the clone): every UBL Invoice / CreditNote
and CII CrossIndustryInvoice of the official folders that ``groundtruth_from_xml.jsonl``
describes, chosen by root element, plus the CII embedded in the Factur-X PDFs of the same
folders. ZUGFeRD 1.0 ``CrossIndustryDocument``, Order-X and other roots are left out.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from pipeline.extract.cii import extract_cii
from pipeline.extract.ubl import extract_ubl
from pipeline.extract.xml_common import (
    WORKS_CADRE_KINDS,
    XmlExtraction,
    kind_for,
    normalise_amount,
    normalise_date,
)
from pipeline.models import (
    CANONICAL_FIELDS,
    DocumentKind,
    ExtractedField,
    FieldSource,
    Severity,
)
from pipeline.xmlsafe import local_name, namespace, parse_xml

# --------------------------------------------------------------------------- corpus

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
GROUNDTRUTH = CORPUS / "groundtruth_from_xml.jsonl"
CORPUS_MISSING = "../shared/corpus not found: corpus tests need the shared corpus beside the clone"

#: The folders whose invoices are measured (the official EN 16931 examples and the
#: Factur-X / ZUGFeRD 2 / XRechnung samples of the libraries).
CORPUS_FOLDERS = (
    "en16931-cen/ubl/examples/",
    "en16931-cen/cii/examples/",
    "en16931-cen/test/testfiles/",
    "mustangproject/",
    "drafthorse/",
    "akretion-factur-x/",
)

UBL_NAMESPACES = {
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}
CII_NAMESPACE = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
CREDIT_NOTE_CODES = {"381", "261", "396", "532"}


def _require_corpus() -> None:
    """Skip without the corpus on a workstation; in CI a missing corpus is a failure."""
    if GROUNDTRUTH.is_file():
        return
    if os.environ.get("CI"):
        pytest.fail(CORPUS_MISSING)
    pytest.skip(CORPUS_MISSING)


def _document_root(path: Path) -> etree._Element | None:
    """The invoice XML of ``path`` (a PDF's embedded one), or ``None`` when it has none."""
    if path.suffix.lower() == ".pdf":
        from facturx import get_xml_from_pdf  # only the corpus PDFs need it

        _name, data = get_xml_from_pdf(path.read_bytes(), check_xsd=False)
        if not data:
            return None
    else:
        data = path.read_bytes()
    return parse_xml(data)


def _extract(root: etree._Element) -> XmlExtraction | None:
    """Dispatch on the root element, as the format detector does; ``None`` for others."""
    if namespace(root) in UBL_NAMESPACES and local_name(root) in ("Invoice", "CreditNote"):
        return extract_ubl(root)
    if namespace(root) == CII_NAMESPACE and local_name(root) == "CrossIndustryInvoice":
        return extract_cii(root)
    return None


def _corpus_selection() -> list[tuple[dict[str, Any], str]]:
    """(truth record, root local name) of every invoice of ``CORPUS_FOLDERS`` in the jsonl."""
    selection = []
    for line in GROUNDTRUTH.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if not record["file"].startswith(CORPUS_FOLDERS):
            continue
        root = _document_root(CORPUS / record["file"])
        if root is not None and _extract(root) is not None:
            selection.append((record, local_name(root)))
    return selection


CORPUS_SELECTION = _corpus_selection() if GROUNDTRUTH.is_file() else []
CORPUS_CASES = [pytest.param(record, id=record["file"]) for record, _root in CORPUS_SELECTION] or [
    pytest.param(None, id="corpus-missing")
]


def _truth_text(value: str | None) -> str | None:
    # The jsonl writes null for an absent element. "n/a" appears only where the XML itself
    # says n/a (BuyerReference and OrderReference of the two BIS3 examples): a value.
    return value.strip() if value is not None else None


def _truth_amount(value: str | None, *, credit_note: bool) -> str | None:
    if value is None:
        return None
    amount = Decimal(value).quantize(Decimal("0.01"))
    if credit_note:
        amount = abs(amount)
    return f"{amount + 0:f}"  # + 0 turns -0.00 into 0.00


def _truth_date(value: str | None) -> str | None:
    # The jsonl copies the XML: 2016-04-04+01:00 (UBL with a zone) or 20130630 (CII 102).
    if value is None:
        return None
    if "-" in value[:5]:
        return value[:10]
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}"


def _truth_siret(ids: list[dict[str, Any]] | None, legal: dict[str, Any] | None) -> str | None:
    for party_id in ids or ():
        if party_id["scheme"] == "0009":
            return "".join(party_id["id"].split())
    if legal and legal["scheme"] in ("0002", "0009"):
        value = "".join(legal["id"].split())
        if len(value) == 14 and value.isdigit():
            return value
    return None


def _expected(record: dict[str, Any], *, credit_note: bool) -> dict[str, str | None]:
    expected = {
        "invoice_number": _truth_text(record["BT-1_invoice_number"]),
        "issue_date": _truth_date(record["BT-2_issue_date"]),
        "currency": _truth_text(record["BT-5_currency"]),
        "total_excl_tax": _truth_amount(
            record["BT-109_total_without_vat"], credit_note=credit_note
        ),
        "total_tax": _truth_amount(record["BT-110_total_vat"], credit_note=credit_note),
        "total_incl_tax": _truth_amount(record["BT-112_total_with_vat"], credit_note=credit_note),
        "amount_due": _truth_amount(record["BT-115_amount_due"], credit_note=credit_note),
        "service_code": _truth_text(record["BT-10_buyer_reference"]),
        "engagement_number": _truth_text(record["BT-13_purchase_order_reference"]),
        "contract_number": _truth_text(record["BT-12_contract_reference"]),
    }
    # SIRETs are asserted when the truth names one (0009, or 0002 with 14 digits), and
    # asserted null when it names no candidate at all (a 9-digit SIREN is not a SIRET).
    for field, ids, legal in (
        ("supplier_siret", record["BT-29_seller_ids"], record["BT-30_seller_legal_id"]),
        ("recipient_siret", record["BT-46_buyer_ids"], record["BT-47_buyer_legal_id"]),
    ):
        legacy = any(i["scheme"] == "1" for i in ids or ()) or (legal or {}).get("scheme") == "1"
        if not legacy:
            expected[field] = _truth_siret(ids, legal)
    return expected


@pytest.mark.parametrize("record", CORPUS_CASES)
def test_corpus_file_matches_groundtruth(record: dict[str, Any] | None) -> None:
    _require_corpus()
    assert record is not None
    root = _document_root(CORPUS / record["file"])
    assert root is not None
    result = _extract(root)
    assert result is not None
    # A 380 invoice with negative totals is a credit in substance (a credit note, positive).
    credit_note = (
        local_name(root) == "CreditNote"
        or record["BT-3_type_code"] in CREDIT_NOTE_CODES
        or Decimal(record.get("BT-112_total_with_vat") or 0) < 0
    )

    expected = _expected(record, credit_note=credit_note)
    assert {name: result.fields.value(name) for name in expected} == expected
    assert result.document_kind.value is (
        DocumentKind.CREDIT_NOTE if credit_note else DocumentKind.INVOICE
    )
    assert not [f for f in result.findings if f.severity is not Severity.INFO]
    for name in CANONICAL_FIELDS:
        field: ExtractedField = getattr(result.fields, name)
        if field.value is None:
            assert field == ExtractedField()
        else:
            assert (field.source, field.confidence) == (FieldSource.XML, 1.0)


def test_corpus_selection_covers_both_syntaxes() -> None:
    """Guards the selection itself: an empty or one-sided list would pass silently."""
    _require_corpus()
    roots = [root for _record, root in CORPUS_SELECTION]
    assert roots.count("CrossIndustryInvoice") >= 40
    assert roots.count("Invoice") >= 40
    assert roots.count("CreditNote") >= 4
    assert sum(record["file"].endswith(".pdf") for record, _root in CORPUS_SELECTION) >= 5


# --------------------------------------------------------------------------- inline documents

UBL_NS = (
    'xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2" '
    'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2" '
    'xmlns:ext="urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"'
)
CII_NS = (
    'xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" '
    'xmlns:ram="urn:un:unece:uncefact:data:standard:'
    'ReusableAggregateBusinessInformationEntity:100" '
    'xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"'
)


def _ubl(body: str, root: str = "Invoice") -> str:
    return (
        f'<{root} xmlns="urn:oasis:names:specification:ubl:schema:xsd:{root}-2" {UBL_NS}>'
        f"{body}</{root}>"
    )


def _cii(context: str = "", document: str = "", agreement: str = "", settlement: str = "") -> str:
    return (
        f"<rsm:CrossIndustryInvoice {CII_NS}>"
        f"<rsm:ExchangedDocumentContext>{context}</rsm:ExchangedDocumentContext>"
        f"<rsm:ExchangedDocument>{document}</rsm:ExchangedDocument>"
        "<rsm:SupplyChainTradeTransaction>"
        f"<ram:ApplicableHeaderTradeAgreement>{agreement}</ram:ApplicableHeaderTradeAgreement>"
        f"<ram:ApplicableHeaderTradeSettlement>{settlement}</ram:ApplicableHeaderTradeSettlement>"
        "</rsm:SupplyChainTradeTransaction></rsm:CrossIndustryInvoice>"
    )


def _run(xml: str) -> XmlExtraction:
    result = _extract(parse_xml(xml.encode("utf-8")))
    assert result is not None
    return result


def _ubl_totals(excl: str, tax: str, incl: str, due: str, currency: str = "EUR") -> str:
    return (
        f'<cac:TaxTotal><cbc:TaxAmount currencyID="{currency}">{tax}</cbc:TaxAmount></cac:TaxTotal>'
        "<cac:LegalMonetaryTotal>"
        f'<cbc:TaxExclusiveAmount currencyID="{currency}">{excl}</cbc:TaxExclusiveAmount>'
        f'<cbc:TaxInclusiveAmount currencyID="{currency}">{incl}</cbc:TaxInclusiveAmount>'
        f'<cbc:PayableAmount currencyID="{currency}">{due}</cbc:PayableAmount>'
        "</cac:LegalMonetaryTotal>"
    )


def _cii_sums(excl: str, tax: str, incl: str, due: str) -> str:
    return (
        "<ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>"
        "<ram:SpecifiedTradeSettlementHeaderMonetarySummation>"
        f"<ram:TaxBasisTotalAmount>{excl}</ram:TaxBasisTotalAmount>"
        f'<ram:TaxTotalAmount currencyID="EUR">{tax}</ram:TaxTotalAmount>'
        f"<ram:GrandTotalAmount>{incl}</ram:GrandTotalAmount>"
        f"<ram:DuePayableAmount>{due}</ram:DuePayableAmount>"
        "</ram:SpecifiedTradeSettlementHeaderMonetarySummation>"
    )


CHORUS_UBL = _ubl(
    "<cbc:CustomizationID>urn:cen.eu:en16931:2017</cbc:CustomizationID>"
    "<cbc:ProfileID>A1</cbc:ProfileID>"
    "<cbc:ID>FA-2024-0153</cbc:ID>"
    "<cbc:IssueDate>2024-05-23</cbc:IssueDate>"
    "<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>"
    "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>"
    "<cbc:BuyerReference>SERV-FIN-75</cbc:BuyerReference>"
    "<cac:OrderReference><cbc:ID>EJ 1300012345</cbc:ID></cac:OrderReference>"
    "<cac:ContractDocumentReference><cbc:ID>MARCHE-2023-042</cbc:ID>"
    "</cac:ContractDocumentReference>"
    "<cac:AccountingSupplierParty><cac:Party>"
    '<cac:PartyIdentification><cbc:ID schemeID="0009">538 199 597 00013</cbc:ID>'
    "</cac:PartyIdentification>"
    "<cac:PartyName><cbc:Name>Bâti Ouest</cbc:Name></cac:PartyName>"
    "<cac:PartyTaxScheme><cbc:CompanyID>FR 12 538199597</cbc:CompanyID>"
    "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>"
    "<cac:PartyLegalEntity><cbc:RegistrationName>Bâti Ouest  SARL</cbc:RegistrationName>"
    '<cbc:CompanyID schemeID="0002">538199597</cbc:CompanyID></cac:PartyLegalEntity>'
    "</cac:Party></cac:AccountingSupplierParty>"
    "<cac:AccountingCustomerParty><cac:Party>"
    '<cac:PartyIdentification><cbc:ID schemeID="0009">11000201100044</cbc:ID>'
    "</cac:PartyIdentification>"
    "<cac:PartyLegalEntity><cbc:RegistrationName>Ministère des Armées</cbc:RegistrationName>"
    "</cac:PartyLegalEntity>"
    "</cac:Party></cac:AccountingCustomerParty>"
    "<cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode>"
    "<cac:PayeeFinancialAccount><cbc:ID>FR76 3000 6000 0112 3456 7890 189</cbc:ID>"
    "</cac:PayeeFinancialAccount></cac:PaymentMeans>"
    + _ubl_totals("7850", "1570.0", "9420.00", "9420")
)


def test_chorus_ubl_invoice_fills_every_field_it_carries() -> None:
    result = _run(CHORUS_UBL)

    assert result.fields.values() == {
        "invoice_number": "FA-2024-0153",
        "issue_date": "2024-05-23",
        "currency": "EUR",
        "total_excl_tax": "7850.00",
        "total_tax": "1570.00",
        "total_incl_tax": "9420.00",
        "amount_due": "9420.00",
        "supplier_siret": "53819959700013",
        "supplier_name": "Bâti Ouest SARL",
        "supplier_vat_id": "FR12538199597",
        "recipient_siret": "11000201100044",
        "recipient_name": "Ministère des Armées",
        "service_code": "SERV-FIN-75",
        "engagement_number": "EJ 1300012345",
        "contract_number": "MARCHE-2023-042",
        "iban": "FR7630006000011234567890189",
        "moe_siret": None,
        "moa_siret": None,
    }
    assert result.fields.invoice_number.source is FieldSource.XML
    assert result.fields.invoice_number.confidence == 1.0
    assert result.fields.moe_siret == ExtractedField()
    assert result.fields.moa_siret == ExtractedField()
    assert (result.profile, result.cadre_hint) == ("urn:cen.eu:en16931:2017", "A1")
    assert result.document_kind.value is DocumentKind.INVOICE
    assert result.document_kind.confidence == 1.0
    assert result.findings == ()


def test_namespace_prefixes_chosen_by_the_sender_do_not_matter() -> None:
    renamed = (
        CHORUS_UBL.replace("cac:", "agg:")
        .replace("cbc:", "b:")
        .replace("xmlns:cac=", "xmlns:agg=")
        .replace("xmlns:cbc=", "xmlns:b=")
    )
    assert _run(renamed).fields == _run(CHORUS_UBL).fields


LEGACY_CII = _cii(
    context="<ram:GuidelineSpecifiedDocumentContextParameter><ram:ID>A4</ram:ID>"
    "</ram:GuidelineSpecifiedDocumentContextParameter>",
    document="<ram:ID>PDM-2024-07</ram:ID><ram:TypeCode>380</ram:TypeCode>"
    '<ram:IssueDateTime><udt:DateTimeString format="102">20240718</udt:DateTimeString>'
    "</ram:IssueDateTime>",
    agreement="<ram:BuyerReference>TRAVAUX</ram:BuyerReference>"
    "<ram:SellerTradeParty><ram:Name>Maçonnerie Durand</ram:Name>"
    '<ram:SpecifiedLegalOrganization><ram:ID schemeID="1">53819959700013</ram:ID>'
    "</ram:SpecifiedLegalOrganization>"
    '<ram:SpecifiedTaxRegistration><ram:ID schemeID="VA">FR12538199597</ram:ID>'
    "</ram:SpecifiedTaxRegistration></ram:SellerTradeParty>"
    "<ram:BuyerTradeParty><ram:Name>Commune de Lorient</ram:Name>"
    '<ram:SpecifiedLegalOrganization><ram:ID schemeID="1">21560121300018</ram:ID>'
    "</ram:SpecifiedLegalOrganization></ram:BuyerTradeParty>"
    "<ram:BuyerOrderReferencedDocument><ram:IssuerAssignedID>EJ-77</ram:IssuerAssignedID>"
    "</ram:BuyerOrderReferencedDocument>",
    settlement="<ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>30</ram:TypeCode>"
    "<ram:PayeePartyCreditorFinancialAccount><ram:ProprietaryID>12345 67890</ram:ProprietaryID>"
    "</ram:PayeePartyCreditorFinancialAccount></ram:SpecifiedTradeSettlementPaymentMeans>"
    + _cii_sums("15000", "3000", "18000", "17250"),
)


def test_legacy_chorus_cii_reads_the_cadre_from_the_bt24_slot() -> None:
    result = _run(LEGACY_CII)

    assert result.cadre_hint == "A4"
    assert result.profile == "A4"
    assert result.document_kind.value is DocumentKind.PROJET_DECOMPTE_MENSUEL
    values = result.fields.values()
    assert values["issue_date"] == "2024-07-18"
    assert values["supplier_siret"] == "53819959700013"
    assert values["recipient_siret"] == "21560121300018"
    assert values["iban"] == "1234567890"  # ProprietaryID when there is no IBANID
    assert (values["total_excl_tax"], values["amount_due"]) == ("15000.00", "17250.00")
    assert (values["moe_siret"], values["moa_siret"]) == (None, None)


def test_cii_with_ram_as_default_namespace_reads_the_same() -> None:
    ram = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
    renamed = LEGACY_CII.replace("ram:", "").replace(f'xmlns:ram="{ram}"', f'xmlns="{ram}"')
    assert _run(renamed).fields == _run(LEGACY_CII).fields


@pytest.mark.parametrize(
    ("bt23", "bt24", "cadre", "kind"),
    [
        ("A10", "A4", "A10", DocumentKind.DEMANDE_PAIEMENT_SOUS_TRAITANT),
        ("S1", "A15", "A15", DocumentKind.ETAT_ACOMPTE),
        ("A9", "urn:cen.eu:en16931:2017", "A9", DocumentKind.INVOICE),
        ("S1", "urn:cen.eu:en16931:2017", None, DocumentKind.INVOICE),
        ("A26", "A0", None, DocumentKind.INVOICE),
    ],
)
def test_cii_cadre_bt23_first_then_bt24(
    bt23: str, bt24: str, cadre: str | None, kind: DocumentKind
) -> None:
    xml = _cii(
        context="<ram:BusinessProcessSpecifiedDocumentContextParameter>"
        f"<ram:ID>{bt23}</ram:ID></ram:BusinessProcessSpecifiedDocumentContextParameter>"
        "<ram:GuidelineSpecifiedDocumentContextParameter>"
        f"<ram:ID>{bt24}</ram:ID></ram:GuidelineSpecifiedDocumentContextParameter>",
        document="<ram:TypeCode>380</ram:TypeCode>",
    )
    result = _run(xml)
    assert (result.cadre_hint, result.document_kind.value) == (cadre, kind)


def test_legacy_ubl_extension_category_code_and_scheme_name_1() -> None:
    xml = _ubl(
        "<ext:UBLExtensions><ext:UBLExtension><ext:ExtensionContent>"
        "<CategoryCode>A8</CategoryCode>"
        "</ext:ExtensionContent></ext:UBLExtension></ext:UBLExtensions>"
        "<cbc:UBLVersionID>2.1</cbc:UBLVersionID><cbc:ID>DGD-1</cbc:ID>"
        "<cac:AccountingCustomerParty><cac:Party><cac:PartyIdentification>"
        '<cbc:ID schemeName="1">21560121300018</cbc:ID>'
        "</cac:PartyIdentification></cac:Party></cac:AccountingCustomerParty>"
    )
    result = _run(xml)
    assert result.cadre_hint == "A8"
    assert result.document_kind.value is DocumentKind.DECOMPTE_GENERAL_DEFINITIF
    assert result.fields.value("recipient_siret") == "21560121300018"


@pytest.mark.parametrize("root", ["Invoice", "CreditNote"])
def test_ubl_credit_note_with_negative_totals_is_made_positive(root: str) -> None:
    type_element = "CreditNoteTypeCode" if root == "CreditNote" else "InvoiceTypeCode"
    xml = _ubl(
        f"<cbc:ID>AV-12</cbc:ID><cbc:{type_element}>381</cbc:{type_element}>"
        "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>"
        + _ubl_totals("-100.00", "-20.00", "-120.00", "-120.00"),
        root=root,
    )
    result = _run(xml)

    assert result.document_kind.value is DocumentKind.CREDIT_NOTE
    assert [result.fields.value(name) for name in ("total_excl_tax", "total_tax")] == [
        "100.00",
        "20.00",
    ]
    assert [result.fields.value(name) for name in ("total_incl_tax", "amount_due")] == [
        "120.00",
        "120.00",
    ]
    (finding,) = result.findings
    assert (finding.code, finding.severity) == ("CREDIT_NOTE_SIGN_NORMALISED", Severity.INFO)


@pytest.mark.parametrize("type_code", ["381", "261", "396", "532"])
def test_cii_credit_note_codes_and_sign(type_code: str) -> None:
    xml = _cii(
        document=f"<ram:ID>AV-3</ram:ID><ram:TypeCode>{type_code}</ram:TypeCode>",
        settlement=_cii_sums("-50", "0.00", "-50", "-50"),
    )
    result = _run(xml)
    assert result.document_kind.value is DocumentKind.CREDIT_NOTE
    assert [
        result.fields.value(name) for name in ("total_excl_tax", "total_tax", "amount_due")
    ] == [
        "50.00",
        "0.00",
        "50.00",
    ]
    assert [f.code for f in result.findings] == ["CREDIT_NOTE_SIGN_NORMALISED"]


def test_invoice_with_negative_totals_is_a_credit_note() -> None:
    # EN 16931 allows a credit as a 380 invoice with negative totals (the FNFE samples
    # Avoir_FR_type380_* do this); the deposit form has credit notes, positive.
    xml = _cii(
        document="<ram:ID>AV-2017-0005</ram:ID><ram:TypeCode>380</ram:TypeCode>",
        settlement=_cii_sums("-218.48", "-14.99", "-233.47", "-233.47"),
    )
    result = _run(xml)
    assert result.document_kind.value is DocumentKind.CREDIT_NOTE
    assert result.fields.value("total_incl_tax") == "233.47"
    assert result.fields.value("total_tax") == "14.99"
    assert [f.code for f in result.findings] == ["NEGATIVE_INVOICE_IS_CREDIT_NOTE"]


def test_invoice_with_a_negative_net_after_prepayment_stays_an_invoice() -> None:
    xml = _cii(
        document="<ram:TypeCode>380</ram:TypeCode>", settlement=_cii_sums("50", "10", "60", "-5")
    )
    result = _run(xml)
    assert result.document_kind.value is DocumentKind.INVOICE
    assert result.fields.value("amount_due") == "-5.00"


def test_positive_credit_note_is_left_alone() -> None:
    xml = _cii(
        document="<ram:TypeCode>381</ram:TypeCode>", settlement=_cii_sums("50", "10", "60", "60")
    )
    result = _run(xml)
    assert result.fields.value("total_incl_tax") == "60.00"
    assert result.findings == ()


def test_unparseable_values_are_null_with_a_warning_and_their_location() -> None:
    xml = _ubl(
        "<cbc:ID>F-1</cbc:ID><cbc:IssueDate>2024-13-45</cbc:IssueDate>"
        "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>"
        + _ubl_totals("12,3x", "2.46", "14.76", "14.76")
    )
    result = _run(xml)

    assert result.fields.total_excl_tax == ExtractedField()
    assert result.fields.issue_date == ExtractedField()
    assert result.fields.value("total_tax") == "2.46"
    by_field = {f.field: f for f in result.findings}
    assert set(by_field) == {"total_excl_tax", "issue_date"}
    amount = by_field["total_excl_tax"]
    assert (amount.code, amount.severity) == ("XML_VALUE_UNPARSEABLE", Severity.WARNING)
    assert amount.location == "/ubl:Invoice/cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount"
    assert "12,3x" in amount.message
    assert by_field["issue_date"].location == "/ubl:Invoice/cbc:IssueDate"


def test_cii_unparseable_date_location() -> None:
    xml = _cii(
        document="<ram:IssueDateTime>"
        '<udt:DateTimeString format="102">20240230</udt:DateTimeString></ram:IssueDateTime>'
    )
    (finding,) = _run(xml).findings
    assert finding.field == "issue_date"
    assert finding.location == (
        "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString"
    )


@pytest.mark.parametrize(
    "xml",
    [
        _ubl(""),
        _ubl("", root="CreditNote"),
        _cii(),
        f"<rsm:CrossIndustryInvoice {CII_NS}/>",
    ],
    ids=["ubl-invoice", "ubl-credit-note", "cii-empty-blocks", "cii-root-only"],
)
def test_empty_documents_give_null_fields_and_no_error(xml: str) -> None:
    result = _run(xml)
    assert result.fields.values() == dict.fromkeys(CANONICAL_FIELDS)
    assert result.findings == ()
    assert (result.profile, result.cadre_hint) == (None, None)


def test_siren_is_not_a_siret_but_a_14_digit_0002_is() -> None:
    xml = _cii(
        agreement="<ram:SellerTradeParty>"
        '<ram:SpecifiedLegalOrganization><ram:ID schemeID="0002">538199597</ram:ID>'
        "</ram:SpecifiedLegalOrganization></ram:SellerTradeParty>"
        "<ram:BuyerTradeParty>"
        '<ram:SpecifiedLegalOrganization><ram:ID schemeID="0002">110 002 011 00044</ram:ID>'
        "</ram:SpecifiedLegalOrganization></ram:BuyerTradeParty>"
    )
    values = _run(xml).fields.values()
    assert values["supplier_siret"] is None
    assert values["recipient_siret"] == "11000201100044"


def test_0009_identifier_wins_over_the_legal_id() -> None:
    xml = _cii(
        agreement="<ram:BuyerTradeParty>"
        '<ram:GlobalID schemeID="0088">3654789851</ram:GlobalID>'
        '<ram:GlobalID schemeID="0009">98765432100029</ram:GlobalID>'
        '<ram:SpecifiedLegalOrganization><ram:ID schemeID="0002">11000201100044</ram:ID>'
        "</ram:SpecifiedLegalOrganization></ram:BuyerTradeParty>"
    )
    assert _run(xml).fields.value("recipient_siret") == "98765432100029"


def test_service_code_falls_back_to_the_0224_routing_id() -> None:
    ubl = _ubl(
        "<cac:AccountingCustomerParty><cac:Party><cac:PartyIdentification>"
        '<cbc:ID schemeID="0224">SERV-ROUTAGE</cbc:ID>'
        "</cac:PartyIdentification></cac:Party></cac:AccountingCustomerParty>"
    )
    cii = _cii(
        agreement='<ram:BuyerTradeParty><ram:GlobalID schemeID="0224">CDROUT1</ram:GlobalID>'
        "</ram:BuyerTradeParty>"
    )
    assert _run(ubl).fields.value("service_code") == "SERV-ROUTAGE"
    assert _run(cii).fields.value("service_code") == "CDROUT1"


def test_vat_total_in_the_invoice_currency_is_bt110() -> None:
    xml = _cii(
        settlement="<ram:TaxCurrencyCode>EUR</ram:TaxCurrencyCode>"
        "<ram:InvoiceCurrencyCode>GBP</ram:InvoiceCurrencyCode>"
        "<ram:SpecifiedTradeSettlementHeaderMonetarySummation>"
        '<ram:TaxTotalAmount currencyID="EUR">183.14</ram:TaxTotalAmount>'
        '<ram:TaxTotalAmount currencyID="GBP">163.16</ram:TaxTotalAmount>'
        "</ram:SpecifiedTradeSettlementHeaderMonetarySummation>"
    )
    assert _run(xml).fields.value("total_tax") == "163.16"


def test_a_comment_inside_a_value_does_not_leak_into_it() -> None:
    xml = _ubl("<cbc:ID>F-<!-- sender note -->42</cbc:ID>")
    assert _run(xml).fields.value("invoice_number") == "F-42"


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize("cadre", sorted(WORKS_CADRE_KINDS))
def test_every_works_cadre_names_a_works_piece(cadre: str) -> None:
    kind = kind_for(is_credit_note=False, cadre=cadre).value
    assert kind is not None and kind.is_works_piece


@pytest.mark.parametrize("cadre", ["A1", "A2", "A9", "A12", None])
def test_simple_invoice_cadres_follow_the_type_code(cadre: str | None) -> None:
    assert kind_for(is_credit_note=True, cadre=cadre).value is DocumentKind.CREDIT_NOTE
    assert kind_for(is_credit_note=False, cadre=cadre).value is DocumentKind.INVOICE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234.5", "1234.50"),
        (" 7850 ", "7850.00"),
        ("-625743.54", "-625743.54"),
        ("+12.3", "12.30"),
        ("-0", "0.00"),
        (".5", "0.50"),
        ("10.005", "10.01"),
        ("12,3x", None),
        ("1e3", None),
        ("NaN", None),
        ("1 234.00", None),
        ("", None),
    ],
)
def test_normalise_amount(text: str, expected: str | None) -> None:
    assert normalise_amount(text) == expected


@given(st.decimals(min_value=-(10**15), max_value=10**15, places=2, allow_nan=False))
def test_normalise_amount_round_trips_two_decimal_values(value: Decimal) -> None:
    assert normalise_amount(str(value)) == f"{value + 0:.2f}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-23", "2024-05-23"),
        ("20240523", "2024-05-23"),
        ("2016-04-04+01:00", "2016-04-04"),
        ("2024-05-23Z", "2024-05-23"),
        ("2024-13-45", None),
        ("20240230", None),
        ("23/05/2024", None),
        ("202405", None),
    ],
)
def test_normalise_date(text: str, expected: str | None) -> None:
    assert normalise_date(text) == expected
