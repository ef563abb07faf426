"""The typed objects every stage shares.

Models that cross a stage or a Prefect boundary are frozen and refuse unknown keys, so a
typo in a field name fails loudly instead of being carried along. Their JSON shapes are
public (DESIGN section 4): ``schemas/`` holds the JSON Schemas generated from them.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class Frozen(BaseModel):
    """Base of the shared models: immutable, no unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


# --------------------------------------------------------------------------- enums


class DepositFormat(StrEnum):
    """Deposit format, detected from the bytes (never the file name)."""

    PDF = "pdf"
    PDF_SIGNED_PADES = "pdf_signed_pades"
    FACTURX = "facturx"
    UBL_INVOICE = "ubl_invoice"
    UBL_CREDIT_NOTE = "ubl_credit_note"
    CII = "cii"

    @property
    def is_pdf(self) -> bool:
        return self in (DepositFormat.PDF, DepositFormat.PDF_SIGNED_PADES, DepositFormat.FACTURX)

    @property
    def is_structured(self) -> bool:
        """The amounts and references come from XML (standalone or embedded)."""
        return self not in (DepositFormat.PDF, DepositFormat.PDF_SIGNED_PADES)


class DocumentKind(StrEnum):
    """What the piece is (DESIGN 4.1), simple invoices and CCAG Travaux pieces."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    PROJET_DECOMPTE_MENSUEL = "projet_decompte_mensuel"
    ETAT_ACOMPTE = "etat_acompte"
    ETAT_ACOMPTE_VALIDE = "etat_acompte_valide"
    PROJET_DECOMPTE_FINAL = "projet_decompte_final"
    PROJET_DECOMPTE_GENERAL = "projet_decompte_general"
    DECOMPTE_GENERAL = "decompte_general"
    DECOMPTE_GENERAL_DEFINITIF = "decompte_general_definitif"
    DEMANDE_PAIEMENT_SOUS_TRAITANT = "demande_paiement_sous_traitant"

    @property
    def is_works_piece(self) -> bool:
        return self not in (DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE)


class FieldSource(StrEnum):
    """Where a field value was read."""

    XML = "xml"
    TEXT_LAYER = "text_layer"
    OCR = "ocr"
    DECLARED = "declared"


class Severity(StrEnum):
    """``error`` blocks routing, ``warning`` sends to review, ``info`` is recorded only."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Role(StrEnum):
    """Who deposits the piece (the depositor's role in the contract)."""

    SUPPLIER = "supplier"
    SUBCONTRACTOR = "subcontractor"
    COCONTRACTOR = "cocontractor"
    MOE = "moe"
    MOA = "moa"


class DepositMode(StrEnum):
    """How the piece reached the platform (columns of the deposit-mode matrix)."""

    EDI = "edi"
    PORTAL = "portal"
    API = "api"


class Outcome(StrEnum):
    """Where a piece ends: routed to its dossier, sent to a person, or rejected."""

    ROUTED = "routed"
    REVIEW = "review"
    REJECTED = "rejected"


class Space(StrEnum):
    """Reception space of the recipient structure (domain.md section 5.3)."""

    FACTURES_TRAVAUX = "factures_travaux"
    FACTURES_RECUES = "factures_recues"


class MoaSetting(StrEnum):
    """A recipient structure's « Présence MOA » parameter (domain.md section 5.2)."""

    SANS_MOA = "sans_moa"
    AVEC_MOA = "avec_moa"
    EXCLUSIVEMENT_MOA = "exclusivement_moa"


class SignatureVerdict(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    INDETERMINATE = "indeterminate"


# --------------------------------------------------------------------------- extraction

#: The canonical field names, in the order of DESIGN 4.1.
CANONICAL_FIELDS: tuple[str, ...] = (
    "invoice_number",
    "issue_date",
    "currency",
    "total_excl_tax",
    "total_tax",
    "total_incl_tax",
    "amount_due",
    "supplier_siret",
    "supplier_name",
    "supplier_vat_id",
    "recipient_siret",
    "recipient_name",
    "service_code",
    "engagement_number",
    "contract_number",
    "iban",
    "moe_siret",
    "moa_siret",
)

AMOUNT_FIELDS: tuple[str, ...] = ("total_excl_tax", "total_tax", "total_incl_tax", "amount_due")

BBox = tuple[float, float, float, float]


class ExtractedField(Frozen):
    """One pre-filled value of the deposit form."""

    value: str | None = Field(
        default=None,
        description="Normalised value: ISO dates, amounts with two decimals, ids without "
        "spaces; null when not found.",
    )
    confidence: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        default=0.0, description="How sure the extractor is that the value is right (0..1)."
    )
    source: FieldSource | None = Field(default=None, description="Where the value was read.")
    page: int | None = Field(default=None, ge=1, description="1-based page of the value.")
    bbox: BBox | None = Field(
        default=None,
        description="x0, top, x1, bottom in PDF points, origin top-left, as pdfplumber gives it.",
    )


