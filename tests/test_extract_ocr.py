"""OCR of scanned pages with the real Tesseract: straightening, boxes, mixed documents.

The scans are made here: an fpdf2 invoice page is rendered with pdfium, tilted, speckled
and saved as an image-only PDF, so what OCR must find is known exactly.
"""

from __future__ import annotations

import io
import math
import random

import pytesseract
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from pipeline.errors import InternalError
from pipeline.extract import ocr
from pipeline.extract.pdf_text import text_layer_pages
from pipeline.extract.visible import VisibleReading, read_visible
from pipeline.models import FieldSource
from pipeline.pdfium import render_pages, scan_resolutions
from tests.test_extract_pdf import INVOICE, draw_invoice, invoice_pdf, new_pdf

SCAN_DPI = 200
TILT = 1.5  # degrees, counter-clockwise


def scan(page: Image.Image, *, angle: float = 0.0, noise: int = 0, seed: int = 7) -> Image.Image:
    """A scanner's view of a rendered page: tilted, with dark specks."""
    image = page.convert("L")
    if angle:
        image = image.rotate(angle, expand=True, fillcolor=255, resample=Image.Resampling.BICUBIC)
    pixels = image.load()
    assert pixels is not None
    rng = random.Random(seed)
    for _ in range(noise):
        pixels[rng.randrange(image.width), rng.randrange(image.height)] = rng.randrange(0, 90)
    return image


def image_pdf(*images: Image.Image) -> bytes:
    buffer = io.BytesIO()
    images[0].save(
        buffer, format="PDF", resolution=SCAN_DPI, save_all=True, append_images=list(images[1:])
    )
    return buffer.getvalue()


@pytest.fixture(scope="module")
def rendered_invoice() -> Image.Image:
    return render_pages(invoice_pdf(), [1], dpi=SCAN_DPI)[1]


@pytest.fixture(scope="module")
def tilted_scan(rendered_invoice: Image.Image) -> bytes:
    return image_pdf(scan(rendered_invoice, angle=TILT, noise=4000))


@pytest.fixture(scope="module")
def tilted_reading(tilted_scan: bytes) -> VisibleReading:
    return read_visible(tilted_scan)


# --------------------------------------------------------------------------- scanned invoice


def test_scanned_invoice_is_read_by_ocr(tilted_reading: VisibleReading) -> None:
    assert tilted_reading.ocr_pages == (1,)
    assert "OCR_USED" in {f.code for f in tilted_reading.findings}
    values = tilted_reading.fields.values()
    assert values["invoice_number"] == INVOICE["invoice_number"]
    assert values["supplier_siret"] == INVOICE["supplier_siret"]
    assert values["total_incl_tax"] == INVOICE["total_incl_tax"]
    number = tilted_reading.fields.invoice_number
    assert number.source is FieldSource.OCR
    assert 0.3 < number.confidence < 1.0


def test_most_fields_survive_the_scan(tilted_reading: VisibleReading) -> None:
    values = tilted_reading.fields.values()
    right = [name for name, expected in INVOICE.items() if values[name] == expected]
    assert len(right) >= len(INVOICE) - 2, set(INVOICE) - set(right)
    # psm 6 drops the big title; the recovery pass reads it, so the kind is known.
    assert tilted_reading.document_kind.value == "invoice"


def test_boxes_are_on_the_original_scanned_page(
    tilted_reading: VisibleReading,
    rendered_invoice: Image.Image,
) -> None:
    # Where the number is on the straight page, from its text layer (points).
    straight = text_layer_pages(invoice_pdf(), [1])[1]
    word = next(w for w in straight.words if w.text == INVOICE["invoice_number"])
    # The same point on the tilted scan: rotate about the centres, y pointing down.
    px = SCAN_DPI / 72
    width, height = rendered_invoice.size
    theta = math.radians(TILT)
    out_w = abs(width * math.cos(theta)) + abs(height * math.sin(theta))
    out_h = abs(width * math.sin(theta)) + abs(height * math.cos(theta))
    dx = (word.x0 + word.x1) / 2 * px - width / 2
    dy = (word.top + word.bottom) / 2 * px - height / 2
    expected_x = (math.cos(theta) * dx + math.sin(theta) * dy + out_w / 2) / px
    expected_y = (-math.sin(theta) * dx + math.cos(theta) * dy + out_h / 2) / px
    x0, top, x1, bottom = tilted_reading.fields.invoice_number.bbox
    assert (x0 + x1) / 2 == pytest.approx(expected_x, abs=4)
    assert (top + bottom) / 2 == pytest.approx(expected_y, abs=4)


