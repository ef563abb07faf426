"""The dossier de facturation state machine: statuses, allowed transitions, rules.

Statuses are the API codes (domain.md decision 3); people see ``LABELS``. The transitions
are data: the deposit edges, then the later edges of domain.md 2.2 (recipient-side
processing of a piece made available) and 2.3 (works pieces between supplier, MOE and MOA).
Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from zoneinfo import ZoneInfo

from pipeline.models import Cadre, MoaSetting, Space
from pipeline.route.cadres import SIMPLE_INVOICE_CADRES


class Status(StrEnum):
    """Status of a piece (``statutFacture`` codes of the API)."""

    BROUILLON = "BROUILLON"
    DEPOSEE = "DEPOSEE"
    MISE_A_DISPOSITION_MOE = "MISE_A_DISPOSITION_MOE"
    MISE_A_DISPOSITION_MOA = "MISE_A_DISPOSITION_MOA"
    A_ASSOCIER_FOURNISSEUR = "A_ASSOCIER_FOURNISSEUR"
    MISE_A_DISPOSITION = "MISE_A_DISPOSITION"
    PRISE_EN_COMPTE_MOE = "PRISE_EN_COMPTE_MOE"
    PRISE_EN_COMPTE_MOA = "PRISE_EN_COMPTE_MOA"
    ASSOCIEE = "ASSOCIEE"
    SUSPENDUE = "SUSPENDUE"
    COMPLETEE = "COMPLETEE"
    ERREUR_DE_MOE = "ERREUR_DE_MOE"
    ERREUR_DE_MOA = "ERREUR_DE_MOA"
    REFUSEE_MOE = "REFUSEE_MOE"
    REFUSEE_MOA = "REFUSEE_MOA"
    REFUSEE_FOURNISSEUR = "REFUSEE_FOURNISSEUR"
    A_RECYCLER = "A_RECYCLER"
    REJETEE = "REJETEE"
    SERVICE_FAIT = "SERVICE_FAIT"
    MANDATEE = "MANDATEE"
    MISE_A_DISPOSITION_COMPTABLE = "MISE_A_DISPOSITION_COMPTABLE"
    COMPTABILISEE = "COMPTABILISEE"
    MISE_EN_PAIEMENT = "MISE_EN_PAIEMENT"


S = Status

#: The portal's French labels, shown to people (domain.md 2.2, 2.3).
LABELS: Mapping[Status, str] = MappingProxyType(
    {
        S.BROUILLON: "Brouillon",
        S.DEPOSEE: "Déposée",
        S.MISE_A_DISPOSITION_MOE: "Mise à disposition MOE",
        S.MISE_A_DISPOSITION_MOA: "Mise à disposition MOA",
        S.A_ASSOCIER_FOURNISSEUR: "Mise à disposition du fournisseur",
        S.MISE_A_DISPOSITION: "Mise à disposition du destinataire",
        S.PRISE_EN_COMPTE_MOE: "Prise en compte MOE",
        S.PRISE_EN_COMPTE_MOA: "Prise en compte MOA",
        S.ASSOCIEE: "Associée",
        S.SUSPENDUE: "Suspendue",
        S.COMPLETEE: "Complétée",
        S.ERREUR_DE_MOE: "Refusée par la MOE pour erreur dans les données d'acheminement",
        S.ERREUR_DE_MOA: "Refusée par la MOA pour erreur dans les données d'acheminement",
        S.REFUSEE_MOE: "Refusée par la MOE pour autre motif",
        S.REFUSEE_MOA: "Refusée par la MOA pour autre motif",
        S.REFUSEE_FOURNISSEUR: "Refusée par le fournisseur pour autre motif",
        S.A_RECYCLER: "À recycler",
        S.REJETEE: "Rejetée",
        S.SERVICE_FAIT: "Service fait",
        S.MANDATEE: "Mandatée",
        S.MISE_A_DISPOSITION_COMPTABLE: "Mise à disposition comptable",
        S.COMPTABILISEE: "Comptabilisée",
        S.MISE_EN_PAIEMENT: "Mise en paiement",
    }
)

#: The first mise à disposition after the deposit, by ``Cadre.next_holder``.
FIRST_AVAILABLE: Mapping[str, Status] = MappingProxyType(
    {
        "moe": S.MISE_A_DISPOSITION_MOE,
        "moa": S.MISE_A_DISPOSITION_MOA,
        "supplier": S.A_ASSOCIER_FOURNISSEUR,
        "recipient": S.MISE_A_DISPOSITION,
    }
)

#: Statuses a piece may be created in (the first event has no ``from_status``): a piece
#: saved as a draft on the portal, or deposited at once by EDI, API or intake.
INITIAL: frozenset[Status] = frozenset({S.BROUILLON, S.DEPOSEE})

# Recipient-side processing of a piece made available (domain.md 2.2, the targets pastell
# allows through traiter/recue).
_RECIPIENT_PROCESSING = frozenset(
    {
        S.SUSPENDUE,
        S.REJETEE,
        S.A_RECYCLER,
        S.SERVICE_FAIT,
        S.MANDATEE,
        S.MISE_A_DISPOSITION_COMPTABLE,
        S.COMPTABILISEE,
        S.MISE_EN_PAIEMENT,
    }
)

#: Allowed transitions; a status absent from the keys is final.
TRANSITIONS: Mapping[Status, frozenset[Status]] = MappingProxyType(
    {
        S.BROUILLON: frozenset({S.DEPOSEE}),
        S.DEPOSEE: frozenset(FIRST_AVAILABLE.values()),
        # The MOE takes the piece into account, or answers it with the next piece (A15
        # from an A4: the A4 becomes ASSOCIEE), asks for attachments, or refuses it.
        # Refusing a projet de décompte over amounts is not allowed (CCAG art. 12.1.9),
        # but a refusal for another motif is.
        S.MISE_A_DISPOSITION_MOE: frozenset(
            {S.PRISE_EN_COMPTE_MOE, S.ASSOCIEE, S.SUSPENDUE, S.ERREUR_DE_MOE, S.REFUSEE_MOE}
        ),
        S.PRISE_EN_COMPTE_MOE: frozenset({S.ASSOCIEE, S.SUSPENDUE, S.ERREUR_DE_MOE, S.REFUSEE_MOE}),
        S.MISE_A_DISPOSITION_MOA: frozenset(
            {S.PRISE_EN_COMPTE_MOA, S.ASSOCIEE, S.SUSPENDUE, S.ERREUR_DE_MOA, S.REFUSEE_MOA}
        ),
        S.PRISE_EN_COMPTE_MOA: frozenset({S.ASSOCIEE, S.SUSPENDUE, S.ERREUR_DE_MOA, S.REFUSEE_MOA}),
        # The supplier signs the décompte général (A8 from the A20) or refuses it.
        S.A_ASSOCIER_FOURNISSEUR: frozenset({S.ASSOCIEE, S.REFUSEE_FOURNISSEUR}),
        S.MISE_A_DISPOSITION: _RECIPIENT_PROCESSING,
        # The previous actor adds attachments; the piece goes back to whoever suspended it.
        S.SUSPENDUE: frozenset({S.COMPLETEE}),
        S.COMPLETEE: frozenset(FIRST_AVAILABLE.values()) - {S.A_ASSOCIER_FOURNISSEUR},
        # The emitter corrects the routing data and sends the piece again.
        S.ERREUR_DE_MOE: frozenset({S.MISE_A_DISPOSITION_MOE}),
        S.ERREUR_DE_MOA: frozenset({S.MISE_A_DISPOSITION_MOA}),
        S.A_RECYCLER: frozenset({S.MISE_A_DISPOSITION}),
        S.SERVICE_FAIT: _RECIPIENT_PROCESSING - {S.SERVICE_FAIT, S.A_RECYCLER},
        S.MANDATEE: frozenset(
            {S.MISE_A_DISPOSITION_COMPTABLE, S.COMPTABILISEE, S.MISE_EN_PAIEMENT}
        ),
        S.MISE_A_DISPOSITION_COMPTABLE: frozenset({S.COMPTABILISEE, S.MISE_EN_PAIEMENT}),
        S.COMPTABILISEE: frozenset({S.MISE_EN_PAIEMENT}),
    }
)


class InvalidTransition(ValueError):
    """A status change the state machine does not allow."""

    def __init__(self, from_status: Status | None, to_status: Status) -> None:
        self.from_status = from_status
        self.to_status = to_status
        if from_status is None:
            message = f"a piece cannot start in status {to_status.value}"
        else:
            message = f"a piece in status {from_status.value} cannot move to {to_status.value}"
        super().__init__(message)


def check_transition(from_status: Status | None, to_status: Status) -> None:
    """Raise ``InvalidTransition`` unless ``from_status`` may move to ``to_status``;
    ``None`` is a piece being created."""
    allowed = INITIAL if from_status is None else TRANSITIONS.get(from_status, frozenset())
    if to_status not in allowed:
        raise InvalidTransition(from_status, to_status)


def first_available_status(cadre: Cadre) -> Status:
    """The status of a deposited piece once made available to its next holder."""
    return FIRST_AVAILABLE[cadre.next_holder]


# --------------------------------------------------------------------------- spaces

#: Works pieces a « sans MOA » structure receives in « Factures reçues » [seed 002].
RECUES_SANS_MOA: frozenset[str] = frozenset(
    {"A10", "A5", "A6", "A8", "A15", "A16", "A17", "A19", "A22", "A23", "A24", "A25"}
)
#: Pieces the supplier side sends to the MOE, handled in its works space.
MOE_SIDE: frozenset[str] = frozenset({"A4", "A7", "A13", "A14"})
#: Pieces the MOE sends to the MOA, handled in the MOA's works space when it has one.
MOA_SIDE: frozenset[str] = frozenset({"A15", "A17"})

_HAS_WORKS_SPACE = frozenset({MoaSetting.AVEC_MOA, MoaSetting.EXCLUSIVEMENT_MOA})


def reception_space(cadre: Cadre, moa: MoaSetting | None) -> Space | None:
    """Where the piece lands (domain.md 5.3), given the recipient's « Présence MOA »
    setting (``None`` when unknown, read as « sans MOA »).

    ``None``: the recipient has no space for it (an « exclusivement MOA » structure
    cannot receive simple invoices).
    """
    if cadre.code in SIMPLE_INVOICE_CADRES:
        return None if moa is MoaSetting.EXCLUSIVEMENT_MOA else Space.FACTURES_RECUES
    if cadre.code in MOE_SIDE:
        return Space.FACTURES_TRAVAUX
    if cadre.code in MOA_SIDE and moa in _HAS_WORKS_SPACE:
        return Space.FACTURES_TRAVAUX
    if cadre.code in RECUES_SANS_MOA:
        return Space.FACTURES_RECUES
    # A18, A20: a décompte général goes back to the supplier, exchanged among works actors
    # (UNCONFIRMED beyond the [seed 002] list, domain.md 5.3).
    return Space.FACTURES_TRAVAUX


# --------------------------------------------------------------------------- deadline

#: Payment delay from the mise à disposition of a payment request to the MOE
#: (domain.md 2.3 rule 5).
PAYMENT_DELAY = timedelta(days=30)

#: Monthly payment requests made available to the MOE start the 30-day clock. Final
#: pieces (A7, A14) do not: the delay for the solde runs from the décompte général.
DEADLINE_CADRES: frozenset[str] = frozenset({"A4", "A10", "A13"})

# Days are counted in French legal time: a request made available at 23:30 UTC in summer
# arrived on the next calendar day.
_LEGAL_TIME = ZoneInfo("Europe/Paris")


def has_payment_deadline(cadre: Cadre) -> bool:
    """Whether making this cadre available to the MOE starts the payment delay."""
    return cadre.code in DEADLINE_CADRES


def payment_deadline(made_available_to_moe_at: datetime) -> date:
    """Last day of the payment delay: 30 days after the request reached the MOE."""
    if made_available_to_moe_at.tzinfo is None:
        raise ValueError("made_available_to_moe_at must be timezone-aware")
    return made_available_to_moe_at.astimezone(_LEGAL_TIME).date() + PAYMENT_DELAY


# --------------------------------------------------------------------------- numbering


def dossier_number_candidates(first_piece_number: str) -> Iterator[str]:
    """Dossier numbers to try, in order: the number of the first piece (domain.md 1.4),
    then ``-2``, ``-3`` … when another dossier already has it."""
    yield first_piece_number
    suffix = 2
    while True:
        yield f"{first_piece_number}-{suffix}"
        suffix += 1
