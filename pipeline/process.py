"""``process_deposit``: the one composition of the stages.

The CLI, the Prefect flows and the end-to-end tests all call these functions, so a piece
goes through exactly the same steps whichever door it came in by:

    detect -> verify signatures -> extract -> validate -> pick cadre -> route
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from pipeline.errors import InputError
from pipeline.extract.cii import extract_cii
from pipeline.extract.facturx import check_visible_pages
from pipeline.extract.fields import PublicStructure
from pipeline.extract.ubl import extract_ubl
from pipeline.extract.visible import read_visible
from pipeline.extract.xml_common import XmlExtraction
from pipeline.formats import DetectedInput, Limits, detect, sha256_hex
from pipeline.models import (
    DepositFormat,
    DepositMode,
    DepositResult,
    DocumentKind,
    ErrorInfo,
    ExtractedField,
    FieldSource,
    Finding,
    Outcome,
    PieceDraft,
    Role,
    RoutingDecision,
    Severity,
    SignatureReport,
    SignatureVerdict,
)
from pipeline.route.cadres import pick_cadre
from pipeline.route.router import route_piece
from pipeline.route.store import DossierStore
from pipeline.settings import FacturxCrossCheck, Settings
from pipeline.validate.amounts import check_amounts
from pipeline.validate.directory import Directory, bundled_directory_paths, load_directory
from pipeline.validate.recipient import check_recipient
from pipeline.validate.signature import load_trust_roots, verify_signatures

#: Below this confidence a value read from the page needs a person's eye before routing.
REVIEW_CONFIDENCE = 0.8

#: Fields the deposit form cannot go without (the Chorus form's mandatory fields).
REQUIRED_FIELDS: tuple[str, ...] = (
    "invoice_number",
    "issue_date",
    "total_excl_tax",
    "total_tax",
    "amount_due",
    "supplier_siret",
    "recipient_siret",
)

#: Works pieces made available to the MOE must name it (domain.md 2.3, rule 6).
_MOE_NAMED_KINDS = frozenset(
    {
        DocumentKind.PROJET_DECOMPTE_MENSUEL,
        DocumentKind.PROJET_DECOMPTE_FINAL,
        DocumentKind.DEMANDE_PAIEMENT_SOUS_TRAITANT,
    }
)

#: The depositor's usual role for each piece, when nobody declared it.
_ROLE_BY_KIND: dict[DocumentKind, Role] = {
    DocumentKind.INVOICE: Role.SUPPLIER,
    DocumentKind.CREDIT_NOTE: Role.SUPPLIER,
    DocumentKind.PROJET_DECOMPTE_MENSUEL: Role.SUPPLIER,
    DocumentKind.PROJET_DECOMPTE_FINAL: Role.SUPPLIER,
    DocumentKind.DECOMPTE_GENERAL_DEFINITIF: Role.SUPPLIER,
    DocumentKind.DEMANDE_PAIEMENT_SOUS_TRAITANT: Role.SUBCONTRACTOR,
    DocumentKind.ETAT_ACOMPTE: Role.MOE,
    DocumentKind.PROJET_DECOMPTE_GENERAL: Role.MOE,
    DocumentKind.ETAT_ACOMPTE_VALIDE: Role.MOA,
    DocumentKind.DECOMPTE_GENERAL: Role.MOA,
}


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class IntakeContext:
    """What the stages need besides the piece: built once per process, passed down."""

    settings: Settings
    directory: Directory
    store: DossierStore
    trust_roots: tuple[bytes, ...] = ()
    clock: Callable[[], datetime] = field(default=utc_now)

    @property
    def limits(self) -> Limits:
        return Limits(
            max_file_bytes=self.settings.max_file_bytes,
            max_pages=self.settings.max_pages,
            max_xml_bytes=self.settings.max_xml_bytes,
        )


def directory_paths(settings: Settings) -> tuple[Path, Path | None]:
    """The annuaire to use: settings, else the one ``intake directory load`` installed,
    else the small bundled directory."""
    if settings.directory_structures is not None:
        return settings.directory_structures, settings.directory_services
    installed = settings.data_dir / "directory"
    if (installed / "structures.csv").is_file():
        services = installed / "services.csv"
        return installed / "structures.csv", services if services.is_file() else None
    return bundled_directory_paths()


def settings_directory(settings: Settings) -> Directory:
    """The annuaire ``directory_paths`` names, loaded once per process (and again when
    one of its files changes: ``intake directory load`` beside a running worker)."""
    paths = directory_paths(settings)
    stamps = tuple(path.stat().st_mtime_ns if path and path.is_file() else None for path in paths)
    return _loaded_directory(*paths, stamps)


@lru_cache(maxsize=2)
def _loaded_directory(
    structures: Path, services: Path | None, _stamps: tuple[int | None, ...]
) -> Directory:
    return load_directory(structures, services)


def public_structure_lookup(directory: Directory) -> PublicStructure:
    """Extraction's view of the annuaire: the name of a listed public structure."""

    def name(siret: str) -> str | None:
        structure = directory.structure(siret)
        return structure.name if structure is not None else None

    return name


