"""OCR of scanned pages: render with pdfium, clean, straighten, read with Tesseract (fra).

This is the only module that imports pytesseract. One page goes through:

1. render at ``dpi`` (greyscale) through ``pipeline.pdfium``;
2. clean: autocontrast, then speckle removal (a 3x3 median on greyscale scans, isolated
   specks only on bilevel ones, where a median would erase small print); a greyscale
   scan made under 180 dpi (the resolution of its page image) is sharpened too;
3. deskew: the angle within ±3° that makes the row projections sharpest (text lines
   then fall on pixel rows, which is what ``--psm 6`` expects);
4. Tesseract ``image_to_data`` with ``--psm 6`` (reads a dense invoice in order);
5. when that reading looks wrong (low mean confidence), Tesseract's orientation detection
   (``image_to_osd``) decides whether the page is turned by 90, 180 or 270 degrees; the
   turned page is read again and the better reading kept. OSD costs about as much as
   reading a simple page, so upright pages (nearly all) do not pay for it;
6. before reading, dark bands, sidebars and totals boxes printed in reverse video are
   inverted (``invert_dark_bands``: white letters on navy read poorly); table rules are
   erased: a cell border next to a word makes Tesseract read the word as garbage or
   drop the row. A rule is a thin run of ink much longer than any letter stroke (see
   ``erase_rules``), so bold text keeps its letters; dotted leaders ("Total HT ......")
   are erased too (``erase_leaders``), since Tesseract reads them as letters that run
   into the label;
7. ``--psm 6`` drops text much larger than the body (titles such as FACTURE, letterheads)
   and sometimes whole shaded table rows: the bands of ink no word covers are cropped
   (neighbouring bands as one block) and read again; it also garbles a line of small
   print it merged with a larger line of another column: before that, each doubtful
   stretch of a line is cut out and read again on its own, and replaced when the
   second reading is clearly surer; a row it split between two lines whose words
   interleave is read again as one line;
8. a page with many doubtful words (more than 8 % of its characters under 0.6) is read
   again in sparse text mode (``--psm 11``), whose confident words fill the gaps and
   replace doubtful ones: a line that mixes a large title with small text defeats
   ``--psm 6``; words drawn inside a surer word's box (an accent read as a line of
   its own) and specks under half the usual height go.

Word boxes are converted to PDF points. They stay in the straightened reading frame and
``Page.to_original`` maps them back to the original page (see ``pdf_text``).
"""

from __future__ import annotations

import itertools
import math
import os
import re
import statistics
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import pairwise

# Debian's Tesseract runs OpenMP threads that fight each other on small machines: a dense
# page took 12 s at 300 dpi without this and 2 s with it (stack.md). Pages are
# parallelised by threads here instead. Set before pytesseract starts any process.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import pytesseract
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

from pipeline import pdfium
from pipeline.errors import InternalError
from pipeline.extract.pdf_text import Affine, Page, Word, fold_text
from pipeline.models import FieldSource

#: Deskew search range and steps (degrees): coarse over the range, then fine around it.
_MAX_SKEW = 3.0
_COARSE_STEP = 1.0
_FINE_STEP = 0.1
#: Below this a rotation would blur more than it straightens.
_MIN_SKEW = 0.2
#: Width the page is shrunk to for the skew search (speed; angles stay precise enough).
_SKEW_WIDTH = 600
#: A reading whose mean word confidence is under this may be a turned page.
_DOUBTFUL_READING = 0.65
#: Tesseract's orientation confidence needed before turning a page.
_MIN_OSD_CONFIDENCE = 2.0
#: A word read with less confidence than this is doubtful.
_DOUBTFUL_WORD = 0.6
#: A scan made under this resolution is soft once rendered at the OCR's: it is sharpened.
_SOFT_SCAN_DPI = 180
#: A page with more doubtful characters than this share is read again in sparse mode
#: (about one scanned page in four; the others would pay a second reading for nothing).
_SPARSE_RETRY_SHARE = 0.08
#: At most this many uncovered bands are read again per page.
_MAX_RECOVERY_BANDS = 4


def ocr_pages(
    data: bytes,
    page_numbers: Sequence[int],
    *,
    dpi: int = 300,
    workers: int = 2,
    lang: str = "fra",
) -> dict[int, Page]:
    """OCR the given 1-based pages of a PDF; words carry Tesseract's confidence (0..1)."""
    wanted = sorted(set(page_numbers))
    if not wanted:
        return {}
    check_tesseract(lang)
    sizes = pdfium.page_sizes(data)
    scanned_at = pdfium.scan_resolutions(data, wanted)

    def one(number: int) -> Page:
        # Rendered inside the worker so at most `workers` page images live at once.
        image = pdfium.render_pages(data, [number], dpi=dpi)[number]
        width, _ = sizes[number - 1]
        resolution = scanned_at[number]
        soft = resolution is not None and resolution < _SOFT_SCAN_DPI
        return _read_page(image, number, width, dpi=dpi, lang=lang, soft=soft)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return dict(zip(wanted, pool.map(one, wanted), strict=True))


@lru_cache(maxsize=8)
def check_tesseract(lang: str) -> None:
    """Raise ``InternalError`` when the tesseract binary or the language is missing."""
    try:
        pytesseract.get_tesseract_version()
        languages = set(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractNotFoundError, OSError) as exc:
        raise InternalError(
            "the tesseract OCR program is not installed or not on PATH; run `make setup`",
            code="OCR_ENGINE_MISSING",
        ) from exc
    missing = [code for code in lang.split("+") if code not in languages]
    if missing:
        raise InternalError(
            f"the Tesseract language data {', '.join(missing)} is not installed; run `make setup`",
            code="OCR_LANGUAGE_MISSING",
        )


# --------------------------------------------------------------------------- one page


