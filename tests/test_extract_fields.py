"""French field finders and the document classifier on hand-built pages.

Pages are built word by word (``row``): each cell is placed at its x position, its words
side by side as a PDF generator would place them, so the tests exercise the same line
grouping, label and value logic as real pages without any PDF in between.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.extract import pdf_text
from pipeline.extract.classify import classify
from pipeline.extract.fields import (
    FieldReading,
    PartyNumber,
    PublicStructure,
    _siren_of_the_vat,
    build_doc,
    find_fields,
    find_reference,
    format_amount,
    labelled_candidates,
    parse_amount,
    parse_date,
)
from pipeline.extract.fields import settle_for_kind as settle
from pipeline.extract.parties import RoleGuess, strip_legal_form
from pipeline.extract.pdf_text import Page, Word, group_lines, original_bbox
from pipeline.models import DocumentKind, ExtractedField, FieldSource, PieceFields

# --------------------------------------------------------------------------- page builder

CHAR = 0.5  # width of a character, in ems
SPACE = 0.3  # width of a word space, in ems


def row(top: float, *cells: tuple[float, str], size: float = 10.0, conf: float = 1.0) -> list[Word]:
    """Words of one printed line: each cell ``(x0, text)`` split on plain spaces."""
    words = []
    for x0, text in cells:
        x = x0
        for token in text.split(" "):
            if not token:
                x += SPACE * size
                continue
            width = len(token) * CHAR * size
            words.append(
                Word(token, x, top, x + width, top + size, 1, conf, FieldSource.TEXT_LAYER)
            )
            x += width + SPACE * size
    return words


def page(*rows: list[Word], number: int = 1, source: FieldSource = FieldSource.TEXT_LAYER) -> Page:
    words = tuple(
        Word(w.text, w.x0, w.top, w.x1, w.bottom, number, w.confidence, source)
        for r in rows
        for w in r
    )
    return Page(number=number, width=595.0, height=842.0, words=words, source=source)


def fields_of(*rows: list[Word]) -> PieceFields:
    return find_fields([page(*rows)]).fields


def value(*rows: list[Word], field: str) -> str | None:
    return fields_of(*rows).value(field)


# --------------------------------------------------------------------------- lines


def test_words_group_into_lines_with_tabs_between_columns() -> None:
    lines = group_lines(
        page(row(100, (50, "Total HT"), (400, "7 850,00 €")), row(115, (50, "TVA")))
    )
    assert [line.text for line in lines] == ["Total HT\t7 850,00 €", "TVA"]


def test_a_large_name_grazing_a_line_of_small_captions_keeps_to_its_own_line() -> None:
    lines = group_lines(
        page(
            row(115.2, (312, "N° DE L'AVOIR"), size=4.8),
            row(113.9, (429, "A20248829"), size=7.7),
            # OCR boxes hug the ink: the accent makes « COLLÈGE » taller than the rest.
            row(117.6, (54.7, "COLLÈGE"), size=9.3),
            row(119.2, (90, "LOUISE MICHEL"), size=7.7),
        )
    )
    assert [line.text for line in lines] == ["N° DE L'AVOIR\tA20248829", "COLLÈGE LOUISE MICHEL"]


def test_a_title_keeps_its_words_together_beside_a_speck_read_as_a_letter() -> None:
    lines = group_lines(
        page(
            row(41.0, (445, "L"), size=5.5),
            row(37.2, (366, "ÉTAT"), size=17.5),
            row(40.8, (400, "D'ACOMPTE"), size=14.1),
        )
    )
    assert len(lines) == 1
    assert lines[0].text.startswith("ÉTAT D'ACOMPTE")


def test_a_tall_smudge_read_as_a_rule_does_not_merge_two_lines() -> None:
    lines = group_lines(
        page(
            row(83.3, (107, "sr Er"), size=5.7, conf=0.2),
            row(82.3, (442, "_"), size=14.4, conf=0.2),
            row(87.1, (390, "Réf. service :"), (448, "DGFIP-SFACT-44"), size=6.2),
            row(91.7, (106, "compta SIRET 710 114 745 00031"), size=9.3),
        )
    )
    assert any(line.text == "Réf. service :\tDGFIP-SFACT-44" for line in lines)


def test_slightly_uneven_baselines_stay_on_one_line() -> None:
    words = row(100, (50, "Facture")) + row(102.5, (88, "n°"), (101, "F-17"))
    assert [line.text for line in group_lines(page(words))] == ["Facture n° F-17"]


def ocr_row(top: float, *cells: tuple[float, str], monospace: bool) -> list[Word]:
    """OCR words of one line at 10 pt: ink boxes (no side bearings), cap height high,
    set in Courier (6 pt a character) or with Helvetica's letter widths."""
    words = []
    for x0, text in cells:
        x = x0
        for token in text.split(" "):
            advance = 6.0 * len(token) if monospace else pdf_text._proportional_width(token) / 100
            bearing = 1.0 if monospace else 0.3
            words.append(
                Word(token, x + bearing, top, x + advance - bearing, top + 7, 1, 0.9, "ocr")
            )
            x += advance + (6.0 if monospace else 2.78)
    return words


MONTHLY_STATEMENT = (
    (100, ((50, "Montant initial du marché HT :"), (300, "334 300,00 €"))),
    (115, ((50, "Travaux exécutés HT"), (300, "240 420,50 €"))),
    (130, ((50, "Fondations superficielles"), (300, "72 550,00 €"))),
    (145, ((50, "Révision des prix"), (300, "6 351,70 €"))),
)


def test_ocr_words_in_a_monospace_font_keep_their_word_spaces() -> None:
    # Courier's space is a whole character cell: between ink boxes it is wider than a
    # proportional font's column gap, yet « 240 420,50 » is one amount.
    rows = [ocr_row(top, *cells, monospace=True) for top, cells in MONTHLY_STATEMENT]
    lines = group_lines(page(*rows, source=FieldSource.OCR))
    assert lines[1].text == "Travaux exécutés HT\t240 420,50 €"
    assert lines[0].text == "Montant initial du marché HT :\t334 300,00 €"


def test_an_erased_vertical_rule_parts_two_cells_however_close() -> None:
    rows = [ocr_row(top, *cells, monospace=True) for top, cells in MONTHLY_STATEMENT]
    strip = ocr_row(170, (50, "Total net HT"), (128, "TVA 20 %"), monospace=True)
    words = tuple(w for r in (*rows, strip) for w in r)
    ruled = Page(1, 595.0, 842.0, words, FieldSource.OCR, column_rules=((125.0, 160.0, 185.0),))
    assert group_lines(ruled)[-1].text == "Total net HT\tTVA 20 %"
    unruled = Page(1, 595.0, 842.0, words, FieldSource.OCR)
    assert group_lines(unruled)[-1].text == "Total net HT TVA 20 %"


def test_ocr_boxes_without_width_do_not_stop_the_font_test() -> None:
    rows = [ocr_row(top, *cells, monospace=True) for top, cells in MONTHLY_STATEMENT]
    flat = [Word(w.text, w.x0, w.top, w.x0, w.bottom, 1, 0.2, "ocr") for w in rows[0]]
    lines = group_lines(page(flat, *rows[1:], source=FieldSource.OCR))
    assert lines[1].text == "Travaux exécutés HT\t240 420,50 €"


def test_ocr_words_in_a_proportional_font_keep_narrow_column_gaps() -> None:
    rows = [ocr_row(top, *cells, monospace=False) for top, cells in MONTHLY_STATEMENT]
    heading = ocr_row(80, (50, "COMMUNAUTÉ DE COMMUNES"), (211, "DÉCOMPTE"), monospace=False)
    lines = group_lines(page(heading, *rows, source=FieldSource.OCR))
    # Ten points between the name and the title: over the column gap at this size.
    assert lines[0].text == "COMMUNAUTÉ DE COMMUNES\tDÉCOMPTE"
    assert lines[2].text == "Travaux exécutés HT\t240 420,50 €"


# --------------------------------------------------------------------------- invoice number


@pytest.mark.parametrize(
    "label",
    [
        "Facture n°",
        "Facture N° :",
        "FACTURE N°",
        "N° de facture :",
        "Numéro de facture",
        "Réf. :",
        "Référence :",
        "N° de pièce :",
        "Avoir n°",
        "Projet de décompte n°",
        "Décompte n°",
        "Facture Nº",
    ],
)
def test_invoice_number_wordings(label: str) -> None:
    assert value(row(100, (50, f"{label} F-2024-0153")), field="invoice_number") == "F-2024-0153"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FACTURE N° FA 2024 0117", "FA20240117"),  # printed in groups: all of them
        ("Facture #117", "117"),
        ("Facture n° FA 2024 0117 — Total 12 000,00 €", "FA20240117"),
    ],
)
def test_invoice_numbers_in_groups_or_after_a_hash(text: str, expected: str) -> None:
    assert value(row(100, (50, text)), field="invoice_number") == expected


def test_invoice_number_glued_to_its_label_gets_its_own_box() -> None:
    found = fields_of(row(100, (50, "Facture n°562044387 du 02/07/2015")))
    assert found.invoice_number.value == "562044387"
    assert found.issue_date.value == "2015-07-02"
    x0, _, x1, _ = found.invoice_number.bbox or (0, 0, 0, 0)
    # "Facture" (7 characters) and a space, then "n°" (2): the number starts after them.
    start = 50 + (7 * CHAR + SPACE + 2 * CHAR) * 10
    assert (x0, x1) == (pytest.approx(start), pytest.approx(start + 9 * CHAR * 10))


@pytest.mark.parametrize(
    "text",
    [
        "Acompte n° 7",
        "Situation n° 11",
        "Devis n° D-2024-118",
        "Bon de livraison n° BL-2024-778",
        "Facture d'origine : FA-2024-1193",
        "Avoir sur facture n° FA-2024-1193",
        "Réf. client : C-0457",
        "Votre référence : PO-445",
    ],
)
def test_other_numbers_are_not_the_invoice_number(text: str) -> None:
    assert value(row(100, (50, text)), field="invoice_number") is None


def test_situation_ordinal_beside_the_piece_number() -> None:
    found = fields_of(
        row(80, (50, "PROJET DE DÉCOMPTE MENSUEL — Situation n° 7")),
        row(100, (50, "N° de pièce : PDM-2024-0153")),
    )
    assert found.invoice_number.value == "PDM-2024-0153"


def test_credit_note_names_the_invoice_it_cancels() -> None:
    found = fields_of(
        row(100, (50, "Avoir n° AV-2024-0087")),
        row(115, (50, "Avoir sur facture n° FA-2024-1193 du 14/10/2024")),
    )
    assert found.invoice_number.value == "AV-2024-0087"


def test_label_above_value() -> None:
    found = fields_of(
        row(
            100,
            (50, "NUMÉRO D'AVOIR"),
            (200, "DATE D'ÉMISSION"),
            (350, "FACTURE D'ORIGINE"),
            size=7,
        ),
        row(110, (50, "AV-2024-0087"), (200, "28 novembre 2024"), (350, "FA-2024-1193")),
    )
    assert found.invoice_number.value == "AV-2024-0087"
    assert found.issue_date.value == "2024-11-28"


def test_table_header_above_its_column() -> None:
    found = fields_of(
        row(
            100,
            (50, "N° de facture"),
            (150, "Date"),
            (230, "Code service"),
            (330, "N° d'engagement"),
            (450, "N° de marché"),
            size=8,
        ),
        row(
            112,
            (50, "RC-2504-0187"),
            (150, "07/04/2025"),
            (230, "FINANCES"),
            (330, "BC-2025-0342"),
            (450, "2024-SAL-01"),
        ),
    )
    assert found.invoice_number.value == "RC-2504-0187"
    assert found.issue_date.value == "2025-04-07"
    assert found.service_code.value == "FINANCES"
    assert found.engagement_number.value == "BC-2025-0342"
    assert found.contract_number.value == "2024-SAL-01"


def test_centred_headers_over_right_aligned_amounts() -> None:
    found = fields_of(
        row(400, (80, "Total HT"), (240, "TVA"), (360, "Total TTC")),
        row(415, (95, "9 765,55 €"), (260, "1 953,11 €"), (375, "11 718,66 €")),
    )
    assert [found.value(n) for n in ("total_excl_tax", "total_tax", "total_incl_tax")] == [
        "9765.55",
        "1953.11",
        "11718.66",
    ]


def test_value_indented_under_its_label() -> None:
    assert (
        value(
            row(200, (50, "Marché public")),
            row(212, (120, "AO-2022-CC-20")),
            field="contract_number",
        )
        == "AO-2022-CC-20"
    )


def test_a_sidebar_left_of_a_label_is_not_its_value() -> None:
    found = fields_of(
        row(100, (300, "Facture n°"), (420, "Date")),
        row(112, (150, "EURL au capital de 150 000 €")),
        row(125, (300, "FBE-2024-0792"), (420, "26.10.2024")),
    )
    assert found.invoice_number.value == "FBE-2024-0792"


def test_empty_cell_under_a_header_is_null_not_the_next_line() -> None:
    found = fields_of(
        row(100, (50, "Engagement"), (200, "Marché"), size=7),
        row(110, (50, "—"), (200, "—")),
        row(130, (50, "30240 PORT-LAVAL"), (200, "2 rue du Port")),
    )
    assert found.engagement_number.value is None
    assert found.contract_number.value is None


@pytest.mark.parametrize("offset", [6.0, 8.0])
def test_value_centred_in_a_taller_cell_beside_its_label(offset: float) -> None:
    # The value sits lower than its label, far enough to be a line of its own.
    found = fields_of(
        row(200, (50, "Marché n°")),
        row(200 + offset, (200, "2024-MAPA-017")),
        row(230, (50, "Montant HT")),
        row(230 + offset, (200, "1 234,00 €"), size=12),
    )
    assert found.contract_number.value == "2024-MAPA-017"
    assert found.total_excl_tax.value == "1234.00"


def test_the_row_below_a_label_is_not_beside_it() -> None:
    found = fields_of(
        row(200, (50, "Marché n°")),
        row(212, (50, "Objet"), (200, "Réfection de la toiture")),
    )
    assert found.contract_number.value is None


@pytest.mark.parametrize("value_top", [200.0, 205.5, 211.0])
@pytest.mark.parametrize(
    ("upper", "lower", "field", "printed", "expected"),
    [
        ("Numéro de", "marché", "contract_number", "2024-MAPA-017", "2024-MAPA-017"),
        ("Montant total", "HT", "total_excl_tax", "1 234,00", "1234.00"),
        ("Net à", "payer", "amount_due", "1 480,80", "1480.80"),
        ("N° d'engage-", "ment juridique", "engagement_number", "4500123456", "4500123456"),
        ("Code", "service", "service_code", "SE-TECH-04", "SE-TECH-04"),
    ],
)
def test_a_label_wrapped_over_two_lines_of_its_cell(
    upper: str, lower: str, field: str, printed: str, expected: str, value_top: float
) -> None:
    # The value beside the first line, centred on both, or beside the second.
    found = fields_of(row(200, (50, upper)), row(211, (50, lower)), row(value_top, (200, printed)))
    assert found.value(field) == expected


def test_a_wrapped_header_labels_the_value_under_it() -> None:
    found = fields_of(
        row(200, (50, "Numéro de"), (200, "Date de")),
        row(209, (50, "marché"), (200, "la facture")),
        row(222, (50, "2024-MAPA-017"), (200, "12/03/2024")),
    )
    assert found.contract_number.value == "2024-MAPA-017"
    assert found.issue_date.value == "2024-03-12"


@pytest.mark.parametrize(
    ("heading", "field"),
    [
        ("MARCHÉ", "contract_number"),
        ("Références du marché", "contract_number"),
        ("Engagement juridique", "engagement_number"),
        ("Service destinataire", "service_code"),
    ],
)
def test_generic_cells_of_a_block_take_the_object_its_heading_names(
    heading: str, field: str
) -> None:
    found = fields_of(
        row(100, (50, "FACTURE"), size=16),
        row(130, (50, "N° :"), (120, "FA-2024-0153")),
        row(200, (300, heading)),
        row(213, (300, "Objet :"), (370, "Réfection de la toiture")),
        row(226, (300, "N° :"), (370, "X24-0017")),
    )
    assert found.value(field) == "X24-0017"
    assert found.invoice_number.value == "FA-2024-0153"


def test_a_generic_cell_far_from_any_heading_names_nothing() -> None:
    found = fields_of(
        row(100, (300, "MARCHÉ")),
        row(113, (300, "Objet :"), (370, "Réfection")),
        row(126, (300, "Lot :"), (370, "03")),
        row(139, (300, "Durée :"), (370, "6 mois")),
        row(152, (300, "Délai :"), (370, "3 semaines")),
        row(165, (300, "Code :"), (370, "X24-0017")),
    )
    assert found.contract_number.value is None


def test_a_listing_with_dotted_leaders_and_padded_colons() -> None:
    # A print-out: labels padded with dots or with spaces up to a column of colons.
    found = fields_of(
        row(100, (50, "FACTURE"), size=16),
        row(130, (50, "N° .................... : FA-2024-0457")),
        row(142, (50, "Date...................12/03/2024")),
        row(154, (50, "Service                : ST-VOIRIE")),
        row(166, (50, "N°                     : 1300045872")),
        row(178, (50, "Contrat ............... 2023-MT-118")),
        row(190, (50, "N° marché ............. : M24-0012")),
    )
    assert found.invoice_number.value == "FA-2024-0457"
    assert found.issue_date.value == "2024-03-12"
    # « Service » with its value beside it heads no block: the « N° » under it is not
    # the service's.
    assert found.service_code.value == "ST-VOIRIE"
    assert found.contract_number.value in {"2023-MT-118", "M24-0012"}
    numbered = fields_of(row(130, (50, "N° marché ............. : M24-0012")))
    # The dots and the colon add nothing: « N° marché » is the wording that counts.
    assert numbered.contract_number.confidence == _contract_confidence("N° marché : M24-0012")


