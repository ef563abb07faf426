"""Hand-off of a checked piece to its dossier de facturation.

``route_piece`` refuses a duplicate, opens the dossier of a first piece, files the piece
with its history (DEPOSEE, then the first mise à disposition), sets the payment deadline
of a payment request made available to the MOE, and issues the deposit certificate.

This first version handles initial deposits of A1, A2, A9, A12 and A4 only; other cadres
are answered with ``CADRE_NOT_ROUTED_YET``. Associations (a piece created from the
previous one of its dossier) come later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from pipeline.errors import InternalError
from pipeline.models import (
    AMOUNT_FIELDS,
    Cadre,
    DepositCertificate,
    Finding,
    Frozen,
    MoaSetting,
    PieceDraft,
    Role,
    RoutingDecision,
    Severity,
    Space,
)
from pipeline.route.dossier import (
    LABELS,
    Status,
    dossier_number_candidates,
    first_available_status,
    has_payment_deadline,
    payment_deadline,
    reception_space,
)
from pipeline.route.store import DossierStore, NewPiece, PieceRecord, StoreConflict

#: Cadres this version files as the first piece of a new dossier.
ROUTED_INITIAL: frozenset[str] = frozenset({"A1", "A2", "A9", "A12", "A4"})

#: Actor of the events the platform itself records.
PLATFORM = "platform"

# A conflict means another worker filed something meanwhile: look again a few times.
_ATTEMPTS = 5

# 19 positions with 2 decimals (domain.md 4.5): what NUMERIC(19, 2) holds.
_MAX_AMOUNT = Decimal(10) ** 17


class RouteResult(Frozen):
    """What the router did: a decision when the piece was filed, else error findings."""

    decision: RoutingDecision | None = None
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class _Filing:
    """The draft's data the router needs, checked and normalised."""

    invoice_number: str
    supplier_siret: str
    issue_date: date | None
    issue_year: int
    amounts: dict[str, str | None]


def _error(code: str, message: str, field: str | None = None) -> Finding:
    return Finding(code=code, severity=Severity.ERROR, field=field, message=message)


def _canonical_amount(value: str) -> str | None:
    """``"7850.00"`` for a decimal with at most two decimals that fits NUMERIC(19, 2)."""
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    exponent = amount.as_tuple().exponent
    if not amount.is_finite() or not isinstance(exponent, int) or exponent < -2:
        return None
    if abs(amount) >= _MAX_AMOUNT:
        return None
    return f"{amount:.2f}"


def _filing_data(draft: PieceDraft, now: datetime) -> tuple[_Filing | None, list[Finding]]:
    findings: list[Finding] = []
    invoice_number = (draft.fields.value("invoice_number") or "").strip()
    supplier_siret = (draft.fields.value("supplier_siret") or "").strip()
    if not invoice_number:
        findings.append(
            _error(
                "ROUTING_DATA_MISSING",
                "the piece has no invoice number: it cannot be filed in a dossier",
                "invoice_number",
            )
        )
    if not supplier_siret:
        findings.append(
            _error(
                "ROUTING_DATA_MISSING",
                "the piece has no supplier SIRET: it cannot be filed in a dossier",
                "supplier_siret",
            )
        )

    issue_date: date | None = None
    raw_date = draft.fields.value("issue_date")
    if raw_date:
        try:
            issue_date = date.fromisoformat(raw_date)
        except ValueError:
            findings.append(
                _error(
                    "ROUTING_DATA_INVALID",
                    f"issue date {raw_date!r} is not an ISO date (YYYY-MM-DD)",
                    "issue_date",
                )
            )

    amounts: dict[str, str | None] = {}
    for name in AMOUNT_FIELDS:
        raw = draft.fields.value(name)
        amounts[name] = None if raw is None else _canonical_amount(raw)
        if raw is not None and amounts[name] is None:
            findings.append(
                _error(
                    "ROUTING_DATA_INVALID",
                    f"amount {raw!r} is not a decimal with at most two decimals and 17 digits "
                    "before the point",
                    name,
                )
            )

    if findings:
        return None, findings
    # Without an issue date the anti-duplicate rule (same supplier, number and year)
    # falls back to the year of the deposit.
    issue_year = issue_date.year if issue_date else now.astimezone(UTC).year
    filing = _Filing(invoice_number, supplier_siret, issue_date, issue_year, amounts)
    return filing, findings


# --------------------------------------------------------------------------- certificate