# --------------------------------------------------------------------------- mixed document


def test_mixed_document_reads_each_page_its_own_way(rendered_invoice: Image.Image) -> None:
    # Page 1 digital (an annex), page 2 the scanned invoice with a scanner's stray text.
    pdf = new_pdf()
    pdf.add_page()
    pdf.set_font("DejaVu", "", 11)
    pdf.text(20, 30, "Bordereau d'envoi : une facture de menuiseries, une page, originale")
    pdf.text(20, 40, "Marché n° 2024-MEN-07 notifié le 02/02/2024, lot 3 menuiseries")
    pdf.add_page()
    pdf.image(scan(rendered_invoice, noise=1500), x=0, y=0, w=210, h=297)
    pdf.set_font("DejaVu", "", 4)
    pdf.text(5, 292, "p. 2")
    reading = read_visible(bytes(pdf.output()))
    assert reading.ocr_pages == (2,)
    fields = reading.fields
    assert fields.contract_number.value == "2024-MEN-07"
    assert fields.contract_number.source is FieldSource.TEXT_LAYER
    assert fields.contract_number.page == 1
    assert fields.invoice_number.value == INVOICE["invoice_number"]
    assert fields.invoice_number.source is FieldSource.OCR
    assert fields.invoice_number.page == 2
    assert fields.total_incl_tax.value == INVOICE["total_incl_tax"]


def test_page_turned_a_quarter_is_read_upright(rendered_invoice: Image.Image) -> None:
    # A page scanned sideways: OSD says how to turn it.
    turned = rendered_invoice.convert("L").rotate(90, expand=True)
    page = ocr.ocr_pages(image_pdf(turned), [1])[1]
    texts = [w.text for w in page.words]
    assert INVOICE["invoice_number"] in texts
    # The reading frame is upright (portrait); the original page is landscape.
    assert page.height > page.width
    assert page.to_original[0] == pytest.approx(0.0, abs=1e-6)


def test_blank_page_gives_no_words() -> None:
    blank = Image.new("L", (1654, 2339), 255)
    assert ocr.ocr_pages(image_pdf(blank), [1])[1].words == ()


# --------------------------------------------------------------------------- geometry


@pytest.mark.parametrize("angle", [90.0, -90.0, 180.0, 7.0, -2.5])
def test_rotation_matrix_maps_result_pixels_back(angle: float) -> None:
    image = Image.new("L", (400, 300), 255)
    ImageDraw.Draw(image).rectangle((60, 40, 69, 49), fill=0)  # centre (65, 45)
    turned, (a, b, c, d, e, f) = ocr.rotate_with_matrix(image, angle)
    dark = [
        (x, y)
        for y in range(turned.height)
        for x in range(turned.width)
        if turned.getpixel((x, y)) < 128  # type: ignore[operator]
    ]
    u = sum(x for x, _ in dark) / len(dark) + 0.5
    v = sum(y for _, y in dark) / len(dark) + 0.5
    assert a * u + b * v + c == pytest.approx(65, abs=1.5)
    assert d * u + e * v + f == pytest.approx(45, abs=1.5)


def test_skew_is_measured(rendered_invoice: Image.Image) -> None:
    clean = ocr.clean_image(rendered_invoice)
    assert ocr.estimate_skew(clean) == 0.0
    tilted = clean.rotate(2.0, expand=True, fillcolor=255, resample=Image.Resampling.BICUBIC)
    assert ocr.estimate_skew(tilted) == pytest.approx(-2.0, abs=0.3)


# --------------------------------------------------------------------------- rules

BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def _ink(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    return sum(1 for v in image.crop(box).tobytes() if v < 128)


def _table_page() -> Image.Image:
    """300 dpi: a ruled table with bold text in its cells, a dark banner with white text."""
    from PIL import ImageFont

    page = Image.new("L", (2000, 1200), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(BOLD, 42)
    for y in (100, 200, 300):  # horizontal rules, 4 px
        draw.rectangle((100, y, 1900, y + 3), fill=0)
    for x in (100, 1000, 1900):  # vertical rules
        draw.rectangle((x, 100, x + 3, 303), fill=0)
    draw.text((130, 125), "Montant TTC", font=font, fill=0)
    draw.text((1030, 225), "1 234 567,89 EUR", font=font, fill=0)
    draw.rectangle((100, 600, 1900, 760), fill=0)  # banner
    draw.text((130, 650), "Net a payer", font=font, fill=255)
    return page


def _specks_and_a_hairline(mode: str) -> Image.Image:
    image = Image.new("L", (60, 40), 255)
    draw = ImageDraw.Draw(image)
    draw.line((10, 20, 50, 20), fill=0)  # a stroke one pixel thick
    for x, y in ((5, 5), (30, 8), (52, 33)):
        image.putpixel((x, y), 0)  # lone specks
    image.putpixel((30, 30), 0)
    image.putpixel((31, 30), 0)  # a speck of two pixels
    if mode == "grey":  # the paper of a greyscale scan: grain, few pure whites
        grain = random.Random(7)
        for x in range(60):
            for y in range(40):
                if image.getpixel((x, y)) == 255:
                    image.putpixel((x, y), grain.randint(215, 250))
    return image


def test_a_bilevel_scan_loses_its_specks_and_keeps_thin_strokes() -> None:
    clean = ocr.clean_image(_specks_and_a_hairline("bilevel"))
    assert [clean.getpixel((x, 20)) for x in (11, 30, 49)] == [0, 0, 0]
    assert [clean.getpixel(p) for p in ((5, 5), (30, 8), (52, 33), (30, 30))] == [255] * 4


def test_a_greyscale_scan_is_smoothed_by_a_median() -> None:
    clean = ocr.clean_image(_specks_and_a_hairline("grey"))
    assert clean.getpixel((30, 8)) > 128  # speck gone
    assert clean.getpixel((30, 20)) > 128  # and the hairline with it: grain filter


def test_a_soft_scan_gets_its_edges_back() -> None:
    # A stroke blurred over several pixels: the unsharp mask steepens its edge.
    soft = Image.new("L", (60, 40), 235)
    ImageDraw.Draw(soft).rectangle((20, 10, 40, 30), fill=40)
    soft = soft.filter(ImageFilter.GaussianBlur(2))
    plain, sharpened = ocr.clean_image(soft), ocr.clean_image(soft, sharpen=True)
    assert sharpened.getpixel((21, 20)) < plain.getpixel((21, 20))  # darker inside the edge
    assert sharpened.getpixel((18, 20)) > plain.getpixel((18, 20))  # lighter outside


def test_the_scan_resolution_is_the_page_image_s() -> None:
    page = Image.new("L", (1240, 1754), 255)  # A4 at 150 dpi
    buffer = io.BytesIO()
    page.save(buffer, format="PDF", resolution=150)
    assert scan_resolutions(buffer.getvalue(), [1])[1] == pytest.approx(150, abs=1)
    assert scan_resolutions(image_pdf(page, page), [1, 2]) == {
        1: pytest.approx(SCAN_DPI, abs=1),
        2: pytest.approx(SCAN_DPI, abs=1),
    }
    assert scan_resolutions(invoice_pdf(), [1]) == {1: None}  # no page image on a digital page


def test_table_rules_are_erased_and_letters_kept() -> None:
    page = _table_page()
    erased = ocr.erase_rules(page, dpi=300)
    assert _ink(erased, (300, 95, 900, 110)) == 0  # a horizontal rule, between letters
    assert _ink(erased, (95, 150, 110, 190)) == 0  # a vertical rule, beside a cell
    for box in ((120, 110, 900, 195), (1020, 210, 1890, 295)):  # bold cell text
        assert _ink(erased, box) == _ink(page, box)


def test_the_erased_vertical_rules_are_reported_where_they_were() -> None:
    _, vertical = ocr.erase_rules_found(_table_page(), dpi=300)
    assert sorted(x for x, _, _ in vertical) == [
        pytest.approx(x + 1.5, abs=2) for x in (100, 1000, 1900)
    ]
    assert all(top <= 105 and bottom >= 298 for _, top, bottom in vertical)


def test_a_dark_banner_is_not_a_rule() -> None:
    page = _table_page()
    erased = ocr.erase_rules(page, dpi=300)
    banner = (100, 600, 1901, 761)
    assert erased.crop(banner).tobytes() == page.crop(banner).tobytes()


def test_a_dark_banner_is_inverted_and_bold_text_is_not() -> None:
    page = _table_page()
    inverted = ocr.invert_dark_bands(page, dpi=300)
    banner = (100, 600, 1901, 761)
    # The banner is paper now, its white letters ink; the bold cell text is untouched.
    assert _ink(inverted, banner) < _ink(page, banner) // 4
    assert _ink(inverted, (130, 640, 700, 720)) > 1000
    top = (0, 0, 2000, 400)
    assert inverted.crop(top).tobytes() == page.crop(top).tobytes()


def _form_frames_page() -> Image.Image:
    """300 dpi: a form's frame heading, white on a black band, sits on a box whose first
    line is bold; the box's bottom rule runs 5 mm above the next frame's band."""
    from PIL import ImageFont

    page = Image.new("L", (2000, 1000), 255)
    draw = ImageDraw.Draw(page)
    bold = ImageFont.truetype(BOLD, 58)
    for top in (100, 560):
        draw.rectangle((100, top, 1900, top + 50), fill=0)  # the frame heading's band
        draw.text((120, top + 8), "A - IDENTIFICATION", font=bold.font_variant(size=34), fill=255)
        draw.rectangle((100, top + 50, 1900, top + 300), outline=0, width=5)  # its box
        draw.text((130, top + 62), "70225149700096  FR57702251497", font=bold, fill=0)
    return page


def test_a_band_ends_where_the_paper_under_it_starts() -> None:
    page = _form_frames_page()
    inverted = ocr.invert_dark_bands(page, dpi=300)
    for top in (100, 560):
        # Both headings read black on paper; the bold line under each stays as printed.
        assert (
            _ink(inverted, (100, top, 1901, top + 50)) < _ink(page, (100, top, 1901, top + 50)) // 3
        )
        line = (110, top + 60, 1890, top + 140)
        assert inverted.crop(line).tobytes() == page.crop(line).tobytes()


def test_a_white_card_laid_over_a_dark_band_stays_as_printed() -> None:
    from PIL import ImageFont

    # 300 dpi: a black header band 4 cm high; a card with the piece's references
    # straddles it, its bold title and labels close to its left border.
    page = Image.new("L", (2400, 1000), 255)
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 100, 2399, 570), fill=0)
    draw.text((80, 300), "MARCHAND FRÈRES", font=ImageFont.truetype(BOLD, 60), fill=255)
    draw.rectangle((1300, 140, 2200, 800), fill=255, outline=0, width=3)
    draw.text((1315, 150), "PROJET DE DÉCOMPTE", font=ImageFont.truetype(BOLD, 80), fill=0)
    for top, label, value in ((260, "N° pièce", "PDG-2025-036"), (330, "Date", "29/04/2025")):
        draw.text((1315, top), label, font=ImageFont.truetype(BOLD, 44), fill=0)
        draw.text((1700, top), value, font=ImageFont.truetype(BOLD, 44), fill=0)
    inverted = ocr.invert_dark_bands(page, dpi=300)
    card = (1304, 144, 2196, 796)
    assert inverted.crop(card).tobytes() == page.crop(card).tobytes()
    # The band on its left is inverted: its name reads black on paper.
    name = (60, 280, 1200, 380)
    assert _ink(inverted, name) < _ink(page, name) // 3