def test_a_header_cut_short_by_an_ellipsis_is_no_leader() -> None:
    # « … » ends a header too long for its column: the next header keeps its own column.
    found = fields_of(
        row(
            55,
            (50, "Total H.T"),
            (110, "Montant de la TVA 20 % sur 93 549…"),
            (240, "Montant de la TVA 10 % sur 134 36…"),
            (420, "Net TTC"),
            size=7,
        ),
        row(
            69,
            (70, "227 910,11 €"),
            (190, "18 709,99 €"),
            (340, "13 436,01 €"),
            (460, "260 056,11 €"),
        ),
    )
    assert found.total_incl_tax.value == "260056.11"


def _contract_confidence(line: str) -> float:
    return fields_of(row(130, (50, line))).contract_number.confidence


def test_captions_printed_under_their_values_as_on_a_form() -> None:
    found = fields_of(
        row(200, (50, "2024-MAPA-017"), size=10),
        row(211, (50, "N° de marché"), size=6),
        row(230, (50, "4500123456"), size=10),
        row(241, (50, "N° d'engagement"), size=6),
    )
    assert found.contract_number.value == "2024-MAPA-017"
    assert found.engagement_number.value == "4500123456"


def _form(*boxes: tuple[tuple[str, str], ...], under: bool) -> list[list[Word]]:
    """Rows of form boxes under a lettered heading: each box a value in 10 pt and a
    caption in 6 pt capitals, in the box's top corner or under the box. The gap from a
    caption to the next row's value is smaller than to its own value, as on the forms
    that print captions under their boxes."""
    rows, y = [row(90, (50, "B – RÉFÉRENCES DE LA PIÈCE"), size=8)], 104.0
    for boxed in boxes:
        xs = [50 + 170 * i for i in range(len(boxed))]
        values = row(y + (0 if under else 9), *zip(xs, [v for _, v in boxed], strict=True), size=10)
        captions = row(
            y + (14 if under else 0), *zip(xs, [c for c, _ in boxed], strict=True), size=6
        )
        rows += [values, captions] if under else [captions, values]
        y += 29 if under else 24
    rows.append(row(y + 10, (50, "C – DESTINATAIRE DE LA FACTURATION"), size=8))
    return rows


@pytest.mark.parametrize("under", [True, False])
def test_a_form_of_boxes_reads_its_captions_on_the_side_it_prints_them(under: bool) -> None:
    found = fields_of(
        *_form(
            (("N° FACTURE", "FA-2024-0153"), ("DATE", "12/03/2024"), ("CODE SERVICE", "SE-042")),
            (("N° D'ENGAGEMENT", "EJ2024118"), ("MARCHÉ N°", "M24-0012"), ("RÉF. CLIENT", "C-58")),
            (("N° DEVIS", "D-2024-342"), ("COMMANDE DU", "03/01/2024")),
            under=under,
        )
    )
    assert found.invoice_number.value == "FA-2024-0153"
    assert found.issue_date.value == "2024-03-12"
    assert found.service_code.value == "SE-042"
    assert found.engagement_number.value == "EJ2024118"
    assert found.contract_number.value == "M24-0012"


def test_a_row_of_captions_holds_no_value_for_its_neighbour() -> None:
    found = fields_of(
        *_form(
            (("N° FACTURE", "FA-2024-0153"), ("DATE", "12/03/2024")),
            (("SERVICE EXÉCUTANT", "COMPTA-04"), ("RÉF. CLIENT", "C-58")),
            (("N° DEVIS", "D-2024-342"), ("COMMANDE DU", "03/01/2024")),
            under=False,
        )
    )
    assert found.service_code.value == "COMPTA-04"


def test_an_evenly_spaced_list_of_labels_over_values_reads_downwards() -> None:
    found = fields_of(
        row(200, (50, "N° de marché"), size=8),
        row(210, (50, "2024-MAPA-017"), size=10),
        row(226, (50, "N° d'engagement"), size=8),
        row(236, (50, "4500123456"), size=10),
    )
    assert found.contract_number.value == "2024-MAPA-017"
    assert found.engagement_number.value == "4500123456"


def test_a_label_ending_a_line_of_prose_takes_the_value_opening_the_next() -> None:
    found = fields_of(
        row(300, (50, "Nous vous adressons ci-après notre facture n° FA-2024-0153 du 12/03/2024,")),
        row(311, (50, "à l'attention du service")),  # short: the paragraph's last line
        row(330, (50, "Veuillez trouver ci-dessous notre décompte, établi au titre du marché n°")),
        row(341, (50, "2024-MAPA-017 – et de notre devis D-2024-342.")),
    )
    assert found.contract_number.value == "2024-MAPA-017"
    assert found.service_code.value is None
    found = fields_of(
        row(360, (50, "Le présent décompte vaut demande de paiement, engagement juridique")),
        row(371, (50, "n° BC-2024-7097 – sans escompte.")),
    )
    assert found.engagement_number.value == "BC-2024-7097"


def test_the_service_named_in_a_sentence() -> None:
    found = fields_of(
        row(300, (50, "Voici notre facture n° FA-2024-0153, à l'attention du service"), size=12),
        row(313, (50, "ARM-ESID-LYO – engagement juridique n° 4500123456."), size=12),
    )
    assert found.service_code.value == "ARM-ESID-LYO"


def test_the_service_named_in_a_justified_sentence_ocr_cut_at_its_wide_spaces() -> None:
    rows = (
        row(
            313,
            (57, "Veuillez trouver notre projet de décompte final n° PDF-2025-247 du 27/04/2025"),
            (420, "à l'attention du service"),
            size=8,
        ),
        row(
            326,
            (57, "DRT-COLLEGES"),
            (130, "numéro d'engagement EJ202571870"),
            (330, "devis"),
            size=8,
        ),
    )
    found = find_fields([page(*rows, source=FieldSource.OCR)]).fields
    assert found.service_code.value == "DRT-COLLEGES"


def test_a_subcontractor_s_payment_request_numbered_in_its_title() -> None:
    found = fields_of(
        row(200, (50, "Objet : Demande de paiement direct – sous-traitant n° DPST-2024-395")),
        row(215, (50, "Demande n° 5 – travaux du 01/09/2024 au 30/09/2024")),
    )
    assert found.invoice_number.value == "DPST-2024-395"


def test_a_postcode_in_the_next_block_is_not_a_reference() -> None:
    found = fields_of(
        row(198, (50, "Demande de paiement direct – sous-traitant N°"), (330, "68100 MULHOUSE")),
        row(212, (50, "ST2025-8054")),
    )
    assert found.invoice_number.value == "ST2025-8054"


def test_stacked_labels_are_not_one_wrapped_label() -> None:
    # "Date" over "Facture n°" are two labels, not "Date facture".
    found = fields_of(
        row(200, (50, "Date"), (200, "12/03/2024")),
        row(211, (50, "Facture n°"), (200, "FA-2024-0153")),
    )
    assert found.issue_date.value == "2024-03-12"
    assert found.invoice_number.value == "FA-2024-0153"


def test_ocr_colon_read_as_a_letter() -> None:
    assert (
        value(row(100, (50, "FACTURE N° à IMF-25-00318")), field="invoice_number") == "IMF-25-00318"
    )


def test_split_identifier_after_a_dash() -> None:
    # OCR cut the number at its dash: "F-2024-" and "0153" one space apart.
    words = row(100, (50, "Facture n° F-2024- 0153"))
    assert value(words, field="invoice_number") == "F-2024-0153"


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Date de facture : 23/05/2024", "2024-05-23"),
        ("Date d'émission : 23.05.2024", "2024-05-23"),
        ("Date : 23-05-2024", "2024-05-23"),
        ("Le 23/05/2024", "2024-05-23"),
        ("Fait à Paris, le 12 mars 2025", "2025-03-12"),
        ("Date : 1er avril 2024", "2024-04-01"),
        ("Date : 3 février 2025", "2025-02-03"),
        ("Émise le 05/08/24", "2024-08-05"),
        ("Date facture : 2024-05-23", "2024-05-23"),
        ("Date : 12 mar. 2024", "2024-03-12"),
        ("Date.............23/05/2024", "2024-05-23"),
    ],
)
def test_issue_date_wordings(text: str, expected: str) -> None:
    assert value(row(100, (50, text)), field="issue_date") == expected


def test_due_and_delivery_dates_are_not_the_issue_date() -> None:
    found = fields_of(
        row(100, (50, "Date d'échéance : 22/06/2024")),
        row(115, (50, "Date de livraison : 20/05/2024")),
        row(130, (50, "Date : 23/05/2024")),
    )
    assert found.issue_date.value == "2024-05-23"


def test_a_strip_of_date_columns_keeps_each_header_to_its_column() -> None:
    # « Date » | « Échéance » are two headers, not one « date d'échéance ».
    found = fields_of(
        row(130, (50, "Date"), (150, "Échéance"), (250, "Commande du")),
        row(144, (50, "12/03/2024"), (150, "11/04/2024"), (250, "02/02/2024")),
    )
    assert found.issue_date.value == "2024-03-12"
    assert found.issue_date.confidence > 0.5


@pytest.mark.parametrize(
    "mention",
    [
        "Avoir sur facture n° F-2024-0099 du 01/02/2024",
        "En référence à notre facture F-2024-0099 du 01/02/2024",
    ],
)
def test_the_date_of_the_invoice_a_credit_note_refers_to_is_not_its_own(mention: str) -> None:
    found = fields_of(
        row(60, (40, "AVOIR"), size=14),
        row(90, (40, mention)),
        row(102, (40, "Réf. avoir : AV-2024-12")),
        row(114, (40, "Émis le 12/03/2024")),
    )
    assert found.issue_date.value == "2024-03-12"


def test_due_date_alone_gives_no_issue_date() -> None:
    assert value(row(100, (50, "Échéance : 22/06/2024")), field="issue_date") is None


def test_an_unlabelled_date_across_from_the_letterhead_s_siret_is_a_guess() -> None:
    found = fields_of(
        row(40, (50, "BTP Rénovation SAS"), (380, "FACTURE"), size=14),
        row(60, (50, "SIRET 732 829 320 00074"), (380, "FA-2024-0117 — 12/03/2024")),
    )
    assert found.issue_date.value == "2024-03-12"
    assert found.issue_date.confidence < 0.5
    # A due date's label still keeps its date from passing for the issue date.
    assert value(row(60, (50, "Échéance"), (200, "22/06/2024")), field="issue_date") is None


# --------------------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    "printed",
    [
        "7 850,00 €",
        "7\u00a0850,00 €",
        "7\u202f850,00 €",
        "7.850,00 EUR",
        "7850.00",
        "7850,00",
        "7 850,00",
        "7,850.00",
        "7'850.00",  # a Swiss supplier's thousands
    ],
)
def test_amount_formats(printed: str) -> None:
    assert value(row(100, (50, "Total HT"), (400, printed)), field="total_excl_tax") == "7850.00"


@pytest.mark.parametrize(
    "label", ["Total HT", "Montant HT", "Montant H.T.", "Base HT", "Total H.T."]
)
def test_total_excl_tax_wordings(label: str) -> None:
    assert value(row(100, (50, label), (400, "1 234,56 €")), field="total_excl_tax") == "1234.56"


@pytest.mark.parametrize(
    "label", ["TVA 20 %", "Montant TVA", "Total TVA", "T.V.A. 20 %", "TVA (5,5 %)"]
)
def test_total_tax_wordings_skip_the_rate(label: str) -> None:
    assert value(row(100, (50, label), (400, "246,91 €")), field="total_tax") == "246.91"


@pytest.mark.parametrize(
    "label", ["Total TTC", "Montant TTC", "Montant T.T.C.", "Total T.T.C.", "Net TTC"]
)
def test_total_incl_tax_wordings(label: str) -> None:
    assert value(row(100, (50, label), (400, "1 481,47 €")), field="total_incl_tax") == "1481.47"


@pytest.mark.parametrize(
    "label",
    [
        "Net à payer",
        "Reste à payer",
        "Montant à payer",
        "Net à mandater",
        "NET À PAYER",
        "Montant dû ..........",
        "Somme à mandater",
        "Net à percevoir",
        "Montant dû au titre de ce décompte",
        "Montant à rembourser",
    ],
)
def test_amount_due_wordings(label: str) -> None:
    assert value(row(100, (50, label), (400, "9 420,00 €")), field="amount_due") == "9420.00"


def test_english_layout_of_a_supplier_from_another_member_state() -> None:
    # Wording and number format of the FNFE sample Facture_UE (a Spanish customer).
    found = fields_of(
        row(80, (50, "Invoice FA-2017-0008")),
        row(100, (50, "Invoice Date"), (200, "11/03/2017")),
        row(115, (50, "Due Date"), (200, "12/03/2017")),
        row(300, (50, "SEPA Wire transfer"), (200, "11/17/2017"), (300, "623.00 €")),
        row(400, (300, "Net total"), (450, "2,076.76 €")),
        row(415, (300, "Tax Total"), (450, "0.00 €")),
        row(430, (300, "Total"), (450, "2,076.76 €")),
        row(445, (300, "Residual"), (450, "1,453.76 €")),
    )
    assert found.invoice_number.value == "FA-2017-0008"
    # 11/17/2017 can only be read month first: so is 11/03/2017, 3 November.
    assert found.issue_date.value == "2017-11-03"
    assert [found.value(n) for n in ("total_excl_tax", "total_tax", "total_incl_tax")] == [
        "2076.76",
        "0.00",
        "2076.76",
    ]
    assert found.amount_due.value == "1453.76"


def test_slashed_dates_stay_day_first_when_one_only_reads_so() -> None:
    found = fields_of(
        row(100, (50, "Date de facture"), (200, "11/03/2017")),
        row(115, (50, "Échéance"), (200, "25/04/2017")),
    )
    assert found.issue_date.value == "2017-03-11"


def totals(ht: str, tva: str, ttc: str, *extra: list[Word]) -> PieceFields:
    return fields_of(
        row(400, (300, "Total HT"), (450, ht)),
        row(415, (300, "TVA 20 %"), (450, tva)),
        row(430, (300, "Total TTC"), (450, ttc)),
        *extra,
    )


def test_amounts_that_add_up_are_trusted() -> None:
    found = totals("7 850,00 €", "1 570,00 €", "9 420,00 €")
    assert (found.total_excl_tax.value, found.total_tax.value, found.total_incl_tax.value) == (
        "7850.00",
        "1570.00",
        "9420.00",
    )
    assert min(found.total_excl_tax.confidence, found.total_incl_tax.confidence) > 0.9
    # No "net à payer" and nothing deducted: the TTC is what is due, less surely.
    assert found.amount_due.value == "9420.00"
    assert found.amount_due.confidence < found.total_incl_tax.confidence


def test_amounts_that_do_not_add_up_are_kept_with_less_confidence() -> None:
    def reading(source: FieldSource):
        return find_fields(
            [
                page(
                    row(400, (300, "Total HT"), (450, "1 250,00 €")),
                    row(415, (300, "TVA"), (450, "250,00 €")),
                    row(430, (300, "Total TTC"), (450, "1 520,00 €")),
                    source=source,
                )
            ]
        )

    printed = reading(FieldSource.TEXT_LAYER)
    assert printed.fields.total_incl_tax.value == "1520.00"
    assert "AMOUNTS_NOT_RECONCILED" in {f.code for f in printed.findings}
    adding_up = totals("1 250,00 €", "250,00 €", "1 500,00 €").total_incl_tax.confidence
    assert printed.fields.total_incl_tax.confidence < adding_up
    # A text layer prints what it prints: the values stay trusted. OCR may have misread.
    assert printed.fields.total_incl_tax.confidence > 0.8
    assert reading(FieldSource.OCR).fields.total_incl_tax.confidence < 0.8


def test_the_triple_that_adds_up_wins_over_a_closer_label() -> None:
    found = fields_of(
        row(300, (50, "Montant HT"), (450, "100,00 €")),  # an item line's header value
        row(400, (300, "Total HT"), (450, "7 850,00 €")),
        row(415, (300, "TVA 20 %"), (450, "1 570,00 €")),
        row(430, (300, "Total TTC"), (450, "9 420,00 €")),
    )
    assert found.total_excl_tax.value == "7850.00"


@pytest.mark.parametrize(
    "prose",
    [
        (
            "Nous vous prions de régler la somme de 2 220,00 € TTC, soit 1 850,00 € HT",
            "et 370,00 € de TVA au taux de 20 %.",
        ),
        (
            "Montant des travaux : 1 850,00 € HT, TVA 20 % : 370,00 €, soit 2 220,00 € TTC.",
            "Nous restons à votre disposition.",
        ),
        (
            "La présente facture s'élève à 1 850,00 euros hors taxes, soit 2 220,00 euros",
            "toutes taxes comprises (dont TVA 20 % : 370,00 euros).",
        ),
    ],
)
def test_amounts_named_after_the_figure_in_a_letter(prose: tuple[str, str]) -> None:
    found = fields_of(row(300, (50, prose[0])), row(312, (50, prose[1])))
    assert (found.total_excl_tax.value, found.total_tax.value, found.total_incl_tax.value) == (
        "1850.00",
        "370.00",
        "2220.00",
    )