def build_context(settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> IntakeContext:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = DossierStore(settings.resolved_db_url)
    store.migrate()
    roots = tuple(load_trust_roots(settings.trust_roots)) if settings.trust_roots else ()
    return IntakeContext(
        settings=settings,
        directory=settings_directory(settings),
        store=store,
        trust_roots=roots,
        clock=clock,
    )


# --------------------------------------------------------------------------- reading


def read_piece(
    data: bytes,
    *,
    file_name: str,
    settings: Settings,
    limits: Limits,
    trust_roots: Iterable[bytes] = (),
    validation_time: datetime | None = None,
    directory: Directory | None = None,
) -> PieceDraft:
    """Detect, check signatures and extract: the pre-filled form of ``intake extract``.
    The directory (the settings' one when not given) tells the recipient's SIRET among
    those printed.

    Raises an ``InputError`` when the bytes cannot be read at all.
    """
    detected = detect(data, file_name=file_name, limits=limits)
    deposit = detected.deposit
    signatures: tuple[SignatureReport, ...] = ()
    if deposit.has_signature:
        signatures = verify_signatures(
            data, trust_roots=list(trust_roots), validation_time=validation_time
        )
    findings = [*detected.notes, *_signature_findings(signatures)]
    if deposit.format is DepositFormat.PDF or deposit.format is DepositFormat.PDF_SIGNED_PADES:
        visible = read_visible(
            data,
            dpi=settings.ocr_dpi,
            ocr_workers=settings.ocr_workers,
            public_structure=public_structure_lookup(
                settings_directory(settings) if directory is None else directory
            ),
        )
        return PieceDraft(
            file=file_name,
            sha256=deposit.sha256,
            format=deposit.format,
            document_kind=visible.document_kind,
            fields=visible.fields,
            signatures=signatures,
            findings=(*findings, *visible.findings),
        )
    draft = _draft_from_xml(detected, signatures=signatures, findings=findings)
    if (
        deposit.format is DepositFormat.FACTURX
        and settings.facturx_cross_check is not FacturxCrossCheck.OFF
    ):
        # The embedded XML makes the draft; the pages are only compared with it, since a
        # page that says something else than its XML is a known fraud pattern.
        checked = check_visible_pages(
            data,
            draft.fields,
            dpi=settings.ocr_dpi,
            ocr_workers=settings.ocr_workers,
            ocr=settings.facturx_cross_check is FacturxCrossCheck.FULL,
        )
        draft = draft.model_copy(update={"findings": (*draft.findings, *checked)})
    return draft


def _draft_from_xml(
    detected: DetectedInput,
    *,
    signatures: tuple[SignatureReport, ...],
    findings: list[Finding],
) -> PieceDraft:
    deposit = detected.deposit
    reading = read_xml(detected)
    return PieceDraft(
        file=deposit.file_name,
        sha256=deposit.sha256,
        format=deposit.format,
        profile=reading.profile,
        cadre_hint=reading.cadre_hint,
        document_kind=reading.document_kind,
        fields=reading.fields,
        signatures=signatures,
        findings=(*findings, *reading.findings),
    )


def read_xml(detected: DetectedInput) -> XmlExtraction:
    """The canonical fields of an XML deposit, or of a Factur-X PDF's embedded CII."""
    root = detected.xml_root
    assert root is not None, "detection parses every XML deposit"
    if detected.deposit.format in (DepositFormat.UBL_INVOICE, DepositFormat.UBL_CREDIT_NOTE):
        return extract_ubl(root)
    # A Factur-X PDF's embedded CII is authoritative (DESIGN 2).
    return extract_cii(root)


def _signature_findings(reports: Iterable[SignatureReport]) -> list[Finding]:
    findings = []
    for report in reports:
        if report.verdict is SignatureVerdict.INVALID:
            findings.append(
                Finding(
                    code="SIGNATURE_INVALID",
                    severity=Severity.ERROR,
                    message=f"signature {report.field_name!r} is invalid: {report.reason}",
                )
            )
        elif report.verdict is SignatureVerdict.INDETERMINATE:
            findings.append(
                Finding(
                    code="SIGNATURE_INDETERMINATE",
                    severity=Severity.WARNING,
                    message=f"signature {report.field_name!r} cannot be trusted: {report.reason}",
                )
            )
    return findings


# --------------------------------------------------------------------------- validating


def validate_draft(draft: PieceDraft, *, context: IntakeContext) -> list[Finding]:
    """Routing data and amounts; values read from the page with low confidence turn
    errors into review warnings (a person checks them instead of the piece being refused)."""
    kind = draft.document_kind.value
    findings = [
        *check_recipient(
            draft.fields,
            context.directory,
            kind=kind,
            siret_mode=context.settings.siret_mode,
        ),
        *check_amounts(draft.fields),
    ]
    if kind in _MOE_NAMED_KINDS and draft.fields.moe_siret.value is None:
        findings.append(
            Finding(
                code="MOE_MISSING",
                severity=Severity.ERROR,
                field="moe_siret",
                message="a works payment request must name its maîtrise d'œuvre (MOE SIRET)",
                rule="domain.md 2.3 rule 6",
            )
        )
    if draft.format.is_structured:
        return findings
    uncertain = _uncertain_fields(draft, kind)
    reviewed = [_soften(finding) if finding.field in uncertain else finding for finding in findings]
    for name in sorted(uncertain):
        value = getattr(draft.fields, name)
        reviewed.append(_uncertain_finding(name, value))
    return reviewed


def _uncertain_fields(draft: PieceDraft, kind: DocumentKind | None) -> set[str]:
    required = set(REQUIRED_FIELDS)
    if kind in _MOE_NAMED_KINDS:
        required.add("moe_siret")
    optional_but_read = {
        name
        for name in ("service_code", "engagement_number", "total_incl_tax")
        if getattr(draft.fields, name).value is not None
    }
    return {
        name
        for name in required | optional_but_read
        if getattr(draft.fields, name).confidence < REVIEW_CONFIDENCE
    }


def _soften(finding: Finding) -> Finding:
    if finding.severity is not Severity.ERROR:
        return finding
    return finding.model_copy(
        update={
            "severity": Severity.WARNING,
            "message": f"{finding.message} (value read with low confidence: check it)",
        }
    )


def _uncertain_finding(name: str, value: ExtractedField) -> Finding:
    if value.value is None:
        message = f"{name} was not found on the document: fill it in"
    else:
        where = "by OCR" if value.source is FieldSource.OCR else "from the page"
        message = (
            f"{name} = {value.value!r} was read {where} with confidence "
            f"{value.confidence:.2f}: check it"
        )
    return Finding(
        code="FIELD_NEEDS_REVIEW", severity=Severity.WARNING, field=name, message=message
    )


# --------------------------------------------------------------------------- the whole piece


def process_deposit(
    data: bytes,
    *,
    file_name: str,
    context: IntakeContext,
    role: Role | None = None,
    mode: DepositMode = DepositMode.PORTAL,
) -> DepositResult:
    """Take one deposited file from bytes to its dossier; never raises for a bad piece."""
    now = context.clock()
    try:
        draft = read_piece(
            data,
            file_name=file_name,
            settings=context.settings,
            limits=context.limits,
            trust_roots=context.trust_roots,
            validation_time=now,
            directory=context.directory,
        )
    except InputError as exc:
        return DepositResult(
            file=file_name,
            sha256=sha256_hex(data) if data else None,
            outcome=Outcome.REJECTED,
            reason=exc.one_line(),
            error=ErrorInfo(code=exc.code, message=exc.message),
        )
    findings = [*draft.findings, *validate_draft(draft, context=context)]
    kind = draft.document_kind
    if kind.value is None:
        findings.append(
            Finding(
                code="DOCUMENT_KIND_UNKNOWN",
                severity=Severity.WARNING,
                message="the kind of piece (invoice, credit note, décompte …) was not recognised",
            )
        )
    if _blocking(findings) is not None or kind.value is None:
        return _result(draft, findings)

    depositor = role or _ROLE_BY_KIND[kind.value]
    if role is None:
        findings.append(
            Finding(
                code="ROLE_INFERRED",
                severity=Severity.INFO,
                message=f"depositor role {depositor.value} inferred from the piece ({kind.value})",
            )
        )
    choice = pick_cadre(role=depositor, kind=kind.value, mode=mode, cadre_hint=draft.cadre_hint)
    findings.extend(choice.findings)
    if choice.cadre is None or _blocking(findings) is not None:
        return _result(draft, findings, cadre=choice.cadre.code if choice.cadre else None)

    recipient_siret = draft.fields.recipient_siret.value
    structure = context.directory.structure(recipient_siret) if recipient_siret else None
    routed = route_piece(
        draft,
        cadre=choice.cadre,
        role=depositor,
        store=context.store,
        recipient_moa=structure.moa_setting if structure else None,
        now=now,
    )
    findings.extend(routed.findings)
    return _result(draft, findings, cadre=choice.cadre.code, routing=routed.decision)


def _blocking(findings: Iterable[Finding]) -> Finding | None:
    """The finding that decides the outcome: the first error, else the first warning."""
    findings = list(findings)
    for severity in (Severity.ERROR, Severity.WARNING):
        for finding in findings:
            if finding.severity is severity:
                return finding
    return None


def _result(
    draft: PieceDraft,
    findings: list[Finding],
    *,
    cadre: str | None = None,
    routing: RoutingDecision | None = None,
) -> DepositResult:
    decision = routing
    blocking = _blocking(findings)
    if blocking is not None and blocking.severity is Severity.ERROR:
        outcome, reason = Outcome.REJECTED, f"{blocking.code}: {blocking.message}"
    elif blocking is not None or decision is None:
        outcome = Outcome.REVIEW
        reason = f"{blocking.code}: {blocking.message}" if blocking else "not routed"
    else:
        outcome = Outcome.ROUTED
        reason = (
            f"routed as {decision.cadre} to dossier {decision.dossier_number}, "
            f"status {decision.status}"
        )
    return DepositResult(
        file=draft.file,
        sha256=draft.sha256,
        outcome=outcome,
        reason=reason,
        format=draft.format,
        cadre=cadre,
        draft=draft,
        findings=tuple(findings),
        routing=decision,
    )
