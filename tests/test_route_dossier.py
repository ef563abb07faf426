"""The dossier state machine: statuses, transitions, reception spaces, payment deadline."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from pipeline.models import MoaSetting, Space
from pipeline.route.cadres import CADRES
from pipeline.route.dossier import (
    LABELS,
    TRANSITIONS,
    InvalidTransition,
    Status,
    check_transition,
    dossier_number_candidates,
    first_available_status,
    has_payment_deadline,
    payment_deadline,
    reception_space,
)

S = Status


def test_statuses_are_the_api_codes() -> None:
    for status in Status:
        assert status.value == status.name
    assert {"DEPOSEE", "MISE_A_DISPOSITION_MOE", "A_ASSOCIER_FOURNISSEUR", "REJETEE"} <= {
        s.value for s in Status
    }


def test_every_status_has_a_french_label() -> None:
    assert set(LABELS) == set(Status)
    assert LABELS[S.A_ASSOCIER_FOURNISSEUR] == "Mise à disposition du fournisseur"
    assert LABELS[S.DEPOSEE] == "Déposée"


def test_transitions_only_name_known_statuses() -> None:
    for source, targets in TRANSITIONS.items():
        assert isinstance(source, Status)
        assert targets and all(isinstance(t, Status) for t in targets)
        assert source not in targets


def test_every_status_is_reachable_from_a_deposit() -> None:
    reached = {S.BROUILLON, S.DEPOSEE}
    frontier = list(reached)
    while frontier:
        for target in TRANSITIONS.get(frontier.pop(), frozenset()):
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(Status)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("A1", S.MISE_A_DISPOSITION),
        ("A2", S.MISE_A_DISPOSITION),
        ("A9", S.MISE_A_DISPOSITION),
        ("A12", S.MISE_A_DISPOSITION),
        ("A4", S.MISE_A_DISPOSITION_MOE),
        ("A10", S.MISE_A_DISPOSITION_MOE),
        ("A15", S.MISE_A_DISPOSITION_MOA),
        ("A17", S.MISE_A_DISPOSITION_MOA),
        ("A18", S.A_ASSOCIER_FOURNISSEUR),
        ("A20", S.A_ASSOCIER_FOURNISSEUR),
        ("A19", S.MISE_A_DISPOSITION),
    ],
)
def test_first_available_status(code: str, expected: Status) -> None:
    assert first_available_status(CADRES[code]) is expected


@pytest.mark.parametrize("cadre", CADRES.values(), ids=list(CADRES))
def test_deposit_then_first_mise_a_disposition_is_allowed(cadre: object) -> None:
    check_transition(None, S.DEPOSEE)
    check_transition(S.BROUILLON, S.DEPOSEE)
    check_transition(S.DEPOSEE, first_available_status(cadre))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (S.MISE_A_DISPOSITION_MOE, S.ASSOCIEE),  # the MOE answers an A4 with an A15
        (S.MISE_A_DISPOSITION_MOE, S.PRISE_EN_COMPTE_MOE),
        (S.MISE_A_DISPOSITION_MOE, S.ERREUR_DE_MOE),
        (S.MISE_A_DISPOSITION_MOA, S.ASSOCIEE),
        (S.A_ASSOCIER_FOURNISSEUR, S.REFUSEE_FOURNISSEUR),
        (S.MISE_A_DISPOSITION, S.SUSPENDUE),
        (S.SUSPENDUE, S.COMPLETEE),
        (S.MISE_A_DISPOSITION, S.REJETEE),
        (S.MISE_A_DISPOSITION, S.MISE_EN_PAIEMENT),
        (S.ERREUR_DE_MOE, S.MISE_A_DISPOSITION_MOE),
    ],
)
def test_later_edges(source: Status, target: Status) -> None:
    check_transition(source, target)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (None, S.MISE_A_DISPOSITION),  # nothing is available before it is deposited
        (S.BROUILLON, S.MISE_A_DISPOSITION),
        (S.DEPOSEE, S.ASSOCIEE),
        (S.DEPOSEE, S.DEPOSEE),
        (S.ASSOCIEE, S.MISE_A_DISPOSITION_MOE),  # final
        (S.REJETEE, S.MISE_A_DISPOSITION),  # final
        (S.MISE_EN_PAIEMENT, S.REJETEE),  # final
        (S.SUSPENDUE, S.MISE_EN_PAIEMENT),
    ],
)
def test_forbidden_edges(source: Status | None, target: Status) -> None:
    with pytest.raises(InvalidTransition) as caught:
        check_transition(source, target)
    assert caught.value.to_status is target
    assert target.value in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_final_statuses_have_no_exit() -> None:
    for final in (S.ASSOCIEE, S.REJETEE, S.MISE_EN_PAIEMENT, S.REFUSEE_MOE, S.REFUSEE_MOA):
        for target in Status:
            with pytest.raises(InvalidTransition):
                check_transition(final, target)


# --------------------------------------------------------------------------- spaces

SETTINGS = [None, *MoaSetting]


@pytest.mark.parametrize("code", ["A1", "A2", "A9", "A12"])
def test_simple_invoices_land_in_factures_recues(code: str) -> None:
    for moa in (None, MoaSetting.SANS_MOA, MoaSetting.AVEC_MOA):
        assert reception_space(CADRES[code], moa) is Space.FACTURES_RECUES
    # An « exclusivement MOA » structure cannot receive simple invoices.
    assert reception_space(CADRES[code], MoaSetting.EXCLUSIVEMENT_MOA) is None


@pytest.mark.parametrize("code", ["A4", "A7", "A13", "A14"])
def test_moe_side_pieces_land_in_factures_travaux(code: str) -> None:
    for moa in SETTINGS:
        assert reception_space(CADRES[code], moa) is Space.FACTURES_TRAVAUX


@pytest.mark.parametrize("code", ["A15", "A17"])
def test_moa_side_pieces_depend_on_the_moa_setting(code: str) -> None:
    assert reception_space(CADRES[code], MoaSetting.AVEC_MOA) is Space.FACTURES_TRAVAUX
    assert reception_space(CADRES[code], MoaSetting.EXCLUSIVEMENT_MOA) is Space.FACTURES_TRAVAUX
    assert reception_space(CADRES[code], MoaSetting.SANS_MOA) is Space.FACTURES_RECUES
    assert reception_space(CADRES[code], None) is Space.FACTURES_RECUES


@pytest.mark.parametrize(
    "code", ["A10", "A5", "A6", "A8", "A16", "A19", "A22", "A23", "A24", "A25"]
)
def test_sans_moa_list_lands_in_factures_recues(code: str) -> None:
    assert reception_space(CADRES[code], MoaSetting.SANS_MOA) is Space.FACTURES_RECUES


def test_every_works_cadre_has_a_space() -> None:
    for cadre, moa in itertools.product(CADRES.values(), SETTINGS):
        if cadre.code not in ("A1", "A2", "A9", "A12"):
            assert reception_space(cadre, moa) is not None


# --------------------------------------------------------------------------- deadline


def test_deadline_is_thirty_days_after_reaching_the_moe() -> None:
    assert payment_deadline(datetime(2024, 7, 1, 10, 0, tzinfo=UTC)) == date(2024, 7, 31)


def test_deadline_counts_french_calendar_days() -> None:
    # 23:30 UTC on 31 January is already 1 February in Paris; 2024 is a leap year.
    assert payment_deadline(datetime(2024, 1, 31, 23, 30, tzinfo=UTC)) == date(2024, 3, 2)
    local = datetime(2024, 6, 15, 8, 0, tzinfo=timezone(timedelta(hours=2)))
    assert payment_deadline(local) == date(2024, 7, 15)


def test_deadline_needs_an_aware_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        payment_deadline(datetime(2024, 7, 1, 10, 0))


def test_deadline_applies_to_monthly_payment_requests_only() -> None:
    with_deadline = {code for code, cadre in CADRES.items() if has_payment_deadline(cadre)}
    assert with_deadline == {"A4", "A10", "A13"}
    for code in with_deadline:
        assert first_available_status(CADRES[code]) is S.MISE_A_DISPOSITION_MOE


def test_dossier_number_candidates() -> None:
    assert list(itertools.islice(dossier_number_candidates("F-1"), 3)) == ["F-1", "F-1-2", "F-1-3"]