def test_a_figure_named_after_itself_never_outweighs_the_totals_block() -> None:
    found = fields_of(
        row(300, (50, "Le marché prévoyait 90 000,00 € HT de travaux, dont 1 500,00 € HT")),
        row(312, (50, "réalisés ce mois-ci.")),
        row(400, (300, "Total HT"), (450, "1 250,00 €")),
        row(415, (300, "TVA 20 %"), (450, "250,00 €")),
        row(430, (300, "Total TTC"), (450, "1 500,00 €")),
    )
    assert (found.total_excl_tax.value, found.total_incl_tax.value) == ("1250.00", "1500.00")
    # A running total (« cumul ») is never the piece's.
    cumul = fields_of(row(300, (50, "Cumul des travaux : soit 9 000,00 € HT à ce jour.")))
    assert cumul.total_excl_tax.value is None


def test_a_compact_totals_box_names_its_rows_by_the_bare_abbreviations() -> None:
    found = fields_of(
        row(400, (300, "HT"), (450, "1 850,00 €")),
        row(415, (300, "TVA"), (450, "370,00 €")),
        row(430, (300, "TTC"), (450, "2 220,00 €")),
    )
    assert (found.total_excl_tax.value, found.total_tax.value, found.total_incl_tax.value) == (
        "1850.00",
        "370.00",
        "2220.00",
    )


def test_the_vat_column_of_a_summary_beside_its_base_column() -> None:
    # « Base » heads the column before « TVA »: it does not make the VAT a base.
    found = fields_of(
        row(380, (50, "Total HT"), (450, "1 850,00 €")),
        row(395, (50, "Code"), (100, "Taux"), (180, "Base"), (260, "TVA")),
        row(410, (50, "T1"), (100, "20 %"), (180, "1 850,00"), (260, "370,00")),
        row(425, (50, "Net à payer TTC"), (450, "2 220,00 €")),
    )
    assert (found.total_tax.value, found.total_incl_tax.value) == ("370.00", "2220.00")


def test_the_total_row_of_a_vat_summary_totals_each_column() -> None:
    # Two rates, then a « Total » row: its base is the HT, its VAT the VAT. The bases
    # 850 + 1 000 = 1 850 add up by chance and must not pass for HT + TVA = TTC.
    found = fields_of(
        row(300, (50, "Récapitulatif TVA")),
        row(314, (50, "Taux"), (130, "Base HT"), (230, "Montant TVA")),
        row(328, (50, "10,00 %"), (130, "850,00"), (230, "85,00")),
        row(342, (50, "20,00 %"), (130, "1 000,00"), (230, "200,00")),
        row(356, (50, "Total"), (130, "1 850,00"), (230, "285,00")),
        row(370, (340, "Total TTC"), (470, "2 135,00 €")),
    )
    assert (found.total_excl_tax.value, found.total_tax.value, found.total_incl_tax.value) == (
        "1850.00",
        "285.00",
        "2135.00",
    )


def test_a_total_ocr_garbled_past_reading_is_what_the_other_two_imply() -> None:
    def reading(ht: str, source: FieldSource = FieldSource.OCR):
        rows = (
            row(400, (300, "Montant HT"), (450, ht)),
            row(415, (300, "Total TVA 20 %"), (450, "1 860,15 €")),
            row(430, (300, "Total TTC"), (450, "11 160,91 €")),
        )
        return find_fields([page(*rows, source=source)])

    # The comma read as a question mark: the digits are the HT that TTC - TVA gives.
    garbled = reading("9 300 ? 76 €")
    assert garbled.fields.total_excl_tax.value == "9300.76"
    assert [f.code for f in garbled.findings] == ["FIELD_CORRECTED"]
    assert "9 300 ? 76" in garbled.findings[0].message
    # Other digits are another amount: nothing is made up.
    assert reading("9 800 ? 76 €").fields.total_excl_tax.value != "9300.76"
    # A text layer prints what it prints.
    assert reading("9 300 ? 76 €", FieldSource.TEXT_LAYER).fields.total_excl_tax.value != "9300.76"


@pytest.mark.parametrize(
    ("ht", "ttc"),
    [
        ("Montant de l'avoir HT", "Montant de l'avoir TTC"),
        ("Total avoir HT", "Total avoir TTC"),
        ("Montant du présent avoir HT", "Montant du présent avoir TTC"),
    ],
)
def test_a_credit_note_names_its_totals_after_itself(ht: str, ttc: str) -> None:
    found = fields_of(
        row(60, (40, "AVOIR N° AV-2024-12"), size=14),
        row(300, (300, ht), (470, "-1 000,00 €")),
        row(314, (300, "TVA 20 %"), (470, "-200,00 €")),
        row(328, (300, ttc), (470, "-1 200,00 €")),
        row(342, (300, "Montant à rembourser"), (470, "1 200,00 €")),
    )
    assert (found.total_excl_tax.value, found.total_incl_tax.value) == ("1000.00", "1200.00")
    assert found.amount_due.confidence > 0.9  # printed, and what TTC says


def test_credit_note_amounts_are_positive() -> None:
    found = totals("-1 234,50 €", "-246,90 €", "-1 481,40 €")
    assert (found.total_excl_tax.value, found.total_tax.value, found.total_incl_tax.value) == (
        "1234.50",
        "246.90",
        "1481.40",
    )


def test_split_tokens_of_one_amount_are_joined() -> None:
    words = [
        *row(100, (50, "Total TTC")),
        Word("9", 400, 100, 405, 110, 1, 1.0, FieldSource.TEXT_LAYER),
        Word("420,00", 407.5, 100, 437.5, 110, 1, 1.0, FieldSource.TEXT_LAYER),
        Word("€", 440, 100, 445, 110, 1, 1.0, FieldSource.TEXT_LAYER),
    ]
    assert value(words, field="total_incl_tax") == "9420.00"


def test_numbers_in_other_columns_are_not_joined() -> None:
    # A quantity column far left of the amount: "12" and "350,00" are two cells.
    assert value(
        row(100, (50, "Total HT"), (300, "12"), (450, "350,00")), field="total_excl_tax"
    ) == ("350.00")


def test_exempt_invoice_has_zero_tax() -> None:
    found = fields_of(
        row(400, (300, "Total HT"), (450, "2 000,00 €")),
        row(430, (300, "Total TTC"), (450, "2 000,00 €")),
        row(470, (50, "TVA non applicable, art. 293 B du CGI")),
    )
    assert found.total_tax.value == "0.00"


def test_a_vat_only_named_by_its_rate_is_ttc_less_ht_which_the_rate_confirms() -> None:
    # The VAT row's amount is not read (printed in a merged cell the finders miss):
    # HT × 20 % = TTC − HT says what it is and confirms both totals.
    reading = find_fields(
        [
            page(
                row(400, (300, "Total HT"), (450, "2 154,30 €")),
                row(415, (300, "TVA au taux normal de 20 %")),
                row(430, (300, "Total TTC"), (450, "2 585,16 €")),
            )
        ]
    )
    vat = reading.fields.total_tax
    assert vat.value == "430.86"
    assert 0.5 < vat.confidence < 0.95
    assert vat.bbox is not None  # the VAT mention it stands for
    assert reading.fields.total_excl_tax.confidence > vat.confidence


def test_a_vat_read_wrong_gives_way_to_the_difference_its_rate_confirms() -> None:
    reading = find_fields(
        [
            page(
                row(400, (300, "Total HT"), (450, "2 154,30 €")),
                row(415, (300, "TVA 20 %"), (450, "430,66 €")),  # misprinted or misread
                row(430, (300, "Total TTC"), (450, "2 585,16 €")),
            )
        ]
    )
    assert reading.fields.total_tax.value == "430.86"
    corrected = [f for f in reading.findings if f.code == "FIELD_CORRECTED"]
    assert corrected and "430.66" in corrected[0].message


def test_a_difference_no_rate_confirms_is_only_implied() -> None:
    # Two rates: TTC − HT is the VAT, but no single printed rate checks it.
    found = fields_of(
        row(400, (300, "Total HT"), (450, "1 000,00 €")),
        row(415, (300, "TVA 5,5 % et 20 %")),
        row(430, (300, "Total TTC"), (450, "1 127,50 €")),
    )
    assert found.total_tax.value == "127.50"
    assert found.total_tax.confidence < 0.5


def test_a_single_rate_the_difference_contradicts_derives_nothing() -> None:
    # 20 % of 1 000,00 is not 1 300,00 − 1 000,00: HT or TTC is misread; no VAT is guessed.
    found = fields_of(
        row(400, (300, "Total HT"), (450, "1 000,00 €")),
        row(415, (300, "TVA 20 %")),
        row(430, (300, "Total TTC"), (450, "1 300,00 €")),
    )
    assert found.total_tax.value is None


def test_a_credit_note_s_minus_read_as_a_4_is_undone_by_the_rate() -> None:
    reading = find_fields(
        [
            page(
                row(400, (300, "Total HT"), (450, "-9 887,39 €")),
                row(415, (300, "TVA 20 %")),
                row(430, (300, "Total TTC"), (450, "41 864,87 €")),  # « -11 864,87 »
                source=FieldSource.OCR,
            )
        ],
        kind=DocumentKind.CREDIT_NOTE,
    )
    assert reading.fields.total_incl_tax.value == "11864.87"
    assert reading.fields.total_tax.value == "1977.48"
    assert any(
        f.code == "FIELD_CORRECTED" and f.field == "total_incl_tax" for f in reading.findings
    )


def test_the_printed_rate_says_which_of_three_ocr_totals_slipped() -> None:
    # 1 250 + 250 ≠ 1 520, and each of the three is one digit off what the other two give;
    # 20 % of 1 250 is 250: the TTC slipped. A text layer prints what it prints.
    def reading(source: FieldSource) -> FieldReading:
        return find_fields(
            [
                page(
                    row(400, (300, "Total HT"), (450, "1 250,00 €")),
                    row(415, (300, "TVA 20 %"), (450, "250,00 €")),
                    row(430, (300, "Total TTC"), (450, "1 520,00 €")),
                    source=source,
                )
            ]
        )

    assert reading(FieldSource.OCR).fields.total_incl_tax.value == "1500.00"
    assert reading(FieldSource.TEXT_LAYER).fields.total_incl_tax.value == "1520.00"


def test_no_vat_is_made_up_where_the_page_never_mentions_it() -> None:
    found = fields_of(
        row(400, (300, "Total HT"), (450, "1 000,00 €")),
        row(430, (300, "Total TTC"), (450, "1 200,00 €")),
    )
    assert found.total_tax.value is None


def test_a_vat_read_that_adds_up_is_kept_over_a_rate() -> None:
    # HT + TVA = TTC as read: the rate printed (another line's) changes nothing.
    found = fields_of(
        row(400, (300, "Total HT"), (450, "1 000,00 €")),
        row(415, (300, "TVA 10 %"), (450, "100,00 €")),
        row(430, (300, "Total TTC"), (450, "1 100,00 €")),
        row(460, (50, "Pénalités : taux de la BCE + 10 points ; TVA 20 % sur les frais")),
    )
    assert found.total_tax.value == "100.00"


def test_works_piece_takes_the_month_column_not_the_cumulative_ones() -> None:
    found = fields_of(
        row(300, (290, "Cumul au"), (380, "Cumul précédent"), (490, "Montant"), size=7),
        row(310, (290, "31/07/2024"), (380, "(situation n° 6)"), (490, "du mois"), size=7),
        row(
            325,
            (45, "Total HT"),
            (300, "419 225,10 €"),
            (400, "361 952,45 €"),
            (500, "57 272,65 €"),
        ),
        row(
            340, (45, "TVA 20 %"), (300, "83 845,02 €"), (400, "72 390,49 €"), (500, "11 454,53 €")
        ),
        row(
            355,
            (45, "Total TTC"),
            (300, "503 070,12 €"),
            (400, "434 342,94 €"),
            (500, "68 727,18 €"),
        ),
        row(
            370,
            (45, "Retenue de garantie 5 %"),
            (300, "-25 153,51 €"),
            (400, "-21 717,15 €"),
            (500, "-3 436,36 €"),
        ),
        row(400, (250, "Montant de l'acompte (net à payer)"), (500, "65 290,82 €")),
    )
    assert found.total_excl_tax.value == "57272.65"
    assert found.total_tax.value == "11454.53"
    assert found.total_incl_tax.value == "68727.18"
    assert found.amount_due.value == "65290.82"


def test_cumulative_line_is_not_the_total() -> None:
    found = fields_of(
        row(300, (45, "Total HT cumulé"), (450, "120 000,00 €")),
        row(320, (45, "Total HT de la situation"), (450, "15 000,00 €")),
    )
    assert found.total_excl_tax.value == "15000.00"


def test_works_piece_without_net_label_leaves_amount_due_empty() -> None:
    found = fields_of(
        row(400, (300, "Total HT"), (450, "10 000,00 €")),
        row(415, (300, "TVA 20 %"), (450, "2 000,00 €")),
        row(430, (300, "Total TTC"), (450, "12 000,00 €")),
        row(445, (300, "Retenue de garantie 5 %"), (450, "-600,00 €")),
    )
    assert found.amount_due.value is None


# --------------------------------------------------------------------------- currency


def test_currency_printed_and_defaulted() -> None:
    printed = fields_of(row(100, (50, "Total TTC"), (400, "10,00 €")))
    assert printed.currency.value == "EUR" and printed.currency.confidence > 0.9
    assert printed.currency.bbox is not None
    default = fields_of(row(100, (50, "Total TTC"), (400, "10,00")))
    assert default.currency.value == "EUR" and default.currency.confidence < 0.7


# --------------------------------------------------------------------------- SIRET and parties


@pytest.mark.parametrize("label", ["SIRET", "N° SIRET :", "Siret :", "SIRET :"])
def test_siret_with_spaces(label: str) -> None:
    found = fields_of(
        row(50, (50, "Menuiserie Dupont SARL")), row(65, (50, f"{label} 552 462 814 00013"))
    )
    assert found.supplier_siret.value == "55246281400013"


def test_siret_checksum_counts() -> None:
    good = fields_of(row(65, (50, "SIRET : 552 462 814 00013")))
    bad = fields_of(row(65, (50, "SIRET : 552 462 814 00014")))
    assert bad.supplier_siret.value in (None, "55246281400014")
    assert bad.supplier_siret.confidence < good.supplier_siret.confidence


@pytest.mark.parametrize(
    "distractor",
    [
        "Tél. 01 23 45 67 89",
        "RCS Lyon B 552 462 814",
        "69003 Lyon",
        "SIREN 552 462 814",
        "IBAN FR76 3000 6000 0112 3456 7890 189",
        "Code APE 4332A - capital 10 000 €",
    ],
)
def test_numbers_that_are_not_sirets(distractor: str) -> None:
    found = fields_of(row(65, (50, distractor)))
    assert found.supplier_siret.value is None
    assert found.recipient_siret.value is None


@pytest.mark.parametrize(
    "references",
    [
        (
            "Identifiant SIRET : 213 502 388 00019",
            "Code service exécutant : ST-VOIRIE",
            "N° EJ : 1300045872",
        ),
        ("SIRET : 213 502 388 00019 – Service : ST-VOIRIE – EJ : 1300045872",),
    ],
)
def test_a_siret_printed_with_the_routing_data_is_the_buyer_s(references: tuple[str, ...]) -> None:
    found = fields_of(
        row(40, (40, "BATI-OUEST SARL")),
        row(52, (40, "12 rue des Lilas 35000 Rennes")),
        row(64, (40, "Siret n° 732 829 320 00074")),
        row(170, (40, "FACTURE N° FA-2024-0457"), size=14),
        *(row(220 + 12 * i, (40, text)) for i, text in enumerate(references)),
    )
    assert found.recipient_siret.value == "21350238800019"
    assert found.supplier_siret.value == "73282932000074"


def test_a_letterhead_s_siret_over_the_routing_data_stays_the_letterhead_s() -> None:
    # Its label closes a line of contact details: not a references block's SIRET.
    found = fields_of(
        row(36, (360, "BATI-OUEST SARL"), size=12),
        row(80, (45, "16 avenue Jules Ferry · 29200 Brest · SIRET n° : 732 829 320 00074")),
        row(101, (45, "N° du document : DG-2025-397"), (300, "Date facture : 30/03/2025")),
        row(114, (45, "Réf. service : MENJ-RECT-RNS"), (300, "N° de bon de commande : 1345471094")),
    )
    assert found.supplier_siret.value == "73282932000074"
    assert found.recipient_siret.value is None


def test_the_older_wording_maitre_de_l_ouvrage_heads_the_moa_s_block() -> None:
    rows = (
        row(40, (40, "BATI-OUEST SARL")),
        row(64, (40, "SIRET : 732 829 320 00074")),
        row(100, (40, "PROJET DE DÉCOMPTE MENSUEL N° 4"), size=14),
        row(140, (40, "Maître de l'ouvrage"), (320, "Maître de l'œuvre")),
        row(152, (40, "Commune de Vitré"), (320, "Atelier Durand Architectes")),
        row(164, (40, "SIRET : 213 502 388 00019"), (320, "SIRET : 552 100 554 00025")),
    )
    found = find_fields([page(*rows)], kind=DocumentKind.PROJET_DECOMPTE_MENSUEL).fields
    assert (found.moa_siret.value, found.moe_siret.value) == ("21350238800019", "55210055400025")


