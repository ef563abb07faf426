"""A small generated corpus, read and scored, against its golden file: a change in the
generator or in extraction shows here as the exact fields that moved.

Regenerate after an intended change with ``pytest tests/test_accuracy_golden.py
--update-golden`` and read the diff of ``tests/golden/accuracy-small.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fixtures.generator import generate
from pipeline.accuracy import AccuracyReport, load_corpus, score_corpus
from pipeline.settings import load_settings
from tests.conftest import REPO

GOLDEN = REPO / "tests" / "golden" / "accuracy-small.json"
SEED, COUNT = 1, 8  # the first pieces of the `make accuracy` corpus


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> AccuracyReport:
    folder = tmp_path_factory.mktemp("corpus")
    generate(folder, seed=SEED, count=COUNT)
    return score_corpus(load_corpus(folder), settings=load_settings(), workers=2)


def _readings(report: AccuracyReport) -> dict[str, Any]:
    return {
        score.name: {
            "reading": score.reading.value,
            "kind": score.kind_got.value if score.kind_got else None,
            "fields": {f.field: [f.got, f.correct] for f in score.fields},
        }
        for score in report.scores
    }


def _changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    lines = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old is None or new is None:
            lines.append(f"{name}: {'added' if old is None else 'gone'}")
            continue
        for key in ("reading", "kind"):
            if old[key] != new[key]:
                lines.append(f"{name}: {key} {old[key]} -> {new[key]}")
        for field in sorted(set(old["fields"]) | set(new["fields"])):
            was, now = old["fields"].get(field), new["fields"].get(field)
            if was != now:
                lines.append(f"{name}: {field} {was} -> {now}  ([value, right])")
    return lines


def test_small_corpus_reads_as_its_golden_file(report: AccuracyReport, update_golden: bool) -> None:
    produced = {
        "seed": SEED,
        "count": COUNT,
        "straight_through": report.straight_through,
        "field_accuracy": report.field_accuracy,
        "documents": _readings(report),
    }
    if update_golden:
        GOLDEN.write_text(json.dumps(produced, indent=1, ensure_ascii=False) + "\n", "utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    changes = _changes(golden["documents"], produced["documents"])
    assert not changes, "extraction changed on the small corpus:\n" + "\n".join(changes)
    assert (produced["straight_through"], produced["field_accuracy"]) == (
        golden["straight_through"],
        golden["field_accuracy"],
    )


def test_small_corpus_covers_each_reading_and_family(report: AccuracyReport) -> None:
    assert {"text_layer", "ocr", "xml"} <= set(report.by_reading)
    assert {"tune", "heldout"} <= set(report.by_family)
    assert report.ocr_cer is not None and report.ocr_reference_chars > 0
    assert report.unreadable == 0


def test_generated_truths_pass_the_scorer_unchanged(tmp_path: Path) -> None:
    """The generator's truths are valid DESIGN 4.3 sidecars for the scorer."""
    generate(tmp_path, seed=SEED, count=3)
    corpus = load_corpus(tmp_path)
    assert corpus.documents and all(len(d.truth.fields) == 18 for d in corpus.documents)
    assert all(
        name.startswith(("hostile/", "pki/", "directory/", "manifest"))
        for name in corpus.unlabelled
    )
