"""UN/CEFACT CII D16B CrossIndustryInvoice -> canonical fields (domain.md section 7).

Serves standalone CII files and the XML embedded in Factur-X / ZUGFeRD 2 PDFs alike; the
MINIMUM and BASIC WL profiles lack many elements, which then stay null. Queries use the
explicit namespace map below, never the document's prefixes.
"""

from __future__ import annotations

from lxml import etree

from pipeline.extract.xml_common import (
    CREDIT_NOTE_TYPE_CODES,
    FieldCollector,
    XmlExtraction,
    element_text,
    elements,
    first_element,
    first_with_text,
    party_ids,
    pick_cadre,
    pick_in_currency,
    pick_siret,
)

NS: dict[str, str] = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}

_CONTEXT = "rsm:ExchangedDocumentContext"
_DOCUMENT = "rsm:ExchangedDocument"
_AGREEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
_SETTLEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
_SUMS = f"{_SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
_PAYEE_ACCOUNT = (
    f"{_SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans/ram:PayeePartyCreditorFinancialAccount"
)


def extract_cii(root: etree._Element) -> XmlExtraction:
    """Map a CII CrossIndustryInvoice to the canonical fields, source ``xml``."""
    out = FieldCollector()
    currency_element = _first(root, f"{_SETTLEMENT}/ram:InvoiceCurrencyCode")
    currency = element_text(currency_element)

    out.put_reference("invoice_number", _first(root, f"{_DOCUMENT}/ram:ID"))
    out.put_date(
        "issue_date",
        first_with_text(
            root,
            (
                f"{_DOCUMENT}/ram:IssueDateTime/udt:DateTimeString",
                f"{_DOCUMENT}/ram:IssueDateTime/qdt:DateTimeString",
            ),
            NS,
        ),
    )
    out.put_identifier("currency", currency_element)

    out.put_amount("total_excl_tax", _first(root, f"{_SUMS}/ram:TaxBasisTotalAmount"))
    tax_totals = elements(root, f"{_SUMS}/ram:TaxTotalAmount", NS)
    out.put_amount("total_tax", pick_in_currency(tax_totals, currency))
    out.put_amount("total_incl_tax", _first(root, f"{_SUMS}/ram:GrandTotalAmount"))
    out.put_amount("amount_due", _first(root, f"{_SUMS}/ram:DuePayableAmount"))

    seller = first_element(root, f"{_AGREEMENT}/ram:SellerTradeParty", NS)
    buyer = first_element(root, f"{_AGREEMENT}/ram:BuyerTradeParty", NS)
    out.put_identifier("supplier_siret", _siret(seller))
    out.put_name("supplier_name", _first(seller, "ram:Name"))
    out.put_identifier(
        "supplier_vat_id",
        _first(seller, "ram:SpecifiedTaxRegistration/ram:ID[normalize-space(@schemeID)='VA']"),
    )
    out.put_identifier("recipient_siret", _siret(buyer))
    out.put_name("recipient_name", _first(buyer, "ram:Name"))

    out.put_reference("service_code", _service_code(root, buyer))
    out.put_reference(
        "engagement_number",
        _first(root, f"{_AGREEMENT}/ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID"),
    )
    out.put_reference(
        "contract_number",
        _first(root, f"{_AGREEMENT}/ram:ContractReferencedDocument/ram:IssuerAssignedID"),
    )
    out.put_identifier(
        "iban",
        first_with_text(
            root, (f"{_PAYEE_ACCOUNT}/ram:IBANID", f"{_PAYEE_ACCOUNT}/ram:ProprietaryID"), NS
        ),
    )

    profile = element_text(
        _first(root, f"{_CONTEXT}/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID")
    )
    cadre = pick_cadre(
        element_text(
            _first(root, f"{_CONTEXT}/ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID")
        ),
        # Legacy Chorus CII16B put the cadre in the BT-24 slot.
        profile,
    )
    type_code = element_text(_first(root, f"{_DOCUMENT}/ram:TypeCode"))
    return out.finish(
        is_credit_note=type_code in CREDIT_NOTE_TYPE_CODES, cadre_hint=cadre, profile=profile
    )


def _first(node: etree._Element | None, path: str) -> etree._Element | None:
    return first_with_text(node, (path,), NS)


def _siret(party: etree._Element | None) -> etree._Element | None:
    if party is None:
        return None
    identifiers = party_ids(elements(party, "ram:GlobalID", NS), scheme_attrs=("schemeID",))
    legal_ids = party_ids(
        elements(party, "ram:SpecifiedLegalOrganization/ram:ID", NS), scheme_attrs=("schemeID",)
    )
    chosen = pick_siret(identifiers, legal_ids)
    return chosen.element if chosen else None


def _service_code(root: etree._Element, buyer: etree._Element | None) -> etree._Element | None:
    """BT-10 BuyerReference, else the 2026 CIUS routing code (buyer id scheme 0224).

    Where CII carries the 0224 id is unconfirmed (domain.md 7): GlobalID, else ram:ID.
    """
    buyer_reference = _first(root, f"{_AGREEMENT}/ram:BuyerReference")
    if buyer_reference is not None:
        return buyer_reference
    return first_with_text(
        buyer,
        (
            "ram:GlobalID[normalize-space(@schemeID)='0224']",
            "ram:ID[normalize-space(@schemeID)='0224']",
        ),
        NS,
    )