@dataclass(frozen=True)
class _Reading:
    """Tesseract's words on the page straightened one way, in its pixels."""

    image: Image.Image
    matrix: Affine  # straightened pixel -> original pixel
    words: tuple[_RawWord, ...]
    column_rules: tuple[tuple[int, int, int], ...] = ()  # x, first and last row

    @property
    def mean_confidence(self) -> float:
        return _mean_confidence(self.words)

    @property
    def doubtful_share(self) -> float:
        """Share of the characters read with a confidence under ``_DOUBTFUL_WORD``."""
        chars = sum(len(w.text) for w in self.words)
        doubtful = sum(len(w.text) for w in self.words if w.confidence < _DOUBTFUL_WORD)
        return doubtful / chars if chars else 0.0

    @property
    def score(self) -> float:
        """Characters read with some confidence: the better of two readings has more."""
        return sum(len(w.text) for w in self.words if w.confidence >= _DOUBTFUL_WORD)


def _read_page(
    image: Image.Image, number: int, width_pt: float, *, dpi: int, lang: str, soft: bool = False
) -> Page:
    clean = clean_image(image, sharpen=soft)
    reading = _read_turned(clean, 0, dpi=dpi, lang=lang)
    if reading.mean_confidence < _DOUBTFUL_READING:
        turn = detect_orientation(clean, dpi=dpi)
        if turn:
            turned = _read_turned(clean, turn, dpi=dpi, lang=lang)
            if turned.score > reading.score:
                reading = turned
    # Only the reading kept is completed: each completion costs a Tesseract call.
    words = _second_readings(reading.image, reading.words, dpi=dpi, lang=lang)
    if reading.doubtful_share > _SPARSE_RETRY_SHARE:
        # Many doubtful words: a line mixing a large title and small text, a block psm 6
        # could not follow. Sparse text mode reads each word on its own and fills in.
        try:
            sparse = _tesseract_words(reading.image, dpi=dpi, lang=lang, psm=11)
        except InternalError:
            sparse = []  # a second chance only: the page's main reading stands
        words = _merge_readings(words, sparse)
    words = _without_specks(words)
    scale = width_pt / clean.width  # points per pixel, the same on both axes
    a, b, c, d, e, f = reading.matrix
    return Page(
        number=number,
        width=reading.image.width * scale,
        height=reading.image.height * scale,
        words=tuple(_to_word(raw, number, scale) for raw in words),
        source=FieldSource.OCR,
        column_rules=tuple(
            (x * scale, y0 * scale, y1 * scale) for x, y0, y1 in reading.column_rules
        ),
        # reading-frame points -> straight pixels (/scale) -> original pixels (matrix)
        # -> original points (*scale): the linear part is unchanged, the shift scales.
        to_original=(a, b, c * scale, d, e, f * scale),
    )


def _without_specks(words: list[_RawWord]) -> list[_RawWord]:
    """Without the doubtful words under half the usual height: specks of a shaded cell
    or of a rule read as letters ("N° ee pièce"), which would split a line in two; and
    without the vertical rules of a box read as a lone "|" or "[", which would stand
    inside a name or before a block heading ("| DESTINATAIRE"). A lone bar is a rule:
    printed text uses it as a separator at most, and the gap stays."""
    words = [w for w in words if not _RULE_GLYPHS_RE.fullmatch(w.text)]
    words = [w for w in words if not _inside_a_surer_word(w, words)]
    if len(words) < 5:
        return words
    usual = statistics.median(w.bottom - w.top for w in words)
    return [w for w in words if w.confidence >= _DOUBTFUL_WORD or (w.bottom - w.top) >= 0.5 * usual]


_RULE_GLYPHS_RE = re.compile(r"[|\[\]]+")


def _inside_a_surer_word(word: _RawWord, words: Sequence[_RawWord]) -> bool:
    """A word drawn inside a surer word's box, doubtful or under half its height: an
    accent or an apostrophe that Tesseract read as a line of its own (« É- » over
    « ETAT », « 1 » in « D'ACOMPTE », « à » over « Frères »). Two words of one line
    never share their ink."""
    width = word.right - word.left
    height = word.bottom - word.top
    return any(
        other.confidence >= _DOUBTFUL_WORD
        and (word.confidence < _DOUBTFUL_WORD or height < 0.5 * (other.bottom - other.top))
        and min(word.right, other.right) - max(word.left, other.left) >= 0.8 * width
        and min(word.bottom, other.bottom) - max(word.top, other.top) >= 0.3 * height
        for other in words
        if other is not word
    )


def _merge_readings(first: list[_RawWord], second: list[_RawWord]) -> list[_RawWord]:
    """``first`` completed with the confident words of ``second``: a word where ``first``
    has nothing, or in place of ``first``'s doubtful words it clearly beats."""
    merged = list(first)
    for word in second:
        if word.confidence < _DOUBTFUL_WORD:
            continue
        covered = [kept for kept in merged if _overlap(kept, word)]
        if not covered:
            # A gap, not a fragment of a word already read beside it ("N° ee pièce").
            if not any(_overlap(kept, word, share=0.0) for kept in merged):
                merged.append(word)
        elif all(
            kept.confidence < _DOUBTFUL_WORD and word.confidence > kept.confidence + 0.15
            for kept in covered
        ):
            merged = [kept for kept in merged if kept not in covered]
            merged.append(word)
    return merged


def _overlap(a: _RawWord, b: _RawWord, *, share: float = 0.3) -> bool:
    """The boxes share more than ``share`` of the smaller one."""
    width = min(a.right, b.right) - max(a.left, b.left)
    height = min(a.bottom, b.bottom) - max(a.top, b.top)
    if width <= 0 or height <= 0:
        return False
    smaller = min((w.right - w.left) * (w.bottom - w.top) for w in (a, b))
    return width * height > share * smaller


