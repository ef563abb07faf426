"""Scoring against ground truth: the counting rules, the corpus loaders, the reports."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline.accuracy import (
    AccuracyReport,
    DocumentScore,
    FieldScore,
    Reading,
    ReadMode,
    build_report,
    edit_distance,
    field_stats,
    load_corpus,
    page_text,
    same_value,
    score_corpus,
    truth_from_en16931_record,
    write_report,
)
from pipeline.errors import UsageError
from pipeline.extract.pdf_text import Page, Word
from pipeline.models import DocumentKind, FieldSource
from pipeline.settings import load_settings
from tests.conftest import DEMO, corpus_path


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


@given(st.text(alphabet="abcé \n", max_size=80), st.text(alphabet="abcdé \n", max_size=80))
def test_edit_distance_is_the_levenshtein_distance(a: str, b: str) -> None:
    assert edit_distance(a, b) == _levenshtein(a, b)


def test_leaders_count_on_neither_side_of_the_character_error_rate() -> None:
    words = (
        Word("Total", 50, 100, 75, 110, 1, 1.0, FieldSource.TEXT_LAYER),
        Word("HT", 78, 100, 90, 110, 1, 1.0, FieldSource.TEXT_LAYER),
        Word("..............", 92, 100, 300, 110, 1, 1.0, FieldSource.TEXT_LAYER),
        Word("1 234,00", 305, 100, 350, 110, 1, 1.0, FieldSource.TEXT_LAYER),
        Word("Page 1/2.", 50, 120, 90, 130, 1, 1.0, FieldSource.TEXT_LAYER),
    )
    page = Page(number=1, width=595.0, height=842.0, words=words, source=FieldSource.TEXT_LAYER)
    assert page_text(page) == "Total HT 1 234,00\nPage 1/2."


def test_edit_distance_of_long_pages_beyond_a_machine_word() -> None:
    reference = "Facture n° FA-2024-0153 du 23/05/2024\n" * 60
    misread = reference.replace("0153", "O153", 3).replace("du ", "", 2)
    assert edit_distance(reference, misread) == 3 + 2 * 3


@pytest.mark.parametrize(
    ("field", "expected", "got", "same"),
    [
        ("total_excl_tax", "7850.00", "7850.0", True),
        ("total_excl_tax", "7850.00", "7580.00", False),
        ("supplier_siret", "53819959700013", "538 199 597 00013", True),
        ("supplier_name", "BÂTIMENTS DU LAVAL S.A.S.", "Batiments du Laval", True),
        ("supplier_name", "PHARMA BARBIER SAS", "Pharma Barbier", True),
        ("supplier_name", "SARL Dupont", "Dupont Frères", False),
        ("recipient_name", "SA", "SAS", False),
        ("supplier_name", "Bâtiments du Laval", "BATIMENTS DU LAVAL", True),
        ("invoice_number", "FA-1", None, False),
        ("invoice_number", None, None, True),
        ("service_code", None, "SERV1", False),
    ],
)
def test_values_compare_as_the_deposit_form_sees_them(
    field: str, expected: str | None, got: str | None, same: bool
) -> None:
    assert same_value(field, expected, got) is same


def _score(expected: str | None, got: str | None) -> FieldScore:
    return FieldScore(
        field="invoice_number",
        expected=expected,
        got=got,
        correct=same_value("invoice_number", expected, got),
        confidence=0.9 if got else 0.0,
    )


def test_a_wrong_value_counts_against_precision_and_recall() -> None:
    stats = field_stats(
        "invoice_number",
        [
            _score("A", "A"),  # right
            _score("B", "X"),  # wrong value: against both
            _score("C", None),  # missed: against recall
            _score(None, None),  # correctly empty: accuracy only
            _score(None, "Y"),  # invented: against precision
        ],
    )
    assert (stats.scored, stats.correct) == (5, 2)
    assert stats.accuracy == 0.4
    assert stats.precision == round(1 / 3, 4)  # 1 right of 3 read
    assert stats.recall == round(1 / 3, 4)  # 1 right of 3 expected


def test_report_groups_documents_by_reading_family_and_meta() -> None:
    def document(name: str, family: str, reading: Reading, *scores: FieldScore) -> DocumentScore:
        return DocumentScore(
            name=name,
            reading=reading,
            meta={"family": family, "quality": "poor", "note": "not a group"},
            kind_expected=DocumentKind.INVOICE,
            kind_got=DocumentKind.INVOICE,
            fields=scores,
        )

    report = build_report(
        [
            document("a.pdf", "tune", Reading.TEXT_LAYER, _score("A", "A")),
            document("b.pdf", "heldout", Reading.OCR, _score("B", "X")),
            document("c.xml", "heldout", Reading.XML, _score("C", "C")),
        ],
        corpus="c",
        mode=ReadMode.AUTO,
        unlabelled=0,
        seconds=1.0,
    )
    assert report.straight_through == round(2 / 3, 4)
    assert set(report.by_family) == {"tune", "heldout"}
    assert report.by_family["heldout"].fields["invoice_number"].accuracy == 0.5
    assert set(report.by_reading) == {"text_layer", "ocr", "xml"}
    assert "quality" in report.groups and "note" not in report.groups
    assert [w.name for w in report.worst] == ["b.pdf"]
    # Calibration leaves the XML values out: they are certain by construction.
    assert report.calibration[0].above == 2 and report.calibration[0].wrong_above == 1


def test_demo_folder_pairs_each_truth_with_its_document() -> None:
    corpus = load_corpus(DEMO)
    assert len(corpus.documents) == 14
    assert set(corpus.unlabelled) == {
        "bad-encrypted.pdf",
        "bad-truncated.pdf",
        "bad-xxe-entity.xml",
        "empty.pdf",
    }
    assert all(doc.path.parent == DEMO for doc in corpus.documents)


def test_a_folder_without_truth_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4")
    with pytest.raises(UsageError, match="no labelled document"):
        load_corpus(tmp_path)


def test_a_truth_without_its_document_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "lost.truth.json").write_text('{"fields": {}}', encoding="utf-8")
    with pytest.raises(UsageError, match="expected one document"):
        load_corpus(tmp_path)


def _unseen_corpus(tmp_path: Path) -> Path:
    """A labelled folder laid out differently from the demo: nested, other names, a
    partial truth, a wrong truth and an unreadable document."""
    root = tmp_path / "unseen"
    (root / "lot-1").mkdir(parents=True)
    shutil.copy(DEMO / "facture-etat-dgfip.pdf", root / "lot-1" / "scan 0001.pdf")
    (root / "lot-1" / "scan 0001.truth.json").write_text(
        json.dumps(
            {
                "document_kind": "invoice",
                "fields": {"invoice_number": "PLF-2025-0412", "moe_siret": None},
                "meta": {"family": "heldout", "batch": "lot-1"},
            }
        ),
        encoding="utf-8",
    )
    shutil.copy(DEMO / "ubl-facture-etat-rectorat.xml", root / "edi.xml")
    (root / "edi.truth.json").write_text(
        json.dumps({"fields": {"invoice_number": "NOT-THIS-ONE"}, "meta": {"family": "tune"}}),
        encoding="utf-8",
    )
    (root / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\n")
    (root / "broken.truth.json").write_text(
        json.dumps({"fields": {"invoice_number": "X-1"}}), encoding="utf-8"
    )
    return root


def test_a_folder_never_seen_before_is_scored_and_reported(tmp_path: Path) -> None:
    root = _unseen_corpus(tmp_path)
    report = score_corpus(load_corpus(root), settings=load_settings(), workers=1)
    by_name = {score.name: score for score in report.scores}
    assert set(by_name) == {"lot-1/scan 0001.pdf", "edi.xml", "broken.pdf"}
    assert by_name["lot-1/scan 0001.pdf"].straight_through
    assert [f.field for f in by_name["lot-1/scan 0001.pdf"].fields] == [
        "invoice_number",
        "moe_siret",
    ]
    assert not by_name["edi.xml"].straight_through
    assert by_name["broken.pdf"].reading is Reading.UNREADABLE
    assert by_name["broken.pdf"].error and "PDF_TRUNCATED" in by_name["broken.pdf"].error
    assert report.unreadable == 1

    written = write_report(report, tmp_path / "report")
    assert [p.name for p in written] == ["report.json", "report.md", "fields.csv"]
    again = AccuracyReport.model_validate_json(written[0].read_text(encoding="utf-8"))
    assert again.documents == 3
    markdown = written[1].read_text(encoding="utf-8")
    assert "## Per template family" in markdown and "NOT-THIS-ONE" in markdown
    rows = list(csv.DictReader(written[2].open(encoding="utf-8")))
    assert len(rows) == 4 and {row["batch"] for row in rows} == {"lot-1", ""}


def test_demo_corpus_scores_in_parallel_as_in_sequence() -> None:
    corpus = load_corpus(DEMO, pattern="*.xml")
    settings = load_settings()
    one = score_corpus(corpus, settings=settings, workers=1)
    two = score_corpus(corpus, settings=settings, workers=2)
    assert [s.model_dump(exclude={"seconds"}) for s in one.scores] == [
        s.model_dump(exclude={"seconds"}) for s in two.scores
    ]
    assert one.field_accuracy == 1.0


def test_forced_ocr_measures_the_character_error_rate_against_the_text_layer() -> None:
    corpus = load_corpus(DEMO, pattern="facture-etat-dgfip.pdf")
    report = score_corpus(corpus, settings=load_settings(), mode=ReadMode.OCR)
    (score,) = report.scores
    assert score.reading is Reading.OCR
    assert score.ocr_reference_chars > 500
    assert report.ocr_cer is not None and report.ocr_cer < 0.2


def test_en16931_record_becomes_a_truth_with_iso_dates_and_positive_credit_notes() -> None:
    truth = truth_from_en16931_record(
        {
            "file": "x.pdf",
            "BT-1_invoice_number": "AV-1",
            "BT-2_issue_date": "20171113",
            "BT-3_type_code": "381",
            "BT-5_currency": "EUR",
            "BT-10_buyer_reference": "SERVICE",
            "BT-109_total_without_vat": "-100.0",
            "BT-110_total_vat": "-20.00",
            "BT-112_total_with_vat": "-120.00",
            "BT-115_amount_due": "-120.00",
            "seller_name": "Au bon moulin",
            "BT-29_seller_ids": None,
            "BT-30_seller_legal_id": {"id": "999 999 998 00010", "scheme": "0002"},
            "BT-31_seller_vat": "FR 11 999999998",
            "buyer_name": "Ma jolie boutique",
            "BT-46_buyer_ids": None,
            "BT-47_buyer_legal_id": {"id": "787878784", "scheme": "0002"},
        }
    )
    assert truth.document_kind is DocumentKind.CREDIT_NOTE
    assert truth.fields["issue_date"] == "2017-11-13"
    assert truth.fields["total_excl_tax"] == "100.00"
    assert truth.fields["supplier_siret"] == "99999999800010"
    assert truth.fields["supplier_vat_id"] == "FR11999999998"
    # A 9-digit SIREN names no SIRET, and the buyer reference is not scored.
    assert "recipient_siret" not in truth.fields and "service_code" not in truth.fields


def test_public_factur_x_pdfs_score_as_plain_pdfs_against_their_own_xml() -> None:
    root = corpus_path()
    corpus = load_corpus(
        root,
        truth_file=root / "groundtruth_from_xml.jsonl",
        pattern="oca-edi/*/Facture_FR_*.pdf",
    )
    assert len(corpus.documents) >= 4
    report = score_corpus(corpus, settings=load_settings(), mode=ReadMode.VISIBLE, workers=1)
    assert set(report.by_reading) <= {"text_layer", "ocr", "mixed"}
    assert report.fields["invoice_number"].scored == len(corpus.documents)


def test_accuracy_command_writes_the_report_and_prints_the_summary(tmp_path: Path) -> None:
    from pipeline.cli import app

    runner = CliRunner()
    result = runner.invoke(
        app,
        ["accuracy", str(DEMO), "--report", str(tmp_path / "r"), "--glob", "*.xml"],
    )
    assert result.exit_code == 0, result.output
    assert "invoice_number" in result.stdout and "straight-through" in result.stdout
    assert (tmp_path / "r" / "report.md").is_file()

    second = runner.invoke(
        app,
        [
            "accuracy",
            str(DEMO),
            "--report",
            str(tmp_path / "r2"),
            "--glob",
            "*.xml",
            "--baseline",
            str(tmp_path / "r" / "report.json"),
        ],
    )
    assert second.exit_code == 0, second.output
    assert "(+0.0)" in (tmp_path / "r2" / "report.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "arguments",
    [["--read", "sideways"], ["--glob", "*.docx"]],
    ids=["bad-read-mode", "nothing-matches"],
)
def test_accuracy_command_usage_errors_exit_2(arguments: list[str], tmp_path: Path) -> None:
    from pipeline.cli import app

    result = CliRunner().invoke(app, ["accuracy", str(DEMO), "--report", str(tmp_path), *arguments])
    assert result.exit_code == 2
    assert result.stderr.startswith("BAD_USAGE")
