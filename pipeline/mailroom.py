"""A mailroom batch over a folder, as plain functions (the Prefect flow wraps them).

Each regular file of the inbox is processed, then moved, with an atomic rename in the same
filesystem, to ``processed/`` (routed), ``review/`` or ``rejected/`` with its JSON verdict
``NAME.verdict.json`` written beside it first. Files are never deleted; a file whose
processing crashed goes to ``review/`` with the error in its verdict, so a batch always
finishes. ``summary.json`` sums the batch up.

Ignored in the inbox: hidden files, ``*.part`` (still being written), the outcome folders,
and ``*.truth.json`` ground-truth sidecars of labelled corpora.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import Field

from pipeline.errors import InternalError
from pipeline.models import DepositMode, DepositResult, ErrorInfo, Frozen, Outcome, Role
from pipeline.process import IntakeContext, process_deposit

log = logging.getLogger(__name__)

OUTCOME_FOLDERS: dict[Outcome, str] = {
    Outcome.ROUTED: "processed",
    Outcome.REVIEW: "review",
    Outcome.REJECTED: "rejected",
}
VERDICT_SUFFIX = ".verdict.json"
SUMMARY_NAME = "summary.json"
_IGNORED_SUFFIXES = (".part", ".truth.json", VERDICT_SUFFIX)


class FileOutcome(Frozen):
    """Where one file of a batch went (small: this crosses the Prefect task boundary)."""

    file: str
    outcome: Outcome
    reason: str
    code: str | None = Field(default=None, description="Code of the deciding finding or error.")
    cadre: str | None = None
    dossier_number: str | None = None
    moved_to: str


class MailroomSummary(Frozen):
    """Counts of a batch: routed / review / rejected, per cadre and per reason."""

    inbox: str
    total: int
    by_outcome: dict[str, int]
    by_cadre: dict[str, int]
    by_reason: dict[str, int]
    files: tuple[FileOutcome, ...]


def list_inbox(inbox: Path) -> list[Path]:
    """Regular files waiting in ``inbox``, in name order."""
    if not inbox.is_dir():
        raise InternalError(f"{inbox} is not a folder")
    waiting = []
    for path in sorted(inbox.iterdir()):
        if path.name.startswith(".") or path.name.endswith(_IGNORED_SUFFIXES):
            continue
        if path.is_symlink() or not path.is_file():
            continue
        waiting.append(path)
    return waiting


def handle_file(
    path: Path,
    *,
    context: IntakeContext,
    role: Role | None = None,
    mode: DepositMode = DepositMode.PORTAL,
) -> FileOutcome:
    """Process one inbox file, write its verdict, move it to its outcome folder."""
    inbox = path.parent
    try:
        result = process_deposit(
            path.read_bytes(), file_name=path.name, context=context, role=role, mode=mode
        )
    except Exception as exc:  # a defect must not stop the batch nor lose the file
        log.exception("processing %s failed", path.name)
        result = DepositResult(
            file=path.name,
            outcome=Outcome.REVIEW,
            reason=f"INTERNAL_ERROR: {type(exc).__name__}: {exc}",
            error=ErrorInfo(code="INTERNAL_ERROR", message=f"{type(exc).__name__}: {exc}"),
        )
    target_dir = inbox / OUTCOME_FOLDERS[result.outcome]
    target_dir.mkdir(exist_ok=True)
    target = _free_name(target_dir, path.name)
    _write_atomically(
        target_dir / f"{target.name}{VERDICT_SUFFIX}", result.model_dump_json(indent=2)
    )
    os.replace(path, target)
    return FileOutcome(
        file=path.name,
        outcome=result.outcome,
        reason=result.reason,
        code=result.reason.split(":", 1)[0] if result.outcome is not Outcome.ROUTED else None,
        cadre=result.cadre,
        dossier_number=result.routing.dossier_number if result.routing else None,
        moved_to=str(target.relative_to(inbox)),
    )


def summarise(inbox: Path, outcomes: Iterable[FileOutcome]) -> MailroomSummary:
    files = tuple(outcomes)
    by_outcome = Counter(outcome.outcome.value for outcome in files)
    return MailroomSummary(
        inbox=str(inbox),
        total=len(files),
        by_outcome={outcome.value: by_outcome.get(outcome.value, 0) for outcome in Outcome},
        by_cadre=dict(sorted(Counter(o.cadre for o in files if o.cadre).items())),
        by_reason=dict(sorted(Counter(o.code for o in files if o.code).items())),
        files=files,
    )


def write_summary(inbox: Path, summary: MailroomSummary) -> Path:
    path = inbox / SUMMARY_NAME
    _write_atomically(path, summary.model_dump_json(indent=2))
    return path


def run_mailroom(
    inbox: Path,
    *,
    context: IntakeContext,
    on_file: Callable[[FileOutcome], None] | None = None,
) -> MailroomSummary:
    """The batch without Prefect, one file after the other (tests, debugging)."""
    outcomes = []
    for path in list_inbox(inbox):
        outcome = handle_file(path, context=context)
        outcomes.append(outcome)
        if on_file:
            on_file(outcome)
    summary = summarise(inbox, outcomes)
    write_summary(inbox, summary)
    return summary


def _free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name`` with a counter when a previous batch used it."""
    candidate = folder / name
    stem, dot, suffix = name.partition(".")
    counter = 1
    while candidate.exists() or Path(f"{candidate}{VERDICT_SUFFIX}").exists():
        counter += 1
        candidate = folder / f"{stem}-{counter}{dot}{suffix}"
    return candidate


def _write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file in the same folder, then rename: never a half verdict."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
