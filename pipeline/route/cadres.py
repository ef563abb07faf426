"""The cadres de facturation A1 … A25 and the deposit-mode matrix, as data (domain.md 1.1, 1.2).

``pick_cadre`` chooses the cadre of a piece from who deposits what, and refuses, as
findings, what the platform does not take: an out-of-scope cadre, no cadre for this role
and document kind, or a deposit mode the matrix forbids.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pipeline.models import (
    Availability,
    Cadre,
    DepositMode,
    DocumentKind,
    Finding,
    Frozen,
    ModeRule,
    Role,
    Severity,
)

K = DocumentKind
R = Role

#: The simple-invoice cadres: the only ones offered on « Factures émises » (domain.md 1.1).
SIMPLE_INVOICE_CADRES: frozenset[str] = frozenset({"A1", "A2", "A9", "A12"})

#: Cadres of the tacit procedure (procédure tacite, CCAG Travaux).
TACIT_CADRES: frozenset[str] = frozenset({"A22", "A23", "A24", "A25"})

#: Cadres for an invoice already paid (carte d'achat).
ALREADY_PAID_CADRES: frozenset[str] = frozenset({"A2"})

# Deposit-mode matrix of domain.md 1.2. Columns: EDI initial, EDI association, portal
# initial, portal association, API initial, API association; y = allowed, n = forbidden,
# - = not applicable. Simple invoices are allowed initially everywhere and are never
# deposited from an existing piece.
_MATRIX: Mapping[str, str] = {
    #      EDI portal API
    "A1": "y- y- y-",
    "A2": "y- y- y-",
    "A4": "y- y- y-",
    "A5": "n- y- y-",
    "A6": "yn yn yn",
    "A7": "y- y- y-",
    "A8": "yn yy yy",
    "A9": "y- y- y-",
    "A10": "y- y- y-",
    "A12": "y- y- y-",
    "A13": "y- y- y-",
    "A14": "y- y- y-",
    "A15": "nn yy yy",
    "A16": "nn y- y-",
    "A17": "nn yy yy",
    "A18": "nn y- y-",
    "A19": "nn yy yy",
    "A20": "nn yy yy",
    "A22": "yn yy yy",
    "A23": "-n -y -y",
    "A24": "nn yy yy",
    "A25": "-n -y -y",
}

_CELL = {"y": Availability.ALLOWED, "n": Availability.FORBIDDEN, "-": Availability.NOT_APPLICABLE}


def _modes(code: str) -> dict[DepositMode, ModeRule]:
    """The matrix row of a cadre; out-of-scope cadres have none."""
    row = _MATRIX.get(code)
    if row is None:
        return {}
    cells = row.split()
    modes = (DepositMode.EDI, DepositMode.PORTAL, DepositMode.API)
    return {
        mode: ModeRule(initial=_CELL[pair[0]], association=_CELL[pair[1]])
        for mode, pair in zip(modes, cells, strict=True)
    }


def _cadre(
    code: str,
    api_enum: str,
    label: str,
    depositors: tuple[Role, ...],
    kinds: tuple[DocumentKind, ...],
    next_holder: str,
    *,
    in_scope: bool = True,
) -> Cadre:
    return Cadre(
        code=code,
        api_enum=api_enum,
        label=label,
        depositors=depositors,
        document_kinds=kinds,
        in_scope=in_scope,
        modes=_modes(code),
        next_holder=next_holder,
    )


# Simple invoices carry typeFacture FACTURE or AVOIR whatever the cadre, hence credit
# notes under A1, A2, A9 and A12 alike.
_SIMPLE = (K.INVOICE, K.CREDIT_NOTE)

# fmt: off
_TABLE: tuple[Cadre, ...] = (
    _cadre("A1", "A1_FACTURE_FOURNISSEUR", "Dépôt par un fournisseur d'une facture",
           (R.SUPPLIER,), _SIMPLE, "recipient"),
    _cadre("A2", "A2_FACTURE_FOURNISSEUR_DEJA_PAYEE",
           "Dépôt par un fournisseur d'une facture déjà payée",
           (R.SUPPLIER,), _SIMPLE, "recipient"),
    # Mémoire de frais de justice: its own flow (E3), no document kind of ours.
    _cadre("A3", "A3_MEMOIRE_JUSTICE",
           "Dépôt par un fournisseur d'un mémoire de frais de justice",
           (R.SUPPLIER,), (), "recipient", in_scope=False),
    _cadre("A4", "A4_PROJET_DECOMPTE_MENSUEL_FOURNISSEUR",
           "Dépôt par un fournisseur d'un projet de décompte mensuel",
           (R.SUPPLIER,), (K.PROJET_DECOMPTE_MENSUEL,), "moe"),
    _cadre("A5", "A5_ETAT_ACOMPTE_FOURNISSEUR", "Dépôt par un fournisseur d'un état d'acompte",
           (R.SUPPLIER,), (K.ETAT_ACOMPTE,), "recipient"),
    _cadre("A6", "A6_ETAT_ACOMPTE_VALIDE_FOURNISSEUR",
           "Pièce de facturation de travaux transmise au service financier",
           (R.SUPPLIER,), (K.ETAT_ACOMPTE_VALIDE,), "recipient"),
    _cadre("A7", "A7_PROJET_DECOMPTE_FINAL_FOURNISSEUR",
           "Dépôt par un fournisseur d'un projet de décompte final",
           (R.SUPPLIER,), (K.PROJET_DECOMPTE_FINAL,), "moe"),
    _cadre("A8", "A8_DECOMPTE_GENERAL_DEFINITIF_FOURNISSEUR",
           "Dépôt par un fournisseur d'un décompte général et définitif",
           (R.SUPPLIER,), (K.DECOMPTE_GENERAL_DEFINITIF,), "recipient"),
    _cadre("A9", "A9_FACTURE_SOUSTRAITANT", "Dépôt par un sous-traitant d'une facture",
           (R.SUBCONTRACTOR,), _SIMPLE, "recipient"),
    _cadre("A10", "A10_PROJET_DECOMPTE_MENSUEL_SOUSTRAITANT",
           "Dépôt par un sous-traitant d'une demande de paiement dans le cadre des marchés "
           "de travaux",
           (R.SUBCONTRACTOR,), (K.DEMANDE_PAIEMENT_SOUS_TRAITANT, K.PROJET_DECOMPTE_MENSUEL),
           "moe"),
    # Only in one client's enum, likely obsolete (domain.md 1.1): refused.
    _cadre("A11", "A11_PROJET_DECOMPTE_FINAL_SOUSTRAITANT",
           "Dépôt par un sous-traitant d'un projet de décompte final",
           (R.SUBCONTRACTOR,), (K.PROJET_DECOMPTE_FINAL,), "recipient", in_scope=False),
    _cadre("A12", "A12_FACTURE_COTRAITANT", "Dépôt par un cotraitant d'une facture",
           (R.COCONTRACTOR,), _SIMPLE, "recipient"),
    _cadre("A13", "A13_PROJET_DECOMPTE_MENSUEL_COTRAITANT",
           "Dépôt par un cotraitant d'un projet de décompte mensuel",
           (R.COCONTRACTOR,), (K.PROJET_DECOMPTE_MENSUEL,), "moe"),
    _cadre("A14", "A14_PROJET_DECOMPTE_FINAL_COTRAITANT",
           "Dépôt par un cotraitant d'un projet de décompte final",
           (R.COCONTRACTOR,), (K.PROJET_DECOMPTE_FINAL,), "moe"),
    _cadre("A15", "A15_ETAT_ACOMPTE_MOE", "Dépôt par une MOE d'un état d'acompte",
           (R.MOE,), (K.ETAT_ACOMPTE,), "moa"),
    _cadre("A16", "A16_ETAT_ACOMPTE_VALIDE_MOE", "Dépôt par une MOE d'un état d'acompte validé",
           (R.MOE,), (K.ETAT_ACOMPTE_VALIDE,), "recipient"),
    _cadre("A17", "A17_PROJET_DECOMPTE_GENERAL_MOE",
           "Dépôt par une MOE d'un projet de décompte général",
           (R.MOE,), (K.PROJET_DECOMPTE_GENERAL,), "moa"),
    _cadre("A18", "A18_DECOMPTE_GENERAL_MOE", "Dépôt par une MOE d'un décompte général",
           (R.MOE,), (K.DECOMPTE_GENERAL,), "supplier"),
    _cadre("A19", "A19_ETAT_ACOMPTE_VALIDE_MOA", "Dépôt par une MOA d'un état d'acompte validé",
           (R.MOA,), (K.ETAT_ACOMPTE_VALIDE,), "recipient"),
    _cadre("A20", "A20_DECOMPTE_GENERAL_MOA", "Dépôt par une MOA d'un décompte général",
           (R.MOA,), (K.DECOMPTE_GENERAL,), "supplier"),
    # Remboursement de TIC: not a works or invoice piece of ours.
    _cadre("A21", "A21_DEMANDE_REMBOURSEMENT_TIC",
           "Dépôt par un bénéficiaire d'une demande de remboursement de la TIC",
           (), (), "recipient", in_scope=False),
    _cadre("A22", "A22_PROJET_DECOMPTE_GENERAL_FOURNISSEUR_PROCEDURE_TACITE",
           "Dépôt par un fournisseur (ou mandataire) d'un projet de décompte général dans le "
           "cadre d'une procédure tacite",
           (R.SUPPLIER,), (K.PROJET_DECOMPTE_GENERAL,), "recipient"),
    _cadre("A23", "A23_DECOMPTE_GENERAL_DEFINITIF_TACITE_FOURNISSEUR",
           "Dépôt par un fournisseur (ou mandataire) d'un décompte général et définitif tacite",
           (R.SUPPLIER,), (K.DECOMPTE_GENERAL_DEFINITIF,), "recipient"),
    _cadre("A24", "A24_DECOMPTE_GENERAL_DEFINITIF_TACITE_MOE",
           "Dépôt par une MOE d'un décompte général et définitif tacite",
           (R.MOE,), (K.DECOMPTE_GENERAL_DEFINITIF,), "recipient"),
    # The enum says MOE although the MOA deposits it: copied verbatim (domain.md 1.1).
    _cadre("A25", "A25_DECOMPTE_GENERAL_DEFINITIF_MOE_PROCEDURE_TACITE",
           "Dépôt par une MOA d'un décompte général et définitif dans le cadre d'une "
           "procédure tacite",
           (R.MOA,), (K.DECOMPTE_GENERAL_DEFINITIF,), "recipient"),
)
# fmt: on

#: Every cadre A1 … A25 by code, in numeric order.
CADRES: Mapping[str, Cadre] = MappingProxyType({cadre.code: cadre for cadre in _TABLE})

_MODE_WORDS = {DepositMode.EDI: "EDI", DepositMode.PORTAL: "the portal", DepositMode.API: "API"}


class CadreChoice(Frozen):
    """The cadre picked for a piece, or why none can be: ``cadre`` is set iff no error."""

    cadre: Cadre | None = None
    findings: tuple[Finding, ...] = ()


def _finding(code: str, severity: Severity, message: str) -> Finding:
    return Finding(code=code, severity=severity, message=message)


def _refuse(findings: list[Finding], code: str, message: str) -> CadreChoice:
    findings.append(_finding(code, Severity.ERROR, message))
    return CadreChoice(cadre=None, findings=tuple(findings))


def _from_hint(hint: str, role: Role) -> tuple[Cadre | None, str | None]:
    """The hinted cadre when it can be used, else why not."""
    cadre = CADRES.get(hint.strip().upper())
    if cadre is None:
        return None, f"cadre {hint!r} read from the XML is not a cadre A1 … A25"
    if not cadre.in_scope:
        return cadre, None  # refused as out of scope by the caller, not silently replaced
    if role not in cadre.depositors:
        return None, f"cadre {cadre.code} read from the XML is not deposited by a {role.value}"
    return cadre, None


def _from_role_and_kind(
    role: Role, kind: DocumentKind, *, already_paid: bool, tacit: bool
) -> Cadre | None:
    candidates = [c for c in _TABLE if role in c.depositors and kind in c.document_kinds]

    def prefer(cands: list[Cadre], codes: frozenset[str], wanted: bool) -> list[Cadre]:
        # A flag selects a variant only where one exists: a MOE's décompte général et
        # définitif is always tacit (A24), so the flag is not needed to find it.
        matching = [c for c in cands if (c.code in codes) == wanted]
        return matching or cands

    candidates = prefer(candidates, TACIT_CADRES, tacit)
    candidates = prefer(candidates, ALREADY_PAID_CADRES, already_paid)
    return candidates[0] if candidates else None


def _mode_refusal(cadre: Cadre, mode: DepositMode, initial: bool) -> str | None:
    rule = cadre.modes.get(mode)
    availability = (rule.initial if initial else rule.association) if rule else None
    if availability is Availability.ALLOWED:
        return None
    how = "as a first piece (dépôt initial)" if initial else "from an existing piece (association)"
    return f"cadre {cadre.code} ({cadre.label}) cannot be deposited by {_MODE_WORDS[mode]} {how}"


def pick_cadre(
    *,
    role: Role,
    kind: DocumentKind,
    mode: DepositMode,
    initial: bool = True,
    cadre_hint: str | None = None,
    already_paid: bool = False,
    tacit: bool = False,
) -> CadreChoice:
    """The cadre of a piece deposited by ``role`` in ``mode``.

    A cadre read from the XML (``cadre_hint``) wins when it is a known cadre for this
    role; otherwise a warning says why it was ignored and the cadre comes from the role
    and the document kind. An out-of-scope cadre, no cadre at all, or a mode the matrix
    forbids are error findings and no cadre.
    """
    findings: list[Finding] = []
    cadre: Cadre | None = None
    if cadre_hint:
        cadre, why_not = _from_hint(cadre_hint, role)
        if why_not:
            findings.append(
                _finding(
                    "CADRE_HINT_IGNORED",
                    Severity.WARNING,
                    f"{why_not}; the cadre is chosen from the depositor's role and the "
                    "document kind",
                )
            )
    if cadre is None:
        cadre = _from_role_and_kind(role, kind, already_paid=already_paid, tacit=tacit)
    if cadre is None:
        return _refuse(
            findings,
            "CADRE_NOT_FOUND",
            f"no cadre de facturation lets a {role.value} deposit a {kind.value}; check the "
            "document kind and the depositor's role",
        )
    if not cadre.in_scope:
        return _refuse(
            findings,
            "CADRE_OUT_OF_SCOPE",
            f"cadre {cadre.code} ({cadre.label}) is not handled by this platform",
        )
    refusal = _mode_refusal(cadre, mode, initial)
    if refusal:
        return _refuse(findings, "CADRE_MODE_FORBIDDEN", refusal)
    return CadreChoice(cadre=cadre, findings=tuple(findings))