@pytest.mark.parametrize("courtesy", ["Monsieur le Maire", "Madame la Directrice"])
def test_a_window_address_opening_with_a_courtesy_line(courtesy: str) -> None:
    found = fields_of(
        row(40, (40, "BATI-OUEST SARL"), size=12),
        row(54, (40, "12 rue des Lilas 35000 Rennes")),
        *(
            row(110 + 12 * i, (320, text))
            for i, text in enumerate(
                (courtesy, "Mairie de Vitré", "5 place du Château", "35500 Vitré")
            )
        ),
        row(220, (40, "FACTURE N° FA-2024-0457"), size=14),
    )
    assert found.recipient_name.value == "Mairie de Vitré"


def test_a_monogram_over_the_letterhead_is_spelt_out_by_the_legal_footer() -> None:
    found = fields_of(
        row(40, (50, "ÉGF"), (380, "FACTURE N° FA-2024-0117"), size=16),
        row(120, (330, "Client :")),
        row(135, (330, "Commune de Villeurbanne")),
        row(800, (50, "Éts Giraud et Fils – SASU au capital de 150 000 € – RCS Lyon 625 537 626 "
                      "– SIRET 625 537 626 00040"), size=7),
    )  # fmt: skip
    assert found.supplier_name.value == "Éts Giraud et Fils"


def test_a_monogram_beside_its_spelt_out_name_keeps_the_letterhead_s_spelling() -> None:
    found = fields_of(
        row(40, (50, "Bureau Service Bourguignonne"), (380, "FACTURE"), size=12),
        row(58, (50, "BSB"), (120, "SARL au capital de 50 000 €"), size=16),
        row(120, (330, "Client :")),
        row(135, (330, "Commune de Villeurbanne")),
        # The footer as OCR garbled it.
        row(800, (50, "Bureau Serice Bourgyignonne – SARL au capital de 50 000 € – RCS Brest "
                      "460 447 329"), size=7),
    )  # fmt: skip
    assert found.supplier_name.value == "Bureau Service Bourguignonne"


def test_a_legal_footer_that_ocr_cut_into_cells_still_names_the_issuer() -> None:
    # A right-aligned letterhead whose tagline reaches left of the middle of the page.
    rows = (
        row(43, (380, "PROPRETÉ CHEVALIER EURL"), size=12.7),
        row(60, (294, "Services aux collectivités"), (441, "maintenance"), size=7),
        row(120, (50, "DESTINATAIRE")),
        row(135, (50, "COMMUNE DE PORT-LAVAL")),
        row(800, (40, "PROPRETÉ CHEVALIER EURL"), (175, "EURL"), (205, "au capital de 400 000 €"),
            (330, "RCS Nantes 705 276 780"), size=6),
    )  # fmt: skip
    found = find_fields([page(*rows, source=FieldSource.OCR)]).fields
    assert found.supplier_name.value == "PROPRETÉ CHEVALIER"


def test_a_vat_id_is_never_the_piece_s_number() -> None:
    # OCR lost « TVA intracom. » between the label and the VAT id: « N° FR… ».
    rows = (
        row(120, (300, "FACTURE"), size=16),
        row(140, (300, "N°"), (350, "FR88552462814")),
        row(160, (300, "Réf."), (350, "FC24101059")),
    )
    assert value(*rows, field="invoice_number") == "FC24101059"


def test_a_number_shaped_like_a_vat_id_with_a_wrong_key_is_trusted_less() -> None:
    found = fields_of(row(80, (50, "Facture N° FR99552462814")))
    assert found.invoice_number.value == "FR99552462814"
    assert found.invoice_number.confidence < 0.4


def _listed(*sirets: str, name: str = "STRUCTURE PUBLIQUE") -> PublicStructure:
    return lambda number: name if number in sirets else None


_JOINER_LETTERHEAD = (
    row(60, (50, "Menuiserie Lefèvre SARL"), size=14),
    row(80, (50, "SIRET 552 462 814 00013")),
    row(200, (50, "Facture n° F-2025-001")),
)


def test_the_only_printed_siret_the_directory_lists_is_the_recipient_s() -> None:
    rows = (*_JOINER_LETTERHEAD, row(700, (50, "Identifiants : 11000201100044 / 21750001600019")))
    assert find_fields([page(*rows)]).fields.recipient_siret.value is None
    found = find_fields([page(*rows)], public_structure=_listed("11000201100044")).fields
    assert found.recipient_siret.value == "11000201100044"
    assert found.supplier_siret.value == "55246281400013"
    assert found.recipient_siret.confidence < 0.95  # a choice among numbers, not a label


def test_a_recipient_siret_in_no_directory_gives_way_to_the_listed_one() -> None:
    rows = (
        *_JOINER_LETTERHEAD,
        row(120, (300, "Destinataire : SIRET 217 500 016 00019")),
        row(700, (50, "Réf. 11000201100044")),
    )
    assert find_fields([page(*rows)]).fields.recipient_siret.value == "21750001600019"
    reading = find_fields([page(*rows)], public_structure=_listed("11000201100044"))
    assert reading.fields.recipient_siret.value == "11000201100044"
    assert any(
        f.code == "FIELD_CORRECTED" and "21750001600019" in f.message for f in reading.findings
    )


def test_two_listed_sirets_leave_the_recipient_as_read() -> None:
    rows = (*_JOINER_LETTERHEAD, row(700, (50, "Identifiants : 11000201100044 / 21750001600019")))
    listed = _listed("11000201100044", "21750001600019")
    assert find_fields([page(*rows)], public_structure=listed).fields.recipient_siret.value is None


def test_the_supplier_s_listed_siret_is_not_taken_for_the_recipient() -> None:
    # A public body invoicing: its own SIRET, listed, stays the supplier's.
    rows = (*_JOINER_LETTERHEAD, row(700, (50, "Identifiants : 21750001600019")))
    found = find_fields([page(*rows)], public_structure=_listed("55246281400013")).fields
    assert found.supplier_siret.value == "55246281400013"
    assert found.recipient_siret.value is None


def test_the_supplier_s_siret_is_the_one_whose_siren_its_vat_id_carries() -> None:
    # The letterhead's SIRET, placed on the right, was taken for the addressee's by its
    # place alone; OCR garbled the footer's into another number that passes the Luhn check.
    def number(value: str, role: str, strength: float, confidence: float) -> PartyNumber:
        return PartyNumber(value, confidence, RoleGuess(role, strength, by_position=True), 0, 0, 0)

    letterhead = number("16707073900013", "recipient", 0.4, 0.81)
    footer = number("16767673900013", "supplier", 0.65, 0.41)
    vat = number("FR37167070739", "supplier", 0.5, 0.78)
    roles = {letterhead.value: "recipient", footer.value: "supplier"}
    chosen = _siren_of_the_vat(
        [letterhead, footer], [vat], (footer, 0.3), roles, {"supplier"}, set()
    )
    assert chosen is not None and chosen[0] is letterhead
    # Not over a SIRET its heading gave to the titulaire.
    headed = PartyNumber(footer.value, 0.41, RoleGuess("supplier", 0.9), 0, 0, 0)
    chosen = _siren_of_the_vat(
        [letterhead, headed], [vat], (headed, 0.3), roles, {"supplier"}, set()
    )
    assert chosen is not None and chosen[0] is headed
    # Nor over one that is already another party's.
    taken = {letterhead.value}
    chosen = _siren_of_the_vat(
        [letterhead, footer], [vat], (footer, 0.3), roles, {"supplier"}, taken
    )
    assert chosen is not None and chosen[0] is footer


def test_supplier_and_recipient_by_their_blocks() -> None:
    found = fields_of(
        row(40, (50, "MENUISERIE DUPONT SARL"), size=14),
        row(60, (50, "12 rue des Lilas 69003 Lyon")),
        row(75, (50, "SIRET : 552 462 814 00013")),
        row(150, (330, "Client :")),
        row(165, (330, "Ministère de l'Intérieur")),
        row(180, (330, "SIRET : 110 002 011 00044")),
    )
    assert found.supplier_siret.value == "55246281400013"
    assert found.recipient_siret.value == "11000201100044"
    assert found.supplier_name.value == "MENUISERIE DUPONT"
    assert found.recipient_name.value == "Ministère de l'Intérieur"


_LETTERHEAD = (
    row(40, (50, "BTP Rénovation SAS"), (380, "FACTURE N° FA-2024-0117"), size=12),
    row(60, (50, "12 rue des Lilas 69003 Lyon")),
    row(75, (50, "SIRET : 732 829 320 00074")),
)


@pytest.mark.parametrize(
    "block",
    [
        # The old heading of whom an invoice is made out to.
        (row(120, (300, "DOIT :")), row(135, (300, "Commune de Villeurbanne")),
         row(150, (300, "SIRET 216 902 668 00013"))),
        (row(120, (50, "Entité publique :"), (200, "Commune de Villeurbanne")),
         row(135, (50, "Identifiant (SIRET) :"), (200, "216 902 668 00013"))),
        # An address with no heading; the SIRET among the addressee's references.
        (row(130, (320, "COMMUNE DE VILLEURBANNE")), row(145, (320, "Place Lazare Goujon")),
         row(160, (320, "69100 VILLEURBANNE")),
         row(250, (50, "Vos références : SIRET 216 902 668 00013 – Service SE-042"))),
    ],
)  # fmt: skip
def test_recipient_block_wordings(block: tuple[list[Word], ...]) -> None:
    found = fields_of(*_LETTERHEAD, *block)
    assert (found.recipient_name.value or "").lower() == "commune de villeurbanne"
    assert found.recipient_siret.value == "21690266800013"
    assert found.supplier_siret.value == "73282932000074"


@pytest.mark.parametrize("label", ["Code service Chorus", "Code service (Chorus Pro)"])
def test_the_platform_name_is_not_the_service_code(label: str) -> None:
    assert value(row(100, (50, f"{label} : BAT-89")), field="service_code") == "BAT-89"


@pytest.mark.parametrize(
    ("label", "field"),
    [
        ("N° EJ Chorus", "engagement_number"),
        ("Engagement juridique Chorus Pro", "engagement_number"),
        ("Bon de commande Chorus n°", "engagement_number"),
        ("Numéro d'engagement juridique (EJ)", "engagement_number"),
        ("N° de BC", "engagement_number"),
        ("Code SE Chorus", "service_code"),
        ("Service destinataire (CPP)", "service_code"),
        ("Code serv. destinataire", "service_code"),
        ("N° de commande publique", "engagement_number"),
        ("BDC n°", "engagement_number"),
        ("Purchase order", "engagement_number"),
    ],
)
def test_the_platform_or_an_abbreviation_after_a_label_is_part_of_it(
    label: str, field: str
) -> None:
    assert value(row(100, (50, f"{label} : BAT-1300045872")), field=field) == "BAT-1300045872"


def test_issue_date_after_le_and_a_colon() -> None:
    found = fields_of(
        row(100, (50, "N° facture : 2025/04431"), (330, "Le : 12.02.2025")),
        row(115, (50, "Paiement au plus tard le : 13.04.2025")),
    )
    assert found.issue_date.value == "2025-02-12"


def test_a_number_sign_lost_by_ocr_at_the_end_of_a_label_cell() -> None:
    found = fields_of(row(100, (50, "Décompte n"), (160, "PDM-2024-8477")))
    assert found.invoice_number.value == "PDM-2024-8477"


def test_credit_note_numbered_as_a_note_de_credit() -> None:
    found = fields_of(row(100, (50, "Note de crédit n° : PMS-AV-4415")))
    assert found.invoice_number.value == "PMS-AV-4415"


def test_letterhead_name_on_the_right_found_through_the_legal_footer() -> None:
    found = fields_of(
        row(40, (50, "FACTURE"), (380, "RÉSEAUX PERRIN SA"), size=14),
        row(62, (50, "N° du document"), (160, "RPS-2024-7773"), size=8),
        row(72, (50, "Commande du"), (160, "20/03/2024"), size=8),
        row(82, (50, "Paiement au plus tard le : 15/06/2024"), size=8),
        row(800, (50, "RÉSEAUX PERRIN SA – SA au capital de 400 000 € – RCS Nîmes"), size=6),
    )
    assert found.supplier_name.value == "RÉSEAUX PERRIN"
    assert found.supplier_name.confidence == pytest.approx(0.7)


def test_letterhead_name_on_the_right_alone_is_the_largest_text() -> None:
    found = fields_of(
        row(40, (50, "FACTURE"), (380, "RÉSEAUX PERRIN SA"), size=14),
        row(62, (380, "30900 Nîmes"), size=8),
    )
    assert found.supplier_name.value == "RÉSEAUX PERRIN"
    assert found.supplier_name.confidence < 0.7  # nothing confirms it


def test_legal_footer_confirms_the_letterhead_name() -> None:
    found = fields_of(
        row(40, (50, "Charpente du Gard"), size=12),
        row(60, (50, "Devis"), (160, "D-2025-855"), size=12),
        row(800, (50, "Charpente du Gard – EURL au capital de 10 000 € – RCS Nîmes"), size=6),
    )
    assert found.supplier_name.value == "Charpente du Gard"
    assert found.supplier_name.confidence == pytest.approx(0.7)


def test_a_name_split_by_a_wide_word_space_is_one_name() -> None:
    # OCR measured a wide gap after « DEPARTEMENT »: two cells, one name.
    found = find_fields(
        [
            page(
                row(40, (436, "Médical Girard SAS"), size=11),
                row(55, (436, "97 route Victor Hugo"), size=8),
                row(66, (436, "30900 Nîmes"), size=8),
                row(150, (60, "DESTINATAIRE"), size=8),
                row(162, (60, "DEPARTEMENT"), (125, "DU HAUT-VALLON"), size=9),
                row(175, (60, "12 avenue de la République"), size=9),
                row(187, (60, "68000 COLMAR"), size=9),
                source=FieldSource.OCR,
            )
        ]
    ).fields
    assert found.recipient_name.value == "DEPARTEMENT DU HAUT-VALLON"
    # Its second half is no letterhead either.
    assert found.supplier_name.value == "Médical Girard"


@pytest.mark.parametrize("heading", ["DESTINATAIRE", "Débiteur :"])
def test_an_addressee_under_its_heading_is_not_the_letterhead(heading: str) -> None:
    found = fields_of(
        row(40, (330, heading), size=7),
        row(50, (330, "COMMUNE DE SAINT-AUBIN"), size=12),
        row(62, (330, "1 place de la Mairie 45170 Saint-Aubin"), size=8),
        row(800, (50, "Girard Frères – SARL au capital de 400 000 € – RCS Orléans"), size=6),
    )
    assert found.recipient_name.value == "COMMUNE DE SAINT-AUBIN"
    assert found.supplier_name.value == "Girard Frères"


@pytest.mark.parametrize(
    ("label", "field", "printed", "expected"),
    [
        ("Pièce réf.", "invoice_number", "EAV25-0638", "EAV25-0638"),
        ("Fact. n°", "invoice_number", "2024/00221", "2024/00221"),
        ("No facture", "invoice_number", "FC25066633", "FC25066633"),
        ("Réf. commande", "engagement_number", "1311170043", "1311170043"),
        ("Facturé le", "issue_date", "13.06.2025", "2025-06-13"),
        ("Montant hors TVA", "total_excl_tax", "685,01 EUR", "685.01"),
        ("Montant total TTC", "total_incl_tax", "2 439,28", "2439.28"),
        ("Total facture TTC", "total_incl_tax", "513 021,60 €", "513021.60"),
    ],
)
def test_more_wordings_of_the_references_and_totals(
    label: str, field: str, printed: str, expected: str
) -> None:
    assert value(row(100, (50, f"{label} : {printed}")), field=field) == expected


@pytest.mark.parametrize(
    ("label", "field", "printed"),
    [
        ("Facture :", "invoice_number", "F-2024-0153"),
        ("Identifiant facture", "invoice_number", "FA240153"),
        ("N° facture / Invoice no. :", "invoice_number", "F-2024-0153"),
        ("Facture / Invoice", "invoice_number", "F-2024-0153"),
        ("Marché / Contract", "contract_number", "M24-0012"),
        ("N° d'engagement / Purchase order no.", "engagement_number", "BC-2024-7097"),
        ("N° de marché public", "contract_number", "M24-0012"),
        ("Identifiant du marché", "contract_number", "M24-0012"),
        ("Marché à bons de commande n°", "contract_number", "M24-0012"),
        ("Marché public de travaux n°", "contract_number", "M24-0012"),
        ("Service destinataire (code)", "service_code", "SE-TECH-01"),
    ],
)
def test_wordings_of_forms_with_the_value_in_the_next_cell(
    label: str, field: str, printed: str
) -> None:
    found = fields_of(row(100, (50, label), (250, printed)))
    assert found.value(field) == printed
    # The contract's own form names no order number, and the reverse.
    other = {"contract_number": "engagement_number", "engagement_number": "contract_number"}
    if field in other:
        assert found.value(other[field]) is None


