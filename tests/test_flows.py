"""The Prefect flows under Prefect's test harness (one temporary server per session)."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import DEMO, REPO

pytestmark = pytest.mark.prefect


@pytest.fixture(scope="module")
def prefect_server() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def demo_inbox(tmp_path: Path) -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for path in DEMO.iterdir():
        if not path.name.endswith(".truth.json"):
            shutil.copy(path, inbox / path.name)
    return inbox


def test_mailroom_command_moves_every_file_and_writes_the_summary(
    prefect_server: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.cli import app

    monkeypatch.setenv("INTAKE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INTAKE_TRUST_ROOTS", str(REPO / "fixtures" / "pki" / "root.pem"))
    inbox = demo_inbox(tmp_path)
    deposited = sorted(p.name for p in inbox.iterdir())

    result = CliRunner().invoke(app, ["mailroom", str(inbox)])

    assert result.exit_code == 0, result.output
    assert "Summary: routed" in result.stdout
    summary = json.loads((inbox / "summary.json").read_text(encoding="utf-8"))
    assert summary["total"] == len(deposited)
    assert sum(summary["by_outcome"].values()) == len(deposited)
    # Nothing lost, nothing left half-processed: each input sits in one outcome folder
    # beside its verdict, and the inbox holds only the outcome folders and the summary.
    moved = []
    for folder in ("processed", "review", "rejected"):
        for path in (inbox / folder).glob("*"):
            if not path.name.endswith(".verdict.json"):
                moved.append(path.name)
                verdict = json.loads(Path(f"{path}.verdict.json").read_text(encoding="utf-8"))
                assert verdict["file"] == path.name
    assert sorted(moved) == deposited
    assert {p.name for p in inbox.iterdir()} <= {"processed", "review", "rejected", "summary.json"}
    rejected = {p.name for p in (inbox / "rejected").iterdir()}
    assert {"empty.pdf", "bad-encrypted.pdf", "bad-truncated.pdf", "bad-xxe-entity.xml"} <= rejected


def test_deposit_flow_returns_the_result(prefect_server: None, tmp_path: Path) -> None:
    from pipeline.flows import deposit
    from pipeline.settings import load_settings

    settings = load_settings(data_dir=tmp_path)
    result = deposit(str(DEMO / "ubl-facture-etat-rectorat.xml"), settings=settings)
    assert result.outcome.value == "routed"
    assert result.routing is not None and result.routing.cadre == "A1"


def test_ocr_accuracy_flow_writes_the_report_and_publishes_artifacts(
    prefect_server: None, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client

    from pipeline.flows import ocr_accuracy

    figures = ocr_accuracy(str(DEMO), str(tmp_path / "report"), glob="*.xml", workers=1)

    assert figures["documents"] == 4 and figures["field_accuracy"] == 1.0
    assert (tmp_path / "report" / "report.md").is_file()

    async def artifact_keys() -> set[str]:
        async with get_client() as client:
            return {a.key for a in await client.read_artifacts() if a.key}

    assert {"accuracy-fields", "accuracy-report"} <= asyncio.run(artifact_keys())


def test_every_deployment_in_prefect_yaml_names_a_flow_of_the_project() -> None:
    import yaml
    from prefect import Flow

    from pipeline import flows

    spec = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    deployments = {d["name"]: d for d in spec["deployments"]}
    for deployment in deployments.values():
        path, name = deployment["entrypoint"].split(":")
        assert path == "pipeline/flows.py"
        assert isinstance(getattr(flows, name), Flow), name
    nightly = deployments["ocr-accuracy-nightly"]
    assert nightly["schedules"][0]["cron"] and nightly["parameters"]["corpus_dir"]
