"""The ``intake`` command, in-process, by exit code and output."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.models import CANONICAL_FIELDS, DepositResult, PieceDraft
from tests.conftest import DEMO, REPO, corpus_path

UBL = DEMO / "ubl-facture-etat-rectorat.xml"
CII = DEMO / "cii-facture-saint-aubin-services-techniques.xml"
ENCRYPTED = DEMO / "bad-encrypted.pdf"
CENT = Decimal("0.01")


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("INTAKE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INTAKE_TRUST_ROOTS", str(REPO / "fixtures" / "pki" / "root.pem"))
    return CliRunner()


def test_extract_prints_json_lines_in_order_and_the_worst_exit_code(runner: CliRunner) -> None:
    result = runner.invoke(app, ["extract", str(UBL), str(ENCRYPTED), str(CII), "--json"])
    assert result.exit_code == 3
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [line["file"] for line in lines] == [UBL.name, ENCRYPTED.name, CII.name]
    assert lines[1]["error"]["code"] == "PDF_ENCRYPTED"
    for line in (lines[0], lines[2]):
        draft = PieceDraft.model_validate(line)
        assert set(line["fields"]) == set(CANONICAL_FIELDS)
        assert draft.fields.invoice_number.value


def test_extract_one_readable_file_exits_zero(runner: CliRunner) -> None:
    result = runner.invoke(app, ["extract", str(UBL)])
    assert result.exit_code == 0, result.output
    assert "invoice_number" in result.stdout


def test_deposit_routes_then_refuses_the_duplicate(runner: CliRunner) -> None:
    first = runner.invoke(app, ["deposit", str(UBL), "--role", "supplier", "--json"])
    assert first.exit_code == 0, first.output
    routed = DepositResult.model_validate_json(first.stdout.strip().splitlines()[0])
    assert routed.outcome.value == "routed" and routed.routing is not None
    second = runner.invoke(app, ["deposit", str(UBL), "--json"])
    assert second.exit_code == 1
    assert "DUPLICATE_DEPOSIT" in second.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["deposit", str(ENCRYPTED)], 3, "PDF_ENCRYPTED"),
        (["deposit", str(DEMO / "empty.pdf")], 3, "EMPTY_FILE"),
        (["deposit", "/nonexistent/piece.pdf"], 2, "FILE_NOT_FOUND"),
        (["deposit", str(UBL), "--role", "plumber"], 2, ""),
        (["extract", str(DEMO / "bad-xxe-entity.xml")], 3, "XML_DOCTYPE_FORBIDDEN"),
    ],
)
def test_failures_exit_with_their_code_and_one_line(
    runner: CliRunner, args: list[str], code: int, message: str
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == code
    assert message in result.stderr
    assert result.stderr.strip()


def test_directory_load_installs_the_export(runner: CliRunner, tmp_path: Path) -> None:
    directory = REPO / "fixtures" / "directory"
    result = runner.invoke(
        app,
        ["directory", "load", str(directory / "structures.csv"), str(directory / "services.csv")],
    )
    assert result.exit_code == 0, result.output
    assert "10 structures, 10 services" in result.stdout
    installed = tmp_path / "data" / "directory" / "structures.csv"
    assert installed.read_bytes() == (directory / "structures.csv").read_bytes()


def test_directory_load_refuses_a_broken_export(runner: CliRunner, tmp_path: Path) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text("TypeIdentifiant;Identifiant\n1;2;3\n", encoding="utf-8")
    result = runner.invoke(app, ["directory", "load", str(broken)])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_extract_reads_every_official_en16931_example_like_the_xml(runner: CliRunner) -> None:
    folders = [corpus_path("en16931-cen", "ubl", "examples"), corpus_path("en16931-cen", "cii")]
    files = sorted(p for folder in folders for p in folder.rglob("*") if p.suffix.lower() == ".xml")
    truth = {
        Path(record["file"]).name: record
        for record in map(json.loads, corpus_path("groundtruth_from_xml.jsonl").open())
        if record["file"].startswith("en16931-cen/")
    }
    result = runner.invoke(app, ["extract", *map(str, files), "--json"])
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(files) > 30
    for line in lines:
        assert set(line["fields"]) == set(CANONICAL_FIELDS), line["file"]
        expected = truth[line["file"]]
        fields = {name: value["value"] for name, value in line["fields"].items()}
        assert fields["invoice_number"] == expected["BT-1_invoice_number"]
        raw_date = expected["BT-2_issue_date"]  # CII truth keeps format 102 (YYYYMMDD)
        iso_date = (
            f"{raw_date[:4]}-{raw_date[4:6]}-{raw_date[6:]}" if "-" not in raw_date else raw_date
        )
        assert fields["issue_date"] == iso_date
        assert fields["currency"] == expected["BT-5_currency"]
        credit = line["document_kind"]["value"] == "credit_note"
        for name, key in (
            ("total_excl_tax", "BT-109_total_without_vat"),
            ("total_incl_tax", "BT-112_total_with_vat"),
            ("amount_due", "BT-115_amount_due"),
        ):
            value = expected[key]
            if value is not None and credit:
                value = value.lstrip("-")
            assert fields[name] == (
                str(Decimal(value).quantize(CENT)) if value is not None else None
            )
