"""The page as the field finders see it: lines, the labels found on them, and how a value
read at a place becomes an ``ExtractedField``. Shared by ``fields`` (labels and amounts)
and ``parties`` (who is who, and their names)."""

from __future__ import annotations

import re
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
