"""SIREN / SIRET checks (pipeline/validate/siret.py), with property tests on the checksum."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pipeline.models import Severity
from pipeline.settings import SiretMode
from pipeline.validate.siret import (
    check_siret,
    is_valid_siren,
    is_valid_siret,
    normalise_siret,
)


def luhn_check_digit(payload: str) -> str:
    """The digit that makes ``payload + digit`` pass Luhn (written here, not stdnum's)."""
    total = 0
    # Walking from the right, the check digit will sit at position 0: double odd positions.
    for position, char in enumerate(reversed(payload), start=1):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


@st.composite
def luhn_sirets(draw: st.DrawFn) -> str:
    siren_body = draw(st.text(alphabet="0123456789", min_size=8, max_size=8))
    siren = siren_body + luhn_check_digit(siren_body)
    nic_body = draw(st.text(alphabet="0123456789", min_size=4, max_size=4))
    body = siren + nic_body
    siret = body + luhn_check_digit(body)
    # La Poste numbers follow another rule, an all-zero SIREN is refused on purpose.
    assume(not siret.startswith("356000000"))
    assume(siren != "0" * 9)
    return siret


# --------------------------------------------------------------------------- properties


@given(luhn_sirets())
def test_any_luhn_siret_over_a_luhn_siren_is_valid(siret: str) -> None:
    assert is_valid_siret(siret)
    assert is_valid_siren(siret[:9])
    assert check_siret(siret, field="supplier_siret", mode=SiretMode.STRICT) == []


@given(luhn_sirets(), st.integers(min_value=0, max_value=13), st.integers(1, 9))
def test_one_changed_digit_is_caught(siret: str, position: int, delta: int) -> None:
    changed = siret[:position] + str((int(siret[position]) + delta) % 10) + siret[position + 1 :]
    assume(not changed.startswith("356000000"))
    assert not is_valid_siret(changed)


@given(luhn_sirets(), st.lists(st.integers(min_value=0, max_value=14), max_size=5))
def test_spaces_anywhere_are_tolerated(siret: str, cuts: list[int]) -> None:
    spaced = siret
    for cut in sorted(set(cuts), reverse=True):
        spaced = spaced[:cut] + " " + spaced[cut:]
    assert normalise_siret(spaced) == siret
    assert is_valid_siret(spaced)


@given(st.text(max_size=30))
def test_check_siret_never_raises_and_finds_at_most_one_problem(text: str) -> None:
    findings = check_siret(text, field="supplier_siret", mode=SiretMode.STRICT)
    assert len(findings) <= 1
    assert (findings == []) == (not normalise_siret(text) or is_valid_siret(text))


@given(st.text(max_size=30))
def test_normalise_is_idempotent(text: str) -> None:
    assert normalise_siret(normalise_siret(text)) == normalise_siret(text)


# --------------------------------------------------------------------------- examples


@pytest.mark.parametrize(
    "siret",
    [
        "11000201100044",  # the State
        "20007104100046",
        "53819959700013",
        "24010039600011",
        "83807263500017",
        "21750001608202",
        "35600000049837",  # La Poste: digit sum multiple of 5, fails plain Luhn
        "35600000000048",  # La Poste head office: plain Luhn
    ],
)
def test_known_valid_sirets(siret: str) -> None:
    assert is_valid_siret(siret)


def test_all_zero_is_invalid_although_it_passes_luhn() -> None:
    assert not is_valid_siret("00000000000000")
    assert not is_valid_siren("000000000")
    [finding] = check_siret("00000000000000", field="recipient_siret", mode=SiretMode.STRICT)
    assert finding.code == "SIRET_INVALID"
    assert "all-zero SIREN" in finding.message


def test_all_zero_siren_with_a_luhn_nic_is_invalid() -> None:
    # 00000000000018 passes Luhn over 14 digits, but its SIREN is 000000000.
    assert not is_valid_siret("00000000000018")


@pytest.mark.parametrize(
    "siret",
    [
        "99986401570264",
        "26073617692140",
        "74726285956510",
        "40008960062628",
        "24417024989205",
        "89743394200055",
        "16000000000013",
    ],
)
def test_qualification_identifiers_fail_the_checksum(siret: str) -> None:
    assert not is_valid_siret(siret)
    [strict] = check_siret(siret, field="recipient_siret", mode=SiretMode.STRICT)
    assert (strict.code, strict.severity, strict.field) == (
        "SIRET_INVALID",
        Severity.ERROR,
        "recipient_siret",
    )
    [qualif] = check_siret(siret, field="recipient_siret", mode=SiretMode.QUALIFICATION)
    assert (qualif.code, qualif.severity) == ("SIRET_INVALID", Severity.WARNING)


def test_la_poste_number_with_wrong_digit_sum_is_invalid() -> None:
    assert not is_valid_siret("35600000049838")


def test_spaces_and_non_breaking_spaces_are_tolerated() -> None:
    assert is_valid_siret("110 002 011 00044")
    assert is_valid_siret("110\u00a0002\u00a0011\u202f00044")
    assert is_valid_siret(" 11000201100044 ")
    assert is_valid_siren("110 002 011")


@pytest.mark.parametrize(
    "value",
    ["1100020110004", "110002011000440", "1100020110004A", "11000-201-100044", "１１000201100044"],
)
def test_wrong_length_or_non_digits_is_malformed(value: str) -> None:
    assert not is_valid_siret(value)
    [strict] = check_siret(value, field="supplier_siret", mode=SiretMode.STRICT)
    assert (strict.code, strict.severity, strict.field) == (
        "SIRET_MALFORMED",
        Severity.ERROR,
        "supplier_siret",
    )
    [qualif] = check_siret(value, field="supplier_siret", mode=SiretMode.QUALIFICATION)
    assert (qualif.code, qualif.severity) == ("SIRET_MALFORMED", Severity.WARNING)


@pytest.mark.parametrize("value", [None, "", "   "])
def test_absent_siret_gives_no_finding(value: str | None) -> None:
    assert check_siret(value, field="moe_siret", mode=SiretMode.STRICT) == []


def test_findings_cite_their_rule_and_name_the_number() -> None:
    [finding] = check_siret("11000201100045", field="supplier_siret", mode=SiretMode.STRICT)
    assert finding.rule and "5.5" in finding.rule
    assert "11000201100045" in finding.message
    assert "supplier SIRET" in finding.message


def test_siren_checks() -> None:
    assert is_valid_siren("110002011")
    assert not is_valid_siren("110002012")
    assert not is_valid_siren("11000201")
    assert not is_valid_siren("11000201100044")
