"""UBL 2.1 Invoice and CreditNote -> canonical fields (domain.md section 7).

Every query uses the explicit namespace map below, so whatever prefixes the sender chose
(or a default namespace) read the same. The root may be an Invoice or a CreditNote: the
paths are relative to it and the children share the cac/cbc namespaces.
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
from pipeline.xmlsafe import local_name

NS: dict[str, str] = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "ext": "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2",
}

_SUPPLIER = "cac:AccountingSupplierParty/cac:Party"
_CUSTOMER = "cac:AccountingCustomerParty/cac:Party"
_TOTALS = "cac:LegalMonetaryTotal"
#: The legacy Chorus E2 UBL puts the cadre in an extension; its content has no fixed
#: namespace (the SBordier44 template leaves it in the document's default one).
_EXTENSION_CADRE = (
    "ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent//*[local-name()='CategoryCode']"
)


def extract_ubl(root: etree._Element) -> XmlExtraction:
    """Map a UBL Invoice or CreditNote to the canonical fields, source ``xml``."""
    out = FieldCollector()
    currency_element = _first(root, "cbc:DocumentCurrencyCode")
    currency = element_text(currency_element)

    out.put_reference("invoice_number", _first(root, "cbc:ID"))
    out.put_date("issue_date", _first(root, "cbc:IssueDate"))
    out.put_identifier("currency", currency_element)

    out.put_amount("total_excl_tax", _first(root, f"{_TOTALS}/cbc:TaxExclusiveAmount"))
    tax_totals = elements(root, "cac:TaxTotal/cbc:TaxAmount", NS)
    out.put_amount("total_tax", pick_in_currency(tax_totals, currency))
    out.put_amount("total_incl_tax", _first(root, f"{_TOTALS}/cbc:TaxInclusiveAmount"))
    out.put_amount("amount_due", _first(root, f"{_TOTALS}/cbc:PayableAmount"))

    supplier = first_element(root, _SUPPLIER, NS)
    customer = first_element(root, _CUSTOMER, NS)
    out.put_identifier("supplier_siret", _siret(supplier))
    out.put_name("supplier_name", _party_name(supplier))
    out.put_identifier("supplier_vat_id", _vat_id(supplier))
    out.put_identifier("recipient_siret", _siret(customer))
    out.put_name("recipient_name", _party_name(customer))

    out.put_reference("service_code", _service_code(root, customer))
    out.put_reference("engagement_number", _first(root, "cac:OrderReference/cbc:ID"))
    out.put_reference("contract_number", _first(root, "cac:ContractDocumentReference/cbc:ID"))
    out.put_identifier("iban", _first(root, "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID"))

    profile = element_text(_first(root, "cbc:CustomizationID"))
    cadre = pick_cadre(
        element_text(_first(root, "cbc:ProfileID")),
        profile,
        element_text(_first(root, _EXTENSION_CADRE)),
    )
    return out.finish(is_credit_note=_is_credit_note(root), cadre_hint=cadre, profile=profile)


def _first(node: etree._Element | None, path: str) -> etree._Element | None:
    return first_with_text(node, (path,), NS)


def _is_credit_note(root: etree._Element) -> bool:
    if local_name(root) == "CreditNote":
        return True
    type_code = element_text(_first(root, "cbc:InvoiceTypeCode"))
    return type_code in CREDIT_NOTE_TYPE_CODES


def _siret(party: etree._Element | None) -> etree._Element | None:
    if party is None:
        return None
    # schemeName="1" is how the legacy Chorus UBL (OCA, SBordier44) flags a SIRET.
    identifiers = party_ids(
        elements(party, "cac:PartyIdentification/cbc:ID", NS),
        scheme_attrs=("schemeID", "schemeName"),
    )
    legal_ids = party_ids(
        elements(party, "cac:PartyLegalEntity/cbc:CompanyID", NS),
        scheme_attrs=("schemeID", "schemeName"),
    )
    chosen = pick_siret(identifiers, legal_ids)
    return chosen.element if chosen else None


def _party_name(party: etree._Element | None) -> etree._Element | None:
    """BT-27 / BT-44: the registration name, else the trading name minimal UBL carries."""
    return first_with_text(
        party, ("cac:PartyLegalEntity/cbc:RegistrationName", "cac:PartyName/cbc:Name"), NS
    )


def _vat_id(party: etree._Element | None) -> etree._Element | None:
    """BT-31: the PartyTaxScheme whose scheme is VAT (others are local tax ids, BT-32)."""
    return _first(
        party, "cac:PartyTaxScheme[normalize-space(cac:TaxScheme/cbc:ID)='VAT']/cbc:CompanyID"
    )


def _service_code(root: etree._Element, customer: etree._Element | None) -> etree._Element | None:
    """BT-10 BuyerReference, else the 2026 CIUS routing code (buyer id scheme 0224)."""
    buyer_reference = _first(root, "cbc:BuyerReference")
    if buyer_reference is not None:
        return buyer_reference
    return _first(customer, "cac:PartyIdentification/cbc:ID[normalize-space(@schemeID)='0224']")
