"""route_piece on SQLite and PostgreSQL: dossiers, history, deadline, certificate, refusals."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.models import (
    DepositCertificate,
    DepositFormat,
    DocumentKind,
    ExtractedField,
    Finding,
    KindGuess,
    MoaSetting,
    PieceDraft,
    PieceFields,
    Role,
    Severity,
    Space,
)
from pipeline.route.cadres import CADRES
from pipeline.route.dossier import Status
from pipeline.route.router import RouteResult, route_piece, verify_certificate
from pipeline.route.store import DossierStore, StoreTransaction

PG_URL = os.environ.get("INTAKE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
SUPPLIER = "53819959700013"
OTHER_SUPPLIER = "83807263500017"
RECIPIENT = "21750001608202"
MOE = "20007104100046"


def draft(
    number: str | None = "F-2024-001",
    *,
    supplier: str | None = SUPPLIER,
    kind: DocumentKind = DocumentKind.INVOICE,
    sha: str | None = None,
    **values: str | None,
) -> PieceDraft:
    fields: dict[str, str | None] = {
        "invoice_number": number,
        "issue_date": "2024-06-28",
        "supplier_siret": supplier,
        "recipient_siret": RECIPIENT,
        "recipient_name": "Ville de Paris",
        "total_excl_tax": "7850.00",
        "total_tax": "1570.00",
        "total_incl_tax": "9420.00",
        "amount_due": "9420.00",
        **values,
    }
    digest = sha or hashlib.sha256(f"{number}|{supplier}|{values}".encode()).hexdigest()
    return PieceDraft(
        file=f"{number}.pdf",
        sha256=digest,
        format=DepositFormat.PDF,
        document_kind=KindGuess(value=kind, confidence=0.9),
        fields=PieceFields(**{k: ExtractedField(value=v) for k, v in fields.items()}),
    )


def route(
    store: DossierStore,
    piece: PieceDraft,
    cadre: str = "A1",
    *,
    role: Role = Role.SUPPLIER,
    moa: MoaSetting | None = MoaSetting.SANS_MOA,
    now: datetime = NOW,
) -> RouteResult:
    return route_piece(
        piece, cadre=CADRES[cadre], role=role, store=store, recipient_moa=moa, now=now
    )


def codes(findings: tuple[Finding, ...]) -> list[str]:
    return [f.code for f in findings]


def recompute(certificate: DepositCertificate) -> str:
    """The certificate number as a third party recomputes it from the published recipe."""
    payload = {
        "piece_sha256": certificate.piece_sha256,
        "cadre": certificate.cadre,
        "invoice_number": certificate.invoice_number,
        "dossier_number": certificate.dossier_number,
        "deposited_at": certificate.deposited_at.isoformat(),
        "recipient_siret": certificate.recipient_siret,
        "total_excl_tax": certificate.total_excl_tax,
        "total_tax": certificate.total_tax,
        "total_incl_tax": certificate.total_incl_tax,
        "amount_due": certificate.amount_due,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(hashlib.sha256(canonical.encode()).digest()).decode()


# --------------------------------------------------------------------------- filing


def test_a1_opens_a_dossier_made_available_to_the_recipient(store: DossierStore) -> None:
    piece = draft()
    result = route(store, piece)

    assert result.findings == ()
    decision = result.decision
    assert decision is not None
    assert decision.cadre == "A1"
    assert decision.dossier_number == "F-2024-001"
    assert decision.status == Status.MISE_A_DISPOSITION
    assert decision.space is Space.FACTURES_RECUES
    assert decision.payment_deadline is None

    view = store.get_dossier("F-2024-001")
    assert view is not None
    assert view.dossier.supplier_siret == SUPPLIER
    assert view.dossier.recipient_siret == RECIPIENT
    (stored,) = view.pieces
    assert stored.id == decision.piece_id
    assert stored.status is Status.MISE_A_DISPOSITION
    assert stored.document_kind == "invoice"
    assert stored.sha256 == piece.sha256
    assert stored.certificate_number == decision.certificate.number
    assert stored.deposited_at == NOW and stored.made_available_at == NOW
    assert [(e.from_status, e.to_status, e.actor, e.at) for e in view.history] == [
        (None, Status.DEPOSEE, "supplier", NOW),
        (Status.DEPOSEE, Status.MISE_A_DISPOSITION, "platform", NOW),
    ]
    assert view.history[0].id < view.history[1].id


def test_a1_certificate_verifies(store: DossierStore) -> None:
    piece = draft()
    decision = route(store, piece).decision
    assert decision is not None
    cert = decision.certificate
    assert cert.number == recompute(cert)
    assert verify_certificate(cert)
    assert len(base64.b64decode(cert.number, validate=True)) == 32
    assert cert.model_dump(exclude={"number"}) == {
        "piece_sha256": piece.sha256,
        "deposited_at": NOW,
        "cadre": "A1",
        "invoice_number": "F-2024-001",
        "dossier_number": "F-2024-001",
        "recipient_siret": RECIPIENT,
        "recipient_name": "Ville de Paris",
        "total_excl_tax": "7850.00",
        "total_tax": "1570.00",
        "total_incl_tax": "9420.00",
        "amount_due": "9420.00",
    }
    tampered = cert.model_copy(update={"amount_due": "9421.00"})
    assert not verify_certificate(tampered)


def test_a4_goes_to_the_moe_with_a_deadline(store: DossierStore) -> None:
    piece = draft("PDM-2024-0153", kind=DocumentKind.PROJET_DECOMPTE_MENSUEL, moe_siret=MOE)
    result = route(store, piece, "A4", moa=MoaSetting.AVEC_MOA)

    decision = result.decision
    assert decision is not None, result.findings
    assert decision.status == Status.MISE_A_DISPOSITION_MOE
    assert decision.space is Space.FACTURES_TRAVAUX
    assert decision.payment_deadline == date(2024, 7, 31) == (NOW + timedelta(days=30)).date()
    view = store.get_dossier("PDM-2024-0153")
    assert view is not None
    assert view.pieces[0].payment_deadline == date(2024, 7, 31)
    assert view.pieces[0].document_kind == "projet_decompte_mensuel"
    assert view.dossier.moe_siret == MOE
    assert [e.to_status for e in view.history] == [
        Status.DEPOSEE,
        Status.MISE_A_DISPOSITION_MOE,
    ]


@pytest.mark.parametrize(
    ("cadre", "role"),
    [("A2", Role.SUPPLIER), ("A9", Role.SUBCONTRACTOR), ("A12", Role.COCONTRACTOR)],
)
def test_other_simple_invoices(store: DossierStore, cadre: str, role: Role) -> None:
    decision = route(store, draft(), cadre, role=role).decision
    assert decision is not None and decision.cadre == cadre
    view = store.get_dossier("F-2024-001")
    assert view is not None and view.history[0].actor == role.value


def test_amounts_are_normalised(store: DossierStore) -> None:
    decision = route(
        store, draft(total_tax="1570", amount_due="9420.5", total_excl_tax=None)
    ).decision
    assert decision is not None
    assert decision.certificate.total_tax == "1570.00"
    assert decision.certificate.amount_due == "9420.50"
    assert decision.certificate.total_excl_tax is None
    assert verify_certificate(decision.certificate)


def test_routing_is_deterministic(tmp_path: Path) -> None:
    piece = draft()
    first = DossierStore(f"sqlite:///{tmp_path}/one.sqlite")
    second = DossierStore(f"sqlite:///{tmp_path}/two.sqlite")
    try:
        first.migrate()
        second.migrate()
        assert route(first, piece) == route(second, piece)
    finally:
        first.close()
        second.close()


# --------------------------------------------------------------------------- numbering


def test_same_number_from_another_supplier_gets_a_suffix(store: DossierStore) -> None:
    route(store, draft("F-1"))
    second = route(store, draft("F-1", supplier=OTHER_SUPPLIER)).decision
    third = route(store, draft("F-1", supplier="24010039600011")).decision
    assert second is not None and second.dossier_number == "F-1-2"
    assert third is not None and third.dossier_number == "F-1-3"
    assert second.certificate.dossier_number == "F-1-2"


def test_same_number_next_year_is_not_a_duplicate(store: DossierStore) -> None:
    route(store, draft("F-1"))
    next_year = route(store, draft("F-1", issue_date="2025-01-05")).decision
    assert next_year is not None and next_year.dossier_number == "F-1-2"


def test_missing_issue_date_counts_in_the_deposit_year(store: DossierStore) -> None:
    assert route(store, draft("F-1", issue_date=None)).decision is not None
    again = route(store, draft("F-1", issue_date="2024-03-01"))
    assert codes(again.findings) == ["DUPLICATE_DEPOSIT"]


# --------------------------------------------------------------------------- refusals


def test_duplicate_reference_is_refused(store: DossierStore) -> None:
    route(store, draft("F-1"))
    again = route(store, draft("F-1", sha="f" * 64), now=NOW + timedelta(days=2))
    assert again.decision is None
    assert codes(again.findings) == ["DUPLICATE_DEPOSIT"]
    finding = again.findings[0]
    assert finding.severity is Severity.ERROR
    assert "dossier F-1 " in finding.message and "2024-07-01" in finding.message
    view = store.get_dossier("F-1")
    assert view is not None and len(view.pieces) == 1 and len(view.history) == 2
    assert store.get_dossier("F-1-2") is None


def test_same_file_is_refused(store: DossierStore) -> None:
    route(store, draft("F-1", sha="e" * 64))
    again = route(store, draft("F-2", sha="e" * 64))
    assert codes(again.findings) == ["DUPLICATE_DEPOSIT"]
    assert "same file" in again.findings[0].message and "F-1" in again.findings[0].message
    assert store.get_dossier("F-2") is None


def test_routing_data_missing(store: DossierStore) -> None:
    result = route(store, draft(None, supplier="  "))
    assert result.decision is None
    assert [(f.code, f.field) for f in result.findings] == [
        ("ROUTING_DATA_MISSING", "invoice_number"),
        ("ROUTING_DATA_MISSING", "supplier_siret"),
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("issue_date", "28/06/2024"),
        ("total_tax", "1 570,00"),
        ("amount_due", "12.345"),
        ("total_incl_tax", "NaN"),
        ("total_excl_tax", "1e30"),
    ],
)
def test_routing_data_invalid(store: DossierStore, field: str, value: str) -> None:
    values: dict[str, Any] = {field: value}
    result = route(store, draft(**values))
    assert result.decision is None
    assert [(f.code, f.field) for f in result.findings] == [("ROUTING_DATA_INVALID", field)]


@pytest.mark.parametrize("cadre", ["A5", "A7", "A10", "A15", "A19", "A22"])
def test_cadres_not_routed_yet(store: DossierStore, cadre: str) -> None:
    result = route(store, draft(), cadre, role=CADRES[cadre].depositors[0])
    assert result.decision is None
    assert codes(result.findings) == ["CADRE_NOT_ROUTED_YET"]
    assert cadre in result.findings[0].message


def test_exclusivement_moa_cannot_receive_simple_invoices(store: DossierStore) -> None:
    result = route(store, draft(), moa=MoaSetting.EXCLUSIVEMENT_MOA)
    assert codes(result.findings) == ["RECEPTION_SPACE_NONE"]
    assert store.get_dossier("F-2024-001") is None


def test_naive_now_is_a_programming_error(store: DossierStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        route(store, draft(), now=datetime(2024, 7, 1, 10, 0))


# --------------------------------------------------------------------------- concurrency


def _race(store_url: str, pieces: list[PieceDraft]) -> list[RouteResult]:
    """Route each piece from its own worker (own engine), all at once."""
    stores = [DossierStore(store_url) for _ in pieces]
    barrier = threading.Barrier(len(pieces))
    results: list[RouteResult | BaseException] = [RuntimeError("not run")] * len(pieces)

    def work(i: int) -> None:
        barrier.wait()
        try:
            results[i] = route(stores[i], pieces[i])
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(pieces))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for worker_store in stores:
        worker_store.close()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [r for r in results if isinstance(r, RouteResult)]


def test_racing_duplicates_end_as_one_dossier(store: DossierStore, store_url: str) -> None:
    results = _race(store_url, [draft("F-1", sha=f"{i}" * 64) for i in range(4)])
    decisions = [r.decision for r in results if r.decision]
    assert len(decisions) == 1
    assert sorted(codes(sum((r.findings for r in results), ()))) == ["DUPLICATE_DEPOSIT"] * 3
    view = store.get_dossier("F-1")
    assert view is not None and len(view.pieces) == 1


def test_racing_suppliers_share_no_dossier_number(store: DossierStore, store_url: str) -> None:
    suppliers = [SUPPLIER, OTHER_SUPPLIER, "24010039600011"]
    results = _race(store_url, [draft("F-1", supplier=s) for s in suppliers])
    numbers = sorted(r.decision.dossier_number for r in results if r.decision)
    assert numbers == ["F-1", "F-1-2", "F-1-3"]


# SQLite takes the write lock at BEGIN: no other writer can slip in there.
@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_conflict_after_the_check_ends_as_duplicate(
    store: DossierStore, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another worker files the same piece between our duplicate check and our insert:
    the unique constraint refuses ours, and the retry reports the duplicate."""
    original: Callable[[StoreTransaction, str], bool] = StoreTransaction.dossier_number_taken
    other = DossierStore(store_url)
    started: list[bool] = []
    slipped: list[RouteResult] = []

    def taken(self: StoreTransaction, number: str) -> bool:
        if not started:
            started.append(True)
            slipped.append(route(other, draft("F-1", sha="9" * 64)))
        return original(self, number)

    monkeypatch.setattr(StoreTransaction, "dossier_number_taken", taken)
    try:
        result = route(store, draft("F-1", sha="8" * 64))
    finally:
        other.close()
    assert slipped[0].decision is not None
    assert codes(result.findings) == ["DUPLICATE_DEPOSIT"]