def _empty() -> ExtractedField:
    return ExtractedField()


class PieceFields(Frozen):
    """Every canonical field (DESIGN 4.1); a field not found has a null value."""

    invoice_number: ExtractedField = Field(default_factory=_empty, description="BT-1")
    issue_date: ExtractedField = Field(default_factory=_empty, description="BT-2")
    currency: ExtractedField = Field(default_factory=_empty, description="BT-5")
    total_excl_tax: ExtractedField = Field(default_factory=_empty, description="BT-109")
    total_tax: ExtractedField = Field(default_factory=_empty, description="BT-110")
    total_incl_tax: ExtractedField = Field(default_factory=_empty, description="BT-112")
    amount_due: ExtractedField = Field(default_factory=_empty, description="BT-115")
    supplier_siret: ExtractedField = Field(default_factory=_empty, description="BT-30")
    supplier_name: ExtractedField = Field(default_factory=_empty, description="BT-27")
    supplier_vat_id: ExtractedField = Field(default_factory=_empty, description="BT-31")
    recipient_siret: ExtractedField = Field(default_factory=_empty, description="BT-47")
    recipient_name: ExtractedField = Field(default_factory=_empty, description="BT-44")
    service_code: ExtractedField = Field(default_factory=_empty, description="BT-10")
    engagement_number: ExtractedField = Field(default_factory=_empty, description="BT-13")
    contract_number: ExtractedField = Field(default_factory=_empty, description="BT-12")
    iban: ExtractedField = Field(default_factory=_empty, description="BT-84")
    moe_siret: ExtractedField = Field(default_factory=_empty, description="Maîtrise d'œuvre")
    moa_siret: ExtractedField = Field(default_factory=_empty, description="Maîtrise d'ouvrage")

    def value(self, name: str) -> str | None:
        field: ExtractedField = getattr(self, name)
        return field.value

    def values(self) -> dict[str, str | None]:
        return {name: self.value(name) for name in CANONICAL_FIELDS}


class KindGuess(Frozen):
    """The document kind with the classifier's confidence."""

    value: DocumentKind | None = None
    confidence: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0


class Finding(Frozen):
    """A problem found on a piece (DESIGN 4.4); a bad piece is a result, not an exception."""

    code: str = Field(description="Stable upper-snake identifier owned by the project.")
    severity: Severity
    field: str | None = Field(default=None, description="Canonical field concerned, if any.")
    message: str = Field(description="One sentence a mailroom operator understands.")
    rule: str | None = Field(
        default=None, description="Id of the official rule (BR-CO-15, BR-FR-12) or legal source."
    )
    location: str | None = Field(default=None, description="XPath or page where it was found.")


class SignatureReport(Frozen):
    """What pyHanko found about one signature of a PDF."""

    field_name: str = Field(description="Name of the signature form field.")
    signer_subject: str | None = Field(default=None, description="Signer certificate subject.")
    signer_cert_sha256: str | None = Field(
        default=None, description="SHA-256 fingerprint of the signer certificate (hex)."
    )
    sub_filter: str | None = Field(default=None, description="/SubFilter of the signature.")
    signing_time: datetime | None = Field(default=None, description="Time claimed by the signer.")
    timestamp_time: datetime | None = Field(
        default=None, description="Time from a signature timestamp token, when present."
    )
    intact: bool = Field(description="The hash over the signed byte range matches.")
    cryptographically_valid: bool = Field(description="The signature value checks out.")
    trusted: bool = Field(description="The signer chains to a configured trust root.")
    coverage: str | None = Field(
        default=None, description="entire_file, entire_revision or partial (pyHanko coverage)."
    )
    modification_level: str | None = Field(
        default=None,
        description="What changed after signing: none, lta_updates, form_filling, "
        "annotations or other (pyHanko difference analysis).",
    )
    pades_level: str | None = Field(default=None, description="B-B, B-T, B-LT or B-LTA.")
    verdict: SignatureVerdict
    reason: str = Field(description="Why the verdict, in words a person understands.")


