"""The ``intake`` command: a thin layer over ``pipeline.process`` and the flows.

Exit codes (DESIGN 4.5): 0 done, 1 rejected, 2 bad usage, 3 unreadable input,
4 internal error. Every non-zero exit prints one line saying what and why.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

# Before Prefect or Tesseract load (lazily, in the commands): Tesseract's OpenMP threads
# fight over small machines, and the temporary Prefect server's telemetry only adds noise.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import typer
from rich.console import Console
from rich.table import Table

from pipeline.errors import ExitCode, InputError, IntakeError, UsageError
from pipeline.models import (
    CANONICAL_FIELDS,
    DepositMode,
    DepositResult,
    Outcome,
    PieceDraft,
    Role,
)
from pipeline.settings import Settings, load_settings

if TYPE_CHECKING:  # the scoring stack loads lazily, in its command
    from pipeline.accuracy import AccuracyReport

app = typer.Typer(
    name="intake",
    help="Intake of invoice and works-payment deposits: detect, read, validate, route.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
directory_app = typer.Typer(help="The directory of public structures (annuaire).")
app.add_typer(directory_app, name="directory")
fixtures_app = typer.Typer(help="Labelled corpora for accuracy runs.")
app.add_typer(fixtures_app, name="fixtures")

# Tables stay readable in logs and pipes, where rich would assume 80 columns.
out = Console(highlight=False, soft_wrap=True, width=shutil.get_terminal_size((132, 24)).columns)
err = Console(stderr=True, highlight=False, soft_wrap=True)

T = TypeVar("T")

DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Data folder (store, directory); INTAKE_DATA_DIR.")
]
TrustOption = Annotated[
    Path | None,
    typer.Option("--trust", help="Trusted root certificates: a folder or a PEM bundle."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (JSON Lines for several).")]


def _settings(data_dir: Path | None = None, trust: Path | None = None) -> Settings:
    return load_settings(data_dir=data_dir, trust_roots=trust)


def _guarded(action: Callable[[], T]) -> T:
    """Run ``action``; turn errors into one line on stderr and the matching exit code."""
    try:
        return action()
    except typer.Exit:
        raise
    except IntakeError as exc:
        err.print(exc.one_line())
        raise typer.Exit(int(exc.exit_code)) from exc
    except Exception as exc:
        err.print(f"INTERNAL_ERROR: {type(exc).__name__}: {exc}")
        raise typer.Exit(int(ExitCode.INTERNAL)) from exc


def _json_line(model: Any) -> None:
    # print(), not rich: JSON must go out byte for byte, one object per line.
    sys.stdout.write(model.model_dump_json() + "\n")
    sys.stdout.flush()


@app.command()
def extract(
    files: Annotated[list[Path], typer.Argument(help="PDF or XML files.")],
    json_output: JsonOption = False,
    data_dir: DataDirOption = None,
    trust: TrustOption = None,
) -> None:
    """Read files and print the pre-filled deposit form (fields, confidence, location)."""
    from pipeline.formats import Limits
    from pipeline.process import read_piece, utc_now
    from pipeline.validate.signature import load_trust_roots

    settings = _guarded(lambda: _settings(data_dir, trust))
    roots = _guarded(lambda: load_trust_roots(settings.trust_roots) if settings.trust_roots else [])
    limits = Limits(settings.max_file_bytes, settings.max_pages, settings.max_xml_bytes)
    worst = ExitCode.OK
    for file in files:
        try:
            data = _read_input(file)
            draft = read_piece(
                data,
                file_name=file.name,
                settings=settings,
                limits=limits,
                trust_roots=roots,
                validation_time=utc_now(),
            )
        except IntakeError as exc:
            worst = max(worst, exc.exit_code)
            if json_output:
                error = {"code": exc.code, "message": exc.message}
                sys.stdout.write(json.dumps({"file": file.name, "error": error}) + "\n")
            err.print(f"{file.name}: {exc.one_line()}")
            continue
        if json_output:
            _json_line(draft)
        else:
            _print_draft(draft)
    raise typer.Exit(int(worst))


@app.command()
def deposit(
    file: Annotated[Path, typer.Argument(help="The PDF or XML piece to deposit.")],
    role: Annotated[
        Role | None, typer.Option(help="Depositor's role; inferred from the piece if omitted.")
    ] = None,
    mode: Annotated[DepositMode, typer.Option(help="Deposit mode.")] = DepositMode.PORTAL,
    json_output: JsonOption = False,
    data_dir: DataDirOption = None,
    trust: TrustOption = None,
) -> None:
    """Deposit one piece: read, validate, pick the cadre and route it to its dossier."""
    from pipeline.process import build_context, process_deposit

    def run() -> DepositResult:
        context = build_context(_settings(data_dir, trust))
        return process_deposit(
            _read_input(file), file_name=file.name, context=context, role=role, mode=mode
        )

    result = _guarded(run)
    if json_output:
        _json_line(result)
    else:
        _print_result(result)
    if result.error is not None:
        err.print(f"{file.name}: {result.reason}")
        raise typer.Exit(int(ExitCode.UNREADABLE))
    if result.outcome is Outcome.REJECTED:
        err.print(f"{file.name}: rejected: {result.reason}")
        raise typer.Exit(int(ExitCode.REJECTED))


@app.command()
def mailroom(
    inbox: Annotated[Path, typer.Argument(help="Folder of deposited files.")],
    role: Annotated[Role | None, typer.Option(help="Depositor's role for every file.")] = None,
    data_dir: DataDirOption = None,
    trust: TrustOption = None,
) -> None:
    """Process a folder: each file moves to processed/, review/ or rejected/ with a verdict."""
    if not inbox.is_dir():
        err.print(f"BAD_USAGE: {inbox} is not a folder")
        raise typer.Exit(int(ExitCode.USAGE))
    from pipeline.flows import mailroom as mailroom_flow

    settings = _guarded(lambda: _settings(data_dir, trust))
    summary = _guarded(lambda: mailroom_flow(str(inbox), role=role, settings=settings))
    table = Table(title=f"Mailroom batch: {summary.total} files in {inbox}")
    table.add_column("file", overflow="fold")
    for column in ("outcome", "cadre", "dossier", "why"):
        table.add_column(column, no_wrap=True)
    colours = {Outcome.ROUTED: "green", Outcome.REVIEW: "yellow", Outcome.REJECTED: "red"}
    for item in summary.files:
        table.add_row(
            item.moved_to,
            f"[{colours[item.outcome]}]{item.outcome.value}[/]",
            item.cadre or "",
            item.dossier_number or "",
            item.code or "",
        )
    out.print(table)
    out.print("Each file's verdict, with every finding, is in NAME.verdict.json beside it.")
    counts = ", ".join(f"{name} {count}" for name, count in summary.by_outcome.items())
    out.print(f"Summary: {counts}. Written to {inbox / 'summary.json'}")
    if summary.by_cadre:
        out.print("Per cadre: " + ", ".join(f"{k} {v}" for k, v in summary.by_cadre.items()))
    if summary.by_reason:
        out.print("Per reason: " + ", ".join(f"{k} {v}" for k, v in summary.by_reason.items()))


@app.command()
def accuracy(
    corpus: Annotated[Path, typer.Argument(help="A labelled folder (NAME.truth.json sidecars).")],
    report: Annotated[
        Path, typer.Option("--report", help="Folder for report.md, report.json, fields.csv.")
    ] = Path("accuracy-report"),
    truth: Annotated[
        Path | None,
        typer.Option("--truth", help="Truths as JSON Lines (a 'file' key each) instead."),
    ] = None,
    glob: Annotated[
        str, typer.Option("--glob", help="Only documents whose relative name matches.")
    ] = "*",
    read: Annotated[
        str,
        typer.Option(
            "--read",
            help="auto: as the pipeline reads; visible: ignore embedded XML; ocr: OCR every page.",
        ),
    ] = "auto",
    workers: Annotated[
        int | None, typer.Option("--workers", help="Documents read in parallel.")
    ] = None,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="An earlier report.json to compare with.")
    ] = None,
) -> None:
    """Score extraction against ground truth: per field, per format, per template family."""
    from rich.progress import Progress

    from pipeline import accuracy as scoring

    def run() -> AccuracyReport:
        try:
            mode = scoring.ReadMode(read)
        except ValueError:
            raise UsageError(f"--read must be auto, visible or ocr, not {read!r}") from None
        settings = _settings()
        labelled = scoring.load_corpus(corpus, truth_file=truth, pattern=glob)
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("reading", total=len(labelled.documents))
            result = scoring.score_corpus(
                labelled,
                settings=settings,
                mode=mode,
                workers=workers or scoring.default_workers(),
                progress=lambda _score: progress.advance(task),
            )
        before = scoring.baseline_accuracies(baseline) if baseline else None
        scoring.write_report(result, report, baseline=before)
        return result

    result = _guarded(run)
    _print_accuracy(result)
    out.print(f"Report written to {report}/ (report.md, report.json, fields.csv)")


@fixtures_app.command("generate")
def fixtures_generate(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the labelled corpus to.")],
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same corpus.")] = 1,
    count: Annotated[int, typer.Option("--count", help="Number of base documents.")] = 100,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Processes drawing documents (same output).")
    ] = None,
    dev: Annotated[
        bool,
        typer.Option(
            "--dev",
            help="Draw every piece from the development templates (D1-D16), whose failures "
            "may be studied without spoiling the held-out measure.",
        ),
    ] = False,
) -> None:
    """Generate a deterministic labelled corpus (documents with NAME.truth.json sidecars)."""
    if count < 1:
        err.print("BAD_USAGE: --count must be at least 1")
        raise typer.Exit(int(ExitCode.USAGE))
    from fixtures.generator import generate

    processes = workers or max(1, min(4, os.cpu_count() or 1))
    result = _guarded(lambda: generate(out_dir, seed=seed, count=count, workers=processes, dev=dev))
    out.print(result.summary())


@directory_app.command("load")
def directory_load(
    structures: Annotated[Path, typer.Argument(help="Structures CSV of the annuaire export.")],
    services: Annotated[Path | None, typer.Argument(help="Services CSV.")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Check a directory export and install it in the data folder for later deposits."""
    from pipeline.validate.directory import load_directory

    def run() -> None:
        settings = _settings(data_dir)
        directory = load_directory(structures, services)
        target = settings.data_dir / "directory"
        target.mkdir(parents=True, exist_ok=True)
        _install(structures, target / "structures.csv")
        if services is not None:
            _install(services, target / "services.csv")
        else:
            (target / "services.csv").unlink(missing_ok=True)
        out.print(
            f"Directory installed in {target}: {directory.structure_count} structures, "
            f"{directory.service_count} services"
        )

    _guarded(run)