def clean_image(image: Image.Image, *, sharpen: bool = False) -> Image.Image:
    """Greyscale, full contrast, speckle removed; edges sharpened when ``sharpen``.

    A 3x3 median clears the grain of a greyscale scan. On a bilevel scan (the usual
    mailroom TIFF G4) small print is one or two pixels thick and a median erases it
    ("RCS" read "RES", a SIRET's 4 read as a 1): there only isolated specks go. A
    greyscale scan made at a low resolution (150 dpi) and rendered at the OCR's is soft
    twice over, from the scanner and from the upsampling: an unsharp mask gives its
    strokes their edges back (on 150 dpi JPEG scans, 95.3 → 97.6 % of fields read
    right; at 200 dpi it helped nothing, measured)."""
    grey = image.convert("L")
    stretched = ImageOps.autocontrast(grey, cutoff=0.5)
    histogram = stretched.histogram()
    if histogram[0] + histogram[255] > _BILEVEL_SHARE * stretched.width * stretched.height:
        return _without_isolated_specks(stretched)
    clean = stretched.filter(ImageFilter.MedianFilter(3))
    if sharpen:
        clean = clean.filter(ImageFilter.UnsharpMask(radius=2, percent=120, threshold=3))
    return clean


#: A page with more pure black and white pixels than this share was scanned bilevel.
_BILEVEL_SHARE = 0.9


def _without_isolated_specks(image: Image.Image) -> Image.Image:
    """Ink pixels with at most one inked neighbour turned white: a speck goes, a stroke
    one pixel thick (three inked pixels in a row) stays."""
    ink = image.point(lambda v: 255 if v < 128 else 0)
    density = ink.filter(ImageFilter.BoxBlur(1))  # 3x3 mean: 255 x share of ink
    isolated = ImageChops.multiply(ink, density.point(lambda v: 255 if v <= 60 else 0))
    return ImageChops.lighter(image, isolated)


def _read_turned(clean: Image.Image, turn: int, *, dpi: int, lang: str) -> _Reading:
    """Read the page turned by ``turn`` degrees clockwise, then deskewed."""
    upright = clean.rotate(-turn, expand=True) if turn else clean
    skew = estimate_skew(upright)
    # One resampling from the original image: turn and skew composed.
    angle = -turn + skew
    straight, matrix = rotate_with_matrix(clean, angle) if angle else (clean, _IDENTITY_PX)
    # Rules are found once the page is straight: they then lie on pixel rows and columns.
    # A dark band's white title becomes black on paper first; its edges are then rules.
    straight = invert_dark_bands(straight, dpi=dpi)
    straight, column_rules = erase_rules_found(straight, dpi=dpi)
    straight = erase_leaders(straight, dpi=dpi)
    words = tuple(_tesseract_words(straight, dpi=dpi, lang=lang))
    return _Reading(straight, matrix, words, column_rules)


_IDENTITY_PX: Affine = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def detect_orientation(image: Image.Image, *, dpi: int) -> int:
    """Clockwise degrees (0, 90, 180, 270) that make the page upright, 0 when unsure."""
    try:
        osd = pytesseract.image_to_osd(
            _as_bmp(image), config=f"--psm 0 --dpi {dpi}", output_type=pytesseract.Output.DICT
        )
    except pytesseract.TesseractError:
        # "Too few characters": a blank or nearly blank page has no orientation.
        return 0
    if float(osd.get("orientation_conf", 0.0)) < _MIN_OSD_CONFIDENCE:
        return 0
    rotate = int(osd.get("rotate", 0)) % 360
    return rotate if rotate in (90, 180, 270) else 0


# --------------------------------------------------------------------------- geometry


def rotate_with_matrix(image: Image.Image, angle: float) -> tuple[Image.Image, Affine]:
    """``image`` turned ``angle`` degrees counter-clockwise (canvas expanded, white fill),
    and the affine map from a pixel of the result to the pixel of ``image`` it shows."""
    width, height = image.size
    radians = math.radians(angle)
    cos, sin = math.cos(radians), math.sin(radians)
    # Snap exact quarter turns so they stay pixel-exact.
    cos, sin = round(cos, 12), round(sin, 12)
    new_width = math.ceil(abs(width * cos) + abs(height * sin) - 1e-6)
    new_height = math.ceil(abs(width * sin) + abs(height * cos) - 1e-6)
    # Output pixel (u, v) shows input pixel R(angle)·((u, v) - out_centre) + in_centre,
    # with y pointing down (so counter-clockwise on screen).
    cx, cy = width / 2, height / 2
    ox, oy = new_width / 2, new_height / 2
    a, b = cos, -sin
    d, e = sin, cos
    c = cx - a * ox - b * oy
    f = cy - d * ox - e * oy
    matrix: Affine = (a, b, c, d, e, f)
    resample = Image.Resampling.NEAREST if angle % 90 == 0 else Image.Resampling.BICUBIC
    turned = image.transform(
        (new_width, new_height), Image.Transform.AFFINE, matrix, resample=resample, fillcolor=255
    )
    return turned, matrix


def estimate_skew(image: Image.Image) -> float:
    """Counter-clockwise degrees (within ±3) that level the text lines, 0 if negligible.

    Level lines make the row sums of ink jump between full (text) and empty (the gaps):
    the energy of the row-to-row differences of the projection peaks at the right angle.
    Differences, not the plain variance: a solid block (a coloured sidebar, a logo)
    turned a little only shifts the projection smoothly, and must not pull the angle.
    """
    ratio = min(1.0, _SKEW_WIDTH / image.width)
    small = image.resize(
        (max(1, round(image.width * ratio)), max(1, round(image.height * ratio))),
        Image.Resampling.BOX,
    )
    ink = ImageOps.invert(small)
    cache: dict[float, float] = {}

    def sharpness(angle: float) -> float:
        angle = round(angle, 2)
        if angle not in cache:
            turned = ink.rotate(angle, resample=Image.Resampling.NEAREST, fillcolor=0)
            rows = turned.resize((1, turned.height), Image.Resampling.BOX).tobytes()
            cache[angle] = float(sum((b - a) ** 2 for a, b in pairwise(rows)))
        return cache[angle]

    steps = round(_MAX_SKEW / _COARSE_STEP)
    coarse = max((i * _COARSE_STEP for i in range(-steps, steps + 1)), key=sharpness)
    fine_steps = round(_COARSE_STEP / _FINE_STEP)
    fine = (coarse + i * _FINE_STEP for i in range(-fine_steps, fine_steps + 1))
    best = max((a for a in fine if abs(a) <= _MAX_SKEW + 1e-9), key=sharpness)
    # A flat optimum (blank page, a photo) is noise, not skew; an optimum on the edge of
    # the range is something else than tilted text.
    if (
        abs(best) < _MIN_SKEW
        or abs(best) > _MAX_SKEW - _FINE_STEP / 2
        or sharpness(best) <= sharpness(0.0) * 1.02
    ):
        return 0.0
    return round(best, 2)


