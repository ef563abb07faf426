"""Routing-data rules (pipeline/validate/recipient.py) against the bundled annuaire."""

from __future__ import annotations

import pytest

from pipeline.models import DocumentKind, ExtractedField, Finding, PieceFields, Severity
from pipeline.settings import SiretMode
from pipeline.validate.directory import Directory, bundled_directory_paths, load_directory
from pipeline.validate.recipient import check_recipient

STATE = "11000201100044"
SUPPLIER = "53819959700013"

INVOICE = DocumentKind.INVOICE
PDM = DocumentKind.PROJET_DECOMPTE_MENSUEL


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory(*bundled_directory_paths())


def piece(**values: str | None) -> PieceFields:
    base: dict[str, str | None] = {"supplier_siret": SUPPLIER, "invoice_number": "F-2024-001"}
    base.update(values)
    return PieceFields(**{name: ExtractedField(value=value) for name, value in base.items()})


def check(
    directory: Directory,
    kind: DocumentKind | None = INVOICE,
    *,
    mode: SiretMode = SiretMode.STRICT,
    **values: str | None,
) -> list[Finding]:
    return check_recipient(piece(**values), directory, kind=kind, siret_mode=mode)


def check_values(
    directory: Directory,
    values: dict[str, str | None],
    kind: DocumentKind | None = INVOICE,
    mode: SiretMode = SiretMode.STRICT,
) -> list[Finding]:
    """``check`` with the field values as one mapping (for parametrised cases)."""
    return check_recipient(piece(**values), directory, kind=kind, siret_mode=mode)


def codes(findings: list[Finding]) -> list[tuple[str, str | None]]:
    return [(f.code, f.field) for f in findings]


def test_every_finding_is_explained(directory: Directory) -> None:
    cases: list[dict[str, str | None]] = [
        {"recipient_siret": STATE},
        {"recipient_siret": STATE, "service_code": "MINARM-ESID-BREST", "engagement_number": "1"},
        {"recipient_siret": "20090996800014"},
        {"recipient_siret": "21303082800015", "service_code": "FACTURES_PUBLIQUES"},
        {"recipient_siret": "24260913900017"},
        {"recipient_siret": None},
    ]
    for values in cases:
        for finding in check_values(directory, values):
            assert finding.field and finding.rule and finding.message.endswith((".", "»"))


# --------------------------------------------------------------------------- valid pieces


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (
            {
                "recipient_siret": STATE,
                "service_code": "DGFIP-SFACT-75",
                "engagement_number": "EJ1",
            },
            INVOICE,
        ),
        (
            {
                "recipient_siret": "110 002 011 00044",
                "service_code": "MINEDU-RECT-LYON",
                "engagement_number": "1300012345",
            },
            DocumentKind.CREDIT_NOTE,
        ),
        ({"recipient_siret": "21752601100010", "service_code": "SERVICES-TECHNIQUES"}, INVOICE),
        ({"recipient_siret": "21752601100010", "engagement_number": "EJ-77"}, INVOICE),
        ({"recipient_siret": "21781590100012"}, INVOICE),
        ({"recipient_siret": "21781590100012"}, None),
        ({"recipient_siret": "22683016400019", "service_code": "DRT-ROUTES"}, INVOICE),
        ({"recipient_siret": "26361318400013", "engagement_number": "EJ-2024-9"}, INVOICE),
        (
            {
                "recipient_siret": "24260913900017",
                "moa_siret": "24260913900017",
                "moe_siret": "83807263500017",
            },
            PDM,
        ),
        ({"recipient_siret": "21303082800015", "service_code": "CTM"}, INVOICE),
    ],
)
def test_valid_cases_give_no_finding(
    directory: Directory, values: dict[str, str | None], kind: DocumentKind | None
) -> None:
    assert check_values(directory, values, kind) == []


# --------------------------------------------------------------------------- recipient SIRET


