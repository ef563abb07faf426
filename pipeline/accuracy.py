"""Scoring of extraction against ground truth (DESIGN 4.3): what data teams run.

A labelled corpus is any folder whose documents have a ``NAME.truth.json`` sidecar, or a
folder plus a JSON Lines file of truths (``--truth``): either records in the sidecar shape
with a ``file`` key, or the EN 16931 records of the public corpus
(``groundtruth_from_xml.jsonl``: ``BT-1_invoice_number``, …), mapped to canonical fields.

Each document is read the way the pipeline reads it (``read_mode="auto"``), or from its
visible pages only (``"visible"``: a Factur-X PDF's embedded XML is ignored, so the page
is scored against its own XML), or with every page rasterised and OCR'd (``"ocr"``).

Per field, with the truth ``t`` and the value read ``v`` (absent truth keys are not scored):

- correct when ``v == t`` (both null counts as correct: DESIGN 4.3);
- precision = right values / values read, recall = right values / values expected;
  a wrong value counts against both.

Values are compared as the pipeline normalises them (DESIGN 4.1): amounts as decimals,
identifiers without spaces, names without case, accents, punctuation or a forme
juridique at either end.

The OCR character error rate compares the text of OCR'd pages with the text layer of the
digital original (``meta.twin``) or, when a digital PDF is OCR'd on purpose, with its own
text layer: both are grouped into lines the same way, so reading order matches.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import re
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from pipeline.errors import InputError, UsageError
from pipeline.extract.pdf_text import Page, group_lines, text_layer_pages
from pipeline.extract.visible import read_pages, reading_from_pages
from pipeline.extract.xml_common import CREDIT_NOTE_TYPE_CODES, normalise_date
from pipeline.formats import Limits, detect
from pipeline.models import (
    AMOUNT_FIELDS,
    CANONICAL_FIELDS,
    DocumentKind,
    FieldSource,
    Frozen,
    GroundTruth,
    PieceFields,
)
from pipeline.process import public_structure_lookup, read_xml, settings_directory
from pipeline.settings import Settings

TRUTH_SUFFIX = ".truth.json"
#: Confidence thresholds of the calibration table.
THRESHOLDS: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)
#: Meta keys that describe one document, not a group of them.
_UNGROUPED_META = frozenset({"note", "twin", "seed", "index", "expected_findings", "deductions"})
_MAX_GROUPS = 40
_WORST = 15
#: Files a labelled folder holds beside its documents.
_NOT_DOCUMENTS = (TRUTH_SUFFIX, ".verdict.json", ".ack.json")
_NAME_FIELDS = frozenset({"supplier_name", "recipient_name"})


class ReadMode(StrEnum):
    """How documents are read for scoring."""

    AUTO = "auto"
    VISIBLE = "visible"
    OCR = "ocr"


class Reading(StrEnum):
    """Where a document's values came from, for the per-format split."""

    XML = "xml"
    TEXT_LAYER = "text_layer"
    OCR = "ocr"
    MIXED = "mixed"
    UNREADABLE = "unreadable"


# --------------------------------------------------------------------------- results


class FieldScore(Frozen):
    """One scored field of one document."""

    field: str
    expected: str | None
    got: str | None
    correct: bool
    confidence: float = 0.0
    source: FieldSource | None = None


class DocumentScore(Frozen):
    """How one document was read, field by field."""

    name: str = Field(description="Path relative to the corpus folder.")
    reading: Reading
    meta: dict[str, Any] = Field(default_factory=dict)
    kind_expected: DocumentKind | None = None
    kind_got: DocumentKind | None = None
    fields: tuple[FieldScore, ...] = ()
    error: str | None = Field(default=None, description="Why the document could not be read.")
    ocr_reference_chars: int = 0
    ocr_char_errors: int = 0
    seconds: float = 0.0

    @property
    def wrong(self) -> list[FieldScore]:
        return [score for score in self.fields if not score.correct]

    @property
    def straight_through(self) -> bool:
        """Every scored field right: the form needs no touch."""
        return self.error is None and not self.wrong

    @property
    def kind_correct(self) -> bool | None:
        if self.kind_expected is None:
            return None
        return self.kind_got is self.kind_expected


