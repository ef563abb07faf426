"""Extraction speed against baselines run in the same process.

Absolute times on shared machines are noisy; the ratios to the baselines are the figures
to watch:

- one-page digital PDFs (``fixtures/demo`` and, when present, the first ``--sample``
  digital PDFs of ``var/corpus``, sorted by name): ``read_piece`` (detection + text layer
  + field finders) against pdfplumber's own ``extract_words`` and pypdfium2's raw text
  (``get_text_range``) over the same pages; the goal is a median ``read_piece`` of at most
  ``GOAL_MS``;
- scanned PDFs: ``read_piece`` (detection + OCR + finders) against one bare
  ``tesseract`` run per page at the same resolution;
- XML: ``read_piece`` (safe parse + detection + mapping) against a bare lxml parse.

Files are sorted by content, not by name (a demo file named .xml may well be a PDF), and a
file that is unreadable, hostile or fails ``read_piece`` is skipped, never fatal.

Run: ``make bench`` or ``.venv/bin/python bench/bench_extract.py [--repeat N] [--sample N]``.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import pdfplumber
import pypdfium2
import pytesseract
from lxml import etree

from pipeline.extract.visible import has_text_layer
from pipeline.formats import Limits
from pipeline.pdfium import page_texts
from pipeline.process import read_piece
from pipeline.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "fixtures" / "demo"
GENERATED = REPO / "var" / "corpus"
CORPUS = REPO.parent / "shared" / "corpus"

#: The generated corpus's digital PDFs: no -scan-*, -pades or -facturx variant.
DIGITAL_NAME = re.compile(r"^d\d+-.*-T\d+\.pdf$")
#: Median ``read_piece`` time aimed at for a one-page digital PDF.
GOAL_MS = 50.0

logging.getLogger("pdfminer").setLevel(logging.ERROR)


def timed(action: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` runs, in milliseconds."""
    samples = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def pdfplumber_words(data: bytes) -> None:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        for page in pdf.pages:
            page.extract_words()


def pdfium_text(data: bytes) -> None:
    document = pypdfium2.PdfDocument(data)
    try:
        for page in document:
            text_page = page.get_textpage()
            text_page.get_text_range()
            text_page.close()
            page.close()
    finally:
        document.close()


def tesseract_pages(data: bytes, dpi: int) -> None:
    document = pypdfium2.PdfDocument(data)
    for page in document:
        image = page.render(scale=dpi / 72).to_pil()
        pytesseract.image_to_string(image, lang="fra", config="--psm 6")
    document.close()


def looks_like_pdf(data: bytes) -> bool:
    # Detection tolerates a little junk before the header; so does the bench.
    return b"%PDF-" in data[:1024]


@dataclass(frozen=True)
class DigitalRow:
    name: str
    ours: float
    plumber: float
    pdfium: float
    #: Whether detection reads the page from its text layer (else it is OCR'd).
    text_layer: bool