def test_recipient_siret_missing(directory: Directory) -> None:
    [finding] = check(directory, recipient_siret=None)
    assert (finding.code, finding.severity, finding.field) == (
        "RECIPIENT_SIRET_MISSING",
        Severity.ERROR,
        "recipient_siret",
    )
    assert codes(check(directory, recipient_siret="   ")) == [
        ("RECIPIENT_SIRET_MISSING", "recipient_siret")
    ]


def test_recipient_siret_bad_checksum_and_unknown(directory: Directory) -> None:
    assert codes(check(directory, recipient_siret="21781590100013")) == [
        ("SIRET_INVALID", "recipient_siret"),
        ("RECIPIENT_UNKNOWN", "recipient_siret"),
    ]


def test_recipient_siret_malformed_is_not_also_unknown(directory: Directory) -> None:
    assert codes(check(directory, recipient_siret="2178159010001")) == [
        ("SIRET_MALFORMED", "recipient_siret")
    ]


def test_qualification_mode_turns_checksum_into_a_warning(directory: Directory) -> None:
    findings = check(directory, mode=SiretMode.QUALIFICATION, recipient_siret="99986401570264")
    assert [(f.code, f.severity) for f in findings] == [
        ("SIRET_INVALID", Severity.WARNING),
        ("RECIPIENT_UNKNOWN", Severity.ERROR),
    ]


def test_directory_row_failing_the_checksum_is_still_found(directory: Directory) -> None:
    strict = check(directory, recipient_siret="13001100000000")
    assert codes(strict) == [("SIRET_INVALID", "recipient_siret")]
    qualif = check(directory, mode=SiretMode.QUALIFICATION, recipient_siret="13001100000000")
    assert [(f.code, f.severity) for f in qualif] == [("SIRET_INVALID", Severity.WARNING)]


def test_unknown_structure(directory: Directory) -> None:
    [finding] = check(directory, recipient_siret="20007104100046")
    assert (finding.code, finding.severity) == ("RECIPIENT_UNKNOWN", Severity.ERROR)
    assert "20007104100046" in finding.message


def test_inactive_structure(directory: Directory) -> None:
    [finding] = check(directory, recipient_siret="20090996800014")
    assert (finding.code, finding.severity, finding.field) == (
        "RECIPIENT_INACTIVE",
        Severity.ERROR,
        "recipient_siret",
    )
    assert "SYNDICAT INTERCOMMUNAL DES EAUX DU PLATEAU" in finding.message


# --------------------------------------------------------------------------- the State


def test_state_without_service_nor_engagement(directory: Directory) -> None:
    findings = check(directory, recipient_siret=STATE)
    assert codes(findings) == [
        ("RECIPIENT_SERVICE_REQUIRED", "service_code"),
        ("RECIPIENT_ENGAGEMENT_REQUIRED", "engagement_number"),
    ]
    assert all(f.rule == "domain.md 5.1 / seed 001" for f in findings)


def test_state_without_service(directory: Directory) -> None:
    assert codes(check(directory, recipient_siret=STATE, engagement_number="1300012345")) == [
        ("RECIPIENT_SERVICE_REQUIRED", "service_code")
    ]


def test_state_without_engagement(directory: Directory) -> None:
    findings = check(directory, recipient_siret=STATE, service_code="DGFIP-SFACT-75")
    assert codes(findings) == [("RECIPIENT_ENGAGEMENT_REQUIRED", "engagement_number")]


def test_state_rule_applies_when_the_kind_is_unknown(directory: Directory) -> None:
    assert len(check(directory, None, recipient_siret=STATE)) == 2


def test_state_with_inactive_service(directory: Directory) -> None:
    findings = check(
        directory,
        recipient_siret=STATE,
        service_code="MINARM-ESID-BREST",
        engagement_number="1300012345",
    )
    [finding] = findings
    assert (finding.code, finding.severity, finding.field) == (
        "SERVICE_INACTIVE",
        Severity.ERROR,
        "service_code",
    )
    assert "ESID de Brest" in finding.message