@pytest.mark.parametrize(
    ("line", "field", "expected"),
    [
        ("Facture du 12/03/2024 n° F-2024-0153", "invoice_number", "F-2024-0153"),
        ("Facture du 1er mars 2024 n° F-2024-0153", "invoice_number", "F-2024-0153"),
        ("N° de pièce comptable : 2024-VT-0153", "invoice_number", "2024-VT-0153"),
        ("Objet : travaux de voirie – marché M24-0012", "contract_number", "M24-0012"),
        ("Marché 334 300,00 € HT", "contract_number", None),
        ("Objet : Facture réf. FA-2024-0457", "invoice_number", "FA-2024-0457"),
        ("Objet : Facture – N° : FA-2024-0457", "invoice_number", "FA-2024-0457"),
        ("Objet : Facture – N° de marché : M24-0012", "invoice_number", None),
        ("Veuillez trouver notre facture N/Réf. FA-2024-0457.", "invoice_number", "FA-2024-0457"),
        ("Avoir sur la facture réf. FA-2024-0457", "invoice_number", None),
        ("Travaux réalisés au titre du contrat 2023-MT-118.", "contract_number", "2023-MT-118"),
        ("Objet : voirie, marché public 2023-MT-118", "contract_number", "2023-MT-118"),
        ("Date du contrat 12/03/2024", "contract_number", None),
        ("MAPA n° 2024-037", "contract_number", "2024-037"),
        ("Objet : travaux du marché MAPA 2023/015, lot 2", "contract_number", "MAPA 2023/015"),
        ("Code SE : SERV-TECH", "service_code", "SERV-TECH"),
        ("V/Réf. : 1300045872", "engagement_number", "1300045872"),
        ("Nos réf. : FA-2024-0457", "invoice_number", "FA-2024-0457"),
        ("Pièce : FA-2024-0457", "invoice_number", "FA-2024-0457"),
        ("Document n° FA-2024-0457 du 12/03/2024", "issue_date", "2024-03-12"),
        ("Votre SIRET : 213 502 388 00019", "recipient_siret", "21350238800019"),
        ("Vos références : marché 2023-MT-118, service ST-VOIRIE", "service_code", "ST-VOIRIE"),
        ("Facture FA-2024-0457 – Service SE-042", "service_code", "SE-042"),
        ("Contrat 2023-MT-118 | Service SE-042 | EJ 1300045872", "service_code", "SE-042"),
        ("Ordre de service n° 1 du 03/06/2023", "service_code", None),
        ("Prestation de service TX-12", "service_code", None),
    ],
)
def test_references_in_running_text(line: str, field: str, expected: str | None) -> None:
    assert value(row(100, (50, line)), field=field) == expected


def test_ocr_s_box_rules_and_stray_spaces_around_a_reference() -> None:
    # The rule of the box under the value read as "_"; a space OCR put before a dash.
    rows = (
        row(190, (60, "Pièce réf."), (330, "Code service destinataire")),
        row(202, (55, "_ST2025-0345"), (330, "MENJ -RECT-RNS")),
    )
    found = find_fields([page(*rows, source=FieldSource.OCR)]).fields
    assert (found.invoice_number.value, found.service_code.value) == (
        "ST2025-0345",
        "MENJ-RECT-RNS",
    )


def test_ocr_of_a_monospace_font_spaces_the_decimal_comma() -> None:
    rows = (
        row(100, (50, "Montant hors TVA"), (160, "Montant TVA 20 %"), (280, "Montant total TTC")),
        row(112, (50, "23255, 03"), (160, "4651,01"), (280, "27906 ,04")),
        # The label's last word set apart by the font's wide cells; the value under it.
        row(130, (50, "Total à régler"), (118, "acompte")),
        row(142, (124, "26510, 74")),
    )
    found = find_fields([page(*rows, source=FieldSource.OCR)]).fields
    assert found.total_excl_tax.value == "23255.03"
    assert found.total_incl_tax.value == "27906.04"
    assert found.amount_due.value == "26510.74"
    # A text layer's "12, 34" is two numbers, not an amount.
    assert value(row(100, (50, "Total HT"), (160, "23255, 03")), field="total_excl_tax") is None


def test_ocr_reads_the_o_of_a_procedure_prefix_as_a_zero() -> None:
    rows = (
        row(100, (50, "Marché n° A0-2024-DEP-04")),
        row(115, (50, "Code service : FACTURES. PUBLIQUES")),
    )
    found = find_fields([page(*rows, source=FieldSource.OCR)]).fields
    assert found.contract_number.value == "AO-2024-DEP-04"
    assert found.contract_number.confidence < 0.95
    # A code service holds no space: its underscore was lost.
    assert found.service_code.value == "FACTURES_PUBLIQUES"

    kept = row(115, (50, "Code service : FACTURES_ PUBLIQUES"))
    assert find_fields([page(kept, source=FieldSource.OCR)]).fields.service_code.value == (
        "FACTURES_PUBLIQUES"
    )


def test_a_number_ocr_cut_short_gives_way_to_its_full_reading_elsewhere() -> None:
    first = page(row(100, (50, "PIÈCE RÉF"), (150, "DG25-61 SAT")), source=FieldSource.OCR)
    second = page(
        row(40, (50, "DÉCOMPTE GÉNÉRAL n° DG25-6169 du 23 mai 2025 - suite")),
        number=2,
        source=FieldSource.OCR,
    )
    assert find_fields([first, second]).fields.invoice_number.value == "DG25-6169"


@pytest.mark.parametrize("title", ["FACTURE", "FACTURE CTU"])  # a speck read as a word
def test_the_title_s_number_in_the_next_cell(title: str) -> None:
    rows = (
        row(40, (50, "ETS COLLIN ET FILS")),
        row(202, (45, title), (111, "N° 2024/03225"), size=9),
        row(212, (330, "SIRET 110 002 011 00044")),
    )
    found = find_fields([page(*rows, source=FieldSource.OCR)]).fields
    assert found.invoice_number.value == "2024/03225"


def test_ocr_splits_the_last_digit_off_a_numbered_reference() -> None:
    rows = (
        row(100, (60, "PIÈCE RÉF"), (200, "DGD-2025-91 6"), (330, "DATE"), (400, "07/03/2025")),
    )
    found = find_fields([page(*rows, source=FieldSource.OCR)]).fields
    assert found.invoice_number.value == "DGD-2025-916"
    # A text layer prints what it prints.
    assert fields_of(*rows).invoice_number.value == "DGD-2025-91"


@pytest.mark.parametrize("label", ["N° E) :", "N° E]j :", "N°E]:", "N° E| :"])
def test_an_ocr_slip_in_the_ej_label_still_labels_the_engagement(label: str) -> None:
    ocr_page = page(row(100, (50, f"{label} 1394323636")), source=FieldSource.OCR)
    assert find_fields([ocr_page]).fields.value("engagement_number") == "1394323636"


def test_a_label_word_with_one_letter_misread_by_ocr_is_still_a_label() -> None:
    # "document" with its m read as an s; a value under its header, as in a strip.
    rows = (
        row(174, (50, "N° du docusent"), (150, "Date facture")),
        row(191, (50, "FC25062395"), (150, "16/06/2025")),
    )
    assert (
        find_fields([page(*rows, source=FieldSource.OCR)]).fields.value("invoice_number")
        == "FC25062395"
    )
    # The text layer holds what was printed: no guessing there.
    assert find_fields([page(*rows)]).fields.value("invoice_number") != "FC25062395"


@pytest.mark.parametrize(
    ("cells", "field", "expected"),
    [
        (((50, "Code service destinata… BAT-49"),), "service_code", "BAT-49"),
        (((50, "Code service destinata…"), (200, "BAT-49")), "service_code", "BAT-49"),
        (((50, "N° de bon de comman… : BC-2024-7097"),), "engagement_number", "BC-2024-7097"),
        (((50, "Total HT......"), (200, "1 200,00 €")), "total_excl_tax", "1200.00"),
    ],
)
def test_a_label_cut_short_by_an_ellipsis_is_still_a_label(
    cells: tuple[tuple[float, str], ...], field: str, expected: str
) -> None:
    assert value(row(100, *cells), field=field) == expected


def test_vat_lines_worded_tva_collectee_add_up_to_the_vat() -> None:
    found = fields_of(
        row(360, (300, "Total H.T"), (480, "7 819,04 €")),
        row(375, (300, "TVA collectée 20 % sur 2 982,80 €"), (480, "596,56 €")),
        row(390, (300, "TVA collectée 5,5 % sur 2 655,00 €"), (480, "146,03 €")),
        row(405, (300, "TVA collectée 2,1 % sur 2 181,24 €"), (480, "45,81 €")),
        row(420, (300, "Montant TTC"), (480, "8 607,44 €")),
    )
    assert found.total_tax.value == "788.40"


def test_rg_is_the_retenue_de_garantie() -> None:
    found = fields_of(
        row(360, (300, "Total HT"), (480, "1 000,00 €")),
        row(375, (300, "TVA 20 %"), (480, "200,00 €")),
        row(390, (300, "Total TTC"), (480, "1 200,00 €")),
        row(405, (300, "RG 5 %"), (480, "-60,00 €")),
        row(420, (300, "Montant dû"), (480, "1 140,00 €")),
    )
    assert found.amount_due.value == "1140.00"
    assert found.amount_due.confidence >= 0.9


def test_totals_in_a_strip_of_cells_label_above_right_aligned_value() -> None:
    # Each label starts at its cell's left edge, each amount ends at its right edge: the
    # amount is nearer the next label's centre than its own.
    strip = page(
        row(340, (48, "Total net HT"), (180, "TVA 20 %"), (300, "Total T.T.C")),
        row(355, (115, "12 869,90 €"), (230, "2 573,98 €"), (375, "15 443,88 €")),
    )
    read = {(c.field, c.value) for c in labelled_candidates(build_doc([strip]))}
    assert read == {
        ("total_excl_tax", "12869.90"),
        ("total_tax", "2573.98"),
        ("total_incl_tax", "15443.88"),
    }


def test_a_vat_breakdown_side_by_side_in_a_strip_adds_up() -> None:
    found = fields_of(
        row(380, (48, "Total HT"), (180, "TVA 20 % sur 961,60"), (330, "TVA 5,5 % sur 797,40")),
        row(395, (115, "1 759,00"), (270, "192,32"), (420, "43,86")),
        row(416, (48, "Total TTC"), (180, "Net à payer")),
        row(430, (115, "1 995,18"), (270, "1 995,18")),
    )
    assert found.total_tax.value == "236.18"
    assert found.total_incl_tax.value == "1995.18"


def test_a_deduction_in_a_strip_of_totals_makes_the_net_sure() -> None:
    found = fields_of(
        row(
            380,
            (48, "Total net HT"),
            (180, "TVA 20 %"),
            (300, "Total T.T.C"),
            (430, "Acompte perçu"),
        ),
        row(395, (115, "22146,01"), (230, "4429,20"), (350, "26575,21"), (480, "-13287,61")),
        row(416, (48, "Montant dû")),
        row(430, (115, "13287,60")),
    )
    assert found.amount_due.value == "13287.60"
    assert found.amount_due.confidence >= 0.9


def test_service_code_under_its_header_not_the_next_header() -> None:
    found = fields_of(
        row(182, (48, "N° facture"), (160, "Code service Chorus"), (300, "Devis")),
        row(196, (48, "ECE-2024-6493"), (160, "COMPTA-71"), (300, "D-2024-229")),
    )
    assert found.service_code.value == "COMPTA-71"


def test_a_wrapped_name_beside_a_smaller_block_is_joined() -> None:
    found = fields_of(
        row(152, (45, "DESTINATAIRE"), (300, "ADRESSE DE LIVRAISON"), size=6.5),
        row(163, (45, "DIRECTION GÉNÉRALE DES FINANCES"), (300, "Atelier des services"), size=9),
        row(174, (45, "PUBLIQUES"), size=9) + row(175, (300, "147 rue du Moulin"), size=7.5),
        row(186, (45, "Service facturier de Nantes"), size=8),
    )
    assert found.recipient_name.value == "DIRECTION GÉNÉRALE DES FINANCES PUBLIQUES"


@pytest.mark.parametrize("heading", ["ENTREPRISE TITULAIRE", "Titulaire du marché"])
def test_a_firm_named_entreprise_under_its_heading_is_a_name(heading: str) -> None:
    found = fields_of(
        row(40, (50, "FACTURE"), size=14),
        row(152, (45, heading), size=6.5),
        row(163, (45, "Entreprise du Littoral"), size=9),
        row(174, (45, "144 avenue Pasteur 29200 Brest"), size=8),
    )
    assert found.supplier_name.value == "Entreprise du Littoral"


def test_leader_dots_read_as_letters_do_not_hide_the_reference() -> None:
    ocr_page = page(
        row(100, (50, "N° du document"), conf=0.95)
        + row(100, (160, "lemenshs sn"), conf=0.3)
        + row(100, (260, "DGD-2025-986"), conf=0.95),
        source=FieldSource.OCR,
    )
    assert find_fields([ocr_page]).fields.invoice_number.value == "DGD-2025-986"


def test_weak_amounts_of_a_column_never_complete_the_totals_by_chance() -> None:
    found = fields_of(
        row(200, (50, "Désignation"), (450, "Montant HT")),
        row(215, (50, "Serveur"), (450, "11 381,40")),
        row(230, (50, "Licences"), (450, "9 555,60")),
        row(245, (50, "Maintenance"), (450, "9 595,60")),
        row(300, (50, "TVA 20 % : 40,00")),
    )
    assert found.total_incl_tax.value is None  # 9 555,60 + 40,00 is a line, not the TTC


def test_labels_of_a_key_value_grid_are_not_the_letterhead() -> None:
    found = fields_of(
        row(40, (50, "FACTURE"), (380, "Constructions Durand SCOP"), size=12),
        row(62, (50, "Service exécutant"), (160, "MINEDU-RECT-LYON"), size=8),
        row(72, (50, "Bon de livraison"), (160, "BL65917"), size=8),
        row(82, (50, "Commande du"), (160, "3 février 2025"), size=8),
    )
    assert found.supplier_name.value == "Constructions Durand"


def test_lower_lines_of_an_addressee_block_are_not_the_letterhead() -> None:
    found = fields_of(
        row(40, (380, "PAPETERIE LEFÈVRE SCOP"), size=9),
        row(60, (50, "DESTINATAIRE"), size=7),
        row(70, (50, "MINISTÈRE DE L'INTÉRIEUR"), size=9),
        row(81, (50, "Préfecture de la Vienne – SGCD"), size=8),
        row(92, (50, "16 boulevard de la République 31200 Toulouse"), size=8),
    )
    assert found.supplier_name.value == "PAPETERIE LEFÈVRE"


def test_letterhead_confirmed_by_the_footer_of_the_last_page() -> None:
    first = page(
        row(40, (50, "Direction des routes"), (380, "ROUTES DES DEUX VALLÉES"), size=9),
        row(800, (50, "Page 1/2"), size=6),
    )
    last = page(
        row(800, (50, "ROUTES DES DEUX VALLÉES – SAS au capital de 5 000 € – RCS Dijon"), size=6),
        number=2,
    )
    found = find_fields([first, last]).fields
    assert found.supplier_name.value == "ROUTES DES DEUX VALLÉES"
    assert found.supplier_name.confidence == pytest.approx(0.7)


@pytest.mark.parametrize("title", ["FACTU RE", "F A C T U R E", "AVOIRS"])
def test_a_title_split_by_ocr_is_not_the_letterhead(title: str) -> None:
    found = fields_of(
        row(40, (50, title), size=16),
        row(40, (400, "Fournitures Bonnet"), size=8),
    )
    assert found.supplier_name.value == "Fournitures Bonnet"


def test_siret_client_on_its_line() -> None:
    found = fields_of(
        row(100, (50, "Le 3 février 2025"), (330, "SIRET client : 263 613 184 00013")),
        row(800, (50, "Imprimerie du Forez - SIRET 901 378 653 00017 - TVA FR41901378653"), size=6),
    )
    assert found.recipient_siret.value == "26361318400013"
    # The legal footer is the issuer's.
    assert found.supplier_siret.value == "90137865300017"
    assert found.supplier_vat_id.value == "FR41901378653"


def test_two_column_party_blocks() -> None:
    found = fields_of(
        row(100, (50, "Fournisseur"), (330, "Destinataire"), size=8),
        row(112, (50, "BTP DU RHÔNE SAS"), (330, "COMMUNE DE VILLEURBANNE")),
        row(124, (50, "SIRET 552 462 814 00013"), (330, "SIRET 217 902 640 00017")),
    )
    assert found.supplier_siret.value == "55246281400013"
    assert found.recipient_siret.value == "21790264000017"
    assert found.supplier_name.value == "BTP DU RHÔNE"
    assert found.recipient_name.value == "COMMUNE DE VILLEURBANNE"


def test_moe_and_moa_blocks_of_a_works_piece() -> None:
    found = fields_of(
        row(
            138,
            (50, "TITULAIRE (entreprise)"),
            (220, "MAÎTRE D'OUVRAGE (MOA)"),
            (400, "MAÎTRE D'ŒUVRE (MOE)"),
            size=7,
        ),
        row(150, (50, "BÂTIMENTS LAVAL"), (220, "COMMUNE DE PORT-LAVAL"), (400, "ATELIER ROUX")),
        row(
            161,
            (50, "SIRET 388 819 096 00016"),
            (220, "SIRET 213 030 828 00015"),
            (400, "SIRET 812 345 676 00017"),
        ),
    )
    assert found.supplier_siret.value == "38881909600016"
    assert found.moa_siret.value == "21303082800015"
    assert found.recipient_siret.value == "21303082800015"
    assert found.moe_siret.value == "81234567600017"
    assert found.recipient_name.value == "COMMUNE DE PORT-LAVAL"


def test_a_heading_whose_circumflex_ocr_read_twice_is_still_the_moa_s() -> None:
    ocr_page = page(
        row(130, (50, "MAÏÎTRE D'OUVRAGE"), size=7),
        row(142, (50, "COMMUNE DE GRENOBLE")),
        row(154, (50, "SIRET 213 030 828 00015")),
        source=FieldSource.OCR,
    )
    found = find_fields([ocr_page], kind=DocumentKind.DECOMPTE_GENERAL).fields
    assert found.moa_siret.value == "21303082800015"
    assert found.recipient_name.value == "COMMUNE DE GRENOBLE"


