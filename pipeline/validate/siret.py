"""SIREN / SIRET checks on a piece (domain.md section 5.5).

The checksum itself is python-stdnum's (`stdnum.fr.siret`, `stdnum.fr.siren`): Luhn over
the 14 digits, the La Poste exception (numbers starting ``356000000`` other than the head
office are valid when their digit sum is a multiple of 5) and the Luhn check of the SIREN
part. On top of it, this project refuses the all-zero SIREN (it passes Luhn) and accepts
spaces on input, since printed SIRETs are grouped ``110 002 011 00044``.

These checks apply to the SIRETs of a piece, never to directory rows: the annuaire holds
numbers that fail the checksum and must load anyway (domain.md 3.1).
"""

from __future__ import annotations

from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret

from pipeline.models import Finding, Severity
from pipeline.settings import SiretMode

SIRET_LENGTH = 14
SIREN_LENGTH = 9

_RULE = "domain.md 5.5 (Luhn, La Poste exception)"

#: How each SIRET field is named to an operator (the deposit form's labels).
_FIELD_LABELS = {
    "supplier_siret": "supplier SIRET (SIRET fournisseur)",
    "recipient_siret": "recipient SIRET (SIRET destinataire)",
    "moe_siret": "maîtrise d'œuvre SIRET",
    "moa_siret": "maîtrise d'ouvrage SIRET",
}


def normalise_siret(raw: str) -> str:
    """``raw`` without any whitespace (spaces, tabs, non-breaking spaces), else unchanged."""
    return "".join(raw.split())


def _is_ascii_digits(value: str) -> bool:
    # str.isdigit() alone accepts superscripts and other scripts' digits.
    return value.isascii() and value.isdigit()


def is_valid_siret(value: str) -> bool:
    """14 digits, not all zero, passing the SIRET checksum (spaces tolerated)."""
    number = normalise_siret(value)
    if len(number) != SIRET_LENGTH or not _is_ascii_digits(number):
        return False
    # An all-zero SIREN passes Luhn whatever the NIC; no real establishment has it.
    if number[:SIREN_LENGTH] == "0" * SIREN_LENGTH:
        return False
    return bool(stdnum_siret.is_valid(number))


def is_valid_siren(value: str) -> bool:
    """9 digits, not all zero, passing the Luhn checksum (spaces tolerated)."""
    number = normalise_siret(value)
    if len(number) != SIREN_LENGTH or not _is_ascii_digits(number):
        return False
    if number == "0" * SIREN_LENGTH:
        return False
    return bool(stdnum_siren.is_valid(number))


def _severity(mode: SiretMode) -> Severity:
    # Sandbox (qualification) identifiers fail the checksum: there it only warns.
    return Severity.ERROR if mode is SiretMode.STRICT else Severity.WARNING


def check_siret(value: str | None, *, field: str, mode: SiretMode) -> list[Finding]:
    """Findings on one SIRET of a piece; none when it is valid or absent.

    Whether a SIRET is mandatory is the caller's business (only the recipient's is).
    """
    if value is None:
        return []
    number = normalise_siret(value)
    if not number:
        return []
    label = _FIELD_LABELS.get(field, field)
    severity = _severity(mode)
    qualification_note = (
        " (reported as a warning: qualification mode)" if mode is SiretMode.QUALIFICATION else ""
    )
    if len(number) != SIRET_LENGTH or not _is_ascii_digits(number):
        return [
            Finding(
                code="SIRET_MALFORMED",
                severity=severity,
                field=field,
                message=f"The {label} « {value} » is not a SIRET: a SIRET has exactly "
                f"{SIRET_LENGTH} digits, this has {len(number)} characters"
                + ("" if _is_ascii_digits(number) else " including non-digits")
                + f"{qualification_note}.",
                rule="domain.md 5.5 (14 digits)",
            )
        ]
    if not is_valid_siret(number):
        if number[:SIREN_LENGTH] == "0" * SIREN_LENGTH:
            reason = "starts with an all-zero SIREN, which no establishment has"
        else:
            reason = "fails the SIRET checksum"
        return [
            Finding(
                code="SIRET_INVALID",
                severity=severity,
                field=field,
                message=f"The {label} {number} {reason}: check it for a mistyped or "
                f"misread digit{qualification_note}.",
                rule=_RULE,
            )
        ]
    return []
