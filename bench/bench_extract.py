"""Extraction speed against baselines run in the same process.

Absolute times on shared machines are noisy; the ratios to the baselines are the figures
to watch:

- digital PDFs: ``read_piece`` (detection + text layer + field finders) against raw
  pdfplumber ``extract_words`` over the same pages;
- scanned PDFs: ``read_piece`` (detection + OCR + finders) against one bare
  ``tesseract`` run per page at the same resolution;
- XML: ``read_piece`` (safe parse + detection + mapping) against a bare lxml parse.

Run: ``make bench`` or ``.venv/bin/python bench/bench_extract.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import pdfplumber
import pypdfium2
import pytesseract
from lxml import etree

from pipeline.formats import Limits
from pipeline.pdfium import page_texts
from pipeline.process import read_piece
from pipeline.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "fixtures" / "demo"
CORPUS = REPO.parent / "shared" / "corpus"


def timed(action: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` runs, in milliseconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def pdfplumber_words(data: bytes) -> None:
    import io

    with pdfplumber.open(io.BytesIO(data)) as pdf:
        for page in pdf.pages:
            page.extract_words()


def tesseract_pages(data: bytes, dpi: int) -> None:
    document = pypdfium2.PdfDocument(data)
    for page in document:
        image = page.render(scale=dpi / 72).to_pil()
        pytesseract.image_to_string(image, lang="fra", config="--psm 6")
    document.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = load_settings()
    limits = Limits()

    def ours(path: Path, data: bytes) -> Callable[[], object]:
        return lambda: read_piece(data, file_name=path.name, settings=settings, limits=limits)

    rows: list[tuple[str, str, float, float]] = []
    # By content, not by name: a demo file named .xml may well be a PDF.
    demo_files = sorted(p for p in DEMO.iterdir() if not p.name.endswith(".truth.json"))
    for path in demo_files:
        data = path.read_bytes()
        if not data.startswith(b"%PDF"):
            continue
        try:
            scanned = not any(text.strip() for text in page_texts(data))
            ours(path, data)()
        except Exception:  # hostile fixtures are benchmarked by the robustness suite
            continue
        if scanned:
            baseline = timed(lambda d=data: tesseract_pages(d, settings.ocr_dpi), 1)
            rows.append((path.name, "tesseract", timed(ours(path, data), 1), baseline))
        else:
            baseline = timed(lambda d=data: pdfplumber_words(d), args.repeat)
            rows.append((path.name, "pdfplumber", timed(ours(path, data), args.repeat), baseline))
    xml_files = [p for p in demo_files if p.suffix == ".xml"] + sorted(
        (CORPUS / "en16931-cen").rglob("examples/*.xml")
    )
    for path in xml_files:
        data = path.read_bytes()
        try:
            ours(path, data)()
        except Exception:
            continue
        # The same leading bytes detection tolerates (a BOM, blank lines) before a bare parse.
        bare = data.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not bare.startswith(b"<"):
            continue
        baseline = timed(lambda d=bare: etree.fromstring(d), args.repeat * 10)
        rows.append((path.name, "lxml parse", timed(ours(path, data), args.repeat * 10), baseline))

    width = max(len(name) for name, *_ in rows) if rows else 10
    print(f"{'file':<{width}}  {'baseline':<11} {'ours ms':>9} {'base ms':>9} {'ratio':>7}")
    for name, base_name, ours_ms, base_ms in rows:
        ratio = ours_ms / base_ms if base_ms else float("inf")
        print(f"{name:<{width}}  {base_name:<11} {ours_ms:9.1f} {base_ms:9.1f} {ratio:7.2f}")
    for base_name in ("pdfplumber", "tesseract", "lxml parse"):
        ratios = [o / b for _, n, o, b in rows if n == base_name and b]
        if ratios:
            print(
                f"median ratio vs {base_name}: {statistics.median(ratios):.2f} "
                f"over {len(ratios)} files"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
