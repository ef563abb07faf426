"""Words and lines of a page, with their boxes: the text layer through pdfium.

Words are built from pdfium's characters (``pipeline.pdfium.page_chars``) the way
pdfplumber's ``extract_words`` builds them, at a fraction of its cost. This module also
holds the page-level types every visible-text reader produces (``Word``, ``Page``) and
the geometry the field finders and the classifier share (``Line``, ``group_lines``,
``fold``), so OCR pages and text-layer pages look the same downstream.

Coordinates are PDF points with the origin at the top-left of the page as shown (its crop
box, turned by its /Rotate), as pdfplumber gives them for uncropped pages.
A word's box is in the page's *reading frame*: the page as printed, upright. For text
layers and for upright scans that is the page itself. For a scan that OCR had to turn or
deskew, the words are kept in the straightened frame (so a line of text stays a line) and
``Page.to_original`` maps a point back to the original page, where a bbox is reported.
"""

from __future__ import annotations

import statistics
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from pipeline import pdfium
from pipeline.models import BBox, FieldSource

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
    #: pdfium's text of a text-layer page (``visible.has_text_layer`` judges it); empty
    #: for an OCR'd page.
    layer_text: str = ""
    #: Vertical rules the OCR step erased (x, top, bottom): words either side of one are
    #: in two cells, however close.
    column_rules: tuple[tuple[float, float, float], ...] = ()


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

#: Characters closer than this (points, end of one to start of the next) join one word;
#: the same gap pdfplumber's ``extract_words`` uses. Spaces split words whatever the gap.
X_TOLERANCE = 3.0
#: Characters whose tops are this close (points) share a text line.
Y_TOLERANCE = 3.0

#: pdfplumber's ligature expansions, so "ﬁ" in a label still matches "fi".
_LIGATURES = {
    "\ufb00": "ff",
    "\ufb03": "ffi",
    "\ufb04": "ffl",
    "\ufb01": "fi",
    "\ufb02": "fl",
    "\ufb06": "st",
    "\ufb05": "st",
}


def text_layer_pages(data: bytes, page_numbers: Sequence[int] | None = None) -> dict[int, Page]:
    """The words of the given 1-based pages (all when ``None``) from the PDF text layer."""
    wanted = None if page_numbers is None else sorted(set(page_numbers))
    if wanted == []:
        return {}
    chars = pdfium.page_chars(data, wanted)
    return {
        number: Page(
            number=number,
            width=page.width,
            height=page.height,
            words=tuple(_words(page.chars, number)),
            source=FieldSource.TEXT_LAYER,
            layer_text=page.text,
        )
        for number, page in chars.items()
    }


def _words(chars: Sequence[pdfium.TextChar], number: int) -> Iterable[Word]:
    """Characters grouped into words as pdfplumber's ``extract_words`` does.

    Characters are clustered into lines by their tops (not by content-stream order, so a
    page whose stream jumps between columns still gives whole words), sorted left to
    right, and split before every character that follows a blank and at every horizontal
    gap over ``X_TOLERANCE``.
    U+00A0 and U+202F are blanks too, so "7 850,00" arrives as two words: the amount
    parser joins them. Vertical text (legal mentions printed up a margin) is left out: it
    would be one tall box that swallows whole lines when grouped, and never carries a
    field the form needs. A glyph without a Unicode value reads ``(cid:N)``, as pdfminer
    writes it, so ``text_layer_usable`` can tell such a page needs OCR.
    """
    upright = [c for c in chars if c.upright]
    for line in _line_clusters(upright):
        line.sort(key=lambda c: c.x0)
        word: list[pdfium.TextChar] = []
        for char in line:
            if word:
                previous = word[-1]
                if (
                    char.space_before
                    or char.x0 < previous.x0
                    or char.x0 > previous.x1 + X_TOLERANCE
                    or abs(char.top - previous.top) > Y_TOLERANCE
                ):
                    yield from _word(word, number)
                    word = []
            word.append(char)
        yield from _word(word, number)


def _line_clusters(chars: list[pdfium.TextChar]) -> list[list[pdfium.TextChar]]:
    """Characters in bands of tops, each band chaining tops no more than
    ``Y_TOLERANCE`` apart (pdfplumber's ``cluster_objects``), top to bottom."""
    tops = sorted({c.top for c in chars})
    band_of: dict[float, int] = {}
    band = 0
    for index, top in enumerate(tops):
        if index and top > tops[index - 1] + Y_TOLERANCE:
            band += 1
        band_of[top] = band
    bands: list[list[pdfium.TextChar]] = [[] for _ in range(band + 1 if tops else 0)]
    for char in chars:
        bands[band_of[char.top]].append(char)
    return bands


