"""Field finders on lines as OCR gives them: word boxes a little off, leaders read as
letters, marks read for other marks, headers whose words the reader set apart.

Words are placed one by one with the boxes and confidences Tesseract gave on the scans
these cases come from, so that line grouping, cell borders and label matching meet the
same geometry.
"""

from __future__ import annotations

from pipeline.extract.fields import PublicStructure, find_fields, is_valid_siret
from pipeline.extract.pdf_text import Page, Word, group_lines
from pipeline.models import DocumentKind, FieldSource, PieceFields
from tests.test_extract_fields import page, row

Box = tuple[str, float, float, float]  # text, x0, x1, confidence


def ocr_line(top: float, *boxes: Box, height: float = 6.0) -> list[Word]:
    return [Word(t, x0, top, x1, top + height, 1, c, FieldSource.OCR) for t, x0, x1, c in boxes]


def ocr_page(*rows: list[Word]) -> Page:
    words = tuple(w for r in rows for w in r)
    return Page(number=1, width=595.0, height=842.0, words=words, source=FieldSource.OCR)


def read(*rows: list[Word], public_structure: PublicStructure | None = None) -> PieceFields:
    return find_fields([ocr_page(*rows)], public_structure=public_structure).fields


_INVOICE_HEAD = (
    ocr_line(100, ("FACTURE", 50, 110, 0.96), height=10),
    ocr_line(140, ("N°", 52, 58, 0.95), ("facture", 61, 90, 0.95), ("FA-2024-0117", 240, 300, 0.9)),
)


def test_a_leader_read_as_letters_in_the_label_s_own_cell_is_skipped() -> None:
    # « N° EJ ........ EJ202426200 »: the dots read as one word, with no confidence.
    rows = (
        *_INVOICE_HEAD,
        ocr_line(
            185,
            ("N°", 52.8, 63.3, 0.96),
            ("EJ", 67.4, 75.8, 0.92),
            ("CETETELETELETET", 79.4, 117.3, 0.0),
            ("EJ202426200", 249.8, 307.4, 0.9),
        ),
    )
    assert read(*rows).engagement_number.value == "EJ202426200"


def test_a_confident_word_after_the_label_is_not_skipped_as_noise() -> None:
    rows = (
        *_INVOICE_HEAD,
        ocr_line(
            185,
            ("N°", 52.8, 63.3, 0.96),
            ("EJ", 67.4, 75.8, 0.92),
            ("ANNULÉ", 79.4, 110.0, 0.95),
            ("EJ202426200", 249.8, 307.4, 0.9),
        ),
    )
    # A word read with confidence is printed text: what follows is no longer the label's.
    assert read(*rows).engagement_number.value is None


def test_an_abbreviation_s_period_read_as_a_comma_still_makes_the_label() -> None:
    rows = (
        *_INVOICE_HEAD,
        ocr_line(
            152,
            ("Réf,", 50.6, 66.0, 0.9),
            ("commande", 69.0, 108.0, 0.95),
            ("635238", 250.0, 280.0, 0.95),
        ),
    )
    assert read(*rows).engagement_number.value == "635238"


def test_the_box_of_n_degree_stopping_short_of_the_sign_does_not_part_the_label() -> None:
    # Small capitals: « N° DE BON DE COMMANDE », the box of « N° » 3 points wide.
    header = ocr_line(
        267,
        ("N°", 54.9, 58.1, 0.96),
        ("DE", 63.6, 69.1, 0.95),
        ("BON", 73.2, 84.7, 0.95),
        ("DE", 87.8, 93.8, 0.96),
        ("COMMANDE", 97.2, 129.8, 0.95),
        height=4.0,
    )
    (line,) = group_lines(ocr_page(header))
    assert line.text == "N° DE BON DE COMMANDE"
    values = ocr_line(281, ("1386598640", 56.4, 100.0, 0.95))
    assert read(*_INVOICE_HEAD, header, values).engagement_number.value == "1386598640"


def test_a_label_s_last_word_set_apart_by_a_gap_keeps_its_label() -> None:
    # « N° » | « EJ »: the first word is another label (a number's), the rest still reads.
    rows = (
        row(100, (50, "FACTURE N° FA-2024-0117")),
        row(140, (50, "N°"), (75, "EJ"), (250, "BC-2024-3349")),
    )
    assert find_fields([page(*rows)]).fields.engagement_number.value == "BC-2024-3349"