def test_a_card_is_told_by_its_share_of_paper_not_by_its_mean() -> None:
    # 300 dpi: the card starts a third of the way down a black band, a bold stroke of
    # its title near its left border: those columns are more ink than paper, but the
    # card stays whole, out to its border.
    page = Image.new("L", (2400, 500), 255)
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 100, 2399, 200), fill=0)
    draw.rectangle((1300, 130, 2200, 400), fill=255, outline=0, width=3)
    draw.rectangle((1310, 135, 1360, 170), fill=0)
    inverted = ocr.invert_dark_bands(page, dpi=300)
    card = (1304, 131, 2196, 400)
    assert inverted.crop(card).tobytes() == page.crop(card).tobytes()
    assert inverted.getpixel((600, 150)) == 255  # the band itself is inverted


def test_a_bold_title_blurred_by_a_poor_scan_is_not_a_band() -> None:
    from PIL import ImageFilter, ImageFont

    # 150 dpi: a 16 pt bold title on a light grey band, smeared by the scanner.
    page = Image.new("L", (1240, 400), 250)
    draw = ImageDraw.Draw(page)
    draw.rectangle((90, 100, 1150, 260), fill=222)
    draw.text(
        (240, 130), "DÉCOMPTE GÉNÉRAL ET DÉFINITIF", font=ImageFont.truetype(BOLD, 40), fill=0
    )
    page = page.filter(ImageFilter.GaussianBlur(1.2))
    inverted = ocr.invert_dark_bands(page, dpi=150)
    assert inverted.tobytes() == page.tobytes()


