"""End to end through ``process_deposit``: every demo deposit ends where its truth says.

Golden files (tests/golden/NAME.json) hold the pre-filled form of each demo deposit; any
change of extraction shows as a diff. Regenerate them on purpose only:
``pytest tests/test_process.py --update-golden``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.formats import Limits
from pipeline.models import GroundTruth, Outcome
from pipeline.process import IntakeContext, build_context, process_deposit, read_piece
from pipeline.settings import load_settings
from tests.conftest import DEMO, REPO

GOLDEN = Path(__file__).resolve().parent / "golden"
NOW = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)

#: Hostile or broken demo files (no truth sidecar) and the error each must give.
UNREADABLE = {
    "bad-encrypted.pdf": "PDF_ENCRYPTED",
    "bad-truncated.pdf": "PDF_TRUNCATED",
    "bad-xxe-entity.xml": "XML_DOCTYPE_FORBIDDEN",
    "empty.pdf": "EMPTY_FILE",
}


def labelled() -> list[Path]:
    """Demo deposits with a ``NAME.truth.json`` sidecar."""
    return sorted(
        p
        for p in DEMO.iterdir()
        if not p.name.endswith(".truth.json") and p.with_suffix(".truth.json").is_file()
    )


def truth_of(path: Path) -> GroundTruth:
    sidecar = path.with_suffix(".truth.json")
    return GroundTruth.model_validate_json(sidecar.read_text(encoding="utf-8"))


@pytest.fixture
def context(tmp_path: Path) -> IntakeContext:
    settings = load_settings(data_dir=tmp_path, trust_roots=REPO / "fixtures" / "pki" / "root.pem")
    return build_context(settings, clock=lambda: NOW)


def test_every_demo_file_is_covered() -> None:
    deposits = [p for p in DEMO.iterdir() if not p.name.endswith(".truth.json")]
    uncovered = [p.name for p in deposits if p.name not in UNREADABLE and p not in labelled()]
    assert not uncovered
    assert len(labelled()) >= 10


@pytest.mark.parametrize("path", labelled(), ids=lambda p: p.name)
def test_demo_deposit_ends_where_its_truth_says(path: Path, context: IntakeContext) -> None:
    truth = truth_of(path)
    result = process_deposit(path.read_bytes(), file_name=path.name, context=context)
    assert result.outcome.value == truth.meta["expected_outcome"], result.reason
    if result.outcome is Outcome.ROUTED:
        assert result.routing is not None
        assert result.routing.certificate.piece_sha256 == result.sha256
    expected_codes = truth.meta.get("expected_findings", [])
    codes = {finding.code for finding in result.findings}
    assert set(expected_codes) <= codes


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_unreadable_demo_file_is_rejected_with_its_code(name: str, context: IntakeContext) -> None:
    result = process_deposit((DEMO / name).read_bytes(), file_name=name, context=context)
    assert result.outcome is Outcome.REJECTED
    assert result.error is not None and result.error.code == UNREADABLE[name]
    assert result.reason.startswith(UNREADABLE[name]) and "\n" not in result.reason


def test_depositing_the_same_piece_twice_is_refused(context: IntakeContext) -> None:
    path = DEMO / "ubl-facture-etat-rectorat.xml"
    first = process_deposit(path.read_bytes(), file_name=path.name, context=context)
    second = process_deposit(path.read_bytes(), file_name=path.name, context=context)
    assert first.outcome is Outcome.ROUTED
    assert second.outcome is Outcome.REJECTED
    assert any(f.code == "DUPLICATE_DEPOSIT" for f in second.findings)


@pytest.mark.parametrize("path", labelled(), ids=lambda p: p.name)
def test_pre_filled_form_matches_its_golden_file(path: Path, update_golden: bool) -> None:
    draft = read_piece(
        path.read_bytes(),
        file_name=path.name,
        settings=load_settings(),
        limits=Limits(),
        trust_roots=[(REPO / "fixtures" / "pki" / "root.pem").read_bytes()],
        validation_time=NOW,
    )
    produced = json.loads(draft.model_dump_json())
    golden = GOLDEN / f"{path.name}.json"
    if update_golden:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(json.dumps(produced, indent=2, ensure_ascii=False) + "\n", "utf-8")
    assert golden.is_file(), f"no golden file {golden.name}: run with --update-golden"
    assert produced == json.loads(golden.read_text(encoding="utf-8"))