def test_a_label_does_not_run_across_a_column_gap() -> None:
    # A header row of small captions: « ACCORD-CADRE N° » … « COMMANDE DU » … « RÉF.
    # CLIENT », read « ACCORD-CADRE | N | COMMANDE DU »: « N COMMANDE » is no label of
    # the order number, and the order's date is no order number.
    header = ocr_line(
        227,
        ("ACCORD-CADRE", 53.3, 96.7, 0.9),
        ("N", 101.3, 104.1, 0.89),
        ("COMMANDE", 223.6, 255.1, 0.96),
        ("DU", 259.6, 266.8, 0.95),
        ("REF.", 394.2, 401.9, 0.75),
        ("CLIENT", 407.7, 426.6, 0.95),
        height=4.0,
    )
    values = ocr_line(
        238,
        ("AO-2023-VDL-15", 54.2, 110.0, 0.93),
        ("25", 224.0, 232.0, 0.95),
        ("juin", 235.0, 250.0, 0.95),
        ("2024", 253.0, 270.0, 0.95),
        ("C-5593", 395.0, 420.0, 0.95),
        height=4.0,
    )
    found = read(*_INVOICE_HEAD, header, values)
    assert found.engagement_number.value is None
    assert found.contract_number.value == "AO-2023-VDL-15"


_MOA_FORM = (
    row(40, (211, "ÉTAT D'ACOMPTE VALIDÉ"), size=12),
    row(92, (55, "A - IDENTIFICATION DE L'ÉMETTEUR - MAÎTRE D'OUVRAGE")),
    row(107, (54, "DÉNOMINATION"), (434, "SIRET")),
    row(117, (54, "COMMUNAUTÉ DE COMMUNES DU PAYS DE LIMOGES"), (434, "208 712 760 00080")),
    row(137, (54, "ADRESSE")),
    row(148, (54, "106 route de la République")),
)


def test_a_box_caption_is_not_the_name_it_captions() -> None:
    names = find_fields([page(*_MOA_FORM)], kind=DocumentKind.ETAT_ACOMPTE_VALIDE).fields
    assert names.recipient_name.value == "COMMUNAUTÉ DE COMMUNES DU PAYS DE LIMOGES"


def test_a_recipient_name_not_read_is_the_directory_s_for_its_siret() -> None:
    rows = (
        row(60, (50, "Menuiserie Lefèvre SARL"), size=14),
        row(80, (50, "SIRET 552 462 814 00013")),
        row(200, (50, "Facture n° F-2025-001")),
        row(240, (300, "Destinataire : SIRET 110 002 011 00044")),
    )
    assert find_fields([page(*rows)]).fields.recipient_name.value is None
    reading = find_fields([page(*rows)], public_structure={"11000201100044": "ETAT"}.get)
    assert reading.fields.recipient_siret.value == "11000201100044"
    assert reading.fields.recipient_name.value == "ETAT"
    assert reading.fields.recipient_name.confidence < reading.fields.recipient_siret.confidence
    assert any(f.field == "recipient_name" and "directory" in f.message for f in reading.findings)


def test_dashes_read_off_a_rule_do_not_size_the_line() -> None:
    # « MAÎTRE D'ŒUVRE » over a rule whose remains OCR read as dashes half a point high:
    # the heading's words stay one cell, and its size is its letters'.
    heading = ocr_line(179, ("MAÎTRE", 47.0, 71.3, 0.86), ("D'ŒUVRE", 73.7, 104.1, 0.9))
    dashes = [
        Word(text, x0, 182.8, x0 + width, 183.3, 1, 0.91, FieldSource.OCR)
        for text, x0, width in (("-", 333.0, 0.5), ("--", 353.2, 4.1), ("-", 387.5, 0.5))
    ]
    (line,) = group_lines(ocr_page(heading + dashes))
    assert line.text.startswith("MAÎTRE D'ŒUVRE\t")
    assert line.height == 6.0


def test_a_contract_reference_is_not_taken_for_the_piece_s_number() -> None:
    # No label read for the number (« PIÈCE N° » garbled), the contract's « MAPA 2024/075 »
    # under the title: its running number is no piece reference.
    rows = (
        ocr_line(118, ("ETAT", 50, 98, 0.93), ("D'ACOMPTE", 104, 215, 0.89), height=12),
        ocr_line(
            153,
            ("Accord-cadre", 50, 100, 0.95),
            ("N°", 103, 112, 0.95),
            ("MAPA", 255, 280, 0.95),
            ("2024/075", 283, 320, 0.95),
        ),
    )
    found = read(*rows)
    assert found.contract_number.value == "MAPA 2024/075"
    assert found.invoice_number.value is None


def test_a_vat_key_read_with_a_letter_too_many_or_a_look_alike_is_repaired() -> None:
    # A bold zero read « 0O », an 8 read « B »: the key's checksum picks the reading.
    for printed, meant in (("FR0O5478885247", "FR05478885247"), ("FROB659275663", "FR08659275663")):
        rows = (
            *_INVOICE_HEAD,
            ocr_line(
                180,
                ("N°", 50, 58, 0.95),
                ("TVA", 61, 80, 0.95),
                (":", 82, 84, 0.9),
                (printed, 87, 150, 0.45),
            ),
        )
        assert read(*rows).supplier_vat_id.value == meant
    # Three characters that no single reading makes a valid key: nothing.
    rows = (*_INVOICE_HEAD, ocr_line(180, ("TVA", 61, 80, 0.95), ("FRXY5478885247", 87, 150, 0.45)))
    assert read(*rows).supplier_vat_id.value is None