def candidate_pdfs(sample: int) -> list[Path]:
    demo = sorted(p for p in DEMO.iterdir() if p.is_file() and not p.name.endswith(".json"))
    generated: list[Path] = []
    if GENERATED.is_dir():
        generated = sorted(p for p in GENERATED.iterdir() if DIGITAL_NAME.match(p.name))
    return demo + generated[:sample]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sample", type=int, default=40, help="generated PDFs to time")
    args = parser.parse_args()
    settings = load_settings()
    limits = Limits()

    def ours(path: Path, data: bytes) -> Callable[[], object]:
        return lambda: read_piece(data, file_name=path.name, settings=settings, limits=limits)

    digital: list[DigitalRow] = []
    scans: list[tuple[str, float, float]] = []
    for path in candidate_pdfs(args.sample):
        data = path.read_bytes()
        if not looks_like_pdf(data):
            continue
        try:
            texts = page_texts(data)
            ours(path, data)()  # warm-up, and hostile files drop out here
        except Exception:  # hostile fixtures are benchmarked by the robustness suite
            continue
        if not any(text.strip() for text in texts):
            if path.parent == DEMO:
                base = timed(lambda d=data: tesseract_pages(d, settings.ocr_dpi), 1)
                scans.append((path.name, timed(ours(path, data), 1), base))
            continue
        if len(texts) != 1:
            continue
        try:
            plumber = timed(lambda d=data: pdfplumber_words(d), args.repeat)
            raw = timed(lambda d=data: pdfium_text(d), args.repeat * 3)
        except Exception:  # a file pdfium reads and pdfminer does not: no baseline
            continue
        layered = all(has_text_layer(text) for text in texts)
        ours_ms = timed(ours(path, data), args.repeat)
        digital.append(DigitalRow(path.name, ours_ms, plumber, raw, layered))

    xml_rows: list[tuple[str, float, float]] = []
    demo_files = sorted(p for p in DEMO.iterdir() if p.is_file() and p.suffix == ".xml")
    for path in demo_files + sorted((CORPUS / "en16931-cen").rglob("examples/*.xml")):
        data = path.read_bytes()
        # The same leading bytes detection tolerates (a BOM, blank lines) before a bare parse.
        bare = data.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not bare.startswith(b"<"):
            continue  # not XML whatever its name says (a PDF named .xml is timed above)
        try:
            ours(path, data)()
            etree.fromstring(bare)
        except Exception:
            continue
        base = timed(lambda d=bare: etree.fromstring(d), args.repeat * 10)
        xml_rows.append((path.name, timed(ours(path, data), args.repeat * 10), base))

    print_digital(digital)
    print_baseline_rows("scanned PDFs", "tesseract", scans)
    print_baseline_rows("XML", "lxml parse", xml_rows)
    return 0


def print_digital(rows: list[DigitalRow]) -> None:
    print("one-page digital PDFs: read_piece vs pdfplumber extract_words vs pdfium text")
    if not rows:
        print("  (none found)")
        return
    width = max(len(row.name) for row in rows) + 6
    print(
        f"{'file':<{width}}  {'ours ms':>8} {'plumber':>8} {'pdfium':>7}"
        f" {'ours/plumber':>12} {'ours/pdfium':>11}"
    )
    for row in rows:
        name = row.name if row.text_layer else f"{row.name} [OCR]"
        print(
            f"{name:<{width}}  {row.ours:8.1f} {row.plumber:8.1f} {row.pdfium:7.2f}"
            f" {row.ours / row.plumber:12.2f} {row.ours / row.pdfium:11.1f}"
        )
    print("[OCR]: the text layer fails the has_text_layer test, so the page is OCR'd")
    summarise("all", rows)
    summarise("text-layer", [row for row in rows if row.text_layer])
    print()


def summarise(label: str, rows: list[DigitalRow]) -> None:
    if not rows:
        return
    ours = statistics.median(row.ours for row in rows)
    plumber = statistics.median(row.plumber for row in rows)
    raw = statistics.median(row.pdfium for row in rows)
    print(
        f"median over {len(rows)} {label} files: read_piece {ours:.1f} ms, pdfplumber "
        f"extract_words {plumber:.1f} ms, pdfium get_text_range {raw:.2f} ms; median ratio "
        f"read_piece/pdfplumber {statistics.median(r.ours / r.plumber for r in rows):.2f}, "
        f"read_piece/pdfium {statistics.median(r.ours / r.pdfium for r in rows):.1f}; "
        f"goal read_piece <= {GOAL_MS:.0f} ms: {'met' if ours <= GOAL_MS else 'NOT met'}"
    )


def print_baseline_rows(title: str, base_name: str, rows: list[tuple[str, float, float]]) -> None:
    print(f"{title}: read_piece vs {base_name}")
    if not rows:
        print("  (none found)")
        print()
        return
    width = max(len(name) for name, *_ in rows)
    print(f"{'file':<{width}}  {'ours ms':>9} {'base ms':>9} {'ratio':>7}")
    for name, ours_ms, base_ms in rows:
        ratio = ours_ms / base_ms if base_ms else float("inf")
        print(f"{name:<{width}}  {ours_ms:9.1f} {base_ms:9.1f} {ratio:7.2f}")
    ratios = [o / b for _, o, b in rows if b]
    if ratios:
        median = statistics.median(ratios)
        print(f"median ratio vs {base_name}: {median:.2f} over {len(ratios)} files")
    print()


if __name__ == "__main__":
    sys.exit(main())
