"""Amount checks on the pre-filled deposit form: present, readable, consistent.

Amounts arrive as normalised decimal strings (DESIGN 4.1) and are compared as Decimal,
never as floats, so that ``0.10 + 0.20`` is ``0.30``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from pipeline.models import AMOUNT_FIELDS, Finding, PieceFields, Severity

#: HT + TVA may differ from TTC by one cent of rounding.
TOLERANCE = Decimal("0.01")

#: Starred on the Chorus Pro deposit form (domain.md 8): Montant HT*, Montant TVA*,
#: Net à payer*. Montant TTC is not, and is checked only when given.
MANDATORY_AMOUNTS = ("total_excl_tax", "total_tax", "amount_due")

_LABELS = {
    "total_excl_tax": "Montant HT",
    "total_tax": "Montant TVA",
    "total_incl_tax": "Montant TTC",
    "amount_due": "Net à payer",
}


def _parse(raw: str) -> Decimal | None:
    """The amount, or None when it is not a finite decimal number."""
    try:
        amount = Decimal(raw.strip())
    except InvalidOperation:
        return None
    # Decimal accepts "NaN" and "Infinity", which are no amounts.
    return amount if amount.is_finite() else None


def check_amounts(fields: PieceFields) -> list[Finding]:
    """Findings on the four amounts of a piece."""
    findings: list[Finding] = []
    amounts: dict[str, Decimal] = {}
    for name in AMOUNT_FIELDS:
        raw = fields.value(name)
        if raw is None or not raw.strip():
            if name in MANDATORY_AMOUNTS:
                findings.append(
                    Finding(
                        code="AMOUNT_MISSING",
                        severity=Severity.ERROR,
                        field=name,
                        message=f"The {_LABELS[name]} is missing; it is mandatory on the "
                        "deposit form.",
                        rule="domain.md 8 (Chorus Pro deposit form)",
                    )
                )
            continue
        amount = _parse(raw)
        if amount is None:
            findings.append(
                Finding(
                    code="AMOUNT_INVALID",
                    severity=Severity.ERROR,
                    field=name,
                    message=f"The {_LABELS[name]} « {raw} » is not a number.",
                    rule="DESIGN 4.1 (amounts as decimal strings)",
                )
            )
            continue
        amounts[name] = amount
        if amount < 0:
            # Credit notes carry positive amounts too (DESIGN 4.1): a sign is suspect.
            findings.append(
                Finding(
                    code="AMOUNT_NEGATIVE",
                    severity=Severity.WARNING,
                    field=name,
                    message=f"The {_LABELS[name]} is negative ({amount}); amounts, credit "
                    "notes included, are entered as positive numbers.",
                    rule="DESIGN 4.1 (EN 16931 / Chorus Pro sign convention)",
                )
            )

    ht = amounts.get("total_excl_tax")
    tva = amounts.get("total_tax")
    ttc = amounts.get("total_incl_tax")
    due = amounts.get("amount_due")
    if ht is not None and tva is not None and ttc is not None and abs(ht + tva - ttc) > TOLERANCE:
        findings.append(
            Finding(
                code="AMOUNTS_INCONSISTENT",
                severity=Severity.ERROR,
                field="total_incl_tax",
                message=f"Montant HT {ht} + Montant TVA {tva} = {ht + tva}, but the Montant "
                f"TTC is {ttc} (difference {ttc - ht - tva}).",
                rule="BR-CO-15",
            )
        )
    # Same cent of tolerance: a TTC rounded down must not make the net "exceed" it.
    if due is not None and ttc is not None and due - ttc > TOLERANCE:
        findings.append(
            Finding(
                code="AMOUNT_DUE_EXCEEDS_TOTAL",
                severity=Severity.WARNING,
                field="amount_due",
                message=f"The Net à payer {due} is more than the Montant TTC {ttc}.",
                rule="BR-CO-16",
            )
        )
    return findings