# --------------------------------------------------------------------------- rules

#: A pixel darker than this is ink.
_INK_LEVEL = 160
#: A window whose mean is under this (about 80 % ink) is part of a rule.
_RULE_WINDOW_MEAN = 50
#: Window means (255 is paper) of a paper window, and of a window with a few dots in it.
_PAPER_WINDOW_MEAN = 250
#: A pixel column of a leader's band holding some ink: "1", else "0".
_INK_COLUMN_MARKS = bytes(ord("1") if v < _PAPER_WINDOW_MEAN else ord("0") for v in range(256))
_DOTS_WINDOW_MEAN = 40


def erase_rules(image: Image.Image, *, dpi: int) -> Image.Image:
    """The page with its table rules painted white (``erase_rules_found``)."""
    return erase_rules_found(image, dpi=dpi)[0]


def erase_rules_found(
    image: Image.Image, *, dpi: int
) -> tuple[Image.Image, tuple[tuple[int, int, int], ...]]:
    """The page with its table rules painted white, and its vertical rules (x, first
    and last row): they still part the columns once erased.

    A rule is a run of windows of about 3 mm that are nearly all ink, long enough
    (horizontal: 2.5 cm; vertical: 1 cm) and thin: the rows or columns about 1 mm
    either side are mostly paper over the same stretch. Letters never make such runs:
    a horizontal stroke of bold text is far shorter than 2.5 cm, a vertical stroke of a
    title far shorter than 1 cm; a dark banner is not thin, so its white text stays.
    """
    window = max(8, dpi // 8)
    thickness = max(3, dpi // 25)
    pad = max(1, dpi // 150)
    ink = image.point(lambda v: 0 if v < _INK_LEVEL else 255)
    erased = image.copy()
    draw = ImageDraw.Draw(erased)
    for y, x0, x1 in _thin_runs(ink, window=window, min_windows=8, thickness=thickness):
        draw.rectangle((x0, y - pad, x1, y + pad), fill=255)
    across = ink.transpose(Image.Transpose.TRANSPOSE)
    vertical = _thin_runs(across, window=window, min_windows=3, thickness=thickness)
    for x, y0, y1 in vertical:
        draw.rectangle((x - pad, y0, x + pad, y1), fill=255)
    return erased, _merged_columns(vertical)


def _merged_columns(runs: list[tuple[int, int, int]]) -> tuple[tuple[int, int, int], ...]:
    """One rule for the adjacent pixel columns of a thick one: its middle, its extent."""
    merged: list[list[int]] = []  # first x, last x, top, bottom
    for x, top, bottom in sorted(runs):
        near = next((m for m in merged if m[1] >= x - 1 and m[2] <= bottom and m[3] >= top), None)
        if near is None:
            merged.append([x, x, top, bottom])
        else:
            near[1], near[2], near[3] = x, min(near[2], top), max(near[3], bottom)
    return tuple(((first + last) // 2, top, bottom) for first, last, top, bottom in merged)


def invert_dark_bands(image: Image.Image, *, dpi: int) -> Image.Image:
    """The page with its dark areas inverted: a title printed white on a dark band
    ("DÉCOMPTE GÉNÉRAL" on navy), a sidebar or a totals box in reverse video read black
    on paper, which Tesseract reads far better.

    An area is at least 3 cm wide and 3 mm high, its windows of about 3 mm mostly dark
    row after row (rows through white letters may not be: up to 6 mm of them go with
    the area), and dark as a whole. Bold text never darkens whole windows over 3 cm.
    """
    window = max(8, dpi // 8)
    min_windows = 10
    min_rows = max(6, dpi * 3 // 25)
    max_gap = max(6, dpi * 6 // 25)
    width, height = image.size
    columns = max(1, width // window)
    marks = image.resize((columns, height), Image.Resampling.BOX).tobytes().translate(_BAND_MARKS)
    areas: list[list[int]] = []  # top, last row, first window, end window, solid rows
    open_areas: list[list[int]] = []
    for y in range(height):
        row = y * columns
        for match in _BAND_SPAN_RE.finditer(marks, row, row + columns):
            x0, x1 = match.start() - row, match.end() - row
            dark = match.group().count(b"1")
            if x1 - x0 < min_windows or dark < 0.6 * (x1 - x0):
                continue
            area = next(
                (a for a in open_areas if y - a[1] <= max_gap and a[2] < x1 and a[3] > x0), None
            )
            solid = int(dark >= 0.9 * (x1 - x0))
            if area is None:
                areas.append([y, y, x0, x1, solid])
                open_areas.append(areas[-1])
            else:
                area[1], area[2], area[3] = y, min(area[2], x0), max(area[3], x1)
                area[4] += solid
        # A row mostly paper across an area ends it: rows through white letters stay
        # dark between the letters, while under a band, paper (and the dark rule of a
        # box or the thick strokes of a bold line below) is another area.
        open_areas = [
            a
            for a in open_areas
            if a[1] == y or marks.count(b"0", row + a[2], row + a[3]) <= (a[3] - a[2]) // 2
        ]
    inverted = image.copy()
    for top, last, x0, x1, solid in areas:
        # A band has rows dark from end to end above and below its letters; a large bold
        # title blurred by a poor scan darkens whole windows too, never a whole row.
        if last + 1 - top < min_rows or solid < 2:
            continue
        # Out to the area's real edges, which fall inside windows: a dark sliver left
        # beside the inverted part would read as a letter "I".
        left, right = x0 * window, min(width, x1 * window)
        while left > max(0, (x0 - 1) * window) and _dark_column(image, left - 1, top, last):
            left -= 1
        while right < min(width, (x1 + 1) * window) and _dark_column(image, right, top, last):
            right += 1
        region = image.crop((left, top, right, last + 1))
        for start, end in _dark_stretches(region, min_windows * window):
            box = (left + start, top, left + end, last + 1)
            crop = inverted.crop(box)
            if crop.resize((1, 1), Image.Resampling.BOX).tobytes()[0] < 128:  # dark overall
                inverted.paste(ImageOps.invert(crop), box)
    return inverted


_PAPER_PIXEL = [255 if v >= 128 else 0 for v in range(256)]
#: A quarter of a column's pixels paper: a band's column holds less, white letters aside.
_PARTLY_PAPER = 64


def _dark_stretches(area: Image.Image, min_width: int) -> list[tuple[int, int]]:
    """The stretches of an area to invert, left to right: all of it but the paper at
    least ``min_width`` wide, a white card laid over a dark band (the piece's references
    on a header band), which stays as it is. A column is paper when most of its pixels
    are: the card's bold text darkens a column's mean, not its share of paper. (Large
    white letters leave narrower runs of light columns.)"""
    paper = area.point(_PAPER_PIXEL)
    means = paper.resize((area.size[0], 1), Image.Resampling.BOX).tobytes()
    stretches, start = [], 0
    for match in re.finditer(rb"[\x80-\xff]+", means):
        if match.end() - match.start() < min_width:
            continue
        # Out to the card's border: the columns of its big title are partly paper too.
        card_start, card_end = match.span()
        while card_start > start and means[card_start - 1] >= _PARTLY_PAPER:
            card_start -= 1
        while card_end < len(means) and means[card_end] >= _PARTLY_PAPER:
            card_end += 1
        stretches.append((start, card_start))
        start = card_end
    stretches.append((start, len(means)))
    return [(s, e) for s, e in stretches if e > s]


def _dark_column(image: Image.Image, x: int, top: int, last: int) -> bool:
    column = image.crop((x, top, x + 1, last + 1)).resize((1, 1), Image.Resampling.BOX)
    return column.tobytes()[0] < 128


#: Window means as marks: "1" dark, "2" grey (a white letter in the window), "0" paper.
_BAND_MARKS = bytes(ord("1") if v < 100 else ord("2") if v < 200 else ord("0") for v in range(256))
_BAND_SPAN_RE = re.compile(rb"1[12]*1")


def erase_leaders(image: Image.Image, *, dpi: int) -> Image.Image:
    """The page with its dotted leaders painted white ("Total HT ........ 1 234,00"):
    Tesseract reads them as letters that run into the label ("Prix MOALET EE").

    A leader is a row of dots on a text baseline with paper above and below it, at
    least 7 mm long. In windows of about 1 mm a dot row is partly ink; the rows 0.5 to
    2 mm above it and 0.5 to 1.5 mm below are paper. Text never has paper right above
    its baseline, nor right below the tops of its letters; a lone full stop or an
    ellipsis is too short.
    """
    window = max(4, dpi // 30)
    gap = max(2, dpi // 50)
    above = max(4, dpi // 12) - gap
    below = max(3, dpi // 25)
    dot = max(2, dpi // 60)
    min_windows = max(6, dpi * 7 // (25 * window))
    ink = image.point(lambda v: 0 if v < _INK_LEVEL else 255)
    width, height = ink.size
    columns = max(1, width // window)
    means = ink.resize((columns, height), Image.Resampling.BOX)
    paper = means.point(lambda v: 255 if v >= _PAPER_WINDOW_MEAN else 0)
    dotted = means.point(lambda v: 255 if _DOTS_WINDOW_MEAN <= v < _PAPER_WINDOW_MEAN else 0)
    # Shifted running minima: 255 where every row of the band above (below) is paper.
    clear_above = ImageChops.offset(_rows_min(paper, above), 0, gap)
    clear_below = ImageChops.offset(_rows_min(paper, below), 0, -(gap + below - 1))
    flags = ImageChops.darker(ImageChops.darker(dotted, clear_above), clear_below).tobytes()
    run = re.compile(rb"\xff{%d,}" % min_windows)
    erased = image.copy()
    draw = ImageDraw.Draw(erased)
    # The shifts wrap around the page: rows too near an edge are left alone.
    for y in range(gap + above, height - gap - below):
        row = y * columns
        for match in run.finditer(flags, row, row + columns):
            x0, x1 = (match.start() - row) * window, (match.end() - row) * window
            band = (x0, y - 2, x1, y + dot + 3)
            # Only the dots: a mark wider than a dot, or one that goes on above the
            # band, is part of a glyph (the foot or the stem of a "1" right after the
            # leader) and stays.
            columns_ink = image.crop(band).resize((x1 - x0, 1), Image.Resampling.BOX)
            marks = columns_ink.tobytes().translate(_INK_COLUMN_MARKS)
            for mark in re.finditer(rb"1+", marks):
                left, right = x0 + mark.start(), x0 + mark.end()
                if right - left > 2 * dot + 2:
                    continue
                over = image.crop((left, y - 2 - gap, right, y - 2))
                if over.resize((1, 1), Image.Resampling.BOX).tobytes()[0] >= _PAPER_WINDOW_MEAN:
                    draw.rectangle((left, y - 2, right - 1, y + dot + 2), fill=255)
    return erased


def _rows_min(image: Image.Image, length: int) -> Image.Image:
    """Each pixel the darkest of itself and the ``length - 1`` pixels above it."""
    out, have = image, 1
    while have < length:
        step = min(have, length - have)
        out = ImageChops.darker(out, ImageChops.offset(out, 0, step))
        have += step
    return out


def _thin_runs(
    ink: Image.Image, *, window: int, min_windows: int, thickness: int
) -> list[tuple[int, int, int]]:
    """(row, first, last pixel) of each thin horizontal run of ink at least
    ``min_windows`` windows long, in a binary image (0 is ink)."""
    width, height = ink.size
    columns = max(1, width // window)
    # One byte per window: its mean, 0 when all ink. Marked b"1" when nearly all ink,
    # so that runs are a regex away.
    means = ink.resize((columns, height), Image.Resampling.BOX).tobytes()
    marks = means.translate(_WINDOW_MARKS)
    pixels = ink.tobytes()
    run = re.compile(rb"1{%d,}" % min_windows)
    found = []
    for y in range(height):
        row = y * columns
        for match in run.finditer(marks, row, row + columns):
            start, end = match.start() - row, match.end() - row
            if not all(
                0 <= near < height
                and sum(means[near * columns + start : near * columns + end])
                > 255 * (end - start) // 2
                for near in (y - thickness, y + thickness)
            ):
                continue  # ink on a side too: a filled block or a banner, not a rule
            # The run's ends fall inside windows: follow the ink to the pixel.
            line = pixels[y * width : (y + 1) * width]
            first, last = start * window, end * window - 1
            while first > 0 and start * window - first < window and line[first - 1] == 0:
                first -= 1
            while last < width - 1 and last - end * window < window and line[last + 1] == 0:
                last += 1
            found.append((y, first, last))
    return found


_WINDOW_MARKS = bytes(ord("1") if v < _RULE_WINDOW_MEAN else ord("0") for v in range(256))


# --------------------------------------------------------------------------- tesseract


@dataclass(frozen=True)
class _RawWord:
    """A Tesseract word in pixels of the straightened image."""

    text: str
    left: float
    top: float
    right: float
    bottom: float
    confidence: float
    #: Tesseract's (block, paragraph, line) numbers: words of one line share them.
    line: tuple[int, int, int] = (0, 0, 0)


def _as_bmp(image: Image.Image) -> Image.Image:
    """The image marked for hand-over as BMP. pytesseract passes Tesseract a file in the
    image's format, PNG by default: compressing and decompressing a 300 dpi page costs
    about half a second per call, BMP next to nothing (same words, measured)."""
    marked = image.copy()
    marked.format = "BMP"
    return marked


def _tesseract_words(image: Image.Image, *, dpi: int, lang: str, psm: int = 6) -> list[_RawWord]:
    try:
        data = pytesseract.image_to_data(
            _as_bmp(image),
            lang=lang,
            # The image carries no resolution; without --dpi Tesseract guesses 70 and its
            # size-based heuristics misjudge the text.
            config=f"--psm {psm} --dpi {dpi}",
            output_type=pytesseract.Output.DICT,
        )
    except pytesseract.TesseractError as exc:
        raise InternalError(
            f"Tesseract failed to read a page image ({exc.message.strip()[:200]}); "
            "check the Tesseract installation with `make setup`",
            code="OCR_FAILED",
        ) from exc
    words = []
    for i, text in enumerate(data["text"]):
        text = (text or "").strip()
        conf = float(data["conf"][i])
        if not text or conf < 0:
            continue
        left, top = float(data["left"][i]), float(data["top"][i])
        words.append(
            _RawWord(
                text=text,
                left=left,
                top=top,
                right=left + float(data["width"][i]),
                bottom=top + float(data["height"][i]),
                confidence=max(0.0, min(1.0, conf / 100.0)),
                line=(int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i])),
            )
        )
    return words


def _second_readings(
    image: Image.Image, words: Sequence[_RawWord], *, dpi: int, lang: str
) -> list[_RawWord]:
    """``words`` mended by two more Tesseract calls, each over crops stacked on one sheet
    (loading the model costs about 0.1 s a call). Apart, not on one sheet: ``--psm 6``
    sizes its reading on the whole sheet, and page-wide bands beside short stretches
    read both worse (measured).

    1. Each doubtful stretch of a line is read again on its own, and kept when clearly
       surer. ``--psm 6`` takes the page for one block of uniform text: where two
       columns print lines at different heights (an address block beside the
       references), it merges a line of one with a line of the other and garbles the
       smaller ("N° SIRET es 1 DE" for "N° SIRET 11000201100044"). Cut out between its
       confident neighbours, the stretch is one plain line again.
    2. The bands of ink no word covers then (large titles ``--psm 6`` drops) are read,
       and their confident words added.
    """
    stretches = _rereadable_stretches(words)
    doubtful = len(stretches)
    stretches += _tangled_lines(words, {i for stretch in stretches for i in stretch})
    boxes = [_stretch_box(image, words, stretch) for stretch in stretches]
    second = _read_stacked(image, boxes, dpi=dpi, lang=lang)
    replaced: set[int] = set()
    added: list[_RawWord] = []
    for index, stretch in enumerate(stretches):
        new = [w for w in second if w.line[0] == index and w.text.strip()]
        old = [words[i] for i in stretch]
        if _surer_reading(old, new) if index < doubtful else _untangled_reading(old, new):
            replaced.update(stretch)
            added.extend(replace(w, line=old[0].line) for w in new)
    # A word the line kept may stand inside a stretch's box and be read again there.
    mended = [
        w
        for i, w in enumerate(words)
        if i not in replaced and not any(_overlap(w, new) for new in added)
    ]
    mended += added
    masked, bands = _missed_bands(image, mended, dpi=dpi)
    recovered = _read_stacked(masked, bands, dpi=dpi, lang=lang)
    return mended + [
        w for w in recovered if w.confidence >= 0.5 and any(ch.isalnum() for ch in w.text)
    ]


def _missed_bands(
    image: Image.Image, words: Sequence[_RawWord], *, dpi: int
) -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    """The page with its words painted white, and the largest bands of ink left on it
    (neighbouring bands as one block)."""
    masked = image.copy()
    draw = ImageDraw.Draw(masked)
    pad = max(2, dpi // 100)
    for word in words:
        draw.rectangle(
            (word.left - pad, word.top - pad, word.right + pad, word.bottom + pad), fill=255
        )
    blocks = _merge_bands(_ink_bands(masked, dpi=dpi), gap=dpi // 8)
    blocks.sort(key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
    return masked, blocks[:_MAX_RECOVERY_BANDS]


def _rereadable_stretches(words: Sequence[_RawWord]) -> list[list[int]]:
    """The doubtful stretches worth a second reading, at most ``_MAX_REREAD_STRETCHES``."""
    confident = [w.bottom - w.top for w in words if w.confidence >= _DOUBTFUL_WORD]
    if not confident:
        return []
    body = statistics.median(confident)
    return [
        stretch
        for stretch in _doubtful_stretches(words)
        # Taller than a line and a half: boxes over several lines, not one line garbled.
        if max(words[i].bottom for i in stretch) - min(words[i].top for i in stretch)
        <= _MAX_STRETCH_LINES * body
    ][:_MAX_REREAD_STRETCHES]


#: A stretch whose words span more than this many body heights is not one line.
_MAX_STRETCH_LINES = 1.8


def _tangled_lines(words: Sequence[_RawWord], taken: set[int]) -> list[list[int]]:
    """Stretches that ``--psm 6`` read as two lines over one another: where two columns
    print lines at slightly different heights, it can split one row of text between two
    lines whose words interleave (« N° de e bon bon d de commande de »), every word sure
    of itself. The words of both lines that touch a word of the other, and those between
    them, are one stretch to read again as one line."""
    by_line: dict[tuple[int, int, int], list[int]] = {}
    for index, word in enumerate(words):
        if index not in taken:
            by_line.setdefault(word.line, []).append(index)
    spans = {
        line: (min(words[i].top for i in members), max(words[i].bottom for i in members))
        for line, members in by_line.items()
    }
    tangles: list[list[int]] = []
    for a, b in itertools.combinations(by_line, 2):
        if spans[a][1] <= spans[b][0] or spans[b][1] <= spans[a][0]:
            continue  # one line over the other: the usual case, cheap to rule out
        first, second = by_line[a], by_line[b]
        touching = [i for i in first if any(_interleaved(words[i], words[j]) for j in second)]
        touching += [j for j in second if any(_interleaved(words[j], words[i]) for i in first)]
        if len(touching) < 3:
            continue
        left = min(words[i].left for i in touching)
        right = max(words[i].right for i in touching)
        tangles.append(
            sorted(i for i in first + second if words[i].left >= left and words[i].right <= right)
        )
    return tangles[:_MAX_REREAD_STRETCHES]


def _interleaved(a: _RawWord, b: _RawWord) -> bool:
    """Two words of one row of text: side by side or overlapping, at one height."""
    height = min(a.bottom - a.top, b.bottom - b.top)
    shared = min(a.bottom, b.bottom) - max(a.top, b.top)
    gap = max(a.left, b.left) - min(a.right, b.right)
    return shared >= 0.5 * height and gap < 0.5 * height


def _untangled_reading(old: Sequence[_RawWord], new: Sequence[_RawWord]) -> bool:
    """``new`` reads a tangled stretch (``_tangled_lines``) as one sure line: no word
    doubtful, and at least half the letters of the two lines (they read some twice)."""
    if not new or len({w.line for w in new}) > 1 or _letters(new) == _letters(old):
        return False
    new_chars = sum(ch.isalnum() for w in new for ch in w.text)
    old_chars = sum(ch.isalnum() for w in old for ch in w.text)
    return new_chars >= 0.5 * old_chars and min(w.confidence for w in new) >= _SURE_WORD


def _surer_reading(old: Sequence[_RawWord], new: Sequence[_RawWord]) -> bool:
    """``new`` reads the same line as ``old``, as much of it, and clearly surer."""
    if not new or len({w.line for w in new}) > 1:
        return False
    old_chars = sum(ch.isalnum() for w in old for ch in w.text)
    new_chars = sum(ch.isalnum() for w in new for ch in w.text)
    if new_chars < 0.6 * old_chars:
        return False  # some of the ink lost, not the line read better
    if _letters(new) == _letters(old):
        return False  # the same letters: other accents, gaps or marks are no surer reading
    # Cut out of its line, a number often loses its small marks ("2.424,24" read
    # "242424" with more confidence): the separators read first stay.
    separators = _DIGIT_SEPARATOR_RE.findall(" ".join(w.text for w in old))
    if len(_DIGIT_SEPARATOR_RE.findall(" ".join(w.text for w in new))) < len(separators):
        return False
    return (
        min(w.confidence for w in new) >= _SURE_WORD
        and _mean_confidence(new) >= _mean_confidence(old) + _REREAD_MARGIN
    )


def _letters(words: Sequence[_RawWord]) -> str:
    """The letters and figures of ``words``, without accents, case, spaces or marks."""
    return "".join(ch for ch in fold_text("".join(w.text for w in words)) if ch.isalnum())


#: Letters and figures a stretch needs to be read again.
_MIN_STRETCH_CHARS = 4
#: A word of a second reading is sure enough to replace the first from this confidence.
_SURE_WORD = 0.75
_DIGIT_SEPARATOR_RE = re.compile(r"(?<=\d)[.,/:-](?=\d)")


#: At most this many stretches are read again per page (one Tesseract call for all; a
#: poor scan has dozens, most of them small print where no field lives).
_MAX_REREAD_STRETCHES = 16
#: How much surer the second reading of a stretch must be, in mean word confidence.
_REREAD_MARGIN = 0.15


def _mean_confidence(words: Sequence[_RawWord]) -> float:
    chars = sum(len(w.text) for w in words)
    return sum(w.confidence * len(w.text) for w in words) / chars if chars else 0.0


def _doubtful_stretches(words: Sequence[_RawWord]) -> list[list[int]]:
    """Index lists of the runs of doubtful words of each Tesseract line, left to right; a
    short confident word between two doubtful ones goes with them (garbled text often
    holds a confident "1" or "DE"). Those with figures first (numbers, amounts, codes:
    what the fields are made of), then the shorter ones (a long run of garbage is small
    print, which a second reading seldom mends)."""
    by_line: dict[tuple[int, int, int], list[int]] = {}
    for index, word in enumerate(words):
        by_line.setdefault(word.line, []).append(index)
    stretches: list[list[int]] = []
    for indexes in by_line.values():
        indexes.sort(key=lambda i: words[i].left)
        doubtful = [words[i].confidence < _DOUBTFUL_WORD for i in indexes]
        run: list[int] = []
        for position, index in enumerate(indexes):
            bridge = (
                len(words[index].text) <= 2
                and bool(run)
                and any(doubtful[position + 1 : position + 2])
            )
            if doubtful[position] or bridge:
                run.append(index)
            elif run:
                stretches.append(run)
                run = []
        if run:
            stretches.append(run)
    # A lone mark is a speck or a rule; a short word cut out of its line loses the
    # context that reads it (a bold minus before "10" becomes a "4").
    stretches = [
        run
        for run in stretches
        if sum(ch.isalnum() for i in run for ch in words[i].text) >= _MIN_STRETCH_CHARS
    ]
    stretches.sort(
        key=lambda run: (
            not any(ch.isdigit() for i in run for ch in words[i].text),
            sum(len(words[i].text) for i in run),
        )
    )
    return stretches


def _stretch_box(
    image: Image.Image, words: Sequence[_RawWord], stretch: list[int]
) -> tuple[int, int, int, int]:
    """The pixels of a stretch with a margin of half its height, short of the line's
    confident words on either side."""
    members = [words[i] for i in stretch]
    left = min(w.left for w in members)
    right = max(w.right for w in members)
    top = min(w.top for w in members)
    bottom = max(w.bottom for w in members)
    margin = 0.5 * (bottom - top)
    line = members[0].line
    others = [w for i, w in enumerate(words) if w.line == line and i not in stretch]
    before = max((w.right for w in others if w.right <= left), default=left - 2 * margin)
    after = min((w.left for w in others if w.left >= right), default=right + 2 * margin)
    return (
        max(0, int(max(left - margin, before + 1))),
        max(0, int(top - margin)),
        min(image.width, int(min(right + margin, after - 1)) + 1),
        min(image.height, int(bottom + margin) + 1),
    )


def _read_stacked(
    image: Image.Image, boxes: Sequence[tuple[int, int, int, int]], *, dpi: int, lang: str
) -> list[_RawWord]:
    """The words of the given boxes of ``image``, in its pixels, read in one call with
    the crops stacked on one sheet. Each word carries the index of its box in place of
    its block number."""
    if not boxes:
        return []
    spacing = dpi // 6
    sheet = Image.new(
        "L",
        (max(b[2] - b[0] for b in boxes), sum(b[3] - b[1] + spacing for b in boxes)),
        255,
    )
    placed: list[tuple[int, tuple[int, int, int, int]]] = []  # (top on the sheet, box)
    top = 0
    for box in boxes:
        sheet.paste(image.crop(box), (0, top))
        placed.append((top, box))
        top += box[3] - box[1] + spacing
    try:
        words = _tesseract_words(sheet, dpi=dpi, lang=lang)
    except InternalError:
        return []  # a second chance only: the page's main reading stands
    found: list[_RawWord] = []
    for word in words:
        middle = (word.top + word.bottom) / 2
        for index, (sheet_top, (x0, y0, _, y1)) in enumerate(placed):
            if sheet_top <= middle < sheet_top + (y1 - y0):
                dy = y0 - sheet_top
                found.append(
                    _RawWord(
                        word.text,
                        word.left + x0,
                        word.top + dy,
                        word.right + x0,
                        word.bottom + dy,
                        word.confidence,
                        (index, *word.line[1:]),
                    )
                )
                break
    return found


def _merge_bands(
    boxes: list[tuple[int, int, int, int]], *, gap: int
) -> list[tuple[int, int, int, int]]:
    """Union of the bands that are vertically close and overlap horizontally."""
    merged: list[tuple[int, int, int, int]] = []
    for box in sorted(boxes, key=lambda b: b[1]):
        if merged:
            x0, top, x1, bottom = merged[-1]
            if box[1] - bottom <= gap and box[0] < x1 and box[2] > x0:
                merged[-1] = (min(x0, box[0]), top, max(x1, box[2]), max(bottom, box[3]))
                continue
        merged.append(box)
    return merged


def _ink_bands(image: Image.Image, *, dpi: int) -> list[tuple[int, int, int, int]]:
    """Boxes (pixels) of horizontal bands that hold text-sized ink, most ink first."""
    # Binary ink mask, shrunk 4x: band finding needs rows, not pixels.
    factor = 4
    ink = image.point(lambda v: 255 if v < 128 else 0).resize(
        (max(1, image.width // factor), max(1, image.height // factor)), Image.Resampling.BOX
    )
    rows = list(ink.resize((1, ink.height), Image.Resampling.BOX).tobytes())
    min_height = max(2, dpi // 30 // factor)  # under ~0.8 mm: rules and specks
    max_height = dpi // factor  # over ~25 mm: a table frame or a picture
    bands: list[tuple[float, tuple[int, int, int, int]]] = []
    start = None
    for y, value in enumerate([*rows, 0]):
        if value > 0.5 and start is None:
            start = y
        elif value <= 0.5 and start is not None:
            if min_height <= y - start <= max_height:
                band = ink.crop((0, start, ink.width, y))
                columns = list(band.resize((band.width, 1), Image.Resampling.BOX).tobytes())
                filled = [x for x, c in enumerate(columns) if c > 2]
                # A band must look like glyphs: enough inked columns, not a long rule.
                if len(filled) >= 4:
                    amount = sum(columns)
                    x0, x1 = filled[0], filled[-1] + 1
                    density = amount / (255 * max(1, x1 - x0))
                    if density < 0.6:
                        pad = 2
                        bands.append(
                            (
                                amount,
                                (
                                    max(0, (x0 - pad) * factor),
                                    max(0, (start - pad) * factor),
                                    min(image.width, (x1 + pad) * factor),
                                    min(image.height, (y + pad) * factor),
                                ),
                            )
                        )
            start = None
    bands.sort(key=lambda item: -item[0])
    return [box for _, box in bands]


def _to_word(raw: _RawWord, number: int, scale: float) -> Word:
    return Word(
        text=raw.text,
        x0=raw.left * scale,
        top=raw.top * scale,
        x1=raw.right * scale,
        bottom=raw.bottom * scale,
        page=number,
        confidence=raw.confidence,
        source=FieldSource.OCR,
    )
