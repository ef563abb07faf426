"""Prefect flows: thin wrappers over the plain stages (the only module importing Prefect).

Tasks pass paths and small result models, never PDF bytes. One task per piece: a task run
costs about 40 ms of server CPU, far less than reading a piece, and it makes every
piece's outcome visible in the run.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE
from prefect.task_runners import ThreadPoolTaskRunner

from pipeline.accuracy import (
    AccuracyReport,
    ReadMode,
    baseline_accuracies,
    default_workers,
    load_corpus,
    render_markdown,
    score_corpus,
    write_report,
)
from pipeline.mailroom import (
    FileOutcome,
    MailroomSummary,
    handle_file,
    list_inbox,
    summarise,
    write_summary,
)
from pipeline.models import DepositMode, DepositResult, Role
from pipeline.process import IntakeContext, build_context, process_deposit
from pipeline.settings import Settings, load_settings


@functools.lru_cache(maxsize=4)
def _context(settings: Settings) -> IntakeContext:
    # One directory, store and trust store per worker process, shared by its tasks.
    return build_context(settings)


@task(name="deposit-file", cache_policy=NONE, retries=0)
def deposit_file(path: str, settings: Settings, role: Role | None = None) -> FileOutcome:
    outcome = handle_file(Path(path), context=_context(settings), role=role)
    get_run_logger().info("%s -> %s (%s)", outcome.file, outcome.outcome.value, outcome.reason)
    return outcome


# Two workers: pieces are CPU-bound (OCR, parsing) and the machines have two cores; a
# deployment can raise it with ``mailroom.with_options(task_runner=...)``.
_PIECE_RUNNER: ThreadPoolTaskRunner[Any] = ThreadPoolTaskRunner(max_workers=2)


@flow(name="mailroom", log_prints=False, task_runner=_PIECE_RUNNER)  # type: ignore[arg-type]
def mailroom(
    inbox: str, role: Role | None = None, settings: Settings | None = None
) -> MailroomSummary:
    """Process every file waiting in ``inbox``: routed, review or rejected, nothing lost."""
    settings = settings or load_settings()
    folder = Path(inbox)
    futures = [deposit_file.submit(str(path), settings, role) for path in list_inbox(folder)]
    summary = summarise(folder, (future.result() for future in futures))
    write_summary(folder, summary)
    _publish(summary)
    return summary


@flow(name="deposit", log_prints=False)
def deposit(
    path: str,
    role: Role | None = None,
    mode: DepositMode = DepositMode.PORTAL,
    settings: Settings | None = None,
) -> DepositResult:
    """One file, from bytes to its dossier; the file itself is left where it is."""
    file = Path(path)
    context = _context(settings or load_settings())
    return process_deposit(
        file.read_bytes(), file_name=file.name, context=context, role=role, mode=mode
    )


@task(name="score-corpus", cache_policy=NONE, retries=0)
def score_labelled_corpus(
    corpus_dir: str,
    settings: Settings,
    truth: str | None,
    glob: str,
    read: ReadMode,
    workers: int,
) -> AccuracyReport:
    corpus = load_corpus(Path(corpus_dir), truth_file=Path(truth) if truth else None, pattern=glob)
    return score_corpus(corpus, settings=settings, mode=read, workers=workers)


@flow(name="ocr_accuracy", log_prints=False)
def ocr_accuracy(
    corpus_dir: str,
    report_dir: str,
    truth: str | None = None,
    glob: str = "*",
    read: ReadMode = ReadMode.AUTO,
    workers: int | None = None,
    baseline: str | None = None,
    settings: Settings | None = None,
) -> dict[str, float | int | str | None]:
    """Score extraction on a labelled folder; publish the figures as artifacts."""
    settings = settings or load_settings()
    # One task for the whole corpus: documents are read in parallel processes inside it,
    # which a thread task runner could not do for CPU-bound OCR.
    report = score_labelled_corpus(
        corpus_dir, settings, truth, glob, read, workers or default_workers()
    )
    before = baseline_accuracies(Path(baseline)) if baseline else None
    write_report(report, Path(report_dir), baseline=before)
    _publish_accuracy(report, before)
    get_run_logger().info(
        "%d documents, straight-through %s, field accuracy %s, report in %s",
        report.documents,
        report.straight_through,
        report.field_accuracy,
        report_dir,
    )
    return {
        "documents": report.documents,
        "straight_through": report.straight_through,
        "field_accuracy": report.field_accuracy,
        "kind_accuracy": report.kind_accuracy,
        "ocr_cer": report.ocr_cer,
        "report_dir": report_dir,
    }


def _publish_accuracy(report: AccuracyReport, before: dict[str, float | None] | None) -> None:
    rows = []
    for name, stats in report.fields.items():
        row: dict[str, Any] = {
            "field": name,
            "accuracy": stats.accuracy,
            "precision": stats.precision,
            "recall": stats.recall,
        }
        for group in (*report.by_reading.values(), *report.by_family.values()):
            field = group.fields.get(name)
            row[f"{group.key} {group.value}"] = field.accuracy if field else None
        rows.append(row)
    create_table_artifact(
        key="accuracy-fields",
        table=rows,
        description=f"Field accuracy over {report.documents} documents of {report.corpus}",
    )
    create_markdown_artifact(
        key="accuracy-report", markdown=render_markdown(report, baseline=before)
    )


def _publish(summary: MailroomSummary) -> None:
    create_table_artifact(
        key="mailroom-files",
        table=[
            {
                "file": outcome.file,
                "outcome": outcome.outcome.value,
                "cadre": outcome.cadre or "",
                "dossier": outcome.dossier_number or "",
                "reason": outcome.reason,
            }
            for outcome in summary.files
        ],
        description=f"Every piece of the batch in {summary.inbox}",
    )
    lines = [f"# Mailroom batch: {summary.total} files", "", "| outcome | files |", "| --- | --- |"]
    lines += [f"| {name} | {count} |" for name, count in summary.by_outcome.items()]
    if summary.by_cadre:
        lines += ["", "| cadre | files |", "| --- | --- |"]
        lines += [f"| {name} | {count} |" for name, count in summary.by_cadre.items()]
    if summary.by_reason:
        lines += ["", "| reason | files |", "| --- | --- |"]
        lines += [f"| {name} | {count} |" for name, count in summary.by_reason.items()]
    create_markdown_artifact(key="mailroom-summary", markdown="\n".join(lines))