def test_a_total_s_label_with_its_word_space_lost_is_read() -> None:
    rows = (
        *_INVOICE_HEAD,
        ocr_line(
            300, ("TOTALHT", 309, 345, 0.9), ("1333,39", 480, 515, 0.95), ("€", 518, 523, 0.9)
        ),
        ocr_line(
            315, ("TOTALTVA", 309, 350, 0.9), ("266,68", 485, 515, 0.95), ("€", 518, 523, 0.9)
        ),
        ocr_line(
            330, ("TOTALTTC", 309, 350, 0.9), ("1600,07", 480, 515, 0.95), ("€", 518, 523, 0.9)
        ),
    )
    found = read(*rows)
    assert (found.total_excl_tax.value, found.total_tax.value, found.total_incl_tax.value) == (
        "1333.39",
        "266.68",
        "1600.07",
    )


def test_a_section_title_at_the_top_is_not_the_letterhead() -> None:
    # No letterhead at the top: the addressee, the references, a section « DÉTAIL »; the
    # issuer's name is in the legal footer.
    rows = (
        row(45, (463, "FACTURE"), size=16),
        row(111, (58, "DESTINATAIRE"), (316, "N° FACTURE F202409-622")),
        row(120, (58, "DÉPARTEMENT DU HAUT-VALLON")),
        row(166, (58, "N° SIRET 22679422000070")),
        row(204, (58, "DÉTAIL")),
        row(228, (166, "Désignation"), (480, "Montant HT")),
        row(790, (92, "IMPRIMERIE COLLIN EURL - EURL au capital de 400 000 € - RCS Le Mans")),
    )
    assert find_fields([page(*rows)]).fields.supplier_name.value == "IMPRIMERIE COLLIN"


def test_a_signature_box_s_wording_is_no_name() -> None:
    rows = (
        row(40, (211, "ÉTAT D'ACOMPTE VALIDÉ"), size=12),
        row(125, (334, "Pour le maître d'ouvrage, le représentant du")),
        row(138, (391, "pouvoir adjudicateur")),
        row(165, (394, "BON POUR ACCORD")),
        row(177, (404, "Le maître d'ouvrage")),
    )
    names = find_fields([page(*rows)], kind=DocumentKind.ETAT_ACOMPTE_VALIDE).fields
    assert names.recipient_name.value is None


def test_a_doubtful_lone_character_after_the_label_and_a_colon_before_a_dash_are_specks() -> None:
    # « FACTURE N° IMF-25-00318 » in bold serifs, read « N° 5 IMF:-25-00318 ».
    rows = (
        ocr_line(
            185,
            ("FACTURE", 54, 110, 0.96),
            ("N°", 114, 126, 0.9),
            ("5", 129, 133, 0.58),
            ("IMF:-25-00318", 136, 200, 0.56),
            height=9,
        ),
    )
    assert read(*rows).invoice_number.value == "IMF-25-00318"
    # A confident figure there is the value's first group, not a speck.
    rows = (
        ocr_line(
            185,
            ("FACTURE", 54, 110, 0.96),
            ("N°", 114, 126, 0.9),
            ("5", 129, 133, 0.95),
            ("IMF-25-00318", 136, 200, 0.9),
            height=9,
        ),
    )
    assert read(*rows).invoice_number.value != "IMF-25-00318"


def test_a_public_structure_s_siret_with_one_figure_misread_is_the_listed_one() -> None:
    # « 227 815 901 00012 » fails its checksum; 217 815 901 00012 is a figure away and
    # in the directory.
    rows = (
        row(60, (50, "Menuiserie Moreau SA"), size=14),
        row(80, (50, "SIRET 552 462 814 00013")),
        row(200, (50, "Facture n° F-2025-001")),
        row(240, (300, "Destinataire : SIRET 227 815 901 00012")),
    )
    listed = {"21781590100012": "COMMUNE DE LA VALLÉE"}.get
    assert find_fields([page(*rows)]).fields.recipient_siret.value == "22781590100012"
    reading = find_fields([page(*rows)], public_structure=listed)
    assert reading.fields.recipient_siret.value == "21781590100012"
    assert reading.fields.recipient_siret.confidence < 0.95
    assert any(
        f.field == "recipient_siret" and "a figure away" in f.message for f in reading.findings
    )
    # Two listed numbers a figure away: the directory cannot tell, the reading stays.
    two = {"21781590100012": "A", "22771590100012": "B"}.get
    assert is_valid_siret("22771590100012")
    reading = find_fields([page(*rows)], public_structure=two)
    assert reading.fields.recipient_siret.value == "22781590100012"
