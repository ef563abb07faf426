"""Routing-data rules: is the piece addressed so that Chorus Pro could deliver it?

Checks the recipient SIRET against the annuaire (known, active), the code service and the
engagement number the structure demands (domain.md 5.1 and 5.2, with the OCA derivation of
domain.md 3.4), the « exclusivement MOA » restriction (5.3), the Chorus length limits of
the invoice and engagement numbers (4.5 and 6), and the checksums of the other SIRETs.
Every problem is a finding; nothing here raises on a bad piece.
"""

from __future__ import annotations

from pipeline.models import DocumentKind, Finding, MoaSetting, PieceFields, Severity
from pipeline.settings import SiretMode
from pipeline.validate.directory import Directory, Requirement, Service, Structure
from pipeline.validate.siret import SIRET_LENGTH, check_siret, normalise_siret

#: The single SIRET shared by every State service (domain.md 5.1).
STATE_SIRET = "11000201100044"
#: Reserved for invoicing within the public sphere; a flux using it is rejected (domain.md 3.3).
RESERVED_SERVICE_CODE = "FACTURES_PUBLIQUES"
MAX_INVOICE_NUMBER_LENGTH = 20
MAX_ENGAGEMENT_LENGTH = 50

_OTHER_SIRET_FIELDS = ("supplier_siret", "moe_siret", "moa_siret")
_SIMPLE_PIECES = (DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE)


def _text(fields: PieceFields, name: str) -> str | None:
    """The field's value without surrounding blanks; None when absent or blank."""
    value = fields.value(name)
    if value is None:
        return None
    return value.strip() or None


def _error(code: str, field: str, message: str, rule: str) -> Finding:
    return Finding(code=code, severity=Severity.ERROR, field=field, message=message, rule=rule)


def check_recipient(
    fields: PieceFields,
    directory: Directory,
    *,
    kind: DocumentKind | None,
    siret_mode: SiretMode,
) -> list[Finding]:
    """Every routing-data finding on a piece, recipient first."""
    findings = _check_recipient_routing(fields, directory, kind=kind, siret_mode=siret_mode)
    findings += _check_lengths(fields)
    for name in _OTHER_SIRET_FIELDS:
        findings += check_siret(fields.value(name), field=name, mode=siret_mode)
    return findings


def _check_recipient_routing(
    fields: PieceFields,
    directory: Directory,
    *,
    kind: DocumentKind | None,
    siret_mode: SiretMode,
) -> list[Finding]:
    raw_siret = _text(fields, "recipient_siret")
    service_code = _text(fields, "service_code")
    # The reserved code is refused whoever the recipient is.
    if service_code is not None and service_code.upper() == RESERVED_SERVICE_CODE:
        reserved = [
            _error(
                "SERVICE_RESERVED",
                "service_code",
                f"The code service {RESERVED_SERVICE_CODE} is reserved for invoicing between "
                "public bodies and cannot be used on a supplier's piece: ask the recipient "
                "for the code of the service that ordered the work.",
                "domain.md 3.3 (OCA chorus_partner_service)",
            )
        ]
    else:
        reserved = []

    if raw_siret is None:
        return [
            _error(
                "RECIPIENT_SIRET_MISSING",
                "recipient_siret",
                "The recipient SIRET (SIRET destinataire) is missing: the piece cannot be "
                "routed without it.",
                "domain.md 5 / seed 001",
            ),
            *reserved,
        ]

    siret = normalise_siret(raw_siret)
    findings = check_siret(siret, field="recipient_siret", mode=siret_mode)
    structure = directory.structure(siret)
    if structure is None:
        # A malformed number already has its finding; "unknown" would only repeat it.
        if len(siret) == SIRET_LENGTH and siret.isascii() and siret.isdigit():
            findings.append(
                _error(
                    "RECIPIENT_UNKNOWN",
                    "recipient_siret",
                    f"The recipient SIRET {siret} is not in the annuaire des structures "
                    "publiques: check the number with the recipient.",
                    "domain.md 3 (annuaire)",
                )
            )
        return findings + reserved
    if not structure.active:
        # Nothing else matters until the recipient can receive at all.
        findings.append(
            _error(
                "RECIPIENT_INACTIVE",
                "recipient_siret",
                f"The recipient {structure.name} ({siret}) is inactive in the annuaire and "
                "cannot receive pieces: ask the recipient which structure replaces it.",
                "annuaire StructureActive",
            )
        )
        return findings + reserved

    service: Service | None = None
    if reserved:
        findings += reserved
    elif service_code is not None:
        service = directory.service(structure.identifier, service_code)
        findings += _check_service(structure, service_code, service, directory)

    findings += _check_requirements(fields, structure, service, kind=kind)
    findings += _check_moa(structure, kind)
    return findings


def _check_service(
    structure: Structure, code: str, service: Service | None, directory: Directory
) -> list[Finding]:
    if service is None:
        active_codes = [s.code for s in directory.services_of(structure.identifier) if s.active]
        if not active_codes:
            known = " It has no active service in the annuaire."
        else:
            # A big structure has hundreds of services; a few are enough to spot a typo.
            more = ", …" if len(active_codes) > 10 else ""
            known = f" Its active services: {', '.join(active_codes[:10])}{more}."
        return [
            _error(
                "SERVICE_UNKNOWN",
                "service_code",
                f"The code service « {code} » is not a service of {structure.name} "
                f"({structure.identifier}).{known}",
                "annuaire services (Code)",
            )
        ]
    if not service.active:
        return [
            _error(
                "SERVICE_INACTIVE",
                "service_code",
                f"The service {service.code} ({service.name}) of {structure.name} is inactive "
                "in the annuaire: ask the recipient for its current code service.",
                "annuaire services ServiceActif",
            )
        ]
    return []


