"""Words and lines of a page, with their boxes: the text layer through pdfplumber.

This is the only module that imports pdfplumber. It also holds the page-level types every
visible-text reader produces (``Word``, ``Page``) and the geometry the field finders and
the classifier share (``Line``, ``group_lines``, ``fold``), so OCR pages and text-layer
pages look the same downstream.

Coordinates are PDF points with the origin at the top-left, as pdfplumber gives them.
A word's box is in the page's *reading frame*: the page as printed, upright. For text
layers and for upright scans that is the page itself. For a scan that OCR had to turn or
deskew, the words are kept in the straightened frame (so a line of text stays a line) and
``Page.to_original`` maps a point back to the original page, where a bbox is reported.
"""

from __future__ import annotations

import io
import logging
import statistics
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pdfplumber

from pipeline.errors import CorruptPdf
from pipeline.models import BBox, FieldSource

# pdfminer logs every odd font dictionary at WARNING; a batch log drowns in them, and
# what matters about a page (no usable text) is reported as a finding instead.
logging.getLogger("pdfminer").setLevel(logging.ERROR)

#: An affine map (a, b, c, d, e, f): x' = a*x + b*y + c, y' = d*x + e*y + f.
Affine = tuple[float, float, float, float, float, float]
IDENTITY: Affine = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


@dataclass(frozen=True)
class Word:
    """One word with its box (PDF points, top-left origin) and how sure the reader is."""

    text: str
    x0: float
    top: float
    x1: float
    bottom: float
    page: int
    confidence: float
    source: FieldSource

    @property
    def height(self) -> float:
        # The font size for text-layer words (pdfplumber boxes are one em high); close to
        # the glyph height for OCR words. Both serve as "how big is this text".
        return self.bottom - self.top


@dataclass(frozen=True)
class Page:
    """The words of one page, in reading order of the source (not necessarily lines)."""

    number: int
    width: float
    height: float
    words: tuple[Word, ...]
    source: FieldSource
    to_original: Affine = IDENTITY


def original_bbox(page: Page, box: BBox) -> BBox:
    """The box of ``box`` (reading frame) on the original page, rounded to 0.1 pt."""
    if page.to_original == IDENTITY:
        x0, top, x1, bottom = box
        return (round(x0, 1), round(top, 1), round(x1, 1), round(bottom, 1))
    a, b, c, d, e, f = page.to_original
    x0, top, x1, bottom = box
    corners = [(x, y) for x in (x0, x1) for y in (top, bottom)]
    xs = [a * x + b * y + c for x, y in corners]
    ys = [d * x + e * y + f for x, y in corners]
    return (round(min(xs), 1), round(min(ys), 1), round(max(xs), 1), round(max(ys), 1))


# --------------------------------------------------------------------------- text layer


def text_layer_pages(data: bytes, page_numbers: Sequence[int]) -> dict[int, Page]:
    """The words of the given 1-based pages from the PDF text layer."""
    wanted = sorted(set(page_numbers))
    if not wanted:
        return {}
    pages: dict[int, Page] = {}
    try:
        pdf = pdfplumber.open(io.BytesIO(data))
    except Exception as exc:  # pdfminer raises many unrelated types on broken files
        raise CorruptPdf(
            "the PDF text layer cannot be read; ask the sender to export the PDF again"
        ) from exc
    with pdf:
        for number in wanted:
            plumber_page = pdf.pages[number - 1]
            pages[number] = Page(
                number=number,
                width=float(plumber_page.width),
                height=float(plumber_page.height),
                words=tuple(_plumber_words(plumber_page, number)),
                source=FieldSource.TEXT_LAYER,
            )
    return pages