def test_state_with_unknown_service_lists_the_active_ones(directory: Directory) -> None:
    [finding] = check(
        directory, recipient_siret=STATE, service_code="DGFIP-XX", engagement_number="13"
    )
    assert finding.code == "SERVICE_UNKNOWN"
    assert "DGFIP-SFACT-75" in finding.message and "MINEDU-RECT-LYON" in finding.message
    assert "MINARM-ESID-BREST" not in finding.message


def test_state_works_piece_falls_back_on_the_structure_flags(directory: Directory) -> None:
    # « hors marchés de travaux »: on a works piece the State's own rule does not apply,
    # but the State row of the annuaire still demands both (GestionService, GestionEngagement).
    findings = check(directory, PDM, recipient_siret=STATE)
    assert codes(findings) == [
        ("RECIPIENT_SERVICE_REQUIRED", "service_code"),
        ("RECIPIENT_ENGAGEMENT_REQUIRED", "engagement_number"),
    ]
    assert [f.rule for f in findings] == ["annuaire GestionService", "annuaire GestionEngagement"]


def test_state_rule_alone_applies_to_invoices_not_works_pieces() -> None:
    # A State row without flags isolates the rule of domain.md 5.1.
    from pipeline.validate.directory import Structure

    bare_state = Structure(
        identifier_type=1,
        identifier=STATE,
        name="ETAT",
        emits_edi=False,
        receives_edi=True,
        payment_status_hidden=False,
        engagement_required=False,
        service_required=False,
        service_or_engagement_required=False,
        is_moa=False,
        is_moa_only=False,
        active=True,
    )
    directory = Directory([bare_state])
    assert len(check(directory, INVOICE, recipient_siret=STATE)) == 2
    assert check(directory, PDM, recipient_siret=STATE) == []


# --------------------------------------------------------------------------- structure flags


def test_service_or_engagement_structure(directory: Directory) -> None:
    [finding] = check(directory, recipient_siret="21752601100010")
    assert (finding.code, finding.severity) == (
        "RECIPIENT_SERVICE_OR_ENGAGEMENT_REQUIRED",
        Severity.ERROR,
    )
    assert "COMMUNE DE SAINT-AUBIN-SUR-LOIRE" in finding.message
    assert finding.rule == "annuaire GestionServiceEngagement"


def test_service_with_gestion_egmt_needs_an_engagement(directory: Directory) -> None:
    [finding] = check(directory, recipient_siret="21752601100010", service_code="FINANCES")
    assert (finding.code, finding.field) == ("RECIPIENT_ENGAGEMENT_REQUIRED", "engagement_number")
    assert "FINANCES" in finding.message and "Direction des finances" in finding.message
    assert finding.rule == "annuaire services GestionEGMT"
    assert (
        check(
            directory,
            recipient_siret="21752601100010",
            service_code="FINANCES",
            engagement_number="7",
        )
        == []
    )


def test_service_required_structure(directory: Directory) -> None:
    [finding] = check(directory, recipient_siret="22683016400019")
    assert (finding.code, finding.field, finding.rule) == (
        "RECIPIENT_SERVICE_REQUIRED",
        "service_code",
        "annuaire GestionService",
    )
    assert "DEPARTEMENT DU HAUT-VALLON" in finding.message


def test_service_required_structure_with_unknown_service(directory: Directory) -> None:
    assert codes(check(directory, recipient_siret="22683016400019", service_code="ROUTES")) == [
        ("SERVICE_UNKNOWN", "service_code")
    ]


def test_service_required_structure_with_egmt_service(directory: Directory) -> None:
    findings = check(directory, recipient_siret="22683016400019", service_code="DRT-COLLEGES")
    assert codes(findings) == [("RECIPIENT_ENGAGEMENT_REQUIRED", "engagement_number")]


