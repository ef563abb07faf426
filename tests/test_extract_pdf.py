"""Text-layer words (pdfium characters grouped like pdfplumber's) and the visible-content
reader on digital PDFs.

The PDFs are drawn with fpdf2 in the test, or written by hand where a page box, a rotation
or a font encoding must be exact, so every position and value is known. ``invoice_pdf``
is shared with the OCR tests, which rasterise its pages.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fpdf import FPDF

from pipeline.errors import CorruptPdf
from pipeline.extract.pdf_text import Page, Word, fold, group_lines, text_layer_pages
from pipeline.extract.visible import has_text_layer, read_visible, text_layer_usable
from pipeline.models import DocumentKind, FieldSource
from tests.conftest import corpus_path

FONTS = Path("/usr/share/fonts/truetype/dejavu")
MM = 72 / 25.4  # points per millimetre

#: What ``draw_invoice`` prints, as the canonical fields should read it.
INVOICE = {
    "invoice_number": "F-2024-0153",
    "issue_date": "2024-05-23",
    "supplier_siret": "55246281400013",
    "recipient_siret": "11000201100044",
    "service_code": "SE-4521",
    "engagement_number": "1300045871",
    "total_excl_tax": "7850.00",
    "total_tax": "1570.00",
    "total_incl_tax": "9420.00",
    "amount_due": "9420.00",
    "iban": "FR7630006000011234567890189",
}


def new_pdf() -> FPDF:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    return pdf


def draw_invoice(pdf: FPDF) -> None:
    """One invoice page: letterhead, title, references, recipient block, totals, IBAN."""
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 15)
    pdf.text(20, 20, "MENUISERIE DUPONT SARL")
    pdf.set_font("DejaVu", "", 11)
    pdf.text(20, 27, "12 rue des Lilas 69003 Lyon")
    pdf.text(20, 33, "SIRET : 552 462 814 00013")
    pdf.text(20, 39, "Tél. 04 78 12 34 56")
    pdf.set_font("DejaVu", "B", 20)
    pdf.text(120, 52, "FACTURE")
    pdf.set_font("DejaVu", "", 11)
    pdf.text(120, 62, "Facture n° F-2024-0153")
    pdf.text(120, 68, "Date : 23/05/2024")
    pdf.text(120, 82, "Client :")
    pdf.text(120, 88, "Ministère de l'Intérieur")
    pdf.text(120, 94, "SIRET : 110 002 011 00044")
    pdf.text(120, 100, "Code service : SE-4521")
    pdf.text(20, 110, "N° d'engagement : 1300045871")
    pdf.text(20, 125, "Pose de menuiseries aluminium")
    pdf.text(170, 125, "7\u00a0850,00 €")
    pdf.text(120, 150, "Total HT")
    pdf.text(165, 150, "7\u00a0850,00 €")
    pdf.text(120, 157, "TVA 20 %")
    pdf.text(165, 157, "1\u202f570,00 €")
    pdf.text(120, 164, "Total TTC")
    pdf.text(165, 164, "9\u00a0420,00 €")
    pdf.text(120, 173, "Net à payer")
    pdf.text(165, 173, "9\u00a0420,00 €")
    pdf.text(20, 200, "IBAN : FR76 3000 6000 0112 3456 7890 189")


def draw_annex(pdf: FPDF) -> None:
    pdf.add_page()
    pdf.set_font("DejaVu", "", 11)
    pdf.text(20, 30, "Annexe : détail des quantités posées sur le chantier de la rue Garibaldi")
    pdf.text(20, 40, "Menuiseries du rez-de-chaussée et du premier étage, lots 1 à 4")


def invoice_pdf(*, annex: bool = False) -> bytes:
    pdf = new_pdf()
    draw_invoice(pdf)
    if annex:
        draw_annex(pdf)
    return bytes(pdf.output())


@pytest.fixture(scope="module")
def invoice() -> bytes:
    return invoice_pdf(annex=True)


# --------------------------------------------------------------------------- text layer


def test_words_carry_boxes_in_points_from_the_top_left(invoice: bytes) -> None:
    page = text_layer_pages(invoice, [1])[1]
    assert (page.number, page.source) == (1, FieldSource.TEXT_LAYER)
    assert page.width == pytest.approx(595.28, abs=0.1)
    title = next(w for w in page.words if w.text == "FACTURE")
    assert title.x0 == pytest.approx(120 * MM, abs=0.5)
    # The baseline is at 52 mm: the box spans about one em (20 pt) above it.
    assert title.top < 52 * MM < title.bottom + 1
    assert title.bottom - title.top == pytest.approx(20, abs=2)
    assert all(w.confidence == 1.0 and w.page == 1 for w in page.words)
    assert all(0 <= w.x0 < w.x1 <= page.width and 0 <= w.top < w.bottom for w in page.words)


def test_only_the_requested_pages_are_read(invoice: bytes) -> None:
    pages = text_layer_pages(invoice, [2])
    assert list(pages) == [2]
    assert pages[2].words[0].text == "Annexe"
    assert text_layer_pages(invoice, []) == {}


def test_no_break_spaces_split_amounts_into_words(invoice: bytes) -> None:
    lines = group_lines(text_layer_pages(invoice, [1])[1])
    total = next(line for line in lines if line.text.startswith("Total HT"))
    assert total.text == "Total HT\t7 850,00 €"
    assert [w.text for w in total.words] == ["Total", "HT", "7", "850,00", "€"]


def test_unreadable_bytes_raise_corrupt_pdf() -> None:
    with pytest.raises(CorruptPdf):
        text_layer_pages(b"%PDF-1.7\nthis is not a PDF body", [1])


def test_fold_maps_back_to_the_original_text() -> None:
    folded, origin = fold("Maître d'Œuvre – N°\u00a012")
    assert folded == "maitre d'oeuvre - n° 12"
    assert len(origin) == len(folded)
    assert origin[folded.index("oeuvre")] == "Maître d'Œuvre".index("Œ")


def raw_pdf(content: bytes, *, page: bytes = b"", encoding: bytes = b"/WinAnsiEncoding") -> bytes:
    """A one-page A4 PDF drawing ``content`` with Helvetica as /F1; ``page`` adds entries
    to the page dictionary (/Rotate, /CropBox)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] " + page + b" "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding " + encoding + b" >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