def _plumber_words(plumber_page: pdfplumber.page.Page, number: int) -> Iterable[Word]:
    # use_text_flow=False: pdfplumber clusters characters by position, so a page whose
    # content stream jumps between columns still gives whole words; lines are rebuilt
    # from the boxes by group_lines anyway. pdfplumber counts U+00A0 and U+202F as
    # blanks, so "7 850,00" arrives as two words: the amount parser joins them.
    raw = plumber_page.extract_words(
        keep_blank_chars=False, use_text_flow=False, extra_attrs=["upright"]
    )
    for item in raw:
        # Vertical text (legal mentions printed up a margin) would be one tall box that
        # swallows whole lines when grouped: it never carries a field the form needs.
        if not item.get("upright", True):
            continue
        text = str(item["text"]).strip()
        if not text:
            continue
        yield Word(
            text=text,
            x0=float(item["x0"]),
            top=float(item["top"]),
            x1=float(item["x1"]),
            bottom=float(item["bottom"]),
            page=number,
            confidence=1.0,
            source=FieldSource.TEXT_LAYER,
        )


# --------------------------------------------------------------------------- folding

_FOLD_SPECIAL = {
    "œ": "oe",
    "Œ": "oe",
    "æ": "ae",
    "Æ": "ae",
    "ß": "ss",
    "’": "'",
    "‘": "'",
    "`": "'",
    "´": "'",
    "ʼ": "'",
    "\u00a0": " ",
    "\u202f": " ",
    "\u2009": " ",
    "\u2007": " ",
    "–": "-",
    "—": "-",
    "‐": "-",
    "‑": "-",
    "−": "-",
}


def fold(text: str) -> tuple[str, tuple[int, ...]]:
    """Lower-case, accent-free text for matching, and for each of its characters the index
    of the character of ``text`` it came from (so a match maps back to the words)."""
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = _FOLD_SPECIAL.get(char)
        if folded is None:
            decomposed = unicodedata.normalize("NFKD", char)
            folded = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
            if not folded:
                folded = char
        out.append(folded)
        origin.extend([index] * len(folded))
    return "".join(out), tuple(origin)


def fold_text(text: str) -> str:
    return fold(text)[0]


# --------------------------------------------------------------------------- lines


@dataclass(frozen=True)
class Line:
    """Words of one page sharing a baseline band, left to right.

    ``text`` joins the words with a space, or a tab where the gap is wide enough to be a
    column break (so a number never runs across two table cells). ``folded`` is the
    matching form of ``text``; ``segments`` are the runs of words between tabs.
    """

    page: Page
    words: tuple[Word, ...]
    text: str
    starts: tuple[int, ...]
    folded: str
    origin: tuple[int, ...]
    segments: tuple[tuple[int, int], ...]

    @property
    def top(self) -> float:
        return min(w.top for w in self.words)

    @property
    def bottom(self) -> float:
        return max(w.bottom for w in self.words)

    @property
    def x0(self) -> float:
        return self.words[0].x0

    @property
    def x1(self) -> float:
        return max(w.x1 for w in self.words)

    @property
    def height(self) -> float:
        return statistics.median(w.height for w in self.words)

    def word_span(self, index: int) -> tuple[int, int]:
        start = self.starts[index]
        return start, start + len(self.words[index].text)

    def text_span(self, folded_start: int, folded_end: int) -> tuple[int, int]:
        """The span of ``text`` a span of ``folded`` came from."""
        if folded_end <= folded_start:
            at = self.origin[folded_start] if folded_start < len(self.origin) else len(self.text)
            return at, at
        return self.origin[folded_start], self.origin[folded_end - 1] + 1

    def original(self, folded_start: int, folded_end: int) -> str:
        start, end = self.text_span(folded_start, folded_end)
        return self.text[start:end]

    def word_indexes(self, folded_start: int, folded_end: int) -> list[int]:
        start, end = self.text_span(folded_start, folded_end)
        return [
            i
            for i in range(len(self.words))
            if self.starts[i] < end and self.starts[i] + len(self.words[i].text) > start
        ]

    def box(self, folded_start: int, folded_end: int) -> BBox:
        """Reading-frame box of a span of ``folded``; a span that covers part of a word
        gets the matching share of its width (``n°562044387`` -> the number only)."""
        start, end = self.text_span(folded_start, folded_end)
        indexes = self.word_indexes(folded_start, folded_end)
        if not indexes:
            return (self.x0, self.top, self.x1, self.bottom)
        x0s, x1s = [], []
        for i in indexes:
            word = self.words[i]
            w_start, w_end = self.word_span(i)
            per_char = (word.x1 - word.x0) / max(1, w_end - w_start)
            x0s.append(word.x0 + per_char * max(0, start - w_start))
            x1s.append(word.x1 - per_char * max(0, w_end - end))
        chosen = [self.words[i] for i in indexes]
        return (
            min(x0s),
            min(w.top for w in chosen),
            max(x1s),
            max(w.bottom for w in chosen),
        )

    def confidence(self, folded_start: int, folded_end: int) -> float:
        """Reader confidence of the words under a span: between their minimum and mean,
        so one doubtful digit weighs but does not erase the rest."""
        confs = [self.words[i].confidence for i in self.word_indexes(folded_start, folded_end)]
        if not confs:
            return 0.0
        return (min(confs) + sum(confs) / len(confs)) / 2

    def segment_of(self, folded_at: int) -> tuple[int, int]:
        """The folded span of the segment (tab-delimited run) holding ``folded_at``."""
        for start, end in self.segments:
            if start <= folded_at < end or folded_at == end:
                return start, end
        return 0, len(self.folded)

    def segment_x(self, folded_at: int) -> tuple[float, float]:
        start, end = self.segment_of(folded_at)
        x0, _, x1, _ = self.box(start, end)
        return x0, x1