class FieldStats(Frozen):
    """Accuracy, precision and recall of one field over a set of documents."""

    field: str
    scored: int
    correct: int
    accuracy: float | None
    precision: float | None
    recall: float | None
    read: int = Field(description="Values read (not null).")
    expected: int = Field(description="Values expected (not null).")
    right_values: int = Field(description="Values read and equal to a non-null truth.")


class GroupStats(Frozen):
    """Documents of one group (a reading, a family, a template …)."""

    key: str
    value: str
    documents: int
    straight_through: float | None
    field_accuracy: float | None = Field(description="Correct fields / scored fields.")
    kind_accuracy: float | None
    fields: dict[str, FieldStats] = Field(default_factory=dict)


class CalibrationRow(Frozen):
    """Fields read with at least ``threshold`` confidence: how many, how right."""

    threshold: float
    share: float | None = Field(description="Of the fields read or expected, the share above.")
    accuracy: float | None = Field(description="Accuracy of the fields above the threshold.")
    above: int
    wrong_above: int


class WorstDocument(Frozen):
    name: str
    reading: Reading
    error: str | None
    wrong: tuple[FieldScore, ...]


class AccuracyReport(Frozen):
    """What ``intake accuracy`` writes to ``report.json``."""

    corpus: str
    read_mode: ReadMode
    documents: int
    unlabelled: int = Field(description="Files in the folder without a truth (not scored).")
    unreadable: int
    seconds: float
    seconds_per_document: float | None
    straight_through: float | None
    kind_accuracy: float | None
    field_accuracy: float | None
    ocr_cer: float | None = Field(description="Character error rate of OCR'd pages.")
    ocr_reference_chars: int
    fields: dict[str, FieldStats]
    by_reading: dict[str, GroupStats]
    by_family: dict[str, GroupStats]
    groups: dict[str, dict[str, GroupStats]] = Field(
        description="Meta key -> value -> stats (family, format, quality, template …)."
    )
    ocr_cer_by_quality: dict[str, float | None] = Field(default_factory=dict)
    calibration: tuple[CalibrationRow, ...]
    calibration_scope: str
    worst: tuple[WorstDocument, ...]
    scores: tuple[DocumentScore, ...] = Field(repr=False)


# --------------------------------------------------------------------------- corpus


@dataclass(frozen=True)
class LabelledDocument:
    path: Path
    name: str
    truth: GroundTruth


@dataclass(frozen=True)
class Corpus:
    root: Path
    documents: tuple[LabelledDocument, ...]
    unlabelled: tuple[str, ...]


def load_corpus(root: Path, *, truth_file: Path | None = None, pattern: str = "*") -> Corpus:
    """The labelled documents of ``root`` (sidecars, or ``truth_file`` JSON Lines) whose
    relative name matches ``pattern``."""
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder")
    if truth_file is not None:
        documents = _from_json_lines(root, truth_file)
    else:
        documents = _from_sidecars(root)
    labelled = {doc.path for doc in documents}
    documents = [doc for doc in documents if fnmatch(doc.name, pattern)]
    unlabelled = sorted(
        _relative(path, root)
        for path in root.rglob("*")
        if path.is_file()
        and path not in labelled
        and not path.name.endswith(_NOT_DOCUMENTS)
        and fnmatch(_relative(path, root), pattern)
    )
    if not documents:
        raise UsageError(f"no labelled document in {root} (pattern {pattern!r})")
    return Corpus(root, tuple(sorted(documents, key=lambda d: d.name)), tuple(unlabelled))


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _from_sidecars(root: Path) -> list[LabelledDocument]:
    # Index the documents by (folder, stem) once: a corpus folder holds thousands of files.
    by_stem: dict[tuple[Path, str], list[Path]] = defaultdict(list)
    truths = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        if path.name.endswith(TRUTH_SUFFIX):
            truths.append(path)
        elif not path.name.endswith(_NOT_DOCUMENTS):
            by_stem[(path.parent, path.name.rsplit(".", 1)[0])].append(path)
            if "." in path.name:  # a document named exactly like its truth's stem
                by_stem[(path.parent, path.name)].append(path)
    documents = []
    for truth_path in sorted(truths):
        stem = truth_path.name[: -len(TRUTH_SUFFIX)]
        matches = sorted(set(by_stem.get((truth_path.parent, stem), [])))
        if len(matches) != 1:
            found = ", ".join(p.name for p in matches) or "none"
            raise UsageError(f"{_relative(truth_path, root)}: expected one document, found {found}")
        try:
            truth = GroundTruth.model_validate_json(truth_path.read_bytes())
        except ValidationError as exc:
            raise UsageError(f"{_relative(truth_path, root)} is not a truth file: {exc}") from exc
        documents.append(LabelledDocument(matches[0], _relative(matches[0], root), truth))
    return documents