@pytest.mark.parametrize("heading", ["MAÏTRE Y'OUVRAGE", "sie D'OUVRAGE"])
def test_a_heading_ocr_misread_is_still_the_moa_s(heading: str) -> None:
    ocr_page = page(
        row(130, (50, "CTM"), (250, heading), size=7),
        row(142, (250, "COMMUNE DE PORT-LAVAL")),
        row(154, (250, "Quai Jean Bart")),
        row(166, (250, "N° Siret 213030828000! 5")),
        source=FieldSource.OCR,
    )
    found = find_fields([ocr_page], kind=DocumentKind.ETAT_ACOMPTE_VALIDE).fields
    assert found.recipient_name.value == "COMMUNE DE PORT-LAVAL"
    assert found.moa_siret.value == "21303082800015"


def test_a_numbered_section_heading_is_never_a_name() -> None:
    found = fields_of(
        row(300, (50, "CENTRE HOSPITALIER DE BELLECOMBE"), size=11),
        row(313, (50, "63000 BELLECOMBE")),
        row(330, (50, "DESTINATAIRE"), size=5),
        row(346, (50, "D – DÉTAIL DE LA FACTURATION"), size=8),
    )
    assert found.recipient_name.value != "D – DÉTAIL DE LA FACTURATION"


def test_a_frame_heading_whose_letter_ocr_set_apart_is_never_a_name() -> None:
    ocr_page = page(
        row(40, (250, "FACTURE"), size=14),
        row(76, (50, "A"), (70, "IDENTIFICATION DE L'ÉMETTEUR"), size=8),
        row(96, (50, "Éts Perrin et Fils"), (250, "499 031 193 00042"), size=10),
        row(125, (50, "RAISON SOCIALE"), (250, "N° SIRET"), size=6),
        source=FieldSource.OCR,
    )
    found = find_fields([ocr_page], kind=DocumentKind.INVOICE).fields
    assert found.supplier_name.value == "Éts Perrin et Fils"


def test_a_role_named_in_a_sentence_is_not_the_heading_of_the_footer_under_it() -> None:
    found = find_fields(
        [
            page(
                row(130, (50, "MAÎTRE D'OUVRAGE"), size=8),
                row(142, (50, "COMMUNAUTÉ DE COMMUNES DU PAYS DE DIJON")),
                row(154, (50, "21000 DIJON")),
                row(166, (50, "N° Siret 20216327500086")),
                row(
                    752,
                    (
                        50,
                        "Vu et vérifié par le maître d'œuvre – à mandater par le maître d'ouvrage.",
                    ),
                    size=9,
                ),
                row(
                    785,
                    (
                        50,
                        "Agence Lambert – SA au capital de 150 000 € – N° Siret 44785519800076",
                    ),
                    size=6,
                ),
            )
        ],
        kind=DocumentKind.ETAT_ACOMPTE,
    ).fields
    assert found.moa_siret.value == "20216327500086"
    assert found.recipient_siret.value == "20216327500086"


def test_a_right_aligned_letterhead_name_wrapped_over_two_lines_is_one_name() -> None:
    # A letter from the MOA: its name set large, right-aligned, cut after « DES ».
    found = find_fields(
        [
            page(
                row(39, (330, "DIRECTION DÉPARTEMENTALE DES"), size=14),
                row(56, (443.4, "TERRITOIRES"), size=14),
                row(71, (460, "Maître d'ouvrage"), size=9),
                row(115, (430, "N° Siret : 110 002 011 00044"), size=9),
                row(136, (50, "ENTREPRISE TITULAIRE"), size=8),
                row(147, (50, "LAMBERT FRÈRES")),
                row(183, (50, "N° Siret 640 169 231 00043")),
                row(234, (50, "Objet : Décompte général et définitif n° DGD256044")),
            )
        ],
        kind=DocumentKind.DECOMPTE_GENERAL_DEFINITIF,
    ).fields
    assert found.recipient_name.value == "DIRECTION DÉPARTEMENTALE DES TERRITOIRES"


def test_neither_a_block_heading_nor_a_lone_legal_form_is_the_letterhead() -> None:
    # The identity is printed only in a band over the legal footer.
    found = fields_of(
        row(36, (50, "PROJET DE DÉCOMPTE MENSUEL"), size=14),
        row(104, (50, "MAÎTRE D'OUVRAGE"), size=7),
        row(115, (50, "COLLÈGE JEAN MOULIN")),
        row(161, (50, "N° Siret 193 383 072 00090")),
        row(745, (50, "Charpente Mercier SASU"), (300, "N° Siret : 855 877 155 00058"), size=8),
        row(754, (50, "SASU au capital de 15 000 €"), size=7),
        row(786, (50, "Charpente Mercier SASU - SASU au capital de 15 000 € - RCS Lyon"), size=5),
    )
    assert found.supplier_name.value == "Charpente Mercier"
    assert found.recipient_name.value == "COLLÈGE JEAN MOULIN"


def test_subcontractor_is_the_supplier_of_its_payment_request() -> None:
    found = fields_of(
        row(100, (50, "Titulaire du marché"), (330, "Sous-traitant"), size=8),
        row(112, (50, "GROS ŒUVRE SA"), (330, "ÉLECTRICITÉ MARTIN"), size=8),
        row(124, (50, "SIRET 388 819 096 00016"), (330, "SIRET 552 462 814 00013")),
    )
    assert found.supplier_siret.value == "55246281400013"


@pytest.mark.parametrize(
    "label",
    [
        "TVA intracommunautaire :",
        "N° TVA :",
        "N° TVA intracom.",
        "TVA intra :",
        "N° intracommunautaire :",
        "Identifiant intracom. :",
    ],
)
def test_vat_number(label: str) -> None:
    found = fields_of(row(75, (50, f"{label} FR 40 303 265 045")))
    assert found.supplier_vat_id.value == "FR40303265045"


def test_ocr_slip_in_the_vat_key_is_repaired_by_its_checksum() -> None:
    ocr_page = page(row(100, (50, "N° TVA : FRO9738032259")), source=FieldSource.OCR)
    assert find_fields([ocr_page]).fields.value("supplier_vat_id") == "FR09738032259"
    # A text layer does not misread: an O in the key is not a French VAT number.
    assert value(row(100, (50, "N° TVA : FRO9738032259")), field="supplier_vat_id") is None


def test_ocr_slips_in_party_numbers_that_their_checksums_confirm() -> None:
    ocr_page = page(
        row(100, (50, "Sret : 209 422 112 00042")),  # the i of a small "Siret" lost
        row(112, (50, "N° TVA intracom. : FR64209422] 12")),  # a 1 read as a bracket
        row(200, (350, "Siret 226 763"), (450, "571 00040")),  # a space read as a column
        source=FieldSource.OCR,
    )
    found = find_fields([ocr_page]).fields
    assert found.supplier_siret.value == "20942211200042"
    assert found.supplier_vat_id.value == "FR64209422112"
    assert found.recipient_siret.value == "22676357100040"


def test_a_legal_footer_under_an_item_table_is_the_supplier_s() -> None:
    # The last rows name a public building; the footer is still the issuer's.
    found = fields_of(
        row(200, (50, "DESTINATAIRE")),
        row(212, (50, "OFFICE PUBLIC DE L'HABITAT"), (300, "SIRET 110 002 011 00044")),
        row(740, (50, "Tableau électrique — mairie annexe"), (400, "1 858,08 EUR")),
        row(770, (50, "Roche SASU au capital de 7 500 € - Siret 209 422 112 00042")),
    )
    assert found.supplier_siret.value == "20942211200042"
    assert found.recipient_siret.value == "11000201100044"


def test_a_letterhead_on_the_right_with_its_share_capital_is_the_supplier_s() -> None:
    found = fields_of(
        row(40, (330, "Cuisine centrale Giraud"), size=12),
        row(58, (330, "EURL au capital de 50 000 €")),
        row(70, (330, "35 boulevard Jean Jaurès")),
        row(82, (330, "N° Siret : 502 383 813 00024")),
        row(94, (330, "N° TVA : FR 80 502 383 813")),
        row(150, (50, "DESTINATAIRE")),
        row(162, (50, "COMMUNE DE SAINT-AUBIN")),
        row(174, (50, "N° Siret 217 526 011 00010")),
    )
    assert found.supplier_siret.value == "50238381300024"
    assert found.supplier_vat_id.value == "FR80502383813"
    assert found.recipient_siret.value == "21752601100010"


def test_customer_vat_number_is_not_the_supplier_s() -> None:
    found = fields_of(row(300, (50, "N° TVA client"), (200, "FR19787878784")))
    assert found.supplier_vat_id.value is None


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ("Code service : SE-4521", "service_code", "SE-4521"),
        ("Service exécutant : FACTURES", "service_code", "FACTURES"),
        ("N° d'engagement : 1300045871", "engagement_number", "1300045871"),
        ("Engagement juridique : 2103456789", "engagement_number", "2103456789"),
        ("EJ n° CH25-001207", "engagement_number", "CH25-001207"),
        ("Bon de commande n° BC-2024-118", "engagement_number", "BC-2024-118"),
        ("N° de commande : 4500123456", "engagement_number", "4500123456"),
        ("Marché n° 2023-PL-TX-014 – notifié le 14/03/2023", "contract_number", "2023-PL-TX-014"),
        ("N° de marché : 24-AO-118", "contract_number", "24-AO-118"),
        ("Marché public n° MP2024/17", "contract_number", "MP2024/17"),
        ("Références du marché : M24-0012", "contract_number", "M24-0012"),
        ("Contrat-cadre n° CC-2023-07", "contract_number", "CC-2023-07"),
        ("Marché public de travaux : 2024-TRX-11", "contract_number", "2024-TRX-11"),
        ("Marché n° (réf. acheteur) : M24-0012", "contract_number", "M24-0012"),
        ("Code de routage : DAF-01", "service_code", "DAF-01"),
        ("Service demandeur : SE-042", "service_code", "SE-042"),
        ("N° BC : BC-2024-7097", "engagement_number", "BC-2024-7097"),
        ("Commande n° BC-2024-4654", "engagement_number", "BC-2024-4654"),
        ("N° fact. FA-2024-0153", "invoice_number", "FA-2024-0153"),
        ("N° de la pièce : PC-2024-88", "invoice_number", "PC-2024-88"),
        ("Référence de notre facture : F2024-118", "invoice_number", "F2024-118"),
        ("Mémoire n° M-2024-07", "invoice_number", "M-2024-07"),
        (
            "IBAN : FR76 3000 6000 0112 3456 7890 189 BIC AGRIFRPP",
            "iban",
            "FR7630006000011234567890189",
        ),
    ],
)
def test_reference_wordings(text: str, field: str, expected: str) -> None:
    assert value(row(300, (50, text)), field=field) == expected


def test_a_value_cut_short_by_its_cell_is_not_trusted() -> None:
    found = fields_of(row(200, (50, "Code du service :"), (200, "SERVICES-TECHNI…")))
    assert found.service_code.value == "SERVICES-TECHNI"
    assert found.service_code.confidence < 0.8  # the rest is not on the page: review it


@pytest.mark.parametrize(
    ("source", "sure"), [(FieldSource.OCR, False), (FieldSource.TEXT_LAYER, True)]
)
def test_a_date_padded_on_one_side_only_may_have_lost_a_digit_to_ocr(
    source: FieldSource, sure: bool
) -> None:
    # "29/04/2025" read "9/04/2025": print pads both day and month, or neither.
    found = find_fields(
        [page(row(200, (50, "Date de facturation :"), (250, "9/04/2025")), source=source)]
    )
    assert found.fields.issue_date.value == "2025-04-09"
    assert (found.fields.issue_date.confidence >= 0.8) is sure


@pytest.mark.parametrize("text", ["01", "O1", "12"])
def test_an_ordinal_is_rarely_a_piece_number_even_misread(text: str) -> None:
    # An item's number under a "N°" column header, "01" read "O1" by OCR.
    (line,) = group_lines(page(row(200, (50, text)), source=FieldSource.OCR))
    (found,) = find_reference(line, 0, len(line.folded))
    assert found.quality < 0.5


def test_an_unsure_reading_at_its_label_is_kept_for_review() -> None:
    # OCR rated every word of the line low: the value is still the one at the label.
    scanned = page(
        row(200, (50, "N° de contrat :"), (200, "2024-26-TRX-158"), conf=0.3),
        source=FieldSource.OCR,
    )
    found = find_fields([scanned]).fields
    assert found.contract_number.value == "2024-26-TRX-158"
    assert found.contract_number.confidence < 0.3


def test_a_wording_across_a_cell_border_gives_way_to_a_label_inside_a_cell() -> None:
    # "Contrat n°" | "Commande du" is no "n° commande".
    found = fields_of(
        row(200, (50, "Contrat n°"), (200, "Commande du")),
        row(212, (50, "M22-7077"), (200, "05/04/2024")),
    )
    assert found.contract_number.value == "M22-7077"
    assert found.engagement_number.value is None


def test_a_label_never_spans_two_cells() -> None:
    # "Marché public" | "N° EJ" read as one line must not become "Marché public N°".
    found = fields_of(
        row(200, (50, "Marché public"), (200, "N° EJ"), (350, "Code service exécutant")),
        row(215, (50, "AO-2024-VDL-21"), (200, "1300245678"), (350, "FIN-81")),
    )
    assert [found.value(n) for n in ("contract_number", "engagement_number", "service_code")] == [
        "AO-2024-VDL-21",
        "1300245678",
        "FIN-81",
    ]


@pytest.mark.parametrize(
    "rows",
    [
        [row(200, (50, "Service"), (150, "DDT-SBE-21"))],
        [row(200, (50, "Service : DDT-SBE-21"))],
        [row(200, (50, "Marché : AO-2024-12 – Service : DDT-SBE-21"))],
        [row(200, (300, "Service")), row(212, (300, "DDT-SBE-21"))],
    ],
)
def test_service_alone_labels_the_code_beside_or_under_it(rows: list[list[Word]]) -> None:
    assert fields_of(*rows).value("service_code") == "DDT-SBE-21"


def test_ocr_letter_for_digit_slips_in_a_reference() -> None:
    def read(text: str) -> ExtractedField:
        ocr_page = page(row(100, (50, text)), source=FieldSource.OCR)
        return find_fields([ocr_page]).fields.invoice_number

    assert read("Facture n° F2O24-0117").value == "F2024-0117"  # O between digits
    # An O after a letter prefix and before the digits of a numbering run: most likely
    # a 0, taken as such but with doubt.
    ambiguous = read("Avoir n° AVRO4108")
    assert ambiguous.value == "AVR04108"
    assert ambiguous.confidence < read("Avoir n° AVR-4108").confidence * 0.85
    assert read("Facture n° PRO-2024-17").value == "PRO-2024-17"  # a word, not a run


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Objet : travaux de voirie MAPA 2023/015, lot 2", "MAPA 2023/015"),
        ("Travaux de voirie – AO-2022-VDL-20", "AO-2022-VDL-20"),
    ],
)
def test_procedure_reference_without_a_label_is_a_guess(text: str, expected: str) -> None:
    found = fields_of(row(200, (50, text))).contract_number
    assert found.value == expected
    assert found.confidence < 0.5  # nothing announced it: an operator confirms


def test_a_labelled_contract_wins_over_a_procedure_reference() -> None:
    found = fields_of(
        row(200, (50, "Suite à l'AO-2021-VDL-03 (infructueux)")),
        row(215, (50, "Marché n° 2022-44-TRX-001")),
    )
    assert found.contract_number.value == "2022-44-TRX-001"


def test_invalid_iban_is_left_empty() -> None:
    assert value(row(300, (50, "IBAN : FR76 3000 6000 0112 3456 7890 188")), field="iban") is None


_IBAN = "FR7630006000011234567890189"


def test_iban_with_dashes_or_cut_by_the_end_of_its_line() -> None:
    assert value(row(300, (50, "IBAN : FR76-3000-6000-0112-3456-7890-189")), field="iban") == _IBAN
    cut = fields_of(
        row(300, (50, "IBAN : FR76 3000 6000 0112")),
        row(312, (50, "3456 7890 189 BIC AGRIFRPP")),
    )
    assert cut.iban.value == _IBAN


def test_an_ocr_d_iban_with_letters_for_digits_is_read_when_the_checksum_says_so() -> None:
    printed = row(300, (50, "IBAN : FR76 3OOO 6000 0112 3456 7890 189"))
    assert find_fields([page(printed, source=FieldSource.OCR)]).fields.iban.value == _IBAN
    # A text layer prints what it prints: no guessing there.
    assert value(printed, field="iban") is None


def test_an_ocr_d_iban_with_a_table_rule_read_as_a_letter_between_two_groups() -> None:
    printed = row(300, (50, "IBAN : FR76 3000 6000 l 0112 3456 7890 189"))
    assert find_fields([page(printed, source=FieldSource.OCR)]).fields.iban.value == _IBAN


# --------------------------------------------------------------------------- confidence and boxes


def test_ocr_confidence_lowers_the_field_confidence() -> None:
    clear = fields_of(row(100, (50, "Facture n° F-2024-0153")))
    blurry = fields_of(row(100, (50, "Facture n° F-2024-0153"), conf=0.55))
    assert blurry.invoice_number.value == "F-2024-0153"
    assert blurry.invoice_number.confidence < clear.invoice_number.confidence


