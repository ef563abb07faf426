"""The annuaire loader and lookups (pipeline/validate/directory.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ExitCode, UsageError
from pipeline.models import MoaSetting
from pipeline.validate.directory import (
    Directory,
    Requirement,
    Service,
    Structure,
    bundled_directory_paths,
    directory_from_rows,
    load_directory,
)
from pipeline.validate.siret import is_valid_siret

STRUCTURES_HEADER = (
    "TypeIdentifiant;Identifiant;RaisonSociale;EmetteurEdi;RecepteurEdi;"
    "GestionStatutMiseEnPaiement;GestionEngagement;GestionService;GestionServiceEngagement;"
    "EstMOA;EstMOAUniquement;StructureActive;Adresse;ComplementAdresse1;ComplementAdresse2;"
    "CodePostal;Ville;NumTelephone;Courriel;CodePays;LibellePays"
)
HUMAN_STRUCTURES_HEADER = (
    "Type d'identifiant;Identifiant;Raison sociale;Emetteur EDI;Récepteur EDI;"
    "Gestion du statut de mise en paiement;Gestion engagement;Gestion service;"
    "Gestion service ou engagement;Est MOA;Est MOA uniquement;Structure active;Adresse;"
    "Complément adresse 1;Complément adresse 2;Code postal;Ville;Numéro de téléphone;"
    "Courriel;Code pays;Libellé pays"
)
SERVICES_HEADER = (
    "Identifiant;RaisonSociale;Code;Nom;GestionEGMT;ServiceActif;Adresse;ComplementAdresse1;"
    "ComplementAdresse2;CodePostal;Ville;NumTelephone;Courriel;CodePays;LibellePays"
)
HUMAN_SERVICES_HEADER = (
    "IDENTIFIANT;Raison_Sociale;code;NOM;Gestion_EGMT;Service actif;Adresse;"
    "Complément adresse 1;Complément adresse 2;Code postal;Ville;Téléphone;Courriel;"
    "Code pays;Libellé pays"
)

#: A structure row after the identifier: name, 9 flags, 9 address fields.
FLAGS_ALL_FALSE_ACTIVE = "false;false;false;false;false;false;false;false;true"
ADDRESS = ";;;75001;PARIS;;;FR;FRANCE"


def structure_line(
    identifier: str, *, type_: str = "1", flags: str = FLAGS_ALL_FALSE_ACTIVE
) -> str:
    return f"{type_};{identifier};STRUCTURE {identifier};{flags};{ADDRESS}"


def write(path: Path, *lines: str, bom: bool = False) -> Path:
    path.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def bundled() -> Directory:
    return load_directory(*bundled_directory_paths())


# --------------------------------------------------------------------------- bundled


def test_bundled_paths_point_at_the_fixture_files() -> None:
    structures, services = bundled_directory_paths()
    assert structures.name == "structures.csv" and structures.is_file()
    assert services.name == "services.csv" and services.is_file()
    assert structures.parent.parts[-2:] == ("fixtures", "directory")


def test_bundled_directory_counts(bundled: Directory) -> None:
    assert bundled.structure_count == 10
    assert bundled.service_count == 10
    assert len(bundled.structures) == 10
    assert len(bundled.services) == 10


def test_bundled_state_row(bundled: Directory) -> None:
    state = bundled.structure("11000201100044")
    assert state is not None
    assert state.name == "ETAT"
    assert state.identifier_type == 1
    assert state.service_required and state.engagement_required
    assert state.requirement is Requirement.SERVICE_AND_ENGAGEMENT
    assert state.emits_edi and state.receives_edi
    assert (state.postcode, state.city, state.country_code) == ("75012", "PARIS", "FR")
    assert [s.code for s in bundled.services_of("11000201100044")] == [
        "DGFIP-SFACT-75",
        "MINEDU-RECT-LYON",
        "MINARM-ESID-BREST",
    ]


def test_bundled_inactive_structure_is_kept_flagged(bundled: Directory) -> None:
    syndicat = bundled.structure("20090996800014")
    assert syndicat is not None and not syndicat.active


def test_bundled_non_siret_row_is_kept(bundled: Directory) -> None:
    agence = bundled.structure("BE0505890632")
    assert agence is not None
    assert agence.identifier_type == 2
    assert agence.country_code == "BE"


def test_bundled_row_failing_the_checksum_is_kept(bundled: Directory) -> None:
    assert not is_valid_siret("13001100000000")
    assert bundled.structure("13001100000000") is not None


def test_bundled_flags_and_moa_settings(bundled: Directory) -> None:
    def get(identifier: str) -> Structure:
        structure = bundled.structure(identifier)
        assert structure is not None
        return structure

    assert get("21752601100010").requirement is Requirement.SERVICE_OR_ENGAGEMENT
    assert get("22683016400019").requirement is Requirement.SERVICE
    assert get("26361318400013").requirement is Requirement.ENGAGEMENT
    assert get("21781590100012").requirement is Requirement.NONE
    assert get("24260913900017").moa_setting is MoaSetting.EXCLUSIVEMENT_MOA
    assert get("21752601100010").moa_setting is MoaSetting.AVEC_MOA
    assert get("11000201100044").moa_setting is MoaSetting.SANS_MOA


def test_bundled_services(bundled: Directory) -> None:
    brest = bundled.service("11000201100044", "MINARM-ESID-BREST")
    assert brest == Service(
        structure_identifier="11000201100044",
        code="MINARM-ESID-BREST",
        name="ESID de Brest",
        engagement_required=True,
        active=False,
    )
    assert bundled.service("11000201100044", "NOPE") is None
    assert bundled.service("99999999999999", "CTM") is None
    assert bundled.services_of("21781590100012") == ()


def test_lookups_tolerate_spaces(bundled: Directory) -> None:
    assert bundled.structure("110 002 011 00044") is not None
    assert bundled.service(" 11000201100044", " DGFIP-SFACT-75 ") is not None


def test_unknown_structure(bundled: Directory) -> None:
    assert bundled.structure("53819959700013") is None


# --------------------------------------------------------------------------- headers


def test_human_readable_headers_load_the_same(tmp_path: Path, bundled: Directory) -> None:
    structures, services = bundled_directory_paths()
    s_lines = structures.read_text(encoding="utf-8").splitlines()
    v_lines = services.read_text(encoding="utf-8").splitlines()
    assert s_lines[0] == STRUCTURES_HEADER and v_lines[0] == SERVICES_HEADER
    human = load_directory(
        write(tmp_path / "s.csv", HUMAN_STRUCTURES_HEADER, *s_lines[1:], bom=True),
        write(tmp_path / "v.csv", HUMAN_SERVICES_HEADER, *v_lines[1:]),
    )
    assert human.structures == bundled.structures
    assert human.services == bundled.services


def test_column_order_does_not_matter_and_extra_columns_are_ignored(tmp_path: Path) -> None:
    header = (
        "StructureActive;EstMOAUniquement;EstMOA;GestionServiceEngagement;GestionService;"
        "GestionEngagement;GestionStatutMiseEnPaiement;RecepteurEdi;EmetteurEdi;RaisonSociale;"
        "Identifiant;TypeIdentifiant;idInterne"
    )
    row = "true;false;true;false;true;false;false;true;false;MAIRIE;21752601100010;1;42"
    directory = load_directory(write(tmp_path / "s.csv", header, row))
    structure = directory.structure("21752601100010")
    assert structure is not None
    assert structure.is_moa and structure.service_required and structure.receives_edi
    assert not structure.emits_edi
    assert structure.postcode is None


def test_services_file_with_a_leading_internal_id_column(tmp_path: Path) -> None:
    structures = write(tmp_path / "s.csv", STRUCTURES_HEADER, structure_line("21752601100010"))
    services = write(
        tmp_path / "v.csv",
        "idService;" + SERVICES_HEADER,
        "17;21752601100010;MAIRIE;FIN;Finances;true;false" + ";" * 9,
    )
    service = load_directory(structures, services).service("21752601100010", "FIN")
    assert service is not None and service.engagement_required and not service.active


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("true", "false"), [("true", "false"), ("TRUE", "False"), ("1", "0"), ("Oui", "NON")]
)
def test_boolean_spellings(tmp_path: Path, true: str, false: str) -> None:
    flags = ";".join([true, false, false, true, false, false, false, false, true])
    directory = load_directory(
        write(tmp_path / "s.csv", STRUCTURES_HEADER, structure_line("21752601100010", flags=flags))
    )
    structure = directory.structure("21752601100010")
    assert structure is not None
    assert structure.emits_edi and not structure.receives_edi and structure.engagement_required
    assert structure.active


def test_lost_leading_zero_is_padded_back(tmp_path: Path) -> None:
    # 01234567800005 would be stored as the number 1234567800005 by a spreadsheet.
    structures = write(
        tmp_path / "s.csv",
        STRUCTURES_HEADER,
        structure_line("1234567800005"),
        structure_line("123456789", type_="4"),  # a RIDET number: never padded
    )
    services = write(
        tmp_path / "v.csv",
        SERVICES_HEADER,
        "1234567800005;STRUCTURE;SVC;Service;false;true" + ";" * 9,
        "123456789;STRUCTURE;RID;Service;false;true" + ";" * 9,
    )
    directory = load_directory(structures, services)
    assert directory.structure("01234567800005") is not None
    assert directory.structure("1234567800005") is None
    assert directory.service("01234567800005", "SVC") is not None
    assert directory.structure("123456789") is not None
    assert directory.service("123456789", "RID") is not None


def test_identifier_type_as_api_name(tmp_path: Path) -> None:
    directory = load_directory(
        write(
            tmp_path / "s.csv",
            STRUCTURES_HEADER,
            structure_line("BE0505890632", type_="UE_HORS_FRANCE"),
        )
    )
    structure = directory.structure("BE0505890632")
    assert structure is not None and structure.identifier_type == 2


def test_structures_file_alone(tmp_path: Path) -> None:
    directory = load_directory(
        write(tmp_path / "s.csv", STRUCTURES_HEADER, structure_line("21752601100010"))
    )
    assert (directory.structure_count, directory.service_count) == (1, 0)


def test_blank_trailing_lines_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(STRUCTURES_HEADER + "\r\n" + structure_line("21752601100010") + "\r\n\r\n\r\n")
    assert load_directory(path).structure_count == 1


def test_quoted_field_with_a_separator(tmp_path: Path) -> None:
    line = f'1;21752601100010;"MAIRIE; ANNEXE";{FLAGS_ALL_FALSE_ACTIVE};{ADDRESS}'
    directory = load_directory(write(tmp_path / "s.csv", STRUCTURES_HEADER, line))
    structure = directory.structure("21752601100010")
    assert structure is not None and structure.name == "MAIRIE; ANNEXE"


def test_directory_from_rows_accepts_any_header_spelling() -> None:
    row = {
        "Type d'identifiant": "1",
        "Identifiant": "21752601100010",
        "Raison sociale": "MAIRIE",
        "Emetteur EDI": "false",
        "Récepteur EDI": "true",
        "Gestion du statut de mise en paiement": "false",
        "Gestion engagement": "false",
        "Gestion service": "false",
        "Gestion service ou engagement": "true",
        "Est MOA": "false",
        "Est MOA uniquement": "false",
        "Structure active": "true",
    }
    service = {
        "Identifiant": "21752601100010",
        "Code": "X",
        "Nom": "X",
        "GestionEGMT": "0",
        "ServiceActif": "1",
    }
    directory = directory_from_rows([row], [service])
    structure = directory.structure("21752601100010")
    assert structure is not None and structure.requirement is Requirement.SERVICE_OR_ENGAGEMENT
    assert directory.service("21752601100010", "X") is not None


def test_directory_from_rows_reports_the_row() -> None:
    with pytest.raises(UsageError, match=r"test table, structure row 1: missing required column"):
        directory_from_rows([{"Identifiant": "1"}], source="test table")


# --------------------------------------------------------------------------- broken files


def load_error(structures: Path, services: Path | None = None) -> str:
    with pytest.raises(UsageError) as caught:
        load_directory(structures, services)
    assert caught.value.exit_code is ExitCode.USAGE
    return caught.value.message


def test_wrong_number_of_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path / "annuaire.csv",
        STRUCTURES_HEADER,
        structure_line("21752601100010"),
        structure_line("21781590100012") + ";extra",
    )
    message = load_error(path)
    assert "annuaire.csv, line 3" in message
    assert "22 fields where the header has 21" in message


def test_unknown_boolean(tmp_path: Path) -> None:
    flags = FLAGS_ALL_FALSE_ACTIVE.replace("false", "peut-être", 1)
    path = write(
        tmp_path / "s.csv", STRUCTURES_HEADER, structure_line("21752601100010", flags=flags)
    )
    message = load_error(path)
    assert "s.csv, line 2" in message
    assert "EmetteurEdi is 'peut-être'" in message


def test_empty_boolean_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path / "v.csv",
        SERVICES_HEADER,
        "21752601100010;MAIRIE;FIN;Finances;;true" + ";" * 9,
    )
    structures = write(tmp_path / "s.csv", STRUCTURES_HEADER, structure_line("21752601100010"))
    message = load_error(structures, path)
    assert "v.csv, line 2: GestionEGMT is ''" in message


def test_missing_required_column(tmp_path: Path) -> None:
    header = STRUCTURES_HEADER.replace("EstMOAUniquement;", "")
    path = write(tmp_path / "s.csv", header, "1;21752601100010;X" + ";false" * 8 + ADDRESS)
    message = load_error(path)
    assert "s.csv, line 1" in message
    assert "EstMOAUniquement" in message


def test_services_missing_code_column(tmp_path: Path) -> None:
    structures = write(tmp_path / "s.csv", STRUCTURES_HEADER, structure_line("21752601100010"))
    services = write(
        tmp_path / "v.csv", "Identifiant;Nom;GestionEGMT;ServiceActif", "2;X;true;true"
    )
    assert "missing required column(s) Code" in load_error(structures, services)


def test_two_headers_meaning_the_same_column(tmp_path: Path) -> None:
    header = STRUCTURES_HEADER + ";Est MOA"
    path = write(tmp_path / "s.csv", header, structure_line("21752601100010") + ";true")
    assert "both mean EstMOA" in load_error(path)


def test_bad_identifier_type(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", STRUCTURES_HEADER, structure_line("21752601100010", type_="9"))
    assert "line 2: TypeIdentifiant is '9'" in load_error(path)


def test_empty_identifier(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", STRUCTURES_HEADER, structure_line(""))
    assert "line 2: Identifiant is empty" in load_error(path)


def test_duplicate_structure(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.csv",
        STRUCTURES_HEADER,
        structure_line("21752601100010"),
        structure_line("21781590100012"),
        structure_line("21752601100010"),
    )
    message = load_error(path)
    assert "s.csv, line 4: identifier 21752601100010 already given at s.csv, line 2" in message


def test_duplicate_service(tmp_path: Path) -> None:
    structures = write(tmp_path / "s.csv", STRUCTURES_HEADER, structure_line("21752601100010"))
    row = "21752601100010;MAIRIE;FIN;Finances;false;true" + ";" * 9
    services = write(tmp_path / "v.csv", SERVICES_HEADER, row, row)
    assert "v.csv, line 3: code service FIN" in load_error(structures, services)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(b"")
    assert "s.csv: the file is empty" in load_error(path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    latin1 = structure_line("21752601100010").replace("STRUCTURE", "RÉGION").encode("latin-1")
    path.write_bytes(
        STRUCTURES_HEADER.encode()
        + b"\n"
        + structure_line("21781590100012").encode()
        + b"\n"
        + latin1
        + b"\n"
    )
    message = load_error(path)
    assert "s.csv, line 3: not UTF-8" in message


def test_missing_file(tmp_path: Path) -> None:
    assert "cannot open directory file" in load_error(tmp_path / "nope.csv")


def test_directory_constructor_refuses_duplicates() -> None:
    service = Service(
        structure_identifier="1", code="A", name="A", engagement_required=False, active=True
    )
    with pytest.raises(ValueError, match="twice"):
        Directory([], [service, service])
