"""What must hold between the amounts of a piece, as plain arithmetic.

The field finders read candidates; these checks say which combinations are consistent:
VAT lines of a multi-rate breakdown summing to the VAT total, a rate times its base
giving its VAT, the net to pay being the TTC less the deductions printed (retenue de
garantie, advance repayment, acomptes already paid). A value that passes a check is much
more likely right than one read alone; one that fails it must not look certain.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

#: Rounding slack: a VAT computed per line and summed may be a cent off the total's.
CENT = Decimal("0.01")


def vat_of(base: Decimal, rate: Decimal) -> Decimal:
    """The VAT of ``base`` at ``rate`` percent, rounded to the cent as invoices print it."""
    return (base * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def rate_holds(base: Decimal, rate: Decimal, vat: Decimal) -> bool:
    """Whether ``vat`` is ``rate`` percent of ``base`` (to the cent)."""
    return abs(vat_of(base, rate) - abs(vat)) <= CENT


def totals_hold(ht: Decimal, tva: Decimal, ttc: Decimal) -> bool:
    """HT + TVA = TTC, exactly: the three are printed from the same computation."""
    return ht + tva == ttc and ttc != 0


def net_after(ttc: Decimal, deductions: Sequence[Decimal]) -> Decimal:
    """The net to pay: the TTC less what is deducted (printed signed or not)."""
    return ttc - sum((abs(d) for d in deductions), Decimal(0))


_RATE_RE = re.compile(r"(\d{1,2}(?:[.,]\d{1,3})?)\s*%")


def parse_rate(text: str) -> Decimal | None:
    """The rate in a folded label such as ``tva 5,5 %`` or ``tva (20 %)``."""
    rates = parse_rates(text)
    return rates[0] if rates else None


def parse_rates(text: str) -> list[Decimal]:
    """Every rate in a folded text, in order (``tva 5,5 % et 20 %``)."""
    rates = (Decimal(match.group(1).replace(",", ".")) for match in _RATE_RE.finditer(text))
    return [rate for rate in rates if 0 < rate <= 30]
