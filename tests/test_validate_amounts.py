"""Amount checks (pipeline/validate/amounts.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.models import ExtractedField, PieceFields, Severity
from pipeline.validate.amounts import check_amounts


def piece(**values: str | None) -> PieceFields:
    return PieceFields(**{name: ExtractedField(value=value) for name, value in values.items()})


COMPLETE = {
    "total_excl_tax": "7850.00",
    "total_tax": "1570.00",
    "total_incl_tax": "9420.00",
    "amount_due": "9420.00",
}


def codes(findings: list) -> list[tuple[str, str | None]]:
    return [(f.code, f.field) for f in findings]


def test_consistent_amounts_give_no_finding() -> None:
    assert check_amounts(piece(**COMPLETE)) == []


def test_one_cent_of_rounding_is_tolerated() -> None:
    assert check_amounts(piece(**{**COMPLETE, "total_incl_tax": "9420.01"})) == []
    assert check_amounts(piece(**{**COMPLETE, "total_incl_tax": "9419.99"})) == []


def test_inconsistent_total_is_an_error_with_the_three_numbers() -> None:
    [finding] = check_amounts(
        piece(**{**COMPLETE, "total_incl_tax": "9420.02", "amount_due": "9000.00"})
    )
    assert (finding.code, finding.severity, finding.field) == (
        "AMOUNTS_INCONSISTENT",
        Severity.ERROR,
        "total_incl_tax",
    )
    for number in ("7850.00", "1570.00", "9420.02"):
        assert number in finding.message
    assert finding.rule == "BR-CO-15"


def test_decimal_arithmetic_not_float() -> None:
    # 0.10 + 0.20 is 0.30000000000000004 in floats; with Decimal it is exact.
    fields = piece(
        total_excl_tax="0.10", total_tax="0.20", total_incl_tax="0.30", amount_due="0.30"
    )
    assert check_amounts(fields) == []


def test_amount_due_above_total_is_a_warning() -> None:
    assert check_amounts(piece(**{**COMPLETE, "amount_due": "9420.01"})) == []
    [finding] = check_amounts(piece(**{**COMPLETE, "amount_due": "9420.02"}))
    assert (finding.code, finding.severity, finding.field) == (
        "AMOUNT_DUE_EXCEEDS_TOTAL",
        Severity.WARNING,
        "amount_due",
    )


def test_amount_due_below_total_is_normal_for_works_pieces() -> None:
    # Retenue de garantie and advance repayment make the net smaller than the TTC.
    assert check_amounts(piece(**{**COMPLETE, "amount_due": "8949.00"})) == []


@pytest.mark.parametrize("missing", ["total_excl_tax", "total_tax", "amount_due"])
def test_each_mandatory_amount_missing_is_an_error(missing: str) -> None:
    findings = check_amounts(piece(**{**COMPLETE, missing: None}))
    assert codes(findings) == [("AMOUNT_MISSING", missing)]
    assert findings[0].severity is Severity.ERROR


def test_total_incl_tax_is_not_mandatory() -> None:
    assert check_amounts(piece(**{**COMPLETE, "total_incl_tax": None})) == []


def test_empty_form_lists_every_missing_mandatory_amount() -> None:
    assert codes(check_amounts(PieceFields())) == [
        ("AMOUNT_MISSING", "total_excl_tax"),
        ("AMOUNT_MISSING", "total_tax"),
        ("AMOUNT_MISSING", "amount_due"),
    ]


def test_blank_amount_counts_as_missing() -> None:
    assert codes(check_amounts(piece(**{**COMPLETE, "total_tax": "  "}))) == [
        ("AMOUNT_MISSING", "total_tax")
    ]


def test_negative_amounts_are_warnings() -> None:
    findings = check_amounts(
        piece(
            total_excl_tax="-100.00",
            total_tax="-20.00",
            total_incl_tax="-120.00",
            amount_due="-120.00",
        )
    )
    assert [f.code for f in findings] == ["AMOUNT_NEGATIVE"] * 4
    assert {f.severity for f in findings} == {Severity.WARNING}


@pytest.mark.parametrize("raw", ["abc", "NaN", "Infinity", "12,50", "1.2.3"])
def test_unreadable_amount_is_an_error_and_skips_the_sums(raw: str) -> None:
    findings = check_amounts(piece(**{**COMPLETE, "total_tax": raw}))
    assert codes(findings) == [("AMOUNT_INVALID", "total_tax")]


@given(
    st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=0, max_value=10**8, places=2, allow_nan=False, allow_infinity=False),
)
def test_any_exact_sum_passes(ht: Decimal, tva: Decimal) -> None:
    ttc = ht + tva
    fields = piece(
        total_excl_tax=f"{ht:.2f}",
        total_tax=f"{tva:.2f}",
        total_incl_tax=f"{ttc:.2f}",
        amount_due=f"{ttc:.2f}",
    )
    assert check_amounts(fields) == []


@given(
    st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=0, max_value=10**8, places=2, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=Decimal("0.02"), max_value=10**6, places=2),
)
def test_any_sum_off_by_more_than_a_cent_fails(ht: Decimal, tva: Decimal, off: Decimal) -> None:
    fields = piece(
        total_excl_tax=f"{ht:.2f}",
        total_tax=f"{tva:.2f}",
        total_incl_tax=f"{ht + tva + off:.2f}",
        amount_due="0.00",
    )
    assert codes(check_amounts(fields)) == [("AMOUNTS_INCONSISTENT", "total_incl_tax")]