def _word(chars: list[pdfium.TextChar], number: int) -> Iterable[Word]:
    if not chars:
        return
    text = "".join(
        f"(cid:{ord(c.text)})" if c.unmapped else _LIGATURES.get(c.text, c.text) for c in chars
    )
    # The characters are sorted by x0; tops and bottoms differ only across runs.
    x0, top, x1, bottom = chars[0].x0, chars[0].top, chars[0].x1, chars[0].bottom
    for char in chars:
        if char.top < top:
            top = char.top
        if char.x1 > x1:
            x1 = char.x1
        if char.bottom > bottom:
            bottom = char.bottom
    yield Word(text, x0, top, x1, bottom, number, 1.0, FieldSource.TEXT_LAYER)


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
    if text.isascii() and "`" not in text:
        # ASCII folds one character to one (only the backtick is special): the fast path
        # for most lines of a French invoice.
        return text.lower(), tuple(range(len(text)))
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = _FOLDED.get(char)
        if folded is None:
            folded = _FOLDED[char] = _fold_char(char)
        out.append(folded)
        if len(folded) == 1:
            origin.append(index)
        else:
            origin.extend([index] * len(folded))
    return "".join(out), tuple(origin)


#: Characters already folded (the cache of ``_fold_char``: text uses few distinct ones).
_FOLDED: dict[str, str] = dict(_FOLD_SPECIAL)


def _fold_char(char: str) -> str:
    decomposed = unicodedata.normalize("NFKD", char)
    folded = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return folded or char


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

    @cached_property
    def top(self) -> float:
        return min(w.top for w in self.words)

    @cached_property
    def bottom(self) -> float:
        return max(w.bottom for w in self.words)

    @property
    def x0(self) -> float:
        return self.words[0].x0

    @cached_property
    def x1(self) -> float:
        return max(w.x1 for w in self.words)

    @cached_property
    def height(self) -> float:
        return text_height(self.words)

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
        return list(self._indexes(*self.text_span(folded_start, folded_end)))

    @cached_property
    def _ends(self) -> tuple[int, ...]:
        return tuple(
            start + len(word.text) for start, word in zip(self.starts, self.words, strict=True)
        )

    def _indexes(self, start: int, end: int) -> range:
        # The words overlapping text[start:end]: starts and ends both increase, so they
        # are the run from the first word ending after start to the last starting before end.
        return range(bisect_right(self._ends, start), bisect_left(self.starts, end))

    def box(self, folded_start: int, folded_end: int) -> BBox:
        """Reading-frame box of a span of ``folded``; a span that covers part of a word
        gets the matching share of its width (``n°562044387`` -> the number only)."""
        start, end = self.text_span(folded_start, folded_end)
        indexes = self._indexes(start, end)
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


def text_height(words: Sequence[Word]) -> float:
    """The size of a line's text: the median height of its words with a letter or a
    figure. Marks alone say nothing of it (the dashes OCR reads off a rule are half a
    point high)."""
    sized = [w for w in words if any(c.isalnum() for c in w.text)] or words
    return statistics.median(w.height for w in sized)


def _vertical_overlap(a_top: float, a_bottom: float, b_top: float, b_bottom: float) -> float:
    return min(a_bottom, b_bottom) - max(a_top, b_top)


def group_lines(page: Page) -> list[Line]:
    """The lines of a page, top to bottom, each left to right.

    The classifier and the field finders both ask for the lines of the same pages: they
    are built once per ``Page`` (which is immutable) and kept on it."""
    cached: tuple[Line, ...] | None = page.__dict__.get("_lines")
    if cached is None:
        cached = tuple(_group_lines(page))
        object.__setattr__(page, "_lines", cached)
    return list(cached)


def _group_lines(page: Page) -> list[Line]:
    if not page.words:
        return []
    words = sorted(page.words, key=lambda w: ((w.top + w.bottom) / 2, w.x0))
    groups: list[list[Word]] = []
    band_top = band_bottom = 0.0
    for word in words:
        if groups:
            overlap = _vertical_overlap(band_top, band_bottom, word.top, word.bottom)
            smaller = min(word.height, band_bottom - band_top) or 1.0
            # Only words of a similar size widen the band: a tall title word must not pull
            # the next line of small text into its line. A word much taller than the band
            # joins it only around its middle: a large name whose top grazes a line of
            # small captions beside it starts its own line, with the rest of the name.
            similar = word.height <= 1.5 * (band_bottom - band_top)
            centred = band_top <= (word.top + word.bottom) / 2 <= band_bottom
            # (A speck or a rule OCR read as "_" is no word: it goes with the band.)
            speck = len(word.text) < 3 or word.confidence < 0.5
            if overlap >= 0.5 * smaller and (
                similar or centred or speck or any(_same_line(o, word) for o in groups[-1])
            ):
                groups[-1].append(word)
                if similar:
                    band_top, band_bottom = min(band_top, word.top), max(band_bottom, word.bottom)
                continue
        groups.append([word])
        band_top, band_bottom = word.top, word.bottom
    rows = [sorted(group, key=lambda w: w.x0) for group in groups]
    # OCR boxes hold ink only, so a monospace font's word space (a whole character cell
    # plus both side bearings) is wider than the usual column-break test allows.
    monospaced = page.source == "ocr" and _monospaced(rows)
    return [_make_line(page, row, monospaced=monospaced) for row in rows]


