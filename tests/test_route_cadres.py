"""The cadre table, the deposit-mode matrix and pick_cadre (domain.md 1.1, 1.2)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from pipeline.models import Availability, DepositMode, DocumentKind, Role, Severity
from pipeline.route.cadres import CADRES, CadreChoice, pick_cadre

K = DocumentKind
R = Role
M = DepositMode

API_ENUMS = {
    "A1": "A1_FACTURE_FOURNISSEUR",
    "A2": "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE",
    "A3": "A3_MEMOIRE_JUSTICE",
    "A4": "A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR",
    "A5": "A5_ETAT_ACOMPTE_FOURNISSEUR",
    "A6": "A6_ETAT_ACOMPTE_VALIDE_FOURNISSEUR",
    "A7": "A7_PROJET_DECOMPTE_FINAL_FOURNISSEUR",
    "A8": "A8_DECOMPTE_GENERAL_DEFINITIF_FOURNISSEUR",
    "A9": "A9_FACTURE_SOUSTRAITANT",
    "A10": "A10_PROJET_DECOMPTE_MENSUEL_SOUSTRAITANT",
    "A11": "A11_PROJET_DECOMPTE_FINAL_SOUSTRAITANT",
    "A12": "A12_FACTURE_COTRAITANT",
    "A13": "A13_PROJET_DECOMPTE_MENSUEL_COTRAITANT",
    "A14": "A14_PROJET_DECOMPTE_FINAL_COTRAITANT",
    "A15": "A15_ETAT_ACOMPTE_MOE",
    "A16": "A16_ETAT_ACOMPTE_VALIDE_MOE",
    "A17": "A17_PROJET_DECOMPTE_GENERAL_MOE",
    "A18": "A18_DECOMPTE_GENERAL_MOE",
    "A19": "A19_ETAT_ACOMPTE_VALIDE_MOA",
    "A20": "A20_DECOMPTE_GENERAL_MOA",
    "A21": "A21_DEMANDE_REMBOURSEMENT_TIC",
    "A22": "A22_PROJET_DECOMPTE_GENERAL_FOURNISSEUR_PROCEDURE_TACITE",
    "A23": "A23_DECOMPTE_GENERAL_DEFINITIF_TACITE_FOURNISSEUR",
    "A24": "A24_DECOMPTE_GENERAL_DEFINITIF_TACITE_MOE",
    "A25": "A25_DECOMPTE_GENERAL_DEFINITIF_MOE_PROCEDURE_TACITE",
}

NEXT_HOLDER = {
    **{code: "recipient" for code in API_ENUMS},
    **{code: "moe" for code in ("A4", "A7", "A10", "A13", "A14")},
    **{code: "moa" for code in ("A15", "A17")},
    **{code: "supplier" for code in ("A18", "A20")},
}

OUT_OF_SCOPE = {"A3", "A11", "A21"}
SIMPLE = ("A1", "A2", "A9", "A12")


def codes(findings: tuple[object, ...]) -> list[str]:
    return [f.code for f in findings]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- the table


def test_every_cadre_a1_to_a25_in_order() -> None:
    assert list(CADRES) == [f"A{n}" for n in range(1, 26)]


@pytest.mark.parametrize("code", list(API_ENUMS))
def test_cadre_data(code: str) -> None:
    cadre = CADRES[code]
    assert cadre.code == code
    assert cadre.api_enum == API_ENUMS[code]
    assert cadre.label.startswith(("Dépôt par", "Pièce de facturation"))
    assert cadre.in_scope is (code not in OUT_OF_SCOPE)
    assert cadre.next_holder == NEXT_HOLDER[code]


def test_a25_enum_keeps_its_odd_moe() -> None:
    a25 = CADRES["A25"]
    assert "MOE" in a25.api_enum
    assert a25.depositors == (R.MOA,)
    assert "MOA" in a25.label


def test_cadre_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        CADRES["A1"] = CADRES["A2"]  # type: ignore[index]


@pytest.mark.parametrize("code", [c for c in API_ENUMS if c not in OUT_OF_SCOPE])
def test_in_scope_cadres_have_a_full_matrix_row(code: str) -> None:
    assert set(CADRES[code].modes) == set(DepositMode)
    assert CADRES[code].document_kinds


@pytest.mark.parametrize("code", SIMPLE)
def test_simple_invoices_allowed_initially_everywhere_never_associated(code: str) -> None:
    for rule in CADRES[code].modes.values():
        assert rule.initial is Availability.ALLOWED
        assert rule.association is Availability.NOT_APPLICABLE


@pytest.mark.parametrize("code", ["A15", "A16", "A17", "A18", "A19", "A20", "A24", "A25"])
def test_moe_and_moa_pieces_never_by_edi(code: str) -> None:
    edi = CADRES[code].modes[M.EDI]
    assert edi.initial is not Availability.ALLOWED
    assert edi.association is not Availability.ALLOWED


@pytest.mark.parametrize("code", ["A23", "A25"])
def test_tacit_dgd_never_a_first_piece(code: str) -> None:
    for rule in CADRES[code].modes.values():
        assert rule.initial is Availability.NOT_APPLICABLE


def test_matrix_spot_checks() -> None:
    # A few cells of domain.md 1.2, one of each shape.
    assert CADRES["A5"].modes[M.EDI].initial is Availability.FORBIDDEN
    assert CADRES["A5"].modes[M.PORTAL].initial is Availability.ALLOWED
    assert CADRES["A6"].modes[M.API].association is Availability.FORBIDDEN
    assert CADRES["A8"].modes[M.EDI].association is Availability.FORBIDDEN
    assert CADRES["A8"].modes[M.PORTAL].association is Availability.ALLOWED
    assert CADRES["A16"].modes[M.API].association is Availability.NOT_APPLICABLE
    assert CADRES["A22"].modes[M.EDI].initial is Availability.ALLOWED
    assert CADRES["A23"].modes[M.API].association is Availability.ALLOWED


# --------------------------------------------------------------------------- pick_cadre


@pytest.mark.parametrize(
    ("role", "kind", "flags", "expected"),
    [
        (R.SUPPLIER, K.INVOICE, {}, "A1"),
        (R.SUPPLIER, K.CREDIT_NOTE, {}, "A1"),
        (R.SUPPLIER, K.INVOICE, {"already_paid": True}, "A2"),
        (R.SUBCONTRACTOR, K.INVOICE, {}, "A9"),
        (R.COCONTRACTOR, K.INVOICE, {}, "A12"),
        (R.SUPPLIER, K.PROJET_DECOMPTE_MENSUEL, {}, "A4"),
        (R.SUPPLIER, K.ETAT_ACOMPTE, {}, "A5"),
        (R.SUPPLIER, K.ETAT_ACOMPTE_VALIDE, {}, "A6"),
        (R.SUPPLIER, K.PROJET_DECOMPTE_FINAL, {}, "A7"),
        (R.SUPPLIER, K.DECOMPTE_GENERAL_DEFINITIF, {}, "A8"),
        (R.SUBCONTRACTOR, K.DEMANDE_PAIEMENT_SOUS_TRAITANT, {}, "A10"),
        (R.SUBCONTRACTOR, K.PROJET_DECOMPTE_MENSUEL, {}, "A10"),
        (R.COCONTRACTOR, K.PROJET_DECOMPTE_MENSUEL, {}, "A13"),
        (R.COCONTRACTOR, K.PROJET_DECOMPTE_FINAL, {}, "A14"),
        (R.MOE, K.ETAT_ACOMPTE, {}, "A15"),
        (R.MOE, K.ETAT_ACOMPTE_VALIDE, {}, "A16"),
        (R.MOE, K.PROJET_DECOMPTE_GENERAL, {}, "A17"),
        (R.MOE, K.DECOMPTE_GENERAL, {}, "A18"),
        (R.MOA, K.ETAT_ACOMPTE_VALIDE, {}, "A19"),
        (R.MOA, K.DECOMPTE_GENERAL, {}, "A20"),
        (R.SUPPLIER, K.PROJET_DECOMPTE_GENERAL, {"tacit": True}, "A22"),
        (R.SUPPLIER, K.DECOMPTE_GENERAL_DEFINITIF, {"tacit": True, "initial": False}, "A23"),
        (R.MOE, K.DECOMPTE_GENERAL_DEFINITIF, {"tacit": True}, "A24"),
        (R.MOA, K.DECOMPTE_GENERAL_DEFINITIF, {"tacit": True, "initial": False}, "A25"),
    ],
)
def test_pick_from_role_and_kind(
    role: Role, kind: DocumentKind, flags: dict[str, Any], expected: str
) -> None:
    choice = pick_cadre(role=role, kind=kind, mode=M.PORTAL, **flags)
    assert choice.findings == ()
    assert choice.cadre is not None
    assert choice.cadre.code == expected


@pytest.mark.parametrize("mode", list(DepositMode))
@pytest.mark.parametrize(
    ("role", "kind", "expected"),
    [
        (R.SUPPLIER, K.INVOICE, "A1"),
        (R.SUBCONTRACTOR, K.INVOICE, "A9"),
        (R.COCONTRACTOR, K.INVOICE, "A12"),
        (R.SUPPLIER, K.PROJET_DECOMPTE_MENSUEL, "A4"),
    ],
)
def test_routed_cadres_in_every_mode(
    role: Role, kind: DocumentKind, expected: str, mode: DepositMode
) -> None:
    choice = pick_cadre(role=role, kind=kind, mode=mode)
    assert choice.cadre is not None and choice.cadre.code == expected


def test_a2_in_every_mode() -> None:
    for mode in DepositMode:
        choice = pick_cadre(role=R.SUPPLIER, kind=K.INVOICE, mode=mode, already_paid=True)
        assert choice.cadre is not None and choice.cadre.code == "A2"


def test_tacit_only_cadres_found_without_the_flag() -> None:
    # A MOE's DGD only exists in the tacit procedure: the kind is enough.
    choice = pick_cadre(role=R.MOE, kind=K.DECOMPTE_GENERAL_DEFINITIF, mode=M.API)
    assert choice.cadre is not None and choice.cadre.code == "A24"


def test_every_role_and_kind_gives_one_answer() -> None:
    for role, kind, paid, tacit in itertools.product(
        Role, DocumentKind, (False, True), (False, True)
    ):
        choice = pick_cadre(
            role=role, kind=kind, mode=M.API, initial=False, already_paid=paid, tacit=tacit
        )
        assert isinstance(choice, CadreChoice)
        assert (choice.cadre is None) == any(f.severity is Severity.ERROR for f in choice.findings)


def test_no_cadre_for_role_and_kind() -> None:
    choice = pick_cadre(role=R.MOA, kind=K.INVOICE, mode=M.PORTAL)
    assert choice.cadre is None
    assert codes(choice.findings) == ["CADRE_NOT_FOUND"]
    assert choice.findings[0].severity is Severity.ERROR
    assert "moa" in choice.findings[0].message and "invoice" in choice.findings[0].message


def test_out_of_scope_from_role_and_kind() -> None:
    choice = pick_cadre(role=R.SUBCONTRACTOR, kind=K.PROJET_DECOMPTE_FINAL, mode=M.PORTAL)
    assert choice.cadre is None
    assert codes(choice.findings) == ["CADRE_OUT_OF_SCOPE"]
    assert "A11" in choice.findings[0].message


@pytest.mark.parametrize("hint", ["A3", "A21", "a11"])
def test_out_of_scope_hint_is_refused_not_replaced(hint: str) -> None:
    choice = pick_cadre(role=R.SUPPLIER, kind=K.INVOICE, mode=M.EDI, cadre_hint=hint)
    assert choice.cadre is None
    assert codes(choice.findings) == ["CADRE_OUT_OF_SCOPE"]
    assert hint.upper() in choice.findings[0].message


@pytest.mark.parametrize(
    ("code", "kwargs", "words"),
    [
        ("A15", {"role": R.MOE, "kind": K.ETAT_ACOMPTE, "mode": M.EDI}, ["EDI", "first"]),
        ("A5", {"role": R.SUPPLIER, "kind": K.ETAT_ACOMPTE, "mode": M.EDI}, ["EDI"]),
        (
            "A23",
            {"role": R.SUPPLIER, "kind": K.DECOMPTE_GENERAL_DEFINITIF, "tacit": True},
            ["portal", "first piece"],
        ),
        ("A25", {"role": R.MOA, "kind": K.DECOMPTE_GENERAL_DEFINITIF}, ["portal"]),
        (
            "A1",
            {"role": R.SUPPLIER, "kind": K.INVOICE, "initial": False},
            ["portal", "association"],
        ),
        (
            "A6",
            {"role": R.SUPPLIER, "kind": K.ETAT_ACOMPTE_VALIDE, "initial": False, "mode": M.API},
            ["API", "association"],
        ),
    ],
)
def test_mode_forbidden(code: str, kwargs: dict[str, object], words: list[str]) -> None:
    args: dict[str, object] = {"mode": M.PORTAL, **kwargs}
    choice = pick_cadre(**args)  # type: ignore[arg-type]
    assert choice.cadre is None
    assert codes(choice.findings) == ["CADRE_MODE_FORBIDDEN"]
    message = choice.findings[0].message
    assert f"cadre {code} " in message
    for word in words:
        assert word in message


def test_hint_wins_when_it_agrees_with_the_role() -> None:
    choice = pick_cadre(role=R.SUPPLIER, kind=K.INVOICE, mode=M.EDI, cadre_hint="A2")
    assert choice.cadre is not None and choice.cadre.code == "A2"
    assert choice.findings == ()


def test_hint_is_normalised() -> None:
    choice = pick_cadre(
        role=R.SUPPLIER, kind=K.PROJET_DECOMPTE_MENSUEL, mode=M.API, cadre_hint=" a4"
    )
    assert choice.cadre is not None and choice.cadre.code == "A4"


@pytest.mark.parametrize(
    ("hint", "why"),
    [("A15", "not deposited by a supplier"), ("B1", "not a cadre"), ("A26", "not a cadre")],
)
def test_hint_ignored_with_a_warning(hint: str, why: str) -> None:
    choice = pick_cadre(role=R.SUPPLIER, kind=K.INVOICE, mode=M.EDI, cadre_hint=hint)
    assert choice.cadre is not None and choice.cadre.code == "A1"
    assert codes(choice.findings) == ["CADRE_HINT_IGNORED"]
    assert choice.findings[0].severity is Severity.WARNING
    assert why in choice.findings[0].message


def test_ignored_hint_then_refusal_keeps_both_findings() -> None:
    choice = pick_cadre(role=R.MOE, kind=K.ETAT_ACOMPTE, mode=M.EDI, cadre_hint="A1")
    assert choice.cadre is None
    assert codes(choice.findings) == ["CADRE_HINT_IGNORED", "CADRE_MODE_FORBIDDEN"]


def test_hinted_cadre_is_still_checked_against_the_mode() -> None:
    choice = pick_cadre(role=R.MOE, kind=K.ETAT_ACOMPTE, mode=M.EDI, cadre_hint="A15")
    assert codes(choice.findings) == ["CADRE_MODE_FORBIDDEN"]