def test_empty_page_gives_null_fields() -> None:
    reading = find_fields([page()])
    assert all(v is None for k, v in reading.fields.values().items() if k != "currency")


def test_bbox_goes_back_to_the_original_page() -> None:
    # An OCR page read turned by 90°: reading-frame (u, v) is original (v, 842 - u).
    turned = Page(
        number=1,
        width=842.0,
        height=595.0,
        words=tuple(row(100, (50, "Facture n° F-2024-0153"))),
        source=FieldSource.OCR,
        to_original=(0.0, 1.0, 0.0, -1.0, 0.0, 842.0),
    )
    found = find_fields([turned]).fields.invoice_number
    assert found.value == "F-2024-0153"
    x0, top, x1, bottom = found.bbox or (0, 0, 0, 0)
    assert (x0, x1) == (100.0, 110.0)  # the line's top and bottom became x
    assert bottom - top == pytest.approx(11 * CHAR * 10, abs=1)
    assert original_bbox(turned, (0, 0, 10, 10)) == (0.0, 832.0, 10.0, 842.0)


def test_settle_for_kind() -> None:
    siret = ExtractedField(value="21303082800015", confidence=0.9)
    works = PieceFields(recipient_siret=siret)
    settled = settle(works, DocumentKind.ETAT_ACOMPTE)
    assert settled.moa_siret.value == "21303082800015"
    plain = PieceFields(moa_siret=siret, moe_siret=siret)
    assert settle(plain, DocumentKind.INVOICE).moa_siret.value is None
    assert settle(plain, DocumentKind.CREDIT_NOTE).moe_siret.value is None


# --------------------------------------------------------------------------- parsers


def french(amount: Decimal, separator: str) -> str:
    """``amount`` printed the French way with ``separator`` between thousands."""
    sign = "-" if amount < 0 else ""
    units, cents = f"{abs(amount):.2f}".split(".")
    groups = []
    while units:
        groups.insert(0, units[-3:])
        units = units[:-3]
    return f"{sign}{separator.join(groups)},{cents}"


amounts = st.decimals(
    min_value=Decimal("-9999999999.99"),
    max_value=Decimal("9999999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


@given(
    amounts,
    st.sampled_from([" ", "\u00a0", "\u202f", ".", ""]),
    st.sampled_from(["", " €", "€", " EUR"]),
)
def test_amount_parser_round_trip(amount: Decimal, separator: str, currency: str) -> None:
    assert parse_amount(french(amount, separator) + currency) == amount


@given(amounts)
def test_amount_parser_reads_dot_decimals(amount: Decimal) -> None:
    assert parse_amount(f"{amount:.2f}") == amount
    assert format_amount(amount) == f"{abs(amount):.2f}"


def test_amount_parser_refuses_what_is_not_an_amount() -> None:
    for text in ("20 %", "01 23 45 67 89", "23/05/2024", "69003", "12.05.2024", "5,5 %"):
        assert parse_amount(text) is None, text


_MONTH_NAMES = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31)), st.sampled_from("/.-"))
def test_numeric_date_round_trip(day: date, separator: str) -> None:
    printed = f"{day.day:02d}{separator}{day.month:02d}{separator}{day.year}"
    assert parse_date(printed) == day


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31)), st.booleans())
def test_written_date_round_trip(day: date, capitals: bool) -> None:
    number = "1er" if day.day == 1 else str(day.day)
    printed = f"{number} {_MONTH_NAMES[day.month - 1]} {day.year}"
    assert parse_date(printed.upper() if capitals else printed) == day


def test_date_parser_refuses_impossible_dates() -> None:
    for text in ("31/02/2024", "12/13/2024", "00/01/2024", "1er truc 2024"):
        assert parse_date(text) is None, text


# --------------------------------------------------------------------------- classification


def kind_of(*rows: list[Word]) -> tuple[DocumentKind | None, float]:
    guess = classify([page(*rows)])
    return guess.value, guess.confidence


BODY = [row(300 + 15 * i, (50, "Désignation des travaux et fournitures")) for i in range(5)]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("FACTURE", DocumentKind.INVOICE),
        ("AVOIR", DocumentKind.CREDIT_NOTE),
        ("FACTURE D'AVOIR", DocumentKind.CREDIT_NOTE),
        ("PROJET DE DÉCOMPTE MENSUEL N° 7", DocumentKind.PROJET_DECOMPTE_MENSUEL),
        ("ÉTAT D'ACOMPTE N° 7", DocumentKind.ETAT_ACOMPTE),
        ("ÉTAT D'ACOMPTE VALIDÉ", DocumentKind.ETAT_ACOMPTE_VALIDE),
        ("Etat d'acompte mensuel validé", DocumentKind.ETAT_ACOMPTE_VALIDE),
        ("PROJET DE DÉCOMPTE FINAL", DocumentKind.PROJET_DECOMPTE_FINAL),
        ("PROJET DE DÉCOMPTE GÉNÉRAL", DocumentKind.PROJET_DECOMPTE_GENERAL),
        ("PROJETDE DÉCOMPTE GÉNÉRAL", DocumentKind.PROJET_DECOMPTE_GENERAL),  # OCR: space lost
        ("DÉCOMPTE GÉNÉRAL", DocumentKind.DECOMPTE_GENERAL),
        ("DECOMPTE GENERAI", DocumentKind.DECOMPTE_GENERAL),  # OCR: the L read as an I
        ("DÉCOMPTE GÉNÉRAL ET DÉFINITIF", DocumentKind.DECOMPTE_GENERAL_DEFINITIF),
        ("decompte general definitif", DocumentKind.DECOMPTE_GENERAL_DEFINITIF),
        ("DÉCOMPTE GÉNÉRAL & DÉFINITIF", DocumentKind.DECOMPTE_GENERAL_DEFINITIF),
        ("DÉCOMPTE GÉNÉRAL (DÉFINITIF)", DocumentKind.DECOMPTE_GENERAL_DEFINITIF),
        ("DÉCOMPTE GÉNÉRAL N° 4 — DGD", DocumentKind.DECOMPTE_GENERAL_DEFINITIF),
        ("D.G.D.", DocumentKind.DECOMPTE_GENERAL_DEFINITIF),
        ("DÉCOMPTE GÉNÉRAL SIGNÉ", DocumentKind.DECOMPTE_GENERAL_DEFINITIF),
        ("Décompte général à retourner signé", DocumentKind.DECOMPTE_GENERAL),
        (
            "DEMANDE DE PAIEMENT DIRECT DU SOUS-TRAITANT",
            DocumentKind.DEMANDE_PAIEMENT_SOUS_TRAITANT,
        ),
    ],
)
def test_titles(title: str, expected: DocumentKind) -> None:
    kind, confidence = kind_of(row(80, (150, title), size=16), *BODY)
    assert kind is expected
    assert confidence > 0.8


def test_title_beats_mentions_in_the_body() -> None:
    kind, confidence = kind_of(
        row(80, (150, "PROJET DE DÉCOMPTE MENSUEL"), size=16),
        row(500, (50, "Facture à régler par virement ; la facture d'origine reste due.")),
        row(515, (50, "Le présent projet de décompte est adressé au maître d'œuvre.")),
    )
    assert kind is DocumentKind.PROJET_DECOMPTE_MENSUEL
    assert confidence > 0.7


def test_a_decompte_general_saying_it_will_become_definitive_is_not_yet_one() -> None:
    kind, _ = kind_of(
        row(80, (150, "DÉCOMPTE GÉNÉRAL"), size=16),
        row(500, (50, "Le décompte général devient définitif dès sa signature par le titulaire.")),
    )
    assert kind is DocumentKind.DECOMPTE_GENERAL


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (
            "Décompte général accepté sans réserve par le titulaire ; il devient définitif.",
            DocumentKind.DECOMPTE_GENERAL_DEFINITIF,
        ),
        ("Accepté par l'entreprise le 3 mars 2025.", DocumentKind.DECOMPTE_GENERAL_DEFINITIF),
        ("Une fois accepté par le titulaire, il devient définitif.", DocumentKind.DECOMPTE_GENERAL),
        ("Il sera accepté par le titulaire sous 30 jours.", DocumentKind.DECOMPTE_GENERAL),
        ("Accepté avec réserves par le titulaire.", DocumentKind.DECOMPTE_GENERAL),
    ],
)
def test_a_decompte_general_the_titulaire_has_accepted_is_definitive(
    statement: str, expected: DocumentKind
) -> None:
    kind, confidence = kind_of(
        row(80, (150, "DÉCOMPTE GÉNÉRAL"), size=16), row(500, (50, statement))
    )
    assert kind is expected
    assert confidence > 0.7


def test_an_accepted_invoice_stays_an_invoice() -> None:
    kind, _ = kind_of(
        row(80, (150, "FACTURE"), size=16),
        row(500, (50, "Devis accepté par le titulaire du marché le 2 mai 2025.")),
    )
    assert kind is DocumentKind.INVOICE


@pytest.mark.parametrize(
    "title",
    [
        ("DÉCOMPTE", "GÉNÉRAL", "ET DÉFINITIF"),
        ("D É C O M P T E   G É N É R A L   E T   D É F I N I T I F",),
    ],
)
def test_a_title_over_three_lines_or_in_spaced_out_capitals(title: tuple[str, ...]) -> None:
    kind, confidence = kind_of(
        *(row(80 + 20 * i, (150, text), size=16) for i, text in enumerate(title)),
        row(500, (50, "Le décompte général devient définitif dès sa signature par le titulaire.")),
    )
    assert kind is DocumentKind.DECOMPTE_GENERAL_DEFINITIF
    assert confidence > 0.7


def test_a_bare_payment_request_naming_its_subcontractor_is_the_subcontractor_s() -> None:
    kind, confidence = kind_of(
        row(80, (150, "DEMANDE DE PAIEMENT"), size=16),
        row(200, (50, "Sous-traitant : ÉLEC OUEST SARL, titulaire du paiement direct")),
        row(500, (50, "Net à payer 1 200,00")),
    )
    assert kind is DocumentKind.DEMANDE_PAIEMENT_SOUS_TRAITANT
    assert confidence > 0.7
    paid_directly, _ = kind_of(
        row(80, (150, "FACTURE"), size=16),
        row(100, (150, "Sous-traitant en paiement direct"), size=16),
    )
    assert paid_directly is DocumentKind.DEMANDE_PAIEMENT_SOUS_TRAITANT
    # Without a subcontractor, a « demande de paiement » names no kind of its own.
    alone, _ = kind_of(row(80, (150, "DEMANDE DE PAIEMENT"), size=16))
    assert alone is DocumentKind.INVOICE


def test_competing_titles_lower_the_confidence() -> None:
    _, clear = kind_of(row(80, (150, "ÉTAT D'ACOMPTE"), size=16), *BODY)
    _, torn = kind_of(
        row(80, (150, "ÉTAT D'ACOMPTE"), size=16), row(100, (150, "FACTURE"), size=16), *BODY
    )
    assert torn < clear - 0.2


def test_untitled_page_is_a_guess_and_empty_page_is_nothing() -> None:
    assert kind_of(*BODY) == (DocumentKind.INVOICE, 0.25)
    assert kind_of() == (None, 0.0)


# --------------------------------------------------------------------------- works pieces


def etat_acompte_rows() -> list[list[Word]]:
    """An état d'acompte on the maître d'œuvre's letterhead, the firm in a block."""
    return [
        row(40, (50, "ATELIER ROUX & ASSOCIÉS ARCHITECTES"), size=13),
        row(58, (50, "SIRET 812 345 676 00017 – 3 place de l'Horloge 30000 Nîmes")),
        row(90, (150, "ÉTAT D'ACOMPTE N° EA-2024-07"), size=16),
        row(130, (50, "Entreprise titulaire"), (330, "Maître d'ouvrage"), size=8),
        row(142, (50, "BÂTIMENTS LAVAL CONSTRUCTION"), (330, "COMMUNE DE PORT-LAVAL")),
        row(154, (50, "SIRET 388 819 096 00016"), (330, "SIRET 213 030 828 00015")),
    ]


def test_etat_acompte_letterhead_is_the_maitre_d_oeuvre() -> None:
    reading = find_fields([page(*etat_acompte_rows())], kind=DocumentKind.ETAT_ACOMPTE)
    values = reading.fields.values()
    assert values["invoice_number"] == "EA-2024-07"
    assert values["supplier_siret"] == "38881909600016"
    assert values["supplier_name"] == "BÂTIMENTS LAVAL CONSTRUCTION"
    assert values["moe_siret"] == "81234567600017"
    assert values["moa_siret"] == values["recipient_siret"] == "21303082800015"
    assert classify([page(*etat_acompte_rows())]).value is DocumentKind.ETAT_ACOMPTE


def test_a_titulaire_named_entreprise_keeps_its_block_heading() -> None:
    rows = [
        row(40, (50, "Agence Giraud & Durand"), size=13),
        row(58, (50, "N° Siret : 236 271 128 00068")),
        row(90, (50, "PROJET DE DÉCOMPTE GÉNÉRAL"), size=14),
        row(130, (50, "MAÎTRE D'OUVRAGE"), size=7),
        row(141, (50, "CENTRE HOSPITALIER DE LE HAVRE")),
        row(153, (50, "N° Siret 267 621 639 00041")),
        row(180, (50, "ENTREPRISE TITULAIRE"), size=7),
        row(191, (50, "ENTREPRISE DU VAL DE LOIRE")),
        row(203, (50, "49 place Jean Jaurès 86000 Poitiers")),
        row(215, (50, "N° Siret 476 123 500 00037")),
    ]
    values = find_fields([page(*rows)], kind=DocumentKind.PROJET_DECOMPTE_GENERAL).fields.values()
    assert values["supplier_siret"] == "47612350000037"
    assert values["moe_siret"] == "23627112800068"
    assert values["moa_siret"] == "26762163900041"


def test_header_number_line_under_the_title() -> None:
    found = fields_of(row(80, (300, "FACTURE"), size=16), row(100, (300, "N° : 2024-117")))
    assert found.invoice_number.value == "2024-117"


@pytest.mark.parametrize(
    ("title", "label", "number"),
    [
        ("DÉCOMPTE GÉNÉRAL ET DÉFINITIF", "PIDCO TOR", "DGD-2024-307"),
        ("FACTURE", "N° TES", "2025/08601"),
    ],
)
def test_the_number_under_the_title_when_its_label_was_lost_to_ocr(
    title: str, label: str, number: str
) -> None:
    # The label over the number is OCR noise; the table's « N° » column holds item
    # numbers, too weak to keep: the reference under the title is the guess.
    rows = (
        row(110, (50, title), size=14),
        row(140, (50, label), (180, number)),
        row(460, (50, "N°"), (100, "Désignation des ouvrages"), (400, "Montant HT")),
        row(476, (50, "01"), (100, "Chaussées et enrobés"), (400, "16 350,00 €"), conf=0.6),
    )
    found = find_fields([page(*rows, source=FieldSource.OCR)]).fields.invoice_number
    assert found.value == number
    assert found.confidence < 0.5  # a guess: an operator confirms


# --------------------------------------------------------------------------- hostile input

_TOKENS = st.one_of(
    st.sampled_from(
        [
            "Facture",
            "n°",
            "TVA",
            "Total",
            "HT",
            "TTC",
            "SIRET",
            ":",
            "€",
            "-",
            "Client",
            "le",
            "Maître",
            "d'ouvrage",
            "(cid:3)",
            "IBAN",
            "FR76",
            "20 %",
            "1 200,00",
            "01/02/2024",
        ]
    ),
    st.text(min_size=1, max_size=12).filter(lambda t: t.strip() == t and t != ""),
)


@given(
    st.lists(
        st.tuples(
            _TOKENS,
            st.floats(0, 590),
            st.floats(0, 830),
            st.floats(0, 40),
            st.floats(0, 1),
        ),
        max_size=60,
    )
)
def test_any_words_give_a_reading_never_an_exception(
    items: list[tuple[str, float, float, float, float]],
) -> None:
    words = [
        Word(text, x, y, x + 3 * len(text), y + size, 1, conf, FieldSource.OCR)
        for text, x, y, size, conf in items
    ]
    ocr_page = Page(1, 595.0, 842.0, tuple(words), FieldSource.OCR)
    reading = find_fields([ocr_page])
    assert all(
        0.0 <= getattr(reading.fields, name).confidence <= 1.0 for name in reading.fields.values()
    )
    guess = classify([ocr_page])
    assert 0.0 <= guess.confidence <= 1.0


def test_header_column_beside_a_cell_with_its_own_label() -> None:
    found = fields_of(
        row(140, (20, "SIRET 512 487 570 00016"), (200, "Engagement"), (300, "Marché"), size=7),
        row(152, (20, "TVA FR15512487570"), (200, "1300581122"), (300, "2023-DGFIP-SI-0042")),
    )
    assert found.engagement_number.value == "1300581122"
    assert found.contract_number.value == "2023-DGFIP-SI-0042"
    assert found.supplier_vat_id.value == "FR15512487570"


def test_row_label_cell_owns_the_value_right_of_it() -> None:
    # "Montant HT" heads the column, but the row says TVA: 1 570,00 is not the HT.
    found = fields_of(
        row(300, (400, "Montant HT"), size=8),
        row(315, (300, "TVA 20 %"), (400, "1 570,00")),
    )
    assert found.total_excl_tax.value is None
    assert found.total_tax.value == "1570.00"


