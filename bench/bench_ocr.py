"""OCR speed: one scanned page on one core, and the page rate on two cores.

Figures, from one run (absolute times on shared machines are noisy, ratios less so):

- per page, single worker: ``ocr_pages`` (render, clean, deskew, Tesseract, recovery of
  missed bands) against a bare ``pytesseract.image_to_data`` of the same page rendered at
  the same resolution, in the same process;
- page rate over a batch of pages with 1 worker, then with 2 workers (threads: Tesseract
  runs as a subprocess, so two threads use two cores), and their ratio.

Scanned pages come from ``fixtures/demo`` and, when present, ``var/corpus`` (made by
``make accuracy``): the image-only PDFs, decided by content.

Run: ``make bench`` or ``.venv/bin/python bench/bench_ocr.py [--pages N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import pypdfium2
import pytesseract

from pipeline.extract.ocr import ocr_pages
from pipeline.pdfium import page_texts
from pipeline.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
SOURCES = (REPO / "fixtures" / "demo", REPO / "var" / "corpus")


def scanned_pages(limit: int) -> list[tuple[Path, bytes, int]]:
    """(file, bytes, page number) of up to ``limit`` pages without a text layer."""
    pages: list[tuple[Path, bytes, int]] = []
    for folder in SOURCES:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.pdf")):
            data = path.read_bytes()
            try:
                texts = page_texts(data)
            except Exception:  # hostile fixtures are the robustness suite's business
                continue
            pages.extend((path, data, n) for n, text in enumerate(texts, 1) if not text.strip())
            if len(pages) >= limit:
                return pages[:limit]
    return pages


def bare_tesseract(data: bytes, number: int, dpi: int) -> None:
    document = pypdfium2.PdfDocument(data)
    image = document[number - 1].render(scale=dpi / 72, grayscale=True).to_pil()
    pytesseract.image_to_data(image, lang="fra", config="--psm 6")
    document.close()


def seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=8, help="pages in the batch")
    args = parser.parse_args()
    dpi = load_settings().ocr_dpi
    pages = scanned_pages(args.pages)
    if not pages:
        print("no scanned page found (run `make accuracy` to generate var/corpus)")
        return 1
    threads = os.environ["OMP_THREAD_LIMIT"]
    print(f"{len(pages)} scanned pages at {dpi} dpi, OMP_THREAD_LIMIT={threads}")

    ours, bare = [], []
    for path, data, number in pages:
        ours.append(seconds(lambda d=data, n=number: ocr_pages(d, [n], dpi=dpi, workers=1)))
        bare.append(seconds(lambda d=data, n=number: bare_tesseract(d, n, dpi)))
        print(f"  {path.name} p{number}: ours {ours[-1]:.2f} s, bare tesseract {bare[-1]:.2f} s")
    print(
        f"one page, one core: median {statistics.median(ours):.2f} s "
        f"(bare tesseract {statistics.median(bare):.2f} s, "
        f"ratio {statistics.median(ours) / statistics.median(bare):.2f})"
    )

    def batch(workers: int) -> float:
        def one(item: tuple[Path, bytes, int]) -> None:
            ocr_pages(item[1], [item[2]], dpi=dpi, workers=1)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            start = time.perf_counter()
            list(pool.map(one, pages))
            return len(pages) / (time.perf_counter() - start)

    single, double = batch(1), batch(2)
    print(
        f"page rate: 1 worker {single:.2f} pages/s, 2 workers {double:.2f} pages/s, "
        f"speed-up {double / single:.2f}x (target >= 1.7x on 2 cores)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