def _vertical_overlap(a_top: float, a_bottom: float, b_top: float, b_bottom: float) -> float:
    return min(a_bottom, b_bottom) - max(a_top, b_top)


def group_lines(page: Page) -> list[Line]:
    """The lines of a page, top to bottom, each left to right."""
    if not page.words:
        return []
    words = sorted(page.words, key=lambda w: ((w.top + w.bottom) / 2, w.x0))
    groups: list[list[Word]] = []
    band_top = band_bottom = 0.0
    for word in words:
        if groups:
            overlap = _vertical_overlap(band_top, band_bottom, word.top, word.bottom)
            smaller = min(word.height, band_bottom - band_top) or 1.0
            if overlap >= 0.5 * smaller:
                groups[-1].append(word)
                # Only words of a similar size widen the band: a tall title word must
                # not pull the next line of small text into its line.
                if word.height <= 1.5 * (band_bottom - band_top):
                    band_top, band_bottom = min(band_top, word.top), max(band_bottom, word.bottom)
                continue
        groups.append([word])
        band_top, band_bottom = word.top, word.bottom
    return [_make_line(page, sorted(group, key=lambda w: w.x0)) for group in groups]


def _make_line(page: Page, words: list[Word]) -> Line:
    height = statistics.median(w.height for w in words) or 1.0
    parts: list[str] = []
    starts: list[int] = []
    length = 0
    for index, word in enumerate(words):
        if index:
            gap = word.x0 - words[index - 1].x1
            # A word space is a third of an em; a table column or a right-aligned total
            # is several ems away. Tabs keep those apart in number and label matching.
            separator = "\t" if gap > 1.1 * height else " "
            parts.append(separator)
            length += 1
        starts.append(length)
        parts.append(word.text)
        length += len(word.text)
    text = "".join(parts)
    folded, origin = fold(text)
    return Line(
        page=page,
        words=tuple(words),
        text=text,
        starts=tuple(starts),
        folded=folded,
        origin=origin,
        segments=_segments(folded),
    )


def _segments(folded: str) -> tuple[tuple[int, int], ...]:
    spans = []
    start = 0
    for index, char in enumerate(folded):
        if char == "\t":
            spans.append((start, index))
            start = index + 1
    spans.append((start, len(folded)))
    return tuple(spans)
