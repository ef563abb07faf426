"""The page as the field finders see it: lines, the labels found on them, and how a value
read at a place becomes an ``ExtractedField``. Shared by ``fields`` (labels and amounts)
and ``parties`` (who is who, and their names)."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from functools import cached_property

from pipeline.extract.pdf_text import Line, original_bbox
from pipeline.models import ExtractedField

#: Under this the field is left null.
MIN_CONFIDENCE = 0.3
#: Confidence is capped: text read from a page is never certain.
MAX_CONFIDENCE = 0.99


@dataclass(frozen=True)
class Label:
    """A wording that announces a field (or a distractor, ``field=None``)."""

    field: str | None
    pattern: re.Pattern[str]
    weight: float
    not_before: re.Pattern[str] | None = None
    not_after: re.Pattern[str] | None = None
    need_before: re.Pattern[str] | None = None
    #: A generic wording ("Numéro") that is specific right under the piece's title.
    under_title: bool = False


def make_label(
    field: str | None,
    pattern: str,
    weight: float = 0.0,
    *,
    not_before: str | None = None,
    not_after: str | None = None,
    need_before: str | None = None,
    under_title: bool = False,
) -> Label:
    return Label(
        field=field,
        pattern=re.compile(pattern),
        weight=weight,
        not_before=re.compile(not_before + r"\W*$") if not_before else None,
        not_after=re.compile(r"^\W*(?:" + not_after + ")") if not_after else None,
        need_before=re.compile(need_before + r"\s*$") if need_before else None,
        under_title=under_title,
    )


@dataclass(frozen=True)
class Hit:
    """A label found on a line (folded span)."""

    label: Label
    line: int  # index in Doc.lines
    start: int
    end: int

    @property
    def field(self) -> str | None:
        return self.label.field


@dataclass(frozen=True)
class Doc:
    """The lines of all pages and the labels found on them."""

    lines: tuple[Line, ...]
    hits: tuple[tuple[Hit, ...], ...]  # per line, sorted by start

    @cached_property
    def _cells(self) -> tuple[tuple[tuple[int, int, float, float], ...], ...]:
        return tuple(
            tuple((s, e, *_x_span(line, s, e)) for s, e in line.segments) for line in self.lines
        )

    def cells(self, index: int) -> tuple[tuple[int, int, float, float], ...]:
        """The cells (segments) of line ``index`` with their left and right x, computed
        once: the column logic asks for them many times."""
        return self._cells[index]

    @cached_property
    def caption_lines(self) -> frozenset[int]:
        """Lines of small print holding only short wordings: the captions of a form's
        boxes ("RAISON SOCIALE | SIRET", "N° DE BON DE COMMANDE")."""
        captions = set()
        for page in _page_ranges(self.lines):
            if len(page) < _MIN_PAGE_LINES:
                continue
            usual = statistics.median(self.lines[i].height for i in page)
            for index in page:
                line = self.lines[index]
                if line.height <= _CAPTION_SIZE * usual and all(
                    _caption_cell(line.folded[s:e]) for s, e in line.segments
                ):
                    captions.add(index)
        return frozenset(captions)

    @cached_property
    def captions_under(self) -> bool:
        """Whether the form prints its captions under the values they name, a
        convention a reader takes from the whole form: the values and captions of a
        row of boxes are evenly spaced, but a run of rows ends on a row of captions
        with nothing under them (and, printed the usual way, starts on one with
        nothing over it). Each row of captions votes for the side where more of its
        cells have text in line with them, up to the next caption line. (A lone line of
        small print is as often a footer or an address line: it does not vote.)"""
        under = over = 0
        for index in self.caption_lines:
            if len(self.lines[index].segments) < 2:
                continue
            page = self.page_lines(index)
            above = range(index - 1, max(page.start, index - _BOX_LINES) - 1, -1)
            below = range(index + 1, min(page.stop, index + _BOX_LINES + 1))
            cells_above = self._aligned_cells(index, above)
            cells_below = self._aligned_cells(index, below)
            under += cells_above > cells_below
            over += cells_below > cells_above
        return under >= 2 and under >= 2 * over

    def _aligned_cells(self, caption: int, others: range) -> int:
        """How many cells of line ``caption`` have a cell starting where they start on
        the lines ``others``, up to the next caption line."""
        starts: list[float] = []
        for other in others:
            if other in self.caption_lines:
                break
            starts.extend(x0 for _, _, x0, _ in self.cells(other))
        return sum(
            any(abs(x0 - start) <= _ALIGNED for start in starts)
            for _, _, x0, _ in self.cells(caption)
        )

    @cached_property
    def boxes_over_captions(self) -> dict[int, tuple[int, ...]]:
        """On a form with its captions under the boxes, the lines of the box over each
        caption line, top down: they are close together, while a heading or the row of
        captions above is further off."""
        if not self.captions_under:
            return {}
        boxes = {}
        for caption in sorted(self.caption_lines):
            box: list[int] = []
            line = self.lines[caption]
            top, first = line.top, True
            for index in range(caption - 1, self.page_lines(caption).start - 1, -1):
                above = self.lines[index]
                # The caption stands off its box; the lines in a box are close together.
                reach = 3 * max(line.height, above.height) if first else 0.8 * above.height
                if index in self.caption_lines or top - above.bottom > reach:
                    break
                box.append(index)
                top, first = above.top, False
            boxes[caption] = tuple(reversed(box))
        return boxes

    @cached_property
    def caption_under_line(self) -> dict[int, int]:
        """The caption line under each line of a box (``boxes_over_captions``)."""
        return {
            index: caption for caption, box in self.boxes_over_captions.items() for index in box
        }

    def page_lines(self, index: int) -> range:
        """Indexes of the lines of the page of line ``index``."""
        page = self.lines[index].page.number
        first = index
        while first > 0 and self.lines[first - 1].page.number == page:
            first -= 1
        last = index
        while last + 1 < len(self.lines) and self.lines[last + 1].page.number == page:
            last += 1
        return range(first, last + 1)


#: A caption is set smaller than the values it names: at most this share of the page's
#: usual line height.
_CAPTION_SIZE = 0.85
#: Under this many lines a page has no usual line height to speak of.
_MIN_PAGE_LINES = 8
#: The most lines a box of a form holds.
_BOX_LINES = 6
#: Cells starting within this many points of each other are in line.
_ALIGNED = 3.0


def _caption_cell(text: str) -> bool:
    """A few words and no figure, not opening a value beside it ("Objet :")."""
    words = text.split()
    return 0 < len(words) <= 6 and not any(c.isdigit() for c in text) and words[-1][-1] != ":"


def _page_ranges(lines: tuple[Line, ...]) -> list[range]:
    ranges, start = [], 0
    for index in range(1, len(lines) + 1):
        if index == len(lines) or lines[index].page.number != lines[start].page.number:
            ranges.append(range(start, index))
            start = index
    return ranges


def extracted(
    doc: Doc, value: str, confidence: float, line: int, start: int, end: int
) -> ExtractedField:
    page_line = doc.lines[line]
    return ExtractedField(
        value=value,
        confidence=round(min(MAX_CONFIDENCE, max(0.0, confidence)), 3),
        source=page_line.page.source,
        page=page_line.page.number,
        bbox=original_bbox(page_line.page, page_line.box(start, end)),
    )


def _x_span(line: Line, start: int, end: int) -> tuple[float, float]:
    x0, _, x1, _ = line.box(start, end)
    return x0, x1