@pytest.mark.parametrize(
    ("printed", "name"),
    [
        ("Au bon moulin SARL", "Au bon moulin"),
        ("SAS MENUISERIE DUPONT", "MENUISERIE DUPONT"),
        ("Free SAS", "Free"),
        ("Papeterie Lefèvre & Fils", "Papeterie Lefèvre & Fils"),
        ("SARL", "SARL"),
        ("SAMSA Bâtiment", "SAMSA Bâtiment"),
    ],
)
def test_legal_form_is_not_part_of_the_name(printed: str, name: str) -> None:
    assert strip_legal_form(printed) == name


def test_ocr_letters_read_for_digits_in_a_siret() -> None:
    scanned = page(row(200, (330, "SIRET client : 110 002 OIL 00044")), source=FieldSource.OCR)
    assert find_fields([scanned]).fields.recipient_siret.value == "11000201100044"
    # A text layer does not misread: "OIL" stays letters there.
    assert (
        value(row(200, (330, "SIRET client : 110 002 OIL 00044")), field="recipient_siret") is None
    )


# --------------------------------------------------------------------------- header rows


def test_references_in_a_header_row_with_a_wrapped_heading() -> None:
    # A portal export: the headings in one row (one wrapped onto a second line), the
    # values in the row under them; « Bon de commande » stops at its cell.
    found = fields_of(
        row(
            100,
            (50, "Pièce comptable n°"),
            (150, "Émis le"),
            (230, "Date d'exigibilité"),
            (330, "N° de commande"),
            (430, "Bon de commande"),
            (510, "N° marché"),
            size=8,
        ),
        row(108, (330, "client"), size=8),
        row(
            120,
            (50, "FA234457"),
            (150, "28/03/2025"),
            (230, "27/04/2025"),
            (330, "817936"),
            (430, "—"),
            (510, "AO-2025-CHB-33"),
            size=8,
        ),
    )
    assert found.invoice_number.value == "FA234457"
    assert found.issue_date.value == "2025-03-28"
    assert found.engagement_number.value == "817936"
    assert found.contract_number.value == "AO-2025-CHB-33"


@pytest.mark.parametrize(
    ("wording", "field"),
    [
        ("N° décompte", "invoice_number"),
        ("N° de note de crédit", "invoice_number"),
        ("Service à facturer", "service_code"),
        ("Convention n°", "contract_number"),
        ("Coordonnées bancaires", "iban"),
    ],
)
def test_more_label_wordings(wording: str, field: str) -> None:
    values = {
        "invoice_number": ("DG24-2460", "DG24-2460"),
        "service_code": ("BAT-71", "BAT-71"),
        "contract_number": ("M23-9604", "M23-9604"),
        "iban": ("FR76 3000 4251 2947 3680 6826 948", "FR7630004251294736806826948"),
    }
    printed, expected = values[field]
    assert value(row(100, (50, f"{wording} : {printed}")), field=field) == expected


@pytest.mark.parametrize(
    "wording", ["Date d'exigibilité", "À payer avant le", "Payable le", "Règlement au"]
)
def test_due_date_wordings_are_neither_the_issue_date_nor_the_net(wording: str) -> None:
    found = fields_of(
        row(100, (50, "Facture n° FA-2025-0117")),
        row(115, (50, f"{wording} :"), (200, "11/04/2025")),
        row(300, (300, "Net à payer"), (480, "1 200,00 €")),
    )
    assert found.issue_date.value != "2025-04-11"
    assert found.amount_due.value == "1200.00"


def test_an_event_date_wrapped_in_prose_is_not_the_issue_date() -> None:
    found = fields_of(
        row(100, (50, "Référence du document"), (250, "En date du")),
        row(115, (50, "DG-2024-267"), (250, "25/10/2024")),
        row(
            150,
            (
                50,
                "Opération : Réhabilitation · Montant HT : 389 500,00 € · Notifié",
            ),
        ),
        row(161, (50, "le : 15/01/2024 · Ordre de service n° 1 du : 24/03/2024")),
    )
    assert found.invoice_number.value == "DG-2024-267"
    assert found.issue_date.value == "2024-10-25"


def test_a_vat_summary_gives_its_total_row_after_several_rates() -> None:
    found = fields_of(
        row(
            300,
            (50, "Taux TVA"),
            (120, "Montant total HT"),
            (220, "Total des taxes"),
            (320, "Total TTC"),
        ),
        row(315, (50, "20 %"), (120, "29 795,50 €"), (220, "5 959,10 €"), (320, "35 754,60 €")),
        row(330, (50, "10 %"), (120, "49 689,00 €"), (220, "4 968,90 €"), (320, "54 657,90 €")),
        row(345, (50, "5,5 %"), (120, "14 292,00 €"), (220, "786,06 €"), (320, "15 078,06 €")),
        row(360, (50, "Total"), (120, "93 776,50 €"), (220, "11 714,06 €"), (320, "105 490,56 €")),
    )
    assert found.total_excl_tax.value == "93776.50"
    assert found.total_tax.value == "11714.06"
    assert found.total_incl_tax.value == "105490.56"


def test_reference_wordings_of_an_erp_grid() -> None:
    found = fields_of(
        row(
            100,
            (50, "Réf. décompte"),
            (150, "PDM-2024-5822"),
            (300, "En date du"),
            (400, "2024-06-12"),
        ),
        row(115, (50, "N° de commande client : 1357765463")),
    )
    assert found.invoice_number.value == "PDM-2024-5822"
    assert found.engagement_number.value == "1357765463"


def test_vat_lines_per_rate_worded_tva_totale_add_up() -> None:
    found = fields_of(
        row(360, (300, "Total hors TVA"), (480, "18 826,42")),
        row(375, (300, "TVA totale 20 % sur 18546,41"), (480, "3709,28")),
        row(390, (300, "TVA totale 5,5 % sur 12,72"), (480, "0,70")),
        row(405, (300, "TVA totale 2,1 % sur 267,29"), (480, "5,61")),
        row(420, (300, "Total TTC"), (480, "22 542,01")),
    )
    assert found.total_tax.value == "3715.59"


def test_ocr_noise_over_a_column_is_not_its_header() -> None:
    # A rule OCR read as words between the recap's header and its total row: the
    # header above still says which column is cumulative.
    ocr_page = page(
        row(300, (50, "Récapitulatif"), (290, "Cumul"), (380, "Précédent"), (490, "Montant")),
        row(311, (290, "à ce jour"), (380, "(sit. n° 9)"), (490, "du mois")),
        row(
            325,
            (50, "Travaux exécutés HT"),
            (300, "105897,50"),
            (410, "71909,50"),
            (515, "33988,00"),
        ),
        row(
            338,
            (50, "1"),
            (100, "RATER AS ECS"),
            (300, "SEE CU PRE RO"),
            (410, "PE D 21"),
            conf=0.2,
        ),
        row(350, (50, "Total HT"), (300, "111221,90"), (410, "76488,48"), (515, "34733,42")),
        row(365, (50, "TVA 20 %"), (300, "22244,38"), (410, "15297,70"), (515, "6946,68")),
        row(380, (50, "Total TTC"), (300, "133466,28"), (410, "91786,18"), (515, "41680,10")),
        source=FieldSource.OCR,
    )
    found = find_fields([ocr_page], kind=DocumentKind.ETAT_ACOMPTE).fields
    assert found.total_excl_tax.value == "34733.42"
    assert found.total_incl_tax.value == "41680.10"


def test_two_triples_that_add_up_leave_the_totals_unsure() -> None:
    # Two columns without headers whose amounts both add up: the check cannot choose.
    found = fields_of(
        row(350, (50, "Total HT"), (300, "111 221,90"), (515, "34 733,42")),
        row(365, (50, "TVA 20 %"), (300, "22 244,38"), (515, "6 946,68")),
        row(380, (50, "Total TTC"), (300, "133 466,28"), (515, "41 680,10")),
    )
    assert found.total_incl_tax.value is not None
    assert found.total_incl_tax.confidence < 0.8


def test_a_utility_bill_with_its_customer_under_titulaire_du_contrat() -> None:
    found = fields_of(
        row(30, (45, "Distribution médicale Barbier"), size=15),
        row(31, (330, "FACTURE du 10/08/2024"), size=12),
        row(48, (45, "30240 Port-Laval"), (330, "N° de la facture F202408-967")),
        row(60, (45, "N°SIRET : 77968892800075")),
        row(72, (45, "Identifiant TVA intracom. : FR 66 779 688 928")),
        row(96, (45, "Vos références"), (330, "TITULAIRE DU CONTRAT"), size=9),
        row(108, (45, "Code serv."), (180, "DRT-ROUTES"), (330, "DEPARTEMENT DU HAUT-VALLON")),
        row(120, (45, "Point de livraison (PDL)"), (180, "27013265966324"), (330, "68000 COLMAR")),
        row(132, (45, "Devis"), (180, "D-2024-207"), (330, "N°SIRET 22683016400019")),
        row(300, (330, "Total TTC"), (480, "259,80")),
    )
    assert found.issue_date.value == "2024-08-10"
    assert found.invoice_number.value == "F202408-967"
    assert found.service_code.value == "DRT-ROUTES"
    assert found.supplier_siret.value == "77968892800075"
    assert found.supplier_vat_id.value == "FR66779688928"
    assert found.recipient_siret.value == "22683016400019"
    assert found.recipient_name.value == "DEPARTEMENT DU HAUT-VALLON"
    assert found.engagement_number.value is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12 March 2025", date(2025, 3, 12)),
        ("March 12, 2025", date(2025, 3, 12)),
        ("1st June 2024", date(2024, 6, 1)),
        ("Sept. 3, 2024", date(2024, 9, 3)),
    ],
)
def test_english_dates(text: str, expected: date) -> None:
    assert parse_date(text) == expected


def test_a_bilingual_invoice() -> None:
    found = fields_of(
        row(30, (45, "FACTURE / INVOICE"), size=18),
        row(30, (380, "Invoice No.")),
        row(42, (380, "F202409-648")),
        row(56, (45, "Fournitures Rousseau SAS"), (380, "Date of issue")),
        row(68, (45, "SIRET : 91003821500067"), (380, "28 September 2024")),
        row(80, (45, "VAT No. : FR90910038215"), (380, "Due date")),
        row(92, (380, "28 October 2024")),
        row(104, (380, "Service code")),
        row(116, (380, "ACHATS")),
        row(128, (45, "FACTURÉ À / BILL TO"), (380, "Purchase order"), size=7),
        row(138, (45, "CENTRE HOSPITALIER DE BELLECOMBE"), (380, "BC-2024-8729")),
        row(150, (45, "SIRET 26361318400013")),
        row(300, (330, "Net amount"), (480, "1,185.12 €")),
        row(315, (330, "VAT amount 20 %"), (480, "237.02 €")),
        row(330, (330, "Gross amount"), (480, "1,422.14 €")),
        row(345, (330, "Balance due"), (480, "1,422.14 €")),
    )
    assert found.invoice_number.value == "F202409-648"
    assert found.issue_date.value == "2024-09-28"
    assert found.service_code.value == "ACHATS"
    assert found.engagement_number.value == "BC-2024-8729"
    assert found.recipient_name.value == "CENTRE HOSPITALIER DE BELLECOMBE"
    assert found.recipient_siret.value == "26361318400013"
    assert found.total_excl_tax.value == "1185.12"
    assert found.total_incl_tax.value == "1422.14"
    assert found.amount_due.value == "1422.14"


@pytest.mark.parametrize(
    "printed",
    [
        "DÉPARTEMENT OÙ VAL-D'OUBRE",  # OCR's slip
        "DÉPARTEMENT DU VAL-D'OU…",  # cut short by its box
        "DÉPARTEMENT DU VAL-D'OUBRE Direction des routes",  # run on into the next line
    ],
)
def test_the_directory_spells_the_recipient_s_name(printed: str) -> None:
    rows = (
        *_JOINER_LETTERHEAD,
        row(120, (300, "DESTINATAIRE"), size=7),
        row(132, (300, printed)),
        row(144, (300, "SIRET 223 010 232 00054")),
    )
    listed = _listed("22301023200054", name="DÉPARTEMENT DU VAL-D'OUBRE")
    reading = find_fields([page(*rows)], public_structure=listed)
    assert reading.fields.recipient_name.value == "DÉPARTEMENT DU VAL-D'OUBRE"
    assert any(
        f.code == "FIELD_CORRECTED" and f.field == "recipient_name" for f in reading.findings
    )


def test_another_form_of_the_recipient_s_name_stays_as_printed() -> None:
    rows = (
        *_JOINER_LETTERHEAD,
        row(120, (300, "DESTINATAIRE"), size=7),
        row(132, (300, "Mairie de Port-Laval")),
        row(144, (300, "SIRET 213 030 828 00015")),
    )
    listed = _listed("21303082800015", name="COMMUNE DE PORT-LAVAL")
    found = find_fields([page(*rows)], public_structure=listed).fields
    assert found.recipient_name.value == "Mairie de Port-Laval"


def test_a_siret_and_a_vat_id_cut_by_the_end_of_a_party_line() -> None:
    found = fields_of(
        row(40, (50, "CHEVALIER FRÈRES"), size=14),
        row(
            60,
            (
                50,
                "69 av. Gambetta – Strasbourg – SIRET 828 951 111 00040 – TVA Intra. FR 34 828",
            ),
        ),
        row(71, (50, "951 111")),
        row(200, (50, "Facture n° F-2025-001")),
        row(
            230,
            (50, "Destinataire : OPH VALLON HABITAT – 5 Quai Des Tanneurs – SIRET établissement"),
        ),
        row(241, (50, "242 609 139 00017")),
    )
    assert found.supplier_vat_id.value == "FR34828951111"
    assert found.recipient_siret.value == "24260913900017"


def test_a_letterhead_on_the_right_faces_its_addressee_on_the_left() -> None:
    found = fields_of(
        row(30, (350, "Éts Bonnet et Fils"), size=13),
        row(46, (350, "77 impasse de Verdun")),
        row(58, (350, "18000 Bourges")),
        row(70, (350, "N°SIRET : 404 370 462 00032")),
        row(100, (45, "COMMUNE DE VAL-DES-CHENES"), size=10),
        row(114, (45, "2 Rue Des Ecoles")),
        row(126, (45, "78940 VAL-DES-CHENES")),
        row(138, (45, "N°SIRET 217 815 901 00012")),
        row(170, (45, "FACTURE"), size=14),
        row(190, (45, "FACTURE N° F202408-332")),
        row(780, (45, "Éts Bonnet et Fils – SAS au capital de 10 000 € – RCS Bourges"), size=6),
    )
    assert found.supplier_siret.value == "40437046200032"
    assert found.recipient_siret.value == "21781590100012"
    assert found.recipient_name.value == "COMMUNE DE VAL-DES-CHENES"


def test_boxes_headed_de_and_a_and_a_date_cut_by_the_line_end() -> None:
    found = fields_of(
        row(40, (50, "DE"), (320, "À"), size=7),
        row(50, (50, "Éts Bonnet et Fils"), (320, "COMMUNE DE VAL-DES-CHENES")),
        row(62, (50, "77 impasse de Verdun"), (320, "2 Rue Des Ecoles")),
        row(74, (50, "18000 Bourges"), (320, "78940 VAL-DES-CHENES")),
        row(86, (50, "N°SIRET : 404 370 462 00032"), (320, "N°SIRET 217 815 901 00012")),
        row(120, (50, "FACTURE – Facture N° F202408-332 – Émis le 27")),
        row(131, (50, "août 2024 – N° marché : AO-2024-DEP-04")),
        row(300, (50, "Désignation"), (300, "Montant HT")),
    )
    assert found.supplier_name.value == "Éts Bonnet et Fils"
    assert found.supplier_siret.value == "40437046200032"
    assert found.recipient_name.value == "COMMUNE DE VAL-DES-CHENES"
    assert found.recipient_siret.value == "21781590100012"
    assert found.issue_date.value == "2024-08-27"


def test_ocr_slips_in_dates_amounts_and_the_ej_label() -> None:
    assert parse_date("ler juin 2024") == date(2024, 6, 1)  # « 1er » read « ler »
    ocr_page = page(
        row(100, (50, "Document n°"), (150, "Date de création"), (260, "Réf. E]")),
        row(112, (50, "F202406-903"), (150, "ler juin 2024"), (260, "656669")),
        row(300, (300, "MONTANT TOTAL HT"), (480, "1210 650,75")),
        row(315, (300, "TVA 5,5 %"), (480, "66 585,79")),
        row(330, (300, "MONTANT TTC"), (480, "1277 236,54")),
        source=FieldSource.OCR,
    )
    found = find_fields([ocr_page]).fields
    assert found.issue_date.value == "2024-06-01"
    assert found.engagement_number.value == "656669"
    assert found.total_excl_tax.value == "1210650.75"  # a space OCR lost, the sum confirms
    assert found.total_incl_tax.value == "1277236.54"


def test_total_a_payer_ttc_is_the_ttc_beside_a_net_worded_apart() -> None:
    # The HT line unreadable (OCR lost its comma): the TTC has only its own label.
    found = fields_of(
        row(300, (300, "Net HT"), (480, "2143244")),
        row(315, (300, "TVA totale 20 %"), (480, "4 286,49")),
        row(330, (300, "Total à payer TTC"), (480, "25 718,93")),
        row(345, (300, "Retenue de garantie 5 %"), (480, "-1 285,95")),
        row(360, (300, "Net à percevoir"), (480, "24 432,98")),
    )
    assert found.total_incl_tax.value == "25718.93"
    assert found.amount_due.value == "24432.98"
