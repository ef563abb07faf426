"""What the UBL and CII extractors share: the result type, value normalisation, XPath
helpers and the rules that do not depend on the syntax (SIRET choice, cadre, document kind,
credit-note signs).

Values follow DESIGN 4.1: ISO dates, amounts as two-decimal strings computed with
``Decimal`` (never float), numeric identifiers (SIRET, VAT id, IBAN) without spaces. A
value that is present but unreadable is left null with an ``XML_VALUE_UNPARSEABLE``
warning; a value that is absent is simply null, whatever the profile says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

from lxml import etree

from pipeline.models import (
    AMOUNT_FIELDS,
    DocumentKind,
    ExtractedField,
    FieldSource,
    Finding,
    Frozen,
    KindGuess,
    PieceFields,
    Severity,
)

# --------------------------------------------------------------------------- result


class XmlExtraction(Frozen):
    """What one UBL or CII document says, mapped to the canonical fields."""

    fields: PieceFields
    document_kind: KindGuess
    profile: str | None = None
    cadre_hint: str | None = None
    findings: tuple[Finding, ...] = ()


# --------------------------------------------------------------------------- constants

#: EN 16931 credit-note type codes (UNTDID 1001 subset allowed for credit notes).
CREDIT_NOTE_TYPE_CODES = frozenset({"381", "261", "396", "532"})

#: A cadre de facturation code, A1 … A25.
CADRE_PATTERN = re.compile(r"^A([1-9]|1[0-9]|2[0-5])$")

#: The piece deposited under each works cadre (domain.md 1.1); other cadres are plain
#: invoices or credit notes, told apart by the type code.
WORKS_CADRE_KINDS: dict[str, DocumentKind] = {
    "A4": DocumentKind.PROJET_DECOMPTE_MENSUEL,
    "A13": DocumentKind.PROJET_DECOMPTE_MENSUEL,
    "A10": DocumentKind.DEMANDE_PAIEMENT_SOUS_TRAITANT,
    "A5": DocumentKind.ETAT_ACOMPTE,
    "A15": DocumentKind.ETAT_ACOMPTE,
    "A6": DocumentKind.ETAT_ACOMPTE_VALIDE,
    "A16": DocumentKind.ETAT_ACOMPTE_VALIDE,
    "A19": DocumentKind.ETAT_ACOMPTE_VALIDE,
    "A7": DocumentKind.PROJET_DECOMPTE_FINAL,
    "A14": DocumentKind.PROJET_DECOMPTE_FINAL,
    "A17": DocumentKind.PROJET_DECOMPTE_GENERAL,
    "A22": DocumentKind.PROJET_DECOMPTE_GENERAL,
    "A18": DocumentKind.DECOMPTE_GENERAL,
    "A20": DocumentKind.DECOMPTE_GENERAL,
    "A8": DocumentKind.DECOMPTE_GENERAL_DEFINITIF,
    "A23": DocumentKind.DECOMPTE_GENERAL_DEFINITIF,
    "A24": DocumentKind.DECOMPTE_GENERAL_DEFINITIF,
    "A25": DocumentKind.DECOMPTE_GENERAL_DEFINITIF,
}

#: Conventional prefixes, used only to print readable locations in findings; queries
#: always go through explicit namespace maps, never through the document's own prefixes.
_PREFIXES: dict[str, str] = {
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2": "ubl",
    "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2": "cn",
    "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2": "cac",
    "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2": "cbc",
    "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2": "ext",
    "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100": "rsm",
    "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100": "ram",
    "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100": "udt",
    "urn:un:unece:uncefact:data:standard:QualifiedDataType:100": "qdt",
}

#: How a field is named to an operator in findings.
_FIELD_LABELS: dict[str, str] = {
    "invoice_number": "invoice number (BT-1)",
    "issue_date": "issue date (BT-2)",
    "currency": "currency (BT-5)",
    "total_excl_tax": "total without VAT (BT-109)",
    "total_tax": "total VAT (BT-110)",
    "total_incl_tax": "total with VAT (BT-112)",
    "amount_due": "amount due (BT-115)",
}

# --------------------------------------------------------------------------- normalisation

_AMOUNT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(Z|[+-]\d{2}:\d{2})?$")
_FORMAT_102 = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_CENT = Decimal("0.01")
# Wide enough for any amount a person could mean; quantize fails beyond the precision.
_DECIMAL_CONTEXT = Context(prec=60)


def normalise_amount(text: str) -> str | None:
    """``"1234.5"`` -> ``"1234.50"``, sign kept; ``None`` when not an xs:decimal.

    Exponents, ``NaN`` and decimal commas are refused: ``Decimal`` would take some of them,
    an XML amount may not. More than two decimals are rounded half up (BR-DEC rules are
    the validator's business, the form holds cents).
    """
    raw = text.strip()
    if not _AMOUNT.match(raw):
        return None
    try:
        cents = Decimal(raw).quantize(_CENT, rounding=ROUND_HALF_UP, context=_DECIMAL_CONTEXT)
    except InvalidOperation:
        return None
    if cents.is_zero():
        cents = abs(cents)  # "-0" is zero, print it without a sign
    return f"{cents:f}"


def normalise_date(text: str) -> str | None:
    """UBL ``2024-05-23`` (time zone ignored) or CII format 102 ``20240523`` -> ISO.

    ``None`` when the text is neither or names no calendar day (``2024-13-45``).
    """
    raw = text.strip()
    match = _ISO_DATE.match(raw) or _FORMAT_102.match(raw)
    if match is None:
        return None
    year, month, day = (int(part) for part in match.group(1, 2, 3))
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def compact(text: str) -> str:
    """An identifier without any whitespace (``"FR20 1254 …"`` -> ``"FR201254…"``)."""
    return "".join(text.split())


def clean_text(text: str) -> str:
    """A name on one line: trimmed, inner whitespace runs (XML line breaks) made one space."""
    return " ".join(text.split())


def is_cadre(value: str | None) -> bool:
    return value is not None and CADRE_PATTERN.match(value) is not None


# --------------------------------------------------------------------------- XPath helpers


def elements(node: etree._Element, path: str, ns: dict[str, str]) -> list[etree._Element]:
    """The elements ``path`` selects under ``node``, in document order."""
    result = node.xpath(path, namespaces=ns)
    if not isinstance(result, list):
        return []
    return [item for item in result if isinstance(item, etree._Element)]


def element_text(element: etree._Element | None) -> str | None:
    """The element's text, trimmed; ``None`` for a missing or blank element.

    ``string()`` joins the text nodes only, so a comment inside a value does not leak in.
    """
    if element is None:
        return None
    text = element.xpath("string()")
    if not isinstance(text, str):
        return None
    text = text.strip()
    return text or None


def first_element(
    node: etree._Element | None, path: str, ns: dict[str, str]
) -> etree._Element | None:
    """The first element ``path`` selects under ``node`` (a container: text not needed)."""
    if node is None:
        return None
    found = elements(node, path, ns)
    return found[0] if found else None


def first_with_text(
    node: etree._Element | None, paths: Sequence[str], ns: dict[str, str]
) -> etree._Element | None:
    """The first element with a non-blank text, trying ``paths`` in order."""
    if node is None:
        return None
    for path in paths:
        for element in elements(node, path, ns):
            if element_text(element) is not None:
                return element
    return None


def location(element: etree._Element) -> str:
    """A readable absolute XPath of ``element`` (``/ubl:Invoice/cac:LegalMonetaryTotal/…``)."""
    steps: list[str] = []
    current: etree._Element | None = element
    while current is not None:
        qname = etree.QName(current)
        prefix = _PREFIXES.get(qname.namespace or "")
        step = f"{prefix}:{qname.localname}" if prefix else qname.localname
        parent = current.getparent()
        if parent is not None:
            same = [child for child in parent if child.tag == current.tag]
            if len(same) > 1:
                step += f"[{same.index(current) + 1}]"
        steps.append(step)
        current = parent
    return "/" + "/".join(reversed(steps))


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class PartyId:
    """One identifier of a party as printed, with its scheme (``None`` when none)."""

    element: etree._Element
    value: str
    scheme: str | None


def party_ids(found: Iterable[etree._Element], *, scheme_attrs: Sequence[str]) -> list[PartyId]:
    """Wrap identifier elements, reading the scheme from the first attribute present."""
    ids: list[PartyId] = []
    for element in found:
        text = element_text(element)
        if text is None:
            continue
        scheme = next((element.get(attr) for attr in scheme_attrs if element.get(attr)), None)
        ids.append(PartyId(element, compact(text), scheme.strip() if scheme else None))
    return ids


def pick_siret(identifiers: Sequence[PartyId], legal_ids: Sequence[PartyId]) -> PartyId | None:
    """The party's SIRET (domain.md decision 6), or ``None``.

    Order: an identifier with scheme 0009 (SIRET); then a legal id with scheme 0002 or
    0009 when it has 14 digits (0002 is SIREN *or* SIRET in Factur-X 1.0; a 9-digit SIREN
    is not a SIRET); then the legacy Chorus scheme ``1``, identifier before legal id.
    """
    for party_id in identifiers:
        if party_id.scheme == "0009":
            return party_id
    for party_id in legal_ids:
        if party_id.scheme in ("0002", "0009") and _is_14_digits(party_id.value):
            return party_id
    for party_id in (*identifiers, *legal_ids):
        if party_id.scheme == "1":
            return party_id
    return None


def _is_14_digits(value: str) -> bool:
    return len(value) == 14 and value.isascii() and value.isdigit()


def pick_in_currency(
    candidates: Iterable[etree._Element], currency: str | None
) -> etree._Element | None:
    """The amount printed in ``currency`` (its ``currencyID``), else the only one, else the
    only one without a ``currencyID``.

    BT-110 is the VAT total in the invoice currency; a second total may give it in the VAT
    accounting currency (BT-111). Ambiguous documents yield ``None``.
    """
    with_text = [element for element in candidates if element_text(element) is not None]
    for element in with_text:
        if currency is not None and (element.get("currencyID") or "").strip() == currency:
            return element
    if len(with_text) == 1:
        return with_text[0]
    without_currency = [element for element in with_text if not element.get("currencyID")]
    return without_currency[0] if len(without_currency) == 1 else None


def pick_cadre(*candidates: str | None) -> str | None:
    """The first candidate that is a cadre code (domain.md decision 5: BT-23, BT-24 slot,
    legacy extension), or ``None``."""
    for candidate in candidates:
        if candidate is not None and is_cadre(candidate.strip()):
            return candidate.strip()
    return None


def kind_for(*, is_credit_note: bool, cadre: str | None) -> KindGuess:
    """The document kind: the works piece a cadre names, else credit note or invoice."""
    if cadre is not None and cadre in WORKS_CADRE_KINDS:
        return KindGuess(value=WORKS_CADRE_KINDS[cadre], confidence=1.0)
    kind = DocumentKind.CREDIT_NOTE if is_credit_note else DocumentKind.INVOICE
    return KindGuess(value=kind, confidence=1.0)


# --------------------------------------------------------------------------- collecting


class FieldCollector:
    """Collects the fields and findings of one document while an extractor reads it.

    Each ``put_*`` method takes the element the value came from (or ``None`` when the
    document lacks it) so that a finding can say where the bad value sits.
    """

    def __init__(self) -> None:
        self._values: dict[str, ExtractedField] = {}
        self._findings: list[Finding] = []

    def put_reference(self, name: str, element: etree._Element | None) -> None:
        """A reference kept as printed (BT-1, BT-10, BT-12, BT-13): their spaces matter."""
        text = element_text(element)
        if text is not None:
            self._set(name, text)

    def put_name(self, name: str, element: etree._Element | None) -> None:
        text = element_text(element)
        if text is not None:
            self._set(name, clean_text(text))

    def put_identifier(self, name: str, element: etree._Element | None) -> None:
        """A numeric identifier (SIRET, VAT id, IBAN, currency): no whitespace at all."""
        text = element_text(element)
        if text is not None:
            self._set(name, compact(text))

    def put_amount(self, name: str, element: etree._Element | None) -> None:
        text = element_text(element)
        if text is None or element is None:
            return
        value = normalise_amount(text)
        if value is None:
            self._unparseable(name, text, element, "is not an amount")
        else:
            self._set(name, value)

    def put_date(self, name: str, element: etree._Element | None) -> None:
        text = element_text(element)
        if text is None or element is None:
            return
        value = normalise_date(text)
        if value is None:
            self._unparseable(name, text, element, "is not a valid date")
        else:
            self._set(name, value)

    def add_finding(self, finding: Finding) -> None:
        self._findings.append(finding)

    def finish(
        self, *, is_credit_note: bool, cadre_hint: str | None, profile: str | None
    ) -> XmlExtraction:
        kind = kind_for(is_credit_note=is_credit_note, cadre=cadre_hint)
        if self._leading_total() < 0 and kind.value in (
            DocumentKind.INVOICE,
            DocumentKind.CREDIT_NOTE,
        ):
            if kind.value is DocumentKind.INVOICE:
                # EN 16931 lets a credit be an invoice (380) with negative totals; the
                # deposit form knows one way only: a credit note with positive amounts.
                kind = KindGuess(value=DocumentKind.CREDIT_NOTE, confidence=1.0)
                code, message = (
                    "NEGATIVE_INVOICE_IS_CREDIT_NOTE",
                    "The invoice has negative totals: it is a credit in substance and is "
                    "handled as a credit note with positive amounts.",
                )
            else:
                code, message = (
                    "CREDIT_NOTE_SIGN_NORMALISED",
                    "The credit note prints negative totals; they were made positive, as "
                    "credit notes carry positive amounts.",
                )
            self._findings.append(Finding(code=code, severity=Severity.INFO, message=message))
            self._negate_amounts()
        return XmlExtraction(
            fields=PieceFields(**self._values),
            document_kind=kind,
            profile=profile,
            cadre_hint=cadre_hint,
            findings=tuple(self._findings),
        )

    def _set(self, name: str, value: str) -> None:
        self._values[name] = ExtractedField(value=value, confidence=1.0, source=FieldSource.XML)

    def _unparseable(self, name: str, text: str, element: etree._Element, why: str) -> None:
        label = _FIELD_LABELS.get(name, name)
        self._findings.append(
            Finding(
                code="XML_VALUE_UNPARSEABLE",
                severity=Severity.WARNING,
                field=name,
                message=f"The {label} in the XML, {text[:40]!r}, {why}; it was left empty.",
                location=location(element),
            )
        )

    def _amounts(self) -> dict[str, Decimal]:
        return {
            name: Decimal(field.value)
            for name in AMOUNT_FIELDS
            if (field := self._values.get(name)) is not None and field.value is not None
        }

    def _leading_total(self) -> Decimal:
        """The document's first non-zero total (TTC, then HT, net, VAT): its sign is the
        document's. Zero when there is none."""
        amounts = self._amounts()
        order = ("total_incl_tax", "total_excl_tax", "amount_due", "total_tax")
        return next((amounts[name] for name in order if amounts.get(name)), Decimal(0))

    def _negate_amounts(self) -> None:
        """Credit notes carry positive amounts (EN 16931 / Chorus convention): every total
        is negated, so HT + VAT = TTC still holds and a genuinely negative part (a net
        below zero after prepayment) keeps its meaning."""
        for name, amount in self._amounts().items():
            self._set(name, normalise_amount(str(-amount)) or "0.00")