def _check_requirements(
    fields: PieceFields,
    structure: Structure,
    service: Service | None,
    *,
    kind: DocumentKind | None,
) -> list[Finding]:
    has_service = _text(fields, "service_code") is not None
    has_engagement = _text(fields, "engagement_number") is not None
    requirement = structure.requirement
    # The State's SIRET is for pieces outside works contracts (« pour les factures hors
    # marchés de travaux », seed 001); an unknown kind is treated as a simple invoice.
    state_rule = structure.identifier == STATE_SIRET and (kind is None or not kind.is_works_piece)
    findings: list[Finding] = []

    if not has_service:
        if state_rule:
            findings.append(
                _error(
                    "RECIPIENT_SERVICE_REQUIRED",
                    "service_code",
                    "The recipient is the State (SIRET 11000201100044): a code service is "
                    "always required to say which State service the piece is for.",
                    "domain.md 5.1 / seed 001",
                )
            )
        elif requirement in (Requirement.SERVICE, Requirement.SERVICE_AND_ENGAGEMENT):
            findings.append(
                _error(
                    "RECIPIENT_SERVICE_REQUIRED",
                    "service_code",
                    f"{structure.name} requires a code service on every piece; none was "
                    "given: ask the recipient for it.",
                    "annuaire GestionService",
                )
            )

    if not has_engagement:
        if state_rule:
            findings.append(
                _error(
                    "RECIPIENT_ENGAGEMENT_REQUIRED",
                    "engagement_number",
                    "The recipient is the State (SIRET 11000201100044): an engagement "
                    "number (n° d'engagement) is required.",
                    "domain.md 5.1 / seed 001",
                )
            )
        elif requirement in (Requirement.ENGAGEMENT, Requirement.SERVICE_AND_ENGAGEMENT):
            findings.append(
                _error(
                    "RECIPIENT_ENGAGEMENT_REQUIRED",
                    "engagement_number",
                    f"{structure.name} requires an engagement number (n° d'engagement) on "
                    "every piece; none was given: ask the recipient for it.",
                    "annuaire GestionEngagement",
                )
            )
        elif service is not None and service.active and service.engagement_required:
            findings.append(
                _error(
                    "RECIPIENT_ENGAGEMENT_REQUIRED",
                    "engagement_number",
                    f"The service {service.code} ({service.name}) of {structure.name} "
                    "requires an engagement number (n° d'engagement); none was given.",
                    "annuaire services GestionEGMT",
                )
            )

    if (
        requirement is Requirement.SERVICE_OR_ENGAGEMENT
        and not state_rule
        and not has_service
        and not has_engagement
    ):
        findings.append(
            _error(
                "RECIPIENT_SERVICE_OR_ENGAGEMENT_REQUIRED",
                "service_code",
                f"{structure.name} requires a code service or an engagement number; the "
                "piece has neither: ask the recipient for one of them.",
                "annuaire GestionServiceEngagement",
            )
        )
    return findings


def _check_moa(structure: Structure, kind: DocumentKind | None) -> list[Finding]:
    if structure.moa_setting is MoaSetting.EXCLUSIVEMENT_MOA and kind in _SIMPLE_PIECES:
        piece = "credit note" if kind is DocumentKind.CREDIT_NOTE else "simple invoice"
        return [
            _error(
                "RECIPIENT_MOA_ONLY",
                "recipient_siret",
                f"{structure.name} is « exclusivement MOA »: it only receives works pieces "
                f"(factures de travaux), not a {piece}; send it to the service financier "
                "that pays for the MOA.",
                "domain.md 5.3 / seed 002 (EstMOAUniquement)",
            )
        ]
    return []


def _check_lengths(fields: PieceFields) -> list[Finding]:
    findings: list[Finding] = []
    invoice_number = _text(fields, "invoice_number")
    if invoice_number is not None and len(invoice_number) > MAX_INVOICE_NUMBER_LENGTH:
        findings.append(
            _error(
                "INVOICE_NUMBER_TOO_LONG",
                "invoice_number",
                f"The invoice number « {invoice_number} » has {len(invoice_number)} "
                f"characters; Chorus Pro accepts at most {MAX_INVOICE_NUMBER_LENGTH}.",
                "domain.md 4.5 / BR-FR-CPRO-02",
            )
        )
    engagement = _text(fields, "engagement_number")
    if engagement is not None and len(engagement) > MAX_ENGAGEMENT_LENGTH:
        findings.append(
            _error(
                "ENGAGEMENT_TOO_LONG",
                "engagement_number",
                f"The engagement number has {len(engagement)} characters; Chorus Pro "
                f"accepts at most {MAX_ENGAGEMENT_LENGTH}.",
                "domain.md 6 / BR-FR-CPRO-15",
            )
        )
    return findings