def _from_json_lines(root: Path, truth_file: Path) -> list[LabelledDocument]:
    documents = []
    for number, line in enumerate(truth_file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        record = json.loads(line)
        name = record.get("file")
        if not isinstance(name, str):
            raise UsageError(f"{truth_file.name}:{number}: no 'file' key")
        path = root / name
        if not path.is_file():
            raise UsageError(f"{truth_file.name}:{number}: {name} not found under {root}")
        if "BT-1_invoice_number" in record:
            truth = truth_from_en16931_record(record)
        else:
            truth = GroundTruth.model_validate({k: v for k, v in record.items() if k != "file"})
        documents.append(LabelledDocument(path, name, truth))
    return documents


def truth_from_en16931_record(record: dict[str, Any]) -> GroundTruth:
    """A ground truth from a record mechanically extracted from an invoice's XML.

    Only what a page usually prints is scored: number, date, currency, totals, the
    parties' names, SIRETs and VAT id. Buyer reference, contract and order numbers stay
    unscored: the XML carries them whether or not the page prints them.
    """
    payable = _decimal(record.get("BT-112_total_with_vat"))
    # A 380 invoice with negative totals is a credit in substance: the deposit form
    # makes it a credit note with positive amounts (DESIGN 4.1), as the XML reader does.
    credit_note = record.get("BT-3_type_code") in CREDIT_NOTE_TYPE_CODES or (
        payable is not None and payable < 0
    )
    fields: dict[str, str | None] = {
        "invoice_number": record.get("BT-1_invoice_number"),
        "issue_date": normalise_date(record.get("BT-2_issue_date") or ""),
        "currency": record.get("BT-5_currency"),
    }
    for name, key in (
        ("total_excl_tax", "BT-109_total_without_vat"),
        ("total_tax", "BT-110_total_vat"),
        ("total_incl_tax", "BT-112_total_with_vat"),
        ("amount_due", "BT-115_amount_due"),
    ):
        amount = _decimal(record.get(key))
        if amount is not None:
            fields[name] = f"{abs(amount) if credit_note else amount:.2f}"
    for name, key in (("supplier_name", "seller_name"), ("recipient_name", "buyer_name")):
        if record.get(key):
            fields[name] = record[key]
    if record.get("BT-31_seller_vat"):
        fields["supplier_vat_id"] = _compact(record["BT-31_seller_vat"])
    for name, ids_key, legal_key in (
        ("supplier_siret", "BT-29_seller_ids", "BT-30_seller_legal_id"),
        ("recipient_siret", "BT-46_buyer_ids", "BT-47_buyer_legal_id"),
    ):
        siret = _siret_of(record.get(ids_key) or [], record.get(legal_key))
        if siret is not None:
            fields[name] = siret
    kind = DocumentKind.CREDIT_NOTE if credit_note else DocumentKind.INVOICE
    return GroundTruth(
        document_kind=kind,
        fields={k: v for k, v in fields.items() if v is not None},
        meta={"family": "external", "truth": "en16931-xml"},
    )


def _siret_of(ids: list[dict[str, str]], legal: dict[str, str] | None) -> str | None:
    for candidate in [*ids, *([legal] if legal else [])]:
        value = _compact(candidate.get("id", ""))
        if candidate.get("scheme") in ("0009", "0002") and len(value) == 14 and value.isdigit():
            return value
    return None


# --------------------------------------------------------------------------- comparing


def _compact(text: str) -> str:
    return "".join(text.split()).upper()


def _decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except (InvalidOperation, ValueError):
        return None


#: Formes juridiques: "PHARMA BARBIER SAS" and "Pharma Barbier" name the same firm (the
#: SIRET identifies it; registers list the raison sociale without its form).
_LEGAL_FORMS = frozenset(
    ["sa", "sas", "sasu", "sarl", "eurl", "snc", "scop", "sci", "sca", "selarl", "gie"]
)


def _folded_name(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = re.findall(r"[a-z0-9]+", plain.replace(".", ""))
    while len(words) > 1 and words[-1] in _LEGAL_FORMS:
        words.pop()
    while len(words) > 1 and words[0] in _LEGAL_FORMS:
        words.pop(0)
    return " ".join(words)


def same_value(field: str, expected: str | None, got: str | None) -> bool:
    """Whether ``got`` is ``expected`` as the deposit form would see it."""
    if expected is None or got is None:
        return expected is None and got is None
    if field in AMOUNT_FIELDS:
        want, have = _decimal(expected), _decimal(got)
        return want is not None and want == have
    if field in _NAME_FIELDS:
        return _folded_name(expected) == _folded_name(got)
    return _compact(expected) == _compact(got)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class _Read:
    fields: PieceFields
    kind: DocumentKind | None
    reading: Reading
    pages: list[Page]
    ocr_pages: tuple[int, ...]


def _read(data: bytes, name: str, settings: Settings, mode: ReadMode, workers: int) -> _Read:
    detected = detect(data, file_name=name, limits=settings_limits(settings))
    deposit_format = detected.deposit.format
    if deposit_format.is_structured and (mode is ReadMode.AUTO or not deposit_format.is_pdf):
        xml = read_xml(detected)
        return _Read(xml.fields, xml.document_kind.value, Reading.XML, [], ())
    pages, scanned = read_pages(
        data, dpi=settings.ocr_dpi, ocr_workers=workers, force_ocr=mode is ReadMode.OCR
    )
    visible = reading_from_pages(
        pages, scanned, public_structure=public_structure_lookup(settings_directory(settings))
    )
    if not scanned:
        reading = Reading.TEXT_LAYER
    elif len(scanned) == len(pages):
        reading = Reading.OCR
    else:
        reading = Reading.MIXED
    return _Read(visible.fields, visible.document_kind.value, reading, pages, scanned)


def settings_limits(settings: Settings) -> Limits:
    return Limits(
        max_file_bytes=settings.max_file_bytes,
        max_pages=settings.max_pages,
        max_xml_bytes=settings.max_xml_bytes,
    )


def score_document(
    document: LabelledDocument, *, settings: Settings, mode: ReadMode, ocr_workers: int = 2
) -> DocumentScore:
    """Read one labelled document and compare it with its truth; never raises for a bad
    document (an unreadable one scores as if nothing was read)."""
    start = time.perf_counter()
    truth = document.truth
    data = document.path.read_bytes()
    error = None
    try:
        read = _read(data, document.name, settings, mode, ocr_workers)
    except InputError as exc:
        error = exc.one_line()
        read = _Read(PieceFields(), None, Reading.UNREADABLE, [], ())
    fields = []
    for name in CANONICAL_FIELDS:
        if name not in truth.fields:
            continue
        value = getattr(read.fields, name)
        expected = truth.fields[name]
        fields.append(
            FieldScore(
                field=name,
                expected=expected,
                got=value.value,
                correct=same_value(name, expected, value.value),
                confidence=value.confidence,
                source=value.source,
            )
        )
    reference_chars = char_errors = 0
    if read.ocr_pages:
        reference = _reference_pages(document, data, read.ocr_pages, mode)
        for number in read.ocr_pages:
            if number in reference:
                hypothesis = page_text(read.pages[number - 1])
                reference_chars += len(reference[number])
                char_errors += edit_distance(reference[number], hypothesis)
    return DocumentScore(
        name=document.name,
        reading=read.reading,
        meta=truth.meta,
        kind_expected=truth.document_kind,
        kind_got=read.kind,
        fields=tuple(fields),
        error=error,
        ocr_reference_chars=reference_chars,
        ocr_char_errors=char_errors,
        seconds=round(time.perf_counter() - start, 3),
    )


def _reference_pages(
    document: LabelledDocument, data: bytes, numbers: Sequence[int], mode: ReadMode
) -> dict[int, str]:
    """Known text of the OCR'd pages: the digital twin's text layer, or the document's own
    when it was OCR'd on purpose."""
    twin = document.truth.meta.get("twin")
    if isinstance(twin, str):
        twin_path = document.path.parent / twin
        if not twin_path.is_file():
            return {}
        source = twin_path.read_bytes()
    elif mode is ReadMode.OCR:
        source = data
    else:
        return {}
    try:
        layered = text_layer_pages(source, list(numbers))
    except InputError:
        return {}
    texts = {number: page_text(page) for number, page in layered.items()}
    return {number: text for number, text in texts.items() if text.strip()}


def page_text(page: Page) -> str:
    """A page's text, line by line, with single spaces: how both sides of the CER read.
    Dotted or ruled leaders ("Total HT ........") are layout, not text: OCR erases them
    on purpose, so they count on neither side."""
    lines = (
        " ".join(_LEADER_RE.sub(" ", unicodedata.normalize("NFC", line.text)).split())
        for line in group_lines(page)
    )
    return "\n".join(line for line in lines if line)


_LEADER_RE = re.compile(r"[.…_·]{4,}|(?:\. ){3,}\.?")


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, bit-parallel (Myers 1999, Hyyrö's global variant): a page of
    a few thousand characters in milliseconds."""
    if not a:
        return len(b)
    if not b:
        return len(a)
    mask = (1 << len(a)) - 1
    high = 1 << (len(a) - 1)
    peq: dict[str, int] = defaultdict(int)
    for index, char in enumerate(a):
        peq[char] |= 1 << index
    positive, negative, score = mask, 0, len(a)
    for char in b:
        eq = peq.get(char, 0)
        xv = eq | negative
        xh = (((eq & positive) + positive) ^ positive) | eq
        hp = negative | (~(xh | positive) & mask)
        hn = positive & xh
        if hp & high:
            score += 1
        elif hn & high:
            score -= 1
        hp = ((hp << 1) | 1) & mask
        hn = (hn << 1) & mask
        positive = hn | (~(xv | hp) & mask)
        negative = hp & xv
    return score


# --------------------------------------------------------------------------- the run


def score_corpus(
    corpus: Corpus,
    *,
    settings: Settings,
    mode: ReadMode = ReadMode.AUTO,
    workers: int = 1,
    progress: Callable[[DocumentScore], None] | None = None,
) -> AccuracyReport:
    """Score every document of ``corpus``; ``workers`` > 1 reads documents in parallel
    processes (each OCRs its pages one at a time then, so cores are not oversubscribed).
    A corpus with its own annuaire (``directory/structures.csv`` beside the documents, as
    the generator writes it) is read against that annuaire unless the settings name one."""
    settings = with_corpus_directory(settings, corpus.root)
    start = time.perf_counter()
    scores: list[DocumentScore] = []
    if workers <= 1:
        for document in corpus.documents:
            score = score_document(
                document, settings=settings, mode=mode, ocr_workers=settings.ocr_workers
            )
            scores.append(score)
            if progress:
                progress(score)
    else:
        # spawn, not fork: the caller may run threads (a Prefect flow does).
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [
                pool.submit(score_document, doc, settings=settings, mode=mode, ocr_workers=1)
                for doc in corpus.documents
            ]
            for future in futures:
                score = future.result()
                scores.append(score)
                if progress:
                    progress(score)
    return build_report(
        scores,
        corpus=str(corpus.root),
        mode=mode,
        unlabelled=len(corpus.unlabelled),
        seconds=time.perf_counter() - start,
    )


def with_corpus_directory(settings: Settings, root: Path) -> Settings:
    """``settings`` with the corpus's own annuaire, when it has one and they name none."""
    structures = root / "directory" / "structures.csv"
    if settings.directory_structures is not None or not structures.is_file():
        return settings
    services = structures.with_name("services.csv")
    return settings.model_copy(
        update={
            "directory_structures": structures,
            "directory_services": services if services.is_file() else None,
        }
    )


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


# --------------------------------------------------------------------------- aggregation


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def field_stats(name: str, scores: Iterable[FieldScore]) -> FieldStats:
    scored = correct = read = expected = right = 0
    for score in scores:
        scored += 1
        correct += score.correct
        read += score.got is not None
        expected += score.expected is not None
        right += score.correct and score.expected is not None
    return FieldStats(
        field=name,
        scored=scored,
        correct=correct,
        accuracy=_ratio(correct, scored),
        precision=_ratio(right, read),
        recall=_ratio(right, expected),
        read=read,
        expected=expected,
        right_values=right,
    )


def _per_field(documents: Sequence[DocumentScore]) -> dict[str, FieldStats]:
    by_field: dict[str, list[FieldScore]] = defaultdict(list)
    for document in documents:
        for score in document.fields:
            by_field[score.field].append(score)
    return {
        name: field_stats(name, by_field[name]) for name in CANONICAL_FIELDS if name in by_field
    }


def group_stats(key: str, value: str, documents: Sequence[DocumentScore]) -> GroupStats:
    all_fields = [score for document in documents for score in document.fields]
    kinds = [d.kind_correct for d in documents if d.kind_correct is not None]
    return GroupStats(
        key=key,
        value=value,
        documents=len(documents),
        straight_through=_ratio(sum(d.straight_through for d in documents), len(documents)),
        field_accuracy=_ratio(sum(s.correct for s in all_fields), len(all_fields)),
        kind_accuracy=_ratio(sum(kinds), len(kinds)),
        fields=_per_field(documents),
    )


def _grouped(
    key: str, documents: Sequence[DocumentScore], value_of: Callable[[DocumentScore], str]
) -> dict[str, GroupStats]:
    groups: dict[str, list[DocumentScore]] = defaultdict(list)
    for document in documents:
        groups[value_of(document)].append(document)
    return {value: group_stats(key, value, groups[value]) for value in sorted(groups)}


def _meta_value(key: str) -> Callable[[DocumentScore], str]:
    return lambda document: str(document.meta.get(key, "(none)"))


def _meta_keys(documents: Sequence[DocumentScore]) -> list[str]:
    values: dict[str, set[str]] = defaultdict(set)
    for document in documents:
        for key, value in document.meta.items():
            if key not in _UNGROUPED_META and isinstance(value, str | int | bool):
                values[key].add(str(value))
    return sorted(key for key, seen in values.items() if 1 <= len(seen) <= _MAX_GROUPS)


def calibration(documents: Sequence[DocumentScore]) -> tuple[tuple[CalibrationRow, ...], str]:
    """The auto-accept table, over the visible readings (XML values are certain by
    construction and would only flatter it); over everything when there are none."""
    visible = [d for d in documents if d.reading not in (Reading.XML, Reading.UNREADABLE)]
    scope = "visible readings (text layer and OCR)" if visible else "all readings"
    population = [
        score
        for document in (visible or documents)
        for score in document.fields
        if score.got is not None or score.expected is not None
    ]
    rows = []
    for threshold in THRESHOLDS:
        above = [s for s in population if s.got is not None and s.confidence >= threshold]
        right = sum(s.correct for s in above)
        rows.append(
            CalibrationRow(
                threshold=threshold,
                share=_ratio(len(above), len(population)),
                accuracy=_ratio(right, len(above)),
                above=len(above),
                wrong_above=len(above) - right,
            )
        )
    return tuple(rows), scope


def build_report(
    scores: Sequence[DocumentScore],
    *,
    corpus: str,
    mode: ReadMode,
    unlabelled: int,
    seconds: float,
) -> AccuracyReport:
    overall = group_stats("all", "all", scores)
    meta_groups = {key: _grouped(key, scores, _meta_value(key)) for key in _meta_keys(scores)}
    meta_groups["document_kind"] = _grouped(
        "document_kind",
        scores,
        lambda d: d.kind_expected.value if d.kind_expected else "(none)",
    )
    ocr_docs = [d for d in scores if d.ocr_reference_chars]
    by_quality: dict[str, list[DocumentScore]] = defaultdict(list)
    for document in ocr_docs:
        by_quality[str(document.meta.get("quality", "(none)"))].append(document)
    rows, scope = calibration(scores)
    worst = sorted(
        (d for d in scores if not d.straight_through),
        key=lambda d: (-len(d.wrong) - (100 if d.error else 0), d.name),
    )[:_WORST]
    return AccuracyReport(
        corpus=corpus,
        read_mode=mode,
        documents=len(scores),
        unlabelled=unlabelled,
        unreadable=sum(d.error is not None for d in scores),
        seconds=round(seconds, 2),
        seconds_per_document=round(seconds / len(scores), 3) if scores else None,
        straight_through=overall.straight_through,
        kind_accuracy=overall.kind_accuracy,
        field_accuracy=overall.field_accuracy,
        ocr_cer=_cer(ocr_docs),
        ocr_reference_chars=sum(d.ocr_reference_chars for d in ocr_docs),
        fields=overall.fields,
        by_reading=_grouped("reading", scores, lambda d: d.reading.value),
        by_family=_grouped("family", scores, _meta_value("family")),
        groups=meta_groups,
        ocr_cer_by_quality={q: _cer(docs) for q, docs in sorted(by_quality.items())},
        calibration=rows,
        calibration_scope=scope,
        worst=tuple(
            WorstDocument(name=d.name, reading=d.reading, error=d.error, wrong=tuple(d.wrong))
            for d in worst
        ),
        scores=tuple(scores),
    )


def _cer(documents: Sequence[DocumentScore]) -> float | None:
    chars = sum(d.ocr_reference_chars for d in documents)
    return _ratio(sum(d.ocr_char_errors for d in documents), chars)


# --------------------------------------------------------------------------- writing


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _delta(value: float | None, before: float | None) -> str:
    if value is None or before is None:
        return ""
    return f" ({100 * (value - before):+.1f})"


def baseline_accuracies(report_json: Path) -> dict[str, float | None]:
    """Field -> accuracy of an earlier ``report.json``, to print the change."""
    data = json.loads(report_json.read_text(encoding="utf-8"))
    found = {name: stats.get("accuracy") for name, stats in data.get("fields", {}).items()}
    found["(documents straight through)"] = data.get("straight_through")
    return found


def render_markdown(
    report: AccuracyReport, *, baseline: dict[str, float | None] | None = None
) -> str:
    before = baseline or {}
    out = io.StringIO()
    w = out.write
    w(f"# Extraction accuracy: {report.corpus}\n\n")
    w(
        f"{report.documents} labelled documents read in `{report.read_mode.value}` mode "
        f"({report.unreadable} unreadable, {report.unlabelled} files without truth not "
        f"scored) in {report.seconds:.0f} s ({report.seconds_per_document or 0:.2f} s each).\n\n"
    )
    w(
        f"- straight-through (every scored field right): **{_pct(report.straight_through)} %**"
        f"{_delta(report.straight_through, before.get('(documents straight through)'))}\n"
        f"- document kind accuracy: {_pct(report.kind_accuracy)} %\n"
        f"- field accuracy (all scored fields): {_pct(report.field_accuracy)} %\n"
        f"- OCR character error rate: {_pct(report.ocr_cer)} % over "
        f"{report.ocr_reference_chars} reference characters\n\n"
    )
    w("Values are percentages; precision and recall count a wrong value against both.\n\n")
    w("## Per field\n\n")
    families = list(report.by_family)
    readings = list(report.by_reading)
    head = ["field", "scored", "accuracy", "precision", "recall"]
    head += [f"acc. {r}" for r in readings] + [f"acc. {f}" for f in families]
    w("| " + " | ".join(head) + " |\n|" + "---|" * len(head) + "\n")
    for name, stats in report.fields.items():
        cells = [
            name,
            str(stats.scored),
            _pct(stats.accuracy) + _delta(stats.accuracy, before.get(name)),
            _pct(stats.precision),
            _pct(stats.recall),
        ]
        for groups in (report.by_reading, report.by_family):
            for group in groups.values():
                field = group.fields.get(name)
                cells.append(_pct(field.accuracy) if field else "–")
        w("| " + " | ".join(cells) + " |\n")
    for title, groups in (
        ("## Per reading (xml / text layer / OCR)", report.by_reading),
        ("## Per template family (tune / heldout)", report.by_family),
        *((f"## Per {key}", groups) for key, groups in report.groups.items() if key != "family"),
    ):
        w(f"\n{title}\n\n| value | documents | straight-through | field accuracy | kind |\n")
        w("|---|---|---|---|---|\n")
        for group in groups.values():
            w(
                f"| {group.value} | {group.documents} | {_pct(group.straight_through)} | "
                f"{_pct(group.field_accuracy)} | {_pct(group.kind_accuracy)} |\n"
            )
    if report.ocr_cer_by_quality:
        w("\n## OCR character error rate per scan quality\n\n| quality | CER % |\n|---|---|\n")
        for quality, cer in report.ocr_cer_by_quality.items():
            w(f"| {quality} | {_pct(cer)} |\n")
    w(f"\n## Calibration ({report.calibration_scope})\n\n")
    w("Fields read with confidence at or above the threshold: their share of all fields read ")
    w("or expected, and how many of them are right.\n\n")
    w("| threshold | share | accuracy | fields above | wrong above |\n|---|---|---|---|---|\n")
    for row in report.calibration:
        w(
            f"| {row.threshold:.2f} | {_pct(row.share)} | {_pct(row.accuracy)} | "
            f"{row.above} | {row.wrong_above} |\n"
        )
    w("\n## Worst documents\n\n")
    for document in report.worst:
        w(f"- `{document.name}` ({document.reading.value})")
        w(f": {document.error}\n" if document.error else "\n")
        for score in document.wrong:
            w(f"  - {score.field}: expected `{score.expected}`, got `{score.got}`")
            w(f" ({score.confidence:.2f})\n")
    return out.getvalue()


def render_fields_csv(report: AccuracyReport) -> str:
    """One row per scored field of every document."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    meta_keys = sorted({key for d in report.scores for key in d.meta} - _UNGROUPED_META)
    writer.writerow(
        [
            "document",
            "reading",
            "kind_expected",
            "kind_got",
            "field",
            "expected",
            "got",
            "correct",
            "confidence",
            "source",
            *meta_keys,
        ]
    )
    for document in report.scores:
        meta = [str(document.meta.get(key, "")) for key in meta_keys]
        for score in document.fields:
            writer.writerow(
                [
                    document.name,
                    document.reading.value,
                    document.kind_expected.value if document.kind_expected else "",
                    document.kind_got.value if document.kind_got else "",
                    score.field,
                    "" if score.expected is None else score.expected,
                    "" if score.got is None else score.got,
                    int(score.correct),
                    f"{score.confidence:.3f}",
                    score.source.value if score.source else "",
                    *meta,
                ]
            )
    return out.getvalue()


def write_report(
    report: AccuracyReport, folder: Path, *, baseline: dict[str, float | None] | None = None
) -> list[Path]:
    """``report.json``, ``report.md`` and ``fields.csv`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    outputs = {
        "report.json": report.model_dump_json(indent=2) + "\n",
        "report.md": render_markdown(report, baseline=baseline),
        "fields.csv": render_fields_csv(report),
    }
    written = []
    for name, text in outputs.items():
        path = folder / name
        partial = path.with_name(f".{name}.part")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
        written.append(path)
    return written