def certificate_number(certificate: DepositCertificate) -> str:
    """Base64 (standard alphabet) of the SHA-256 over the canonical JSON (sorted keys, no
    spaces, UTF-8) of what was deposited; ``certificate.number`` itself is ignored."""
    payload = {
        "piece_sha256": certificate.piece_sha256,
        "cadre": certificate.cadre,
        "invoice_number": certificate.invoice_number,
        "dossier_number": certificate.dossier_number,
        "deposited_at": certificate.deposited_at.astimezone(UTC).isoformat(),
        "recipient_siret": certificate.recipient_siret,
        "total_excl_tax": certificate.total_excl_tax,
        "total_tax": certificate.total_tax,
        "total_incl_tax": certificate.total_incl_tax,
        "amount_due": certificate.amount_due,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(hashlib.sha256(canonical.encode("utf-8")).digest()).decode("ascii")


def verify_certificate(certificate: DepositCertificate) -> bool:
    """Whether the certificate's number matches what it certifies."""
    return hmac.compare_digest(certificate.number, certificate_number(certificate))


def _certificate(
    draft: PieceDraft, cadre: Cadre, filing: _Filing, dossier_number: str, now: datetime
) -> DepositCertificate:
    unsigned = DepositCertificate(
        number="",
        piece_sha256=draft.sha256,
        deposited_at=now,
        cadre=cadre.code,
        invoice_number=filing.invoice_number,
        dossier_number=dossier_number,
        recipient_siret=draft.fields.value("recipient_siret"),
        recipient_name=draft.fields.value("recipient_name"),
        total_excl_tax=filing.amounts["total_excl_tax"],
        total_tax=filing.amounts["total_tax"],
        total_incl_tax=filing.amounts["total_incl_tax"],
        amount_due=filing.amounts["amount_due"],
    )
    return unsigned.model_copy(update={"number": certificate_number(unsigned)})


# --------------------------------------------------------------------------- routing


def _duplicate(existing: PieceRecord, same_file: bool) -> Finding:
    what = (
        "the same file"
        if same_file
        else f"piece {existing.invoice_number} of this supplier for {existing.issue_year}"
    )
    return _error(
        "DUPLICATE_DEPOSIT",
        f"{what} was already deposited on {existing.deposited_at:%Y-%m-%d} in dossier "
        f"{existing.dossier_number} (cadre {existing.cadre}, status {existing.status.value})",
        None if same_file else "invoice_number",
    )


def _file_once(
    draft: PieceDraft,
    *,
    cadre: Cadre,
    role: Role,
    store: DossierStore,
    filing: _Filing,
    space: Space,
    now: datetime,
) -> RouteResult:
    available = first_available_status(cadre)
    deadline = payment_deadline(now) if has_payment_deadline(cadre) else None
    fields = draft.fields
    with store.transaction() as tx:
        by_reference = tx.find_piece(
            supplier_siret=filing.supplier_siret,
            invoice_number=filing.invoice_number,
            issue_year=filing.issue_year,
        )
        if by_reference is not None:
            return RouteResult(findings=(_duplicate(by_reference, same_file=False),))
        by_file = tx.find_piece_by_sha256(draft.sha256)
        if by_file is not None:
            return RouteResult(findings=(_duplicate(by_file, same_file=True),))

        number = next(
            n
            for n in dossier_number_candidates(filing.invoice_number)
            if not tx.dossier_number_taken(n)
        )
        certificate = _certificate(draft, cadre, filing, number, now)
        dossier = tx.open_dossier(
            number=number,
            opened_at=now,
            supplier_siret=filing.supplier_siret,
            recipient_siret=fields.value("recipient_siret"),
            moe_siret=fields.value("moe_siret"),
            moa_siret=fields.value("moa_siret"),
        )
        piece = tx.add_piece(
            dossier.id,
            NewPiece(
                cadre=cadre.code,
                # An unclassified piece is the cadre's main kind (a facture under A1).
                document_kind=(draft.document_kind.value or cadre.document_kinds[0]).value,
                invoice_number=filing.invoice_number,
                issue_date=filing.issue_date,
                issue_year=filing.issue_year,
                supplier_siret=filing.supplier_siret,
                recipient_siret=fields.value("recipient_siret"),
                sha256=draft.sha256,
                deposited_at=now,
                made_available_at=now,
                payment_deadline=deadline,
                certificate_number=certificate.number,
                **filing.amounts,
            ),
            status=Status.DEPOSEE,
            actor=role.value,
            at=now,
            reason=f"dépôt initial, cadre {cadre.code}",
        )
        tx.append_event(
            piece.id, to_status=available, actor=PLATFORM, at=now, reason=LABELS[available]
        )
    decision = RoutingDecision(
        cadre=cadre.code,
        dossier_number=number,
        piece_id=piece.id,
        status=available.value,
        space=space,
        payment_deadline=deadline,
        certificate=certificate,
    )
    return RouteResult(decision=decision)


def route_piece(
    draft: PieceDraft,
    *,
    cadre: Cadre,
    role: Role,
    store: DossierStore,
    recipient_moa: MoaSetting | None,
    now: datetime,
) -> RouteResult:
    """File a checked piece as the first piece of a new dossier.

    ``now`` (timezone-aware) is the deposit time: the same store state and ``now`` give
    the same decision and certificate. A piece that cannot be filed comes back with error
    findings: CADRE_NOT_ROUTED_YET, ROUTING_DATA_MISSING, ROUTING_DATA_INVALID,
    RECEPTION_SPACE_NONE or DUPLICATE_DEPOSIT.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    if cadre.code not in ROUTED_INITIAL:
        return RouteResult(
            findings=(
                _error(
                    "CADRE_NOT_ROUTED_YET",
                    f"cadre {cadre.code} ({cadre.label}) is not filed automatically yet: "
                    "only first pieces of cadres A1, A2, A4, A9 and A12 are",
                ),
            )
        )
    filing, findings = _filing_data(draft, now)
    space = reception_space(cadre, recipient_moa)
    if space is None:
        findings.append(
            _error(
                "RECEPTION_SPACE_NONE",
                f"the recipient structure ({recipient_moa.value if recipient_moa else '?'}) "
                f"has no reception space for cadre {cadre.code}: an « exclusivement MOA » "
                "structure cannot receive simple invoices",
                "recipient_siret",
            )
        )
    if filing is None or space is None or findings:
        return RouteResult(findings=tuple(findings))

    for _ in range(_ATTEMPTS):
        try:
            return _file_once(
                draft, cadre=cadre, role=role, store=store, filing=filing, space=space, now=now
            )
        except StoreConflict:
            # Another worker filed this piece or took the dossier number meanwhile: the
            # next attempt finds the duplicate or the next free number.
            continue
    raise InternalError(
        f"could not file piece {filing.invoice_number} after {_ATTEMPTS} attempts: the "
        "dossier store kept refusing concurrent writes"
    )