class PieceDraft(Frozen):
    """The pre-filled deposit form: output of ``intake extract`` (DESIGN 4.2)."""

    file: str = Field(description="File name as deposited.")
    sha256: str = Field(description="SHA-256 of the file bytes (hex).")
    format: DepositFormat
    profile: str | None = Field(
        default=None, description="Specification identifier of the XML (BT-24), if any."
    )
    cadre_hint: str | None = Field(
        default=None, description="Cadre de facturation read from the XML (BT-23 …), if any."
    )
    document_kind: KindGuess = Field(default_factory=KindGuess)
    fields: PieceFields = Field(default_factory=PieceFields)
    signatures: tuple[SignatureReport, ...] = ()
    findings: tuple[Finding, ...] = ()


class Deposit(Frozen):
    """A file received for intake, once its format is known."""

    file_name: str
    sha256: str
    size_bytes: int = Field(ge=0)
    format: DepositFormat
    page_count: int | None = Field(default=None, description="Pages of a PDF deposit.")
    embedded_xml_name: str | None = Field(
        default=None, description="Name of the invoice XML embedded in a Factur-X PDF."
    )
    has_signature: bool = Field(default=False, description="The PDF holds a signature field.")


# --------------------------------------------------------------------------- ground truth


class GroundTruth(Frozen):
    """A ``NAME.truth.json`` sidecar of a labelled corpus (DESIGN 4.3)."""

    document_kind: DocumentKind | None = None
    fields: dict[str, str | None] = Field(
        default_factory=dict,
        description="Expected normalised values; an absent field is not scored, null must "
        "be extracted as null.",
    )
    meta: dict[str, Any] = Field(
        default_factory=dict, description="Not scored; reports group by its keys."
    )


# --------------------------------------------------------------------------- routing


class Availability(StrEnum):
    """One cell of the deposit-mode matrix (domain.md section 1.2)."""

    ALLOWED = "allowed"
    FORBIDDEN = "forbidden"
    NOT_APPLICABLE = "not_applicable"


class ModeRule(Frozen):
    """Whether a cadre may be deposited in one mode as a first piece or by association."""

    initial: Availability
    association: Availability


class Cadre(Frozen):
    """A cadre de facturation (A1 … A25) as data."""

    code: str = Field(pattern=r"^A([1-9]|1[0-9]|2[0-5])$")
    api_enum: str = Field(description="codeCadreFacturation of the API, verbatim.")
    label: str = Field(description="French label shown to people.")
    depositors: tuple[Role, ...] = Field(description="Roles that deposit this cadre.")
    document_kinds: tuple[DocumentKind, ...] = Field(description="Pieces deposited under it.")
    in_scope: bool = Field(default=True, description="False for A3, A11, A21.")
    modes: dict[DepositMode, ModeRule] = Field(default_factory=dict)
    next_holder: str = Field(
        description="Who the piece is made available to: moe, moa, supplier or recipient."
    )


class DepositCertificate(Frozen):
    """Proof of deposit: a digest over the piece and what was deposited."""

    number: str = Field(description="Base64 SHA-256 digest over the piece and its data.")
    piece_sha256: str
    deposited_at: datetime
    cadre: str
    invoice_number: str | None
    dossier_number: str
    recipient_siret: str | None
    recipient_name: str | None
    total_excl_tax: str | None
    total_tax: str | None
    total_incl_tax: str | None
    amount_due: str | None


class RoutingDecision(Frozen):
    """What the router did with a piece."""

    cadre: str
    dossier_number: str
    piece_id: int
    status: str = Field(description="Status code of the piece after routing (API code).")
    space: Space | None = Field(default=None, description="Reception space of the recipient.")
    payment_deadline: date | None = Field(
        default=None, description="30 days after the payment request reached the MOE."
    )
    certificate: DepositCertificate


class ErrorInfo(Frozen):
    """Why an input could not be read (an ``IntakeError``)."""

    code: str
    message: str


class DepositResult(Frozen):
    """The verdict on one deposited file: the JSON written beside it in mailroom folders."""

    file: str
    sha256: str | None = None
    outcome: Outcome
    reason: str = Field(description="One line saying where the piece went and why.")
    format: DepositFormat | None = None
    cadre: str | None = None
    draft: PieceDraft | None = None
    findings: tuple[Finding, ...] = Field(
        default=(), description="Every finding of every stage, in stage order."
    )
    routing: RoutingDecision | None = None
    error: ErrorInfo | None = None