def _install(source: Path, target: Path) -> None:
    """Copy then rename, so a concurrent reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(fd)
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def _read_input(file: Path) -> bytes:
    if not file.exists():
        raise UsageError(f"{file} does not exist", code="FILE_NOT_FOUND")
    if not file.is_file():
        raise UsageError(f"{file} is not a file", code="NOT_A_FILE")
    try:
        return file.read_bytes()
    except OSError as exc:
        raise InputError(f"{file} cannot be read: {exc.strerror}", code="FILE_UNREADABLE") from exc


def _print_draft(draft: PieceDraft) -> None:
    kind = draft.document_kind
    out.print(
        f"[bold]{draft.file}[/]  format {draft.format.value}, kind "
        f"{kind.value.value if kind.value else '?'} ({kind.confidence:.2f})"
    )
    table = Table(show_header=True)
    for column in ("field", "value", "confidence", "source", "page"):
        table.add_column(column)
    for name in CANONICAL_FIELDS:
        value = getattr(draft.fields, name)
        table.add_row(
            name,
            value.value or "",
            f"{value.confidence:.2f}" if value.value is not None else "",
            value.source.value if value.source else "",
            str(value.page or ""),
        )
    out.print(table)
    for finding in draft.findings:
        out.print(f"  {finding.severity.value}: {finding.code}: {finding.message}")


def _print_result(result: DepositResult) -> None:
    out.print(f"[bold]{result.file}[/]: {result.outcome.value}: {result.reason}")
    if result.routing is not None:
        routing = result.routing
        out.print(
            f"  cadre {routing.cadre}, dossier {routing.dossier_number}, status {routing.status}"
            + (f", payment deadline {routing.payment_deadline}" if routing.payment_deadline else "")
        )
        out.print(f"  Certificat de dépôt n° {routing.certificate.number}")
    for finding in result.findings:
        out.print(f"  {finding.severity.value}: {finding.code}: {finding.message}")


def _print_accuracy(report: AccuracyReport) -> None:
    """The summary table of ``intake accuracy``: per field, overall and per group."""

    def pct(value: float | None) -> str:
        return "–" if value is None else f"{100 * value:.1f}"

    table = Table(title=f"Extraction accuracy over {report.documents} documents (%)")
    for column in ("field", "accuracy", "precision", "recall"):
        table.add_column(column, justify="left" if column == "field" else "right", no_wrap=True)
    groups = [*report.by_reading.values(), *report.by_family.values()]
    for group in groups:
        table.add_column(f"{group.key} {group.value}", justify="right")
    for name, stats in report.fields.items():
        cells = [pct(g.fields[name].accuracy) if name in g.fields else "–" for g in groups]
        table.add_row(name, pct(stats.accuracy), pct(stats.precision), pct(stats.recall), *cells)
    table.add_row(
        "straight-through",
        pct(report.straight_through),
        "",
        "",
        *(pct(g.straight_through) for g in groups),
    )
    table.add_row(
        "document kind", pct(report.kind_accuracy), "", "", *(pct(g.kind_accuracy) for g in groups)
    )
    out.print(table)
    if report.ocr_cer is not None:
        per_quality = ", ".join(
            f"{quality} {pct(cer)}" for quality, cer in report.ocr_cer_by_quality.items()
        )
        out.print(f"OCR character error rate: {pct(report.ocr_cer)} % ({per_quality})")
    out.print(
        f"{report.documents} documents in {report.seconds:.0f} s, {report.unreadable} "
        f"unreadable, {report.unlabelled} files without truth not scored"
    )


if __name__ == "__main__":  # pragma: no cover
    app()