def test_engagement_required_structure(directory: Directory) -> None:
    [finding] = check(directory, recipient_siret="26361318400013", service_code="ACHATS")
    assert (finding.code, finding.field, finding.rule) == (
        "RECIPIENT_ENGAGEMENT_REQUIRED",
        "engagement_number",
        "annuaire GestionEngagement",
    )
    assert "CENTRE HOSPITALIER DE BELLECOMBE" in finding.message


def test_service_unknown_on_a_structure_without_services(directory: Directory) -> None:
    [finding] = check(directory, recipient_siret="21781590100012", service_code="COMPTA")
    assert finding.code == "SERVICE_UNKNOWN"
    assert "no active service" in finding.message


# --------------------------------------------------------------------------- MOA


@pytest.mark.parametrize("kind", [DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE])
def test_exclusivement_moa_refuses_simple_pieces(directory: Directory, kind: DocumentKind) -> None:
    [finding] = check(directory, kind, recipient_siret="24260913900017")
    assert (finding.code, finding.severity, finding.field) == (
        "RECIPIENT_MOA_ONLY",
        Severity.ERROR,
        "recipient_siret",
    )
    assert "OPH VALLON HABITAT" in finding.message


@pytest.mark.parametrize("kind", [k for k in DocumentKind if k.is_works_piece])
def test_exclusivement_moa_accepts_works_pieces(directory: Directory, kind: DocumentKind) -> None:
    assert check(directory, kind, recipient_siret="24260913900017") == []


def test_avec_moa_accepts_invoices(directory: Directory) -> None:
    assert check(directory, INVOICE, recipient_siret="21303082800015") == []


# --------------------------------------------------------------------------- reserved service


def test_factures_publiques_is_reserved(directory: Directory) -> None:
    [finding] = check(
        directory, recipient_siret="21303082800015", service_code="FACTURES_PUBLIQUES"
    )
    assert (finding.code, finding.severity, finding.field) == (
        "SERVICE_RESERVED",
        Severity.ERROR,
        "service_code",
    )


def test_factures_publiques_is_reserved_even_for_an_unknown_recipient(directory: Directory) -> None:
    findings = check(directory, recipient_siret=None, service_code="factures_publiques")
    assert codes(findings) == [
        ("RECIPIENT_SIRET_MISSING", "recipient_siret"),
        ("SERVICE_RESERVED", "service_code"),
    ]


# --------------------------------------------------------------------------- lengths


def test_invoice_number_too_long(directory: Directory) -> None:
    ok = check(directory, recipient_siret="21781590100012", invoice_number="X" * 20)
    assert ok == []
    [finding] = check(directory, recipient_siret="21781590100012", invoice_number="X" * 21)
    assert (finding.code, finding.severity, finding.field) == (
        "INVOICE_NUMBER_TOO_LONG",
        Severity.ERROR,
        "invoice_number",
    )


def test_engagement_too_long(directory: Directory) -> None:
    ok = check(directory, recipient_siret="26361318400013", engagement_number="E" * 50)
    assert ok == []
    [finding] = check(directory, recipient_siret="26361318400013", engagement_number="E" * 51)
    assert (finding.code, finding.field) == ("ENGAGEMENT_TOO_LONG", "engagement_number")


# --------------------------------------------------------------------------- other SIRETs


@pytest.mark.parametrize("field", ["supplier_siret", "moe_siret", "moa_siret"])
def test_other_sirets_are_checked(directory: Directory, field: str) -> None:
    recipient: dict[str, str | None] = {"recipient_siret": "24260913900017"}
    findings = check_values(directory, {**recipient, field: "24260913900018"}, PDM)
    assert codes(findings) == [("SIRET_INVALID", field)]
    findings = check_values(
        directory, {**recipient, field: "2426091390"}, PDM, SiretMode.QUALIFICATION
    )
    assert [(f.code, f.field, f.severity) for f in findings] == [
        ("SIRET_MALFORMED", field, Severity.WARNING)
    ]


def test_missing_supplier_siret_is_not_this_stage_s_business(directory: Directory) -> None:
    assert check(directory, recipient_siret="21781590100012", supplier_siret=None) == []