#: "Facture" across the page at y=700, and "Vertical" running up the page at x=300.
ACROSS_AND_UP = (
    b"BT /F1 1 Tf 12 0 0 12 100 700 Tm (Facture 2024) Tj ET "
    b"BT /F1 10 Tf 0 1 -1 0 300 300 Tm (Vertical) Tj ET"
)


def test_word_boxes_follow_the_text_matrix_and_skip_vertical_text() -> None:
    # The font size comes from Tm, not Tf: the box is still one em (12 pt) high.
    page = text_layer_pages(raw_pdf(ACROSS_AND_UP), [1])[1]
    assert [w.text for w in page.words] == ["Facture", "2024"]
    word = page.words[0]
    assert (word.x0, word.bottom - word.top) == (pytest.approx(100), pytest.approx(12))
    assert word.top < 842 - 700 < word.bottom  # the baseline, from the top


def test_rotated_page_gives_boxes_on_the_page_as_shown() -> None:
    # /Rotate 90: the page is shown turned clockwise, so the text drawn running up the
    # page reads left to right and the text drawn across it is now vertical.
    page = text_layer_pages(raw_pdf(ACROSS_AND_UP, page=b"/Rotate 90"), [1])[1]
    assert (page.width, page.height) == (842, 595)
    assert [w.text for w in page.words] == ["Vertical"]
    word = page.words[0]
    assert word.x0 == pytest.approx(300)  # user y 300, from the left of the turned page
    assert word.top < 300 < word.bottom  # user x 300, the baseline, from its top
    assert word.bottom - word.top == pytest.approx(10)
    # Turned the other way, it is the across text that reads upside down: left out too.
    assert [
        w.text for w in text_layer_pages(raw_pdf(ACROSS_AND_UP, page=b"/Rotate 180"), [1])[1].words
    ] == []


def test_crop_box_is_the_page() -> None:
    cropped = raw_pdf(ACROSS_AND_UP, page=b"/CropBox [50 60 545 800]")
    page = text_layer_pages(cropped, [1])[1]
    assert (page.width, page.height) == (495, 740)
    word = page.words[0]
    assert word.x0 == pytest.approx(100 - 50)
    assert word.top < 800 - 700 < word.bottom


def test_text_outside_the_crop_box_is_not_read() -> None:
    hidden = raw_pdf(ACROSS_AND_UP, page=b"/CropBox [0 0 595 400]")
    assert [w.text for w in text_layer_pages(hidden, [1])[1].words] == []


def test_words_split_at_spaces_and_gaps_and_expand_ligatures() -> None:
    # Helvetica 10 pt: "Net a" is 23.9 pt wide, "Total" 22.2 pt.
    content = (
        b"BT /F1 10 Tf 100 700 Td (Net a) Tj 27.9 0 Td (payer) Tj ET "  # a 4-pt gap
        b"BT /F1 10 Tf 100 650 Td (Total) Tj 23.4 0 Td (HT) Tj ET "  # a 1.2-pt kern only
        b"BT /F1 10 Tf 100 600 Td <c8> Tj (nal) Tj ET"  # the "fi" ligature glyph
    )
    encoding = b"<< /BaseEncoding /WinAnsiEncoding /Differences [200 /fi] >>"
    lines = group_lines(text_layer_pages(raw_pdf(content, encoding=encoding), [1])[1])
    assert [[w.text for w in line.words] for line in lines] == [
        ["Net", "a", "payer"],
        ["TotalHT"],
        ["final"],
    ]