def test_white_text_on_a_dark_banner_is_read() -> None:
    words = [w.text for w in ocr.ocr_pages(image_pdf(_table_page()), [1])[1].words]
    assert "Net" in words and "payer" in words


def test_ruled_cells_are_read() -> None:
    words = [w.text for w in ocr.ocr_pages(image_pdf(_table_page()), [1])[1].words]
    assert "Montant" in words and "567,89" in words


REGULAR = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _leader_page() -> Image.Image:
    """300 dpi, 9 pt text: « Total HT ....... 1 916,80 € », then a sentence ending with
    a full stop and an ellipsis."""
    from PIL import ImageFont

    page = Image.new("L", (2000, 400), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(REGULAR, 38)
    draw.text((100, 100), "Total HT " + "." * 60 + " 1 916,80 €", font=font, fill=0)
    draw.text((100, 250), "Paiement à 30 jours... Merci.", font=font, fill=0)
    return page


def test_dotted_leaders_are_erased_and_letters_kept() -> None:
    page = _leader_page()
    erased = ocr.erase_leaders(page, dpi=300)
    label, leader, amount = (100, 90, 255, 150), (300, 90, 970, 150), (1000, 90, 1900, 150)
    assert _ink(page, leader) > 500
    assert _ink(erased, leader) == 0
    for box in (label, amount, (100, 240, 1900, 300)):  # text, full stops, an ellipsis
        assert _ink(erased, box) == _ink(page, box)


def test_a_label_after_dotted_leaders_is_read() -> None:
    words = ocr.ocr_pages(image_pdf(_leader_page()), [1])[1].words
    first_line = [w.text for w in words if w.top < 40]  # points: 100 px at 300 dpi is 24 pt
    # The dot next to "HT" may stay (it shares a window with the T); no dot is read as
    # letters between the label and the amount.
    assert first_line[0] == "Total" and first_line[1] in ("HT", "HT.")
    assert first_line[2:] == ["1", "916,80", "€"]


def test_a_second_reading_fills_gaps_and_replaces_only_doubtful_words() -> None:
    def word(text: str, left: float, confidence: float) -> ocr._RawWord:
        return ocr._RawWord(text, left, 100, left + 80, 130, confidence)

    first = [word("SIRET", 0, 0.95), word("mess", 100, 0.3), word("Lyon", 300, 0.9)]
    second = [
        word("SIRET", 2, 0.96),  # the same word: the first reading keeps it
        word("110", 101, 0.92),  # beats a doubtful word
        word("Lyan", 301, 0.99),  # a confident word is never replaced
        word("00044", 200, 0.9),  # where the first reading had nothing
        word("x", 400, 0.4),  # doubtful in the second reading too: ignored
    ]
    merged = [w.text for w in ocr._merge_readings(first, second)]
    assert sorted(merged) == sorted(["SIRET", "110", "Lyon", "00044"])


def _two_columns_of_two_sizes() -> Image.Image:
    """A bold title on the left and a smaller address block's SIRET on the right, their
    baselines level, blurred as a poor scan: ``--psm 6`` takes both for one line and
    garbles the smaller one."""
    fonts = "/usr/share/fonts/truetype/dejavu/"
    image = Image.new("L", (2480, 700), 255)
    draw = ImageDraw.Draw(image)
    title = ImageFont.truetype(fonts + "DejaVuSerif-Bold.ttf", 52)
    body = ImageFont.truetype(fonts + "DejaVuSerif.ttf", 30)
    draw.text((200, 200), "Décompte général N° DG25-8211", font=title, fill=0)
    draw.text((1380, 158), "75011 PARIS", font=body, fill=0)
    draw.text((1380, 200), "N° SIRET 11000201100044", font=body, fill=0)
    draw.text((200, 300), "Le 12 avril 2025", font=body, fill=0)
    half = image.resize((1240, 350), Image.Resampling.BILINEAR)
    return half.filter(ImageFilter.GaussianBlur(0.6)).resize(image.size, Image.Resampling.BILINEAR)


def test_a_line_garbled_beside_a_larger_column_is_read_again() -> None:
    image = _two_columns_of_two_sizes()
    first = ocr._read_turned(image, 0, dpi=300, lang="fra")
    assert "11000201100044" not in "".join(w.text for w in first.words)  # what psm 6 makes of it
    words = ocr._second_readings(first.image, first.words, dpi=300, lang="fra")
    assert "11000201100044" in "".join(w.text for w in words)
    assert "Le 12 avril 2025" in " ".join(w.text for w in words)  # the rest as it was


def _raw(text: str, left: float, confidence: float, line: int = 1) -> ocr._RawWord:
    return ocr._RawWord(text, left, 100, left + 20 * len(text), 130, confidence, (1, 1, line))


def test_doubtful_stretches_bridge_short_confident_words_and_put_figures_first() -> None:
    words = [
        _raw("Menuiseries", 0, 0.41),  # a long doubtful word, no figure
        _raw("SIRET", 300, 0.95),
        _raw("es", 420, 0.41),
        _raw("1", 480, 0.9),  # short and confident, between two doubtful words
        _raw("DE4", 520, 0.08),
        _raw("Lyon", 700, 0.9),
        _raw("|", 900, 0.2),  # a lone mark: not worth a second reading
        _raw("ab", 0, 0.3, line=2),  # too short: cut out, it would lose its context
    ]
    stretches = [[words[i].text for i in run] for run in ocr._doubtful_stretches(words)]
    assert stretches == [["es", "1", "DE4"], ["Menuiseries"]]


@pytest.mark.parametrize(
    ("old", "new", "surer"),
    [
        ([("es", 0.41), ("DE", 0.08)], [("11000201", 0.89), ("100044", 0.89)], True),
        ([("2.424,24", 0.49)], [("242424", 0.88)], False),  # the separators lost
        ([("ÉGE-2025-4599", 0.43)], [("ÊGE-2025-4599", 0.77)], False),  # an accent only
        ([("DPST-2024-705", 0.55)], [("|", 0.96), ("DPST", 0.84), ("-2024-705", 0.84)], False),
        ([("12204561000089", 0.47)], [("1220456", 0.79), (":", 0.43), ("900089", 0.93)], False),
        ([("S629A", 0.38)], [("5629A", 0.62)], False),  # not sure enough
        ([("F2024-497A", 0.3)], [("F2", 0.9)], False),  # most of the ink lost
    ],
)
def test_a_second_reading_replaces_a_stretch_only_when_clearly_surer(
    old: list[tuple[str, float]], new: list[tuple[str, float]], surer: bool
) -> None:
    first = [_raw(text, 100 * i, confidence) for i, (text, confidence) in enumerate(old)]
    second = [_raw(text, 100 * i, confidence) for i, (text, confidence) in enumerate(new)]
    assert ocr._surer_reading(first, second) is surer


def test_a_second_reading_over_two_lines_is_not_one_line_read_better() -> None:
    first = [_raw("Sat", 0, 0.45), _raw("906", 100, 0.27)]
    second = [_raw("Siret", 0, 0.95, line=1), _raw("900096579", 100, 0.95, line=2)]
    assert not ocr._surer_reading(first, second)


def test_doubtful_specks_under_half_the_usual_height_are_dropped() -> None:
    def word(text: str, left: float, top: float, bottom: float, confidence: float) -> ocr._RawWord:
        return ocr._RawWord(text, left, top, left + 40, bottom, confidence)

    words = [
        word("N°", 0, 100, 130, 0.95),
        word("ee", 45, 98, 108, 0.3),  # a speck of the shaded cell, read as letters
        word("pièce", 50, 104, 134, 0.95),
        word("6pt", 200, 300, 312, 0.9),  # small but confident: kept
        word("mess", 300, 100, 128, 0.3),  # doubtful but full height: kept
        word("PDF-2025-139", 400, 100, 130, 0.9),
    ]
    assert [w.text for w in ocr._without_specks(words)] == [
        "N°",
        "pièce",
        "6pt",
        "mess",
        "PDF-2025-139",
    ]


def test_a_doubtful_or_small_word_inside_a_surer_word_s_box_is_dropped() -> None:
    # The accent of « ÉTAT » read as a line of its own, the apostrophe of « D'ACOMPTE »
    # read as a « 1 » inside it; a doubtful word beside the others stays.
    words = [
        ocr._RawWord("É-", 55, 114, 59, 126, 0.0),
        ocr._RawWord("1", 119, 119, 121, 123, 0.4),
        ocr._RawWord("ETAT", 50, 119, 98, 131, 0.93),
        ocr._RawWord("D'ACOMPTE", 104, 119, 215, 131, 0.89),
        ocr._RawWord("n°", 220, 119, 240, 131, 0.3),
        # The grave accent of « Frères » read « à », sure of itself but a quarter high.
        ocr._RawWord("Frères", 300, 119, 360, 131, 0.95),
        ocr._RawWord("à", 320, 117, 324, 121, 0.76),
        ocr._RawWord("1er", 365, 119, 385, 131, 0.95),
    ]
    assert [w.text for w in ocr._without_specks(words)] == [
        "ETAT",
        "D'ACOMPTE",
        "n°",
        "Frères",
        "1er",
    ]


def test_a_row_read_as_two_interleaved_lines_is_read_again_as_one() -> None:
    # « N° de bon de commande » split by --psm 6 between two lines whose words interleave,
    # each sure of itself; the address line beside it at its own height is no part of it.
    def word(text: str, left: float, right: float, top: float, line: int) -> ocr._RawWord:
        return ocr._RawWord(text, left, top, right, top + 25, 0.95, (1, 1, line))

    words = [
        word("33", 1479, 1508, 695, 8),
        word("route", 1520, 1585, 695, 8),
        word("N°", 215, 278, 717, 9),
        word("de", 261, 288, 713, 9),
        word("bon", 304, 320, 717, 9),
        word("d", 367, 383, 717, 9),
        word("de", 530, 546, 717, 9),
        word("BC-2025-9386", 1066, 1276, 716, 9),
        word("e", 279, 293, 725, 10),
        word("bon", 322, 356, 725, 10),
        word("de", 384, 399, 725, 10),
        word("commande", 409, 562, 725, 10),
        word("29200", 1480, 1559, 742, 10),
    ]
    (tangle,) = ocr._tangled_lines(words, taken=set())
    assert [words[i].text for i in tangle] == [
        *("N°", "de", "bon", "d", "de"),
        *("e", "bon", "de", "commande"),
    ]
    old = [words[i] for i in tangle]
    one_line = [
        ocr._RawWord(t, 0, 0, 10, 10, 0.94, (0, 1, 1))
        for t in ("N°", "de", "bon", "de", "commande")
    ]
    assert ocr._untangled_reading(old, one_line)
    doubtful = [*one_line[:-1], ocr._RawWord("cmnde", 0, 0, 10, 10, 0.5, (0, 1, 1))]
    assert not ocr._untangled_reading(old, doubtful)
    # Lines stacked one under the other, as a column prints them, are not tangled.
    stacked = [
        word("Total", 100, 180, 700, 1),
        word("HT", 190, 220, 700, 1),
        word("Total", 100, 180, 740, 2),
        word("TTC", 190, 240, 740, 2),
    ]
    assert ocr._tangled_lines(stacked, taken=set()) == []


# --------------------------------------------------------------------------- installation


def test_missing_tesseract_says_to_run_make_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise pytesseract.TesseractNotFoundError()

    monkeypatch.setattr(pytesseract, "get_tesseract_version", missing)
    ocr.check_tesseract.cache_clear()
    try:
        with pytest.raises(InternalError, match="make setup"):
            ocr.ocr_pages(image_pdf(Image.new("L", (100, 100), 255)), [1])
    finally:
        ocr.check_tesseract.cache_clear()


def test_missing_french_data_says_to_run_make_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pytesseract, "get_languages", lambda config="": ["eng", "osd"])
    ocr.check_tesseract.cache_clear()
    try:
        with pytest.raises(InternalError, match=r"fra.*make setup") as caught:
            ocr.check_tesseract("fra")
        assert caught.value.code == "OCR_LANGUAGE_MISSING"
    finally:
        ocr.check_tesseract.cache_clear()


def test_omp_thread_limit_is_set_on_import() -> None:
    import os

    assert os.environ.get("OMP_THREAD_LIMIT") == "1"


def test_invoice_drawing_is_what_the_tests_expect() -> None:
    # Guard for the shared fixture: the digital page itself reads perfectly.
    pdf = new_pdf()
    draw_invoice(pdf)
    values = read_visible(bytes(pdf.output())).fields.values()
    assert {name: values[name] for name in INVOICE} == INVOICE