def _same_line(word: Word, other: Word) -> bool:
    """Two words of a similar size, side by side over half the taller one's height."""
    if other.height > 1.5 * word.height:
        return False
    overlap = _vertical_overlap(word.top, word.bottom, other.top, other.bottom)
    return overlap >= 0.5 * (max(word.height, other.height) or 1.0)


def _ruled_between(page: Page, left: Word, right: Word) -> bool:
    middle = (min(left.top, right.top) + max(left.bottom, right.bottom)) / 2
    return any(
        left.x1 - 1 <= x <= right.x0 + 1 and top <= middle <= bottom
        for x, top, bottom in page.column_rules
    )


def _make_line(page: Page, words: list[Word], *, monospaced: bool = False) -> Line:
    height = text_height(words) or 1.0
    # A word space is a third of an em; a table column or a right-aligned total is
    # several ems away. Tabs keep those apart in number and label matching. In a
    # monospace font a space is a whole cell, and columns are at least two cells apart.
    column_gap = 1.1 * height
    if monospaced:
        column_gap = max(column_gap, 1.6 * _pitch(words))
    parts: list[str] = []
    starts: list[int] = []
    length = 0
    for index, word in enumerate(words):
        if index:
            gap = word.x0 - words[index - 1].x1
            if page.source is FieldSource.OCR and words[index - 1].text.endswith("°"):
                # Tesseract's box of « N° » often stops short of the raised sign.
                gap -= 0.6 * height
            ruled = page.column_rules and _ruled_between(page, words[index - 1], word)
            separator = "\t" if gap > column_gap or ruled else " "
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


def _pitch(words: list[Word]) -> float:
    """The line's character advance, from the OCR boxes of its longer words."""
    longer = [w for w in words if len(w.text) >= 3] or words
    return sum(w.x1 - w.x0 for w in longer) / sum(len(w.text) for w in longer)


#: Helvetica's advance widths of the letters, in thousandths of an em; any other
#: character counts as a digit (556). A proportional font's word widths follow these
#: roughly, a monospace font's follow the number of characters.
_PROPORTIONAL_WIDTHS = dict(
    zip(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,;:'-()/",
        (
            556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833,
            556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500,
            667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833,
            722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611,
            278, 278, 278, 278, 191, 333, 333, 333, 278,
        ),
        strict=True,
    )
)  # fmt: skip


def _proportional_width(text: str) -> int:
    return sum(
        _PROPORTIONAL_WIDTHS.get(unicodedata.normalize("NFD", char)[0], 556) for char in text
    )


def _monospaced(rows: list[list[Word]]) -> bool:
    """Whether the words of a page look set in a monospace font: their widths follow
    their character counts more closely than a proportional font's letter widths. Each
    line is compared with itself, so that sizes do not count."""
    by_count: list[float] = []
    by_shape: list[float] = []
    for row in rows:
        sample = [
            w for w in row if len(w.text) >= 3 and any(c.isalpha() for c in w.text) and w.x1 > w.x0
        ]
        if len(sample) < 2:
            continue
        counts = [(w.x1 - w.x0) / len(w.text) for w in sample]
        shapes = [(w.x1 - w.x0) / _proportional_width(w.text) for w in sample]
        by_count += [v / statistics.median(counts) for v in counts]
        by_shape += [v / statistics.median(shapes) for v in shapes]
    return len(by_count) >= 6 and _spread(by_count) < 0.6 * _spread(by_shape)


def _spread(values: list[float]) -> float:
    """Median absolute deviation relative to the median: misread words do not count."""
    middle = statistics.median(values)
    return statistics.median(abs(v - middle) for v in values) / middle


def _segments(folded: str) -> tuple[tuple[int, int], ...]:
    spans = []
    start = 0
    for index, char in enumerate(folded):
        if char == "\t":
            spans.append((start, index))
            start = index + 1
    spans.append((start, len(folded)))
    return tuple(spans)