def test_unmapped_glyphs_read_as_cid_codes_and_make_the_page_unusable() -> None:
    # A font whose glyph names map to no Unicode: pdfium gives control codes, which come
    # out as pdfminer's (cid:N) so the page goes to OCR instead.
    names = b" ".join(b"/g%d" % n for n in range(1, 40))
    encoding = b"<< /Type /Encoding /Differences [1 " + names + b"] >>"
    codes = bytes(range(1, 40)).hex().encode()
    data = raw_pdf(b"BT /F1 12 Tf 60 700 Td <" + codes + b"> Tj ET", encoding=encoding)
    page = text_layer_pages(data, [1])[1]
    assert page.words and all(w.text.startswith("(cid:") for w in page.words)
    assert not text_layer_usable(page)
    # The same page with a real encoding is usable.
    readable = raw_pdf(b"BT /F1 12 Tf 60 700 Td (Facture n 12 du 3 mai) Tj ET")
    assert text_layer_usable(text_layer_pages(readable, [1])[1])


def test_a_page_without_text_has_no_words() -> None:
    page = text_layer_pages(raw_pdf(b"0 0 m 100 100 l S"), [1])[1]
    assert (page.words, page.width, page.height) == ((), 595, 842)


# --------------------------------------------------------------------------- real text?


def test_text_layer_decision() -> None:
    assert has_text_layer("FACTURE n° F-2024-0153 du 23/05/2024\nTotal HT 7 850,00 €")
    assert not has_text_layer("")
    assert not has_text_layer(" . 1 ")  # a scanner's stray characters over an image
    assert not has_text_layer("\x01\x02\x03" * 40 + "ab")  # a font without a Unicode map
    # A listing printed with dashed rules and dotted leaders is still a text layer.
    rule = "-" * 80
    listing = (
        f"{rule}\n*** FACTURE ***\n{rule}\nN°......... FC24116222\n"
        f"EMISE LE..... 19 novembre 2024\nTotal HT ..... 1 212,64 €\n{rule}"
    )
    assert has_text_layer(listing)


def test_unmapped_glyphs_make_a_text_layer_unusable() -> None:
    def page_of(*texts: str) -> Page:
        words = tuple(
            Word(t, 10 * i, 10, 10 * i + 8, 20, 1, 1.0, FieldSource.TEXT_LAYER)
            for i, t in enumerate(texts)
        )
        return Page(1, 595, 842, words, FieldSource.TEXT_LAYER)

    assert text_layer_usable(page_of("Facture", "n°", "12"))
    assert not text_layer_usable(page_of("(cid:1)(cid:2)(cid:3)", "(cid:4)(cid:5)", "Facture"))


# --------------------------------------------------------------------------- read_visible


def test_digital_invoice_is_read_without_ocr(invoice: bytes) -> None:
    reading = read_visible(invoice)
    assert reading.ocr_pages == ()
    assert "OCR_USED" not in {f.code for f in reading.findings}
    assert reading.document_kind.value is DocumentKind.INVOICE
    assert reading.document_kind.confidence > 0.8
    values = reading.fields.values()
    for name, expected in INVOICE.items():
        assert values[name] == expected, name
    assert values["currency"] == "EUR"
    assert values["supplier_name"] == "MENUISERIE DUPONT"
    assert values["recipient_name"] == "Ministère de l'Intérieur"
    # Plain invoices carry no MOE/MOA (DESIGN 4.1).
    assert values["moe_siret"] is None and values["moa_siret"] is None
    number = reading.fields.invoice_number
    assert number.source is FieldSource.TEXT_LAYER and number.page == 1
    x0, top, x1, bottom = number.bbox or (0, 0, 0, 0)
    # The number only (not its label), on the line whose baseline is at 62 mm.
    assert x0 > 120 * MM + 40 and x1 - x0 > 40
    assert top < 62 * MM < bottom


def test_real_french_invoice_from_the_public_corpus() -> None:
    data = corpus_path("invoice2data", "NetpresseInvoice.pdf").read_bytes()
    values = read_visible(data).fields.values()
    assert values["invoice_number"] == "2022089083"
    assert values["issue_date"] == "2022-11-28"
    assert (values["total_excl_tax"], values["total_tax"], values["total_incl_tax"]) == (
        "46.68",
        "9.34",
        "56.02",
    )
    assert values["supplier_siret"] == "53084813400017"
    assert values["iban"] == "FR7610107002450061705231739"


def test_poorly_read_scan_is_reported() -> None:
    from pipeline.extract.visible import _reading_findings

    words = tuple(
        Word(t, 10 * i, 10, 10 * i + 8, 20, 1, 0.35, FieldSource.OCR)
        for i, t in enumerate(["Factnre", "n?", "F-2O24"])
    )
    scanned = Page(1, 595, 842, words, FieldSource.OCR)
    codes = {f.code: f for f in _reading_findings([scanned], (1,))}
    assert codes["OCR_USED"].location == "pages 1"
    assert codes["OCR_LOW_CONFIDENCE"].severity == "warning"
    empty = Page(1, 595, 842, (), FieldSource.OCR)
    assert "NO_VISIBLE_TEXT" in {f.code for f in _reading_findings([empty], (1,))}
