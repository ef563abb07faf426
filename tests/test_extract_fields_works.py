"""Field finders on works pieces and the checks that choose between candidates.

Snippets are laid out as CCAG Travaux pieces print them (recap tables with cumulative
columns, deductions under the totals, party blocks under headings), with the numbers a
real page carries beside the right one: SIRET, RCS, phone, postcodes, situation ordinals,
quote numbers, line totals.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from pipeline.extract.checks import net_after, parse_rate, rate_holds, totals_hold, vat_of
from pipeline.extract.classify import classify
from pipeline.extract.fields import find_fields
from pipeline.models import DocumentKind, FieldSource, PieceFields
from tests.test_extract_fields import page, row


def read(*rows: list, kind: DocumentKind | None = None) -> PieceFields:  # type: ignore[type-arg]
    return find_fields([page(*rows)], kind=kind).fields


# --------------------------------------------------------------------------- checks


def test_arithmetic_checks() -> None:
    assert vat_of(Decimal("1671.62"), Decimal("20")) == Decimal("334.32")
    assert rate_holds(Decimal("497.50"), Decimal("5.5"), Decimal("27.36"))
    assert not rate_holds(Decimal("497.50"), Decimal("5.5"), Decimal("27.90"))
    assert totals_hold(Decimal("100.00"), Decimal("20.00"), Decimal("120.00"))
    assert not totals_hold(Decimal("0"), Decimal("0"), Decimal("0"))
    assert net_after(Decimal("17581.65"), [Decimal("-879.08"), Decimal("1666.51")]) == Decimal(
        "15036.06"
    )
    assert parse_rate("montant tva 5,5 % sur") == Decimal("5.5")
    assert parse_rate("tva (20 %)") == Decimal("20")
    assert parse_rate("tva intracom") is None


# --------------------------------------------------------------------------- contract number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Marché n° : MAPA 2024/037", "MAPA 2024/037"),
        ("N° de marché : AO-2022-VDL-12", "AO-2022-VDL-12"),
        ("Référence marché : M23-8830", "M23-8830"),
        ("Marché public n° 2024-31-TRX-173", "2024-31-TRX-173"),
        ("Accord-cadre n° AC-2023-044", "AC-2023-044"),
    ],
)
def test_contract_number_wordings(text: str, expected: str) -> None:
    found = read(
        row(100, (50, "Situation n° 7 – travaux du 01/04/2024 au 30/04/2024")),
        row(115, (50, "Devis n° D-2024-353")),
        row(130, (50, text)),
    )
    assert found.contract_number.value == expected


def test_contract_number_under_its_header_beside_a_siret_cell() -> None:
    found = read(
        row(130, (190, "Référence marché"), (300, "Devis")),
        row(140, (20, "Siret : 475 356 952 00055"), (190, "2022-44-TRX-170"), (300, "D-2024-554")),
    )
    assert found.contract_number.value == "2022-44-TRX-170"


def test_a_siret_in_the_next_cell_is_not_the_piece_number() -> None:
    found = read(
        row(197, (45, "Projet de décompte mensuel N°"), (330, "SIRET 213 145 030 00036")),
        row(217, (45, "PDM-2024-2428"), size=13),
    )
    assert found.invoice_number.value == "PDM-2024-2428"


# --------------------------------------------------------------------------- amounts


def _recap(*extra: list) -> list[list]:  # type: ignore[type-arg]
    return [
        row(340, (120, "Récapitulatif"), (264, "Cumul à ce jour"), (362, "Précédent (sit. 1)"),
            (490, "Montant du mois")),
        row(357, (45, "Travaux exécutés HT"), (300, "63 950,50 €"), (408, "47 787,00 €"),
            (510, "16 163,50 €")),
        row(372, (45, "Révision des prix"), (305, "2 950,40 €"), (412, "2 448,83 €"),
            (521, "501,57 €")),
        row(388, (45, "Total HT"), (300, "66 900,90 €"), (408, "50 235,83 €"),
            (510, "16 665,07 €")),
        row(404, (45, "TVA 5,5 %"), (305, "3 679,55 €"), (412, "2 762,97 €"), (521, "916,58 €")),
        row(419, (45, "Total TTC"), (300, "70 580,45 €"), (408, "52 998,80 €"),
            (510, "17 581,65 €")),
        *extra,
    ]  # fmt: skip


def test_recap_table_gives_the_month_not_the_cumulative() -> None:
    found = read(
        *_recap(
            row(603, (286, "Retenue de garantie 5 %"), (450, "-879,08 €")),
            row(619, (286, "Résorption de l'avance"), (450, "-1 666,51 €")),
            row(635, (286, "Reste à payer – acompte"), (450, "15 036,06 €")),
        ),
        kind=DocumentKind.PROJET_DECOMPTE_MENSUEL,
    )
    assert found.total_excl_tax.value == "16665.07"
    assert found.total_tax.value == "916.58"
    assert found.total_incl_tax.value == "17581.65"
    assert found.amount_due.value == "15036.06"
    # TTC less the deductions printed is the net: checked, so trusted.
    assert found.amount_due.confidence >= 0.9


def test_a_stamp_letter_among_the_figures_does_not_hide_the_column_header() -> None:
    rows = _recap()
    # The « o » of a COPIE stamp printed across the table runs into a figure's cell.
    rows[2] = row(372, (45, "Révision des prix"), (292, "o 2 950,40 €"), (412, "2 448,83 €"),
                  (521, "501,57 €"))  # fmt: skip
    found = read(*rows, kind=DocumentKind.PROJET_DECOMPTE_MENSUEL)
    assert found.total_excl_tax.value == "16665.07"
    assert found.total_incl_tax.value == "17581.65"


def test_an_ocr_slip_on_one_digit_of_a_total_is_undone_by_the_other_two() -> None:
    # OCR read the HT "16 665,05" as "26 665,05": HT or TTC could be the slip, but the
    # TTC is read the same twice.
    totals = [
        row(603, (286, "Total HT"), (450, "26 665,05 €")),
        row(619, (286, "TVA 20 %"), (450, "3 333,01 €")),
        row(635, (286, "Total TTC"), (450, "19 998,06 €")),
        row(700, (286, "Montant TTC"), (450, "19 998,06 €")),
    ]
    reading = find_fields([page(*totals, source=FieldSource.OCR)], kind=DocumentKind.INVOICE)
    found = reading.fields
    assert found.total_excl_tax.value == "16665.05"
    assert found.total_incl_tax.value == "19998.06"
    assert found.total_excl_tax.confidence < 0.8  # corrected, not read
    assert any(
        f.code == "FIELD_CORRECTED" and f.field == "total_excl_tax" for f in reading.findings
    )


def test_a_slipped_month_is_not_traded_for_the_cumulative_that_adds_up() -> None:
    # OCR read the month's HT « 36 367,45 » as « 26 367,45 » in the recap and lost its
    # decimals in the totals; its TVA and TTC were read the same twice. The cumulative
    # column adds up as read, but it is the contract's to date, not this piece's.
    rows = [
        row(340, (120, "Récapitulatif"), (264, "Cumul à ce jour"), (362, "Précédent (sit. 5)"),
            (490, "Montant du mois")),
        row(357, (45, "Total HT"), (300, "127.022,30 EUR"), (408, "90.654,85 EUR"),
            (510, "26.367,45 EUR")),
        row(372, (45, "TVA 20 %"), (300, "25.404,46 EUR"), (408, "18.130,97 EUR"),
            (510, "7.273,49 EUR")),
        row(388, (45, "Total TTC"), (300, "152.426,76 EUR"), (408, "108.785,82 EUR"),
            (510, "43.640,94 EUR")),
        row(603, (286, "MONTANT HORS TVA"), (450, "36.367 EUR")),
        row(619, (286, "TOTAL TVA 20 %"), (450, "7.273,49 EUR")),
        row(635, (286, "MONTANT TTC"), (450, "43.640,94 EUR")),
    ]  # fmt: skip
    reading = find_fields(
        [page(*rows, source=FieldSource.OCR)], kind=DocumentKind.PROJET_DECOMPTE_MENSUEL
    )
    found = reading.fields
    assert found.total_excl_tax.value == "36367.45"
    assert found.total_tax.value == "7273.49"
    assert found.total_incl_tax.value == "43640.94"
    assert any(
        f.code == "FIELD_CORRECTED" and f.field == "total_excl_tax" for f in reading.findings
    )


def test_a_cell_rule_read_between_the_words_of_a_label() -> None:
    found = find_fields(
        [page(row(100, (286, "Montant 1 HT"), (450, "12448,64")), source=FieldSource.OCR)]
    ).fields
    assert found.total_excl_tax.value == "12448.64"


@pytest.mark.parametrize(
    ("retention", "advance", "due"),
    [
        ("Retenue de garantie (5%)", "Déduction de l'avance", "Montant dû – acompte"),
        ("Retenue garantie 5 %", "Remboursement avance", "Montant dû (solde)"),
    ],
)
def test_deduction_and_net_wordings(retention: str, advance: str, due: str) -> None:
    found = read(
        *_recap(
            row(603, (286, retention), (450, "-879,08 €")),
            row(619, (286, advance), (450, "-1 666,51 €")),
            row(635, (286, due), (450, "15 036,06 €")),
        ),
        kind=DocumentKind.PROJET_DECOMPTE_MENSUEL,
    )
    assert found.amount_due.value == "15036.06"
    assert found.amount_due.confidence >= 0.9


def test_net_to_pay_that_ignores_the_deductions_is_not_trusted() -> None:
    found = read(
        row(100, (286, "Total HT"), (450, "16 665,07 €")),
        row(115, (286, "TVA 5,5 %"), (450, "916,58 €")),
        row(130, (286, "Total TTC"), (450, "17 581,65 €")),
        row(145, (286, "Retenue de garantie 5 %"), (450, "-879,08 €")),
        row(160, (286, "Net à payer"), (450, "17 581,65 €")),
    )
    assert found.amount_due.value == "17581.65"
    assert found.amount_due.confidence < 0.9


def test_final_piece_net_after_acomptes_already_paid() -> None:
    found = find_fields(
        [
            page(
                row(245, (309, "Base HT"), (450, "1143343,20")),
                row(263, (309, "Montant TVA 5,5 %"), (450, "62883,88")),
                row(282, (309, "Montant T.T.C."), (450, "1206227,08")),
                row(300, (309, "Acomptes antérieurs (situations…"), (450, "-1049417,56")),
                row(318, (309, "Total à payer"), (450, "1049417,56")),
                row(330, (309, "Montant à régler (solde)"), (450, "156809,52")),
            )
        ],
        kind=DocumentKind.DECOMPTE_GENERAL,
    )
    assert found.fields.amount_due.value == "156809.52"
    assert found.fields.amount_due.confidence >= 0.9


def test_final_decompte_in_the_ccag_wording() -> None:
    found = read(
        row(300, (50, "Montant des travaux réalisés HT"), (460, "100 000,00")),
        row(315, (50, "TVA au taux de 20 %"), (460, "20 000,00")),
        row(330, (50, "Montant TTC du décompte"), (460, "120 000,00")),
        row(345, (50, "Montant des acomptes déjà versés TTC"), (460, "96 000,00")),
        row(360, (50, "Solde en faveur du titulaire"), (460, "24 000,00")),
        kind=DocumentKind.DECOMPTE_GENERAL,
    )
    assert found.total_excl_tax.value == "100000.00"
    assert found.total_tax.value == "20000.00"
    assert found.amount_due.value == "24000.00"


@pytest.mark.parametrize("balance", ["Solde", "Solde TTC", "Solde du marché", "Reste dû"])
def test_a_balance_row_split_into_ht_tva_and_ttc_is_due_ttc(balance: str) -> None:
    found = read(
        row(300, (220, "Montant HT"), (340, "TVA 20 %"), (460, "Montant TTC")),
        row(315, (50, "Travaux réalisés"), (220, "100 000,00"), (340, "20 000,00"),
            (460, "120 000,00")),
        row(330, (50, "Acomptes déjà réglés"), (220, "80 000,00"), (340, "16 000,00"),
            (460, "96 000,00")),
        row(345, (50, balance), (220, "20 000,00"), (340, "4 000,00"), (460, "24 000,00")),
        kind=DocumentKind.DECOMPTE_GENERAL,
    )  # fmt: skip
    assert found.total_tax.value == "20000.00"
    assert found.total_incl_tax.value == "120000.00"
    assert found.amount_due.value == "24000.00"


def test_recap_by_dates_gives_the_difference() -> None:
    found = read(
        row(300, (200, "Au 31/05/2024"), (300, "Au 30/04/2024"), (400, "Différence")),
        row(315, (50, "Total HT"), (200, "50 000,00"), (300, "40 000,00"), (400, "10 000,00")),
        row(330, (50, "TVA 20 %"), (200, "10 000,00"), (300, "8 000,00"), (400, "2 000,00")),
        row(345, (50, "Total TTC"), (200, "60 000,00"), (300, "48 000,00"),
            (400, "12 000,00")),
        kind=DocumentKind.PROJET_DECOMPTE_MENSUEL,
    )  # fmt: skip
    assert found.total_excl_tax.value == "10000.00"
    assert found.total_tax.value == "2000.00"
    assert found.total_incl_tax.value == "12000.00"


def test_multi_rate_vat_breakdown_sums_to_the_vat_total() -> None:
    found = read(
        row(322, (45, "Location armoire réfrigérée (mois)"), (400, "4"), (470, "1 494,04 €")),
        row(352, (315, "Base HT"), (470, "3 406,62 €")),
        row(368, (315, "Montant TVA 20 % sur 1 671,62 €"), (470, "334,32 €")),
        row(384, (315, "Montant TVA 10 % sur 1 237,50 €"), (470, "123,75 €")),
        row(400, (315, "Montant TVA 5,5 % sur 497,50 €"), (470, "27,36 €")),
        row(415, (315, "Montant T.T.C."), (470, "3 892,05 €")),
    )
    assert found.total_tax.value == "485.43"
    assert found.total_excl_tax.value == "3406.62"
    assert found.total_incl_tax.value == "3892.05"


def test_a_vat_mention_in_brackets_is_not_a_vat_row() -> None:
    found = read(
        row(300, (45, "Désignation"), (300, "Qté"), (340, "P.U. HT"), (470, "Montant HT")),
        *(
            row(315 + 12 * i, (45, f"Réfection de logement social (TVA réduite) – lot {i}"),
                (300, "2"), (340, f"{i} 174,24 €"), (470, f"{2 * i} 348,48 €"))
            for i in range(1, 7)
        ),
        row(400, (45, "Total H.T"), (160, "Montant de la TVA 20 % sur 93 549…"),
            (330, "Montant de la TVA 10 % sur 134 36…"), (500, "Net TTC")),
        row(415, (45, "227 910,11 €"), (160, "18 709,99 €"), (330, "13 436,01 €"),
            (500, "260 056,11 €")),
    )  # fmt: skip
    assert found.total_tax.value == "32146.00"
    assert found.total_excl_tax.value == "227910.11"


def test_the_base_after_sur_is_not_the_vat() -> None:
    found = read(row(368, (315, "Montant TVA 20 % sur 1 671,62 €"), (470, "334,32 €")))
    assert found.total_tax.value == "334.32"


def test_autoliquidation_gives_zero_vat() -> None:
    found = read(
        row(300, (315, "Total HT"), (470, "12 400,00 €")),
        row(315, (315, "Total TTC"), (470, "12 400,00 €")),
        row(340, (45, "Autoliquidation – TVA due par le preneur (art. 283-2 du CGI)")),
    )
    assert found.total_tax.value == "0.00"


def test_amount_after_a_dotted_leader() -> None:
    found = read(row(300, (315, "Total HT ..........12 400,00 €")))
    assert found.total_excl_tax.value == "12400.00"


# --------------------------------------------------------------------------- names


def test_recipient_name_wrapped_on_two_lines() -> None:
    found = read(
        row(108, (330, "DESTINATAIRE"), size=6.5),
        row(119, (330, "COMMUNAUTÉ DE COMMUNES DU PAYS DE"), size=9),
        row(130, (330, "STRASBOURG"), size=9),
        row(142, (330, "Pôle commande publique"), size=8),
        row(153, (330, "67100 STRASBOURG"), size=8),
    )
    assert found.recipient_name.value == "COMMUNAUTÉ DE COMMUNES DU PAYS DE STRASBOURG"
    # A name has no checksum: never "certain".
    assert found.recipient_name.confidence < 0.95


def test_a_block_heading_is_not_the_addressee() -> None:
    found = read(
        row(137, (330, "ENTREPRISE TITULAIRE"), size=6.5),
        row(148, (330, "PLÂTRERIE OCCITANE"), size=10),
        row(161, (330, "25 allée du Général de Gaulle")),
        row(173, (330, "30900 Nîmes")),
    )
    assert found.recipient_name.value != "ENTREPRISE TITULAIRE"
    assert found.supplier_name.value == "PLÂTRERIE OCCITANE"


def test_letterhead_cut_short_is_completed_from_the_footer() -> None:
    found = read(
        row(44, (45, "DIRECTION GÉNÉRALE DES FINANCES…"), size=15),
        row(63, (45, "Service facturier de Nantes")),
        row(101, (45, "SIRET : 110 002 011 00044")),
        row(137, (330, "ENTREPRISE TITULAIRE"), size=6.5),
        row(148, (330, "MENUISERIE DURAND"), size=10),
        row(185, (330, "SIRET 737 243 527 00071")),
        row(305, (45, "MAÎTRE D'ŒUVRE"), size=6.5),
        row(316, (45, "Bureau d'études Renaud & Collin")),
        row(350, (45, "SIRET 281 613 844 00030")),
        row(792, (160, "DIRECTION GÉNÉRALE DES FINANCES PUBLIQUES – ZI Nord, 26000 VALENCE")),
        kind=DocumentKind.DECOMPTE_GENERAL,
    )
    assert found.recipient_name.value == "DIRECTION GÉNÉRALE DES FINANCES PUBLIQUES"
    assert found.supplier_name.value == "MENUISERIE DURAND"
    assert found.supplier_siret.value == "73724352700071"
    assert found.recipient_siret.value == "11000201100044"
    assert found.moe_siret.value == "28161384400030"


# --------------------------------------------------------------------------- parties


_MONTHLY_HEAD = (
    row(40, (50, "BTP Rénovation SAS"), (330, "PROJET DE DÉCOMPTE MENSUEL N° 5"), size=12),
    row(60, (50, "SIRET 732 829 320 00074"), (330, "N° PDM-2024-05")),
    row(75, (50, "12 rue des Lilas 69003 Lyon"), (330, "Date : 31/05/2024")),
)


def test_a_table_of_the_parties_one_role_per_row() -> None:
    found = read(
        *_MONTHLY_HEAD,
        row(120, (50, "Rôle"), (150, "Nom"), (350, "SIRET")),
        row(135, (50, "MOA"), (150, "Commune de Villeurbanne"), (350, "216 902 668 00013")),
        row(150, (50, "MOE"), (150, "Atelier Archi Sud"), (350, "443 061 841 00047")),
        row(165, (50, "Titulaire"), (150, "BTP Rénovation SAS"), (350, "732 829 320 00074")),
        kind=DocumentKind.PROJET_DECOMPTE_MENSUEL,
    )
    assert found.moa_siret.value == "21690266800013"
    assert found.moe_siret.value == "44306184100047"
    assert found.supplier_siret.value == "73282932000074"
    assert found.recipient_name.value == "Commune de Villeurbanne"


def test_the_personne_publique_is_the_maitre_d_ouvrage() -> None:
    found = read(
        *_MONTHLY_HEAD,
        row(120, (50, "Personne publique : Commune de Villeurbanne")),
        row(135, (50, "SIRET : 216 902 668 00013")),
        row(160, (50, "Maître d'œuvre : Atelier Archi Sud")),
        row(175, (50, "SIRET : 443 061 841 00047")),
        kind=DocumentKind.PROJET_DECOMPTE_MENSUEL,
    )
    assert found.moa_siret.value == "21690266800013"
    assert found.moe_siret.value == "44306184100047"
    assert found.recipient_name.value == "Commune de Villeurbanne"


def test_the_title_etat_d_acompte_is_not_the_state_as_a_public_body() -> None:
    found = read(
        row(30, (45, "Agence Perrin & Moreau"), size=12),
        row(50, (45, "ÉTAT D'ACOMPTE"), (400, "contact@perrin.example"), size=14),
        row(75, (45, "145 avenue Pasteur · 21000 Dijon · SIRET n° : 876 244 237 00023")),
        row(137, (45, "MAÎTRE D'OUVRAGE"), (330, "ENTREPRISE TITULAIRE"), size=6.5),
        row(148, (45, "COMMUNE DE PORT-LAVAL"), (330, "BONNET FRÈRES"), size=10),
        row(185, (45, "SIRET n° 213 030 828 00015"), (330, "SIRET n° 652 809 674 00029")),
        kind=DocumentKind.ETAT_ACOMPTE,
    )
    assert found.moe_siret.value == "87624423700023"
    assert found.recipient_siret.value == "21303082800015"
    assert found.supplier_siret.value == "65280967400029"


def test_projet_de_decompte_general_issued_by_the_maitre_d_oeuvre() -> None:
    reading = find_fields(
        [
            page(
                row(44, (45, "Atelier Bonnet & Roche"), size=15),
                row(63, (45, "113 chemin du Général de Gaulle")),
                row(76, (45, "13010 Marseille")),
                row(88, (45, "Tél. 04 75 19 98 61")),
                row(113, (45, "Siret : 170 408 744 00093")),
                row(125, (45, "N° TVA intracom. : FR63170408744")),
                row(137, (330, "MAÎTRE D'OUVRAGE"), size=6.5),
                row(148, (330, "COLLÈGE JULES VERNE"), size=10),
                row(185, (330, "18000 BOURGES")),
                row(197, (330, "Siret 191 893 874 00047")),
                row(292, (45, "ENTREPRISE TITULAIRE"), size=6.5),
                row(303, (45, "Fabre Frères")),
                row(326, (45, "69007 Lyon")),
                row(337, (45, "Siret 680 289 519 00075")),
            )
        ],
        kind=DocumentKind.PROJET_DECOMPTE_GENERAL,
    )
    found = reading.fields
    assert found.supplier_siret.value == "68028951900075"
    assert found.supplier_name.value == "Fabre Frères"
    assert found.moe_siret.value == "17040874400093"
    assert found.recipient_siret.value == "19189387400047"
    assert found.recipient_name.value == "COLLÈGE JULES VERNE"
    # The letterhead's VAT id is the MOE's: not the supplier's, and the drop is recorded.
    assert found.supplier_vat_id.value is None
    assert any(
        f.code == "FIELD_CORRECTED" and f.field == "supplier_vat_id" for f in reading.findings
    )


def test_direct_payment_request_pays_the_letterhead_subcontractor() -> None:
    found = read(
        row(41, (99, "Électricité du Littoral"), size=15),
        row(97, (45, "N° SIRET : 74335323700014")),
        row(108, (45, "N° TVA : FR41743353237"), (330, "MAÎTRE D'OUVRAGE")),
        row(119, (330, "COMMUNE DE PORT-LAVAL"), size=9),
        row(171, (330, "N° SIRET 263 087 678 00037")),
        row(271, (45, "ENTREPRISE TITULAIRE DU MARCHÉ"), size=6.5),
        row(282, (45, "Girard Frères")),
        row(303, (45, "30900 Nîmes")),
        row(313, (45, "N° SIRET 64869394300074")),
        kind=DocumentKind.DEMANDE_PAIEMENT_SOUS_TRAITANT,
    )
    assert found.supplier_siret.value == "74335323700014"
    assert found.supplier_vat_id.value == "FR41743353237"
    assert found.supplier_name.value == "Électricité du Littoral"
    assert found.recipient_siret.value == "26308767800037"


# --------------------------------------------------------------------------- kind


def test_title_wrapped_onto_the_next_line() -> None:
    guess = classify(
        [
            page(
                row(41, (45, "Cabinet Vasseur & Girard", ), (420, "PROJET DE DÉCOMPTE"), size=14),
                row(55, (491, "GÉNÉRAL"), size=10.5),
                row(75, (45, "N° SIRET : 964 333 090 00071")),
            )
        ]
    )  # fmt: skip
    assert guess.value is DocumentKind.PROJET_DECOMPTE_GENERAL


def test_title_wrapped_after_its_conjunction() -> None:
    guess = classify(
        [
            page(
                row(60, (300, "DÉCOMPTE GÉNÉRAL ET"), size=16),
                row(78, (300, "DÉFINITIF"), size=16),
                row(120, (50, "Marché n° 2024-30-TRX-114")),
            )
        ]
    )
    assert guess.value is DocumentKind.DECOMPTE_GENERAL_DEFINITIF


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("DÉCOMPTE GÉNÉRAL ET DÉFINITIF", DocumentKind.DECOMPTE_GENERAL_DEFINITIF),
        ("DÉCOMPTE GÉNÉRAL", DocumentKind.DECOMPTE_GENERAL),
        ("PROJET DE DÉCOMPTE FINAL", DocumentKind.PROJET_DECOMPTE_FINAL),
        ("ÉTAT D'ACOMPTE N° 7 VALIDÉ", DocumentKind.ETAT_ACOMPTE_VALIDE),
        ("ÉTAT D'ACOMPTE N° 7", DocumentKind.ETAT_ACOMPTE),
        ("DEMANDE DE PAIEMENT DIRECT – SOUS-T…", DocumentKind.DEMANDE_PAIEMENT_SOUS_TRAITANT),
    ],
)
def test_works_titles_with_a_distracting_body(title: str, expected: DocumentKind) -> None:
    guess = classify(
        [
            page(
                row(80, (190, title), size=13),
                row(101, (195, "Situation n° 2 – travaux du 1er avril 2025 au 30 avril 2025")),
                row(300, (45, "Décompte établi selon l'article 12 du CCAG Travaux")),
            )
        ]
    )
    assert guess.value is expected


# --------------------------------------------------------------------------- OCR


def test_unreadable_label_leaves_a_reference_under_the_title_as_a_guess() -> None:
    found = read(
        row(134, (50, "FACTURE"), size=11),
        row(153, (46, "D Waeeure [7 nutederenre 7] 7 padéchénce |")),
        row(177, (90, "FA897338"), (190, "23/03/2024"), (300, "D-2024-915")),
    )
    assert found.invoice_number.value == "FA897338"
    assert found.invoice_number.confidence < 0.5


def test_quote_and_delivery_numbers_under_the_title_are_not_the_piece_number() -> None:
    found = read(
        row(134, (50, "FACTURE"), size=11),
        row(177, (90, "D-2024-915"), (190, "BL56412"), (300, "30/01/2024")),
    )
    assert found.invoice_number.value is None


def test_ocr_digit_slip_repaired_by_the_sum_and_recorded() -> None:
    scanned = page(
        row(418, (158, "692,70 €"), (250, "136,54 €")),
        row(422, (325, "Montant TVA 20 %"), (470, "136,54 €")),
        row(442, (324, "Total TTC"), (470, "819,24 €")),
        source=FieldSource.OCR,
    )
    reading = find_fields([scanned])
    assert reading.fields.total_excl_tax.value == "682.70"
    assert any(
        f.code == "FIELD_CORRECTED" and "692.70" in f.message and "682.70" in f.message
        for f in reading.findings
    )
    # The same slip on a text layer is what the page says: not repaired.
    digital = page(*([w for w in scanned.words],), source=FieldSource.TEXT_LAYER)
    assert find_fields([digital]).fields.total_excl_tax.value is None


def test_the_month_column_label_is_not_the_amount_due() -> None:
    found = read(
        row(100, (45, "Montant du mois"), (450, "16 665,07 €")),
        row(115, (45, "Net à payer"), (450, "15 036,06 €")),
    )
    assert found.amount_due.value == "15036.06"


def test_a_works_form_with_its_captions_under_the_boxes() -> None:
    """Captions set under their boxes: the caption under a box names its value and its
    party (not the captions of the row above), and the lettered heading of the issuer's
    section says whose letterhead it is."""
    found = read(
        row(80, (50, "A – IDENTIFICATION DE L'ÉMETTEUR – MAÎTRE D'ŒUVRE"), size=8),
        row(95, (50, "ATELIER BONNET & ROCHE"), (390, "170 408 744 00093"), size=10),
        row(109, (50, "RAISON SOCIALE"), (390, "SIRET N°"), size=6),
        row(124, (50, "113 chemin du Général de Gaulle"), size=8),
        row(134, (50, "13010 Marseille"), size=8),
        row(148, (50, "ADRESSE"), size=6),
        row(165, (50, "B – RÉFÉRENCES DE LA PIÈCE"), size=8),
        row(180, (50, "PDG-2024-545"), (320, "14/07/2024"), size=10),
        row(194, (50, "DÉCOMPTE N°"), (320, "LE"), size=6),
        row(211, (50, "C – INTERVENANTS"), size=8),
        row(226, (50, "COLLÈGE JULES VERNE"), (320, "FABRE FRÈRES"), size=10),
        row(238, (50, "18000 BOURGES"), (320, "69007 LYON"), size=8),
        row(248, (50, "SIRET n° 191 893 874 00047"), (320, "SIRET n° 680 289 519 00075"), size=8),
        row(262, (50, "MAÎTRE D'OUVRAGE"), (320, "ENTREPRISE TITULAIRE"), size=6),
        row(280, (50, "D – MONTANTS"), size=8),
        kind=DocumentKind.PROJET_DECOMPTE_GENERAL,
    )
    assert found.invoice_number.value == "PDG-2024-545"
    assert found.moe_siret.value == "17040874400093"
    assert found.recipient_siret.value == "19189387400047"
    assert found.recipient_name.value == "COLLÈGE JULES VERNE"
    assert found.supplier_siret.value == "68028951900075"
    assert found.supplier_name.value == "FABRE FRÈRES"


@pytest.mark.parametrize(
    ("wrapped", "expected"), [("513 00034.", "88725951300034"), ("513 00035.", None)]
)
def test_a_siret_cut_by_the_end_of_a_line_of_prose(wrapped: str, expected: str | None) -> None:
    found = read(
        row(
            300,
            (
                45,
                "Entreprise titulaire : Ets Chevalier et Fils, 144 rue Hoche, siret 887 259",
            ),
        ),
        row(311, (45, wrapped)),
        kind=DocumentKind.DECOMPTE_GENERAL,
    )
    # Joined only when the fourteen digits pass the checksum.
    assert found.supplier_siret.value == expected


def test_the_letterhead_is_not_the_firm_named_in_a_row_of_its_own() -> None:
    # A décompte général printed by the MOE: the paid firm is the « Entreprise » row.
    found = read(
        row(30, (45, "Cabinet Lambert & Perrin"), size=13),
        row(29, (380, "DÉCOMPTE GÉNÉRAL"), size=16),
        row(42, (45, "Architecture – maîtrise d'œuvre – OPC"), size=7.5),
        row(50, (45, "127 place de l'Industrie – 72000 Le Mans – SIRET : 79079256800087")),
        row(80, (45, "Rôle"), (130, "Raison sociale"), (380, "SIRET"), (470, "N° TVA")),
        row(
            95,
            (45, "MOA"),
            (130, "COMMUNAUTÉ DE COMMUNES DU PAYS DE BOURGES"),
            (380, "20181488600077"),
            (470, "–"),
        ),
        row(
            110,
            (45, "Entreprise"),
            (130, "GÉNIE CLIMATIQUE GARNIER SAS"),
            (380, "19390057800066"),
            (470, "FR 21 193 900 578"),
        ),
        row(
            780, (45, "Cabinet Lambert & Perrin – SARL au capital de 8 000 € – RCS Le Mans"), size=6
        ),
        kind=DocumentKind.DECOMPTE_GENERAL,
    )
    assert found.supplier_name.value == "GÉNIE CLIMATIQUE GARNIER"
    assert found.supplier_siret.value == "19390057800066"
    assert found.recipient_name.value == "COMMUNAUTÉ DE COMMUNES DU PAYS DE BOURGES"


def test_a_logo_monogram_over_the_issuer_name() -> None:
    found = read(
        row(30, (75, "DHV"), size=12),
        row(45, (45, "DEPARTEMENT DU HAUT-VALLON"), size=10.5),
        row(60, (45, "12 Avenue De La Republique")),
        row(72, (45, "68000 COLMAR-LES-PRES")),
        row(84, (45, "SIRET : 226 830 164 00019")),
        row(100, (45, "DÉCOMPTE GÉNÉRAL"), size=15),
        row(130, (45, "ENTREPRISE TITULAIRE"), size=6.5),
        row(140, (45, "TP Collin")),
        row(152, (45, "SIRET 883 681 009 00089")),
        kind=DocumentKind.DECOMPTE_GENERAL,
    )
    assert found.recipient_name.value == "DEPARTEMENT DU HAUT-VALLON"
    assert found.supplier_name.value == "TP Collin"


def test_the_box_headed_emetteur_of_an_etat_d_acompte_is_the_moe_s() -> None:
    found = read(
        row(40, (50, "ÉMETTEUR"), (320, "DESTINATAIRE"), size=7),
        row(50, (50, "Agence Blanchard & Fabre"), (320, "COMMUNE DE PORT-LAVAL")),
        row(62, (50, "134 rue Jules Ferry"), (320, "Quai Jean Bart")),
        row(74, (50, "30900 Nîmes"), (320, "30240 PORT-LAVAL")),
        row(86, (50, "SIRET : 861 056 026 00094"), (320, "SIRET 213 030 828 00015")),
        row(120, (50, "ÉTAT D'ACOMPTE – N° EA242776"), size=12),
        row(
            140, (50, "Entreprise titulaire : GÉNIE CLIMATIQUE CHEVALIER – SIRET 437 436 033 00066")
        ),
        kind=DocumentKind.ETAT_ACOMPTE,
    )
    assert found.moe_siret.value == "86105602600094"
    assert found.supplier_siret.value == "43743603300066"
    assert found.recipient_siret.value == "21303082800015"


def test_a_firm_named_entreprise_under_its_heading_is_the_supplier_s_name() -> None:
    found = read(
        row(30, (45, "Agence Lefèvre & Perrin"), size=13),
        row(50, (45, "SIRET : 295 187 108 00077")),
        row(80, (45, "MAÎTRE D'OUVRAGE"), size=7),
        row(90, (45, "DÉPARTEMENT DE LA BASSE-LOIRE")),
        row(102, (45, "SIRET 223 819 426 00048")),
        row(130, (45, "ÉTAT D'ACOMPTE"), size=14),
        row(160, (45, "ENTREPRISE TITULAIRE"), size=7),
        row(170, (45, "Entreprise Fabre")),
        row(182, (45, "ZI Nord, 83 boulevard des Acacias")),
        row(194, (45, "45170 Saint-Aubin-sur-Loire")),
        row(206, (45, "SIRET 368 748 851 00087")),
        kind=DocumentKind.ETAT_ACOMPTE,
    )
    assert found.supplier_name.value == "Entreprise Fabre"
    assert found.supplier_siret.value == "36874885100087"
