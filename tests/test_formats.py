"""Format detection from the bytes, never the file name."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfWriter

from pipeline.errors import ExitCode, InputError
from pipeline.formats import Limits, detect
from pipeline.models import DepositFormat
from tests.conftest import corpus_path

UBL = b"""<?xml version="1.0"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>"""
UBL_CN = b"""<CreditNote xmlns="urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"/>"""
CII = b"""\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice
  xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"/>"""


def blank_pdf(pages: int = 1, *, password: str | None = None) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    if password is not None:
        writer.encrypt(user_password=password, owner_password="owner")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (UBL, DepositFormat.UBL_INVOICE),
        (UBL_CN, DepositFormat.UBL_CREDIT_NOTE),
        (CII, DepositFormat.CII),
        (blank_pdf(), DepositFormat.PDF),
    ],
)
def test_detects_each_format_whatever_the_name(data: bytes, expected: DepositFormat) -> None:
    for name in ("piece.pdf", "piece.xml", "piece", "facture.docx"):
        assert detect(data, file_name=name).deposit.format is expected


def test_deposit_carries_hash_size_and_pages() -> None:
    data = blank_pdf(3)
    deposit = detect(data, file_name="x.pdf").deposit
    assert deposit.page_count == 3
    assert deposit.size_bytes == len(data)
    assert len(deposit.sha256) == 64


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "EMPTY_FILE"),
        (blank_pdf()[:-200], "PDF_TRUNCATED"),
        (blank_pdf(password="secret"), "PDF_ENCRYPTED"),
        (blank_pdf(password=""), "PDF_ENCRYPTED"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "UNSUPPORTED_FORMAT"),
        (b"PK\x03\x04" + b"\0" * 100, "UNSUPPORTED_FORMAT"),
        (b"Dear supplier, please find attached", "UNSUPPORTED_FORMAT"),
        (b"<html><body>invoice</body></html>", "XML_NOT_AN_INVOICE"),
        (b"<html><body>invoice<br></body></html>", "XML_MALFORMED"),
        (b"<root>not an invoice</root>", "XML_NOT_AN_INVOICE"),
        (b"<Invoice xmlns='urn:x'/>", "XML_NOT_AN_INVOICE"),
        (b"<Invoice", "XML_MALFORMED"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b"<x>&e;</x>",
            "XML_DOCTYPE_FORBIDDEN",
        ),
        (
            b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><l>&c;</l>',
            "XML_DOCTYPE_FORBIDDEN",
        ),
        (b"<a>" * 100 + b"</a>" * 100, "XML_TOO_DEEP"),
    ],
)
def test_unreadable_input_raises_with_a_stable_code(data: bytes, code: str) -> None:
    with pytest.raises(InputError) as raised:
        detect(data, file_name="in")
    assert raised.value.code == code
    assert raised.value.exit_code is ExitCode.UNREADABLE
    assert "\n" not in raised.value.one_line()


def test_limits_are_checked_before_parsing() -> None:
    with pytest.raises(InputError) as raised:
        detect(blank_pdf(), file_name="x", limits=Limits(max_file_bytes=100))
    assert raised.value.code == "FILE_TOO_LARGE"
    with pytest.raises(InputError) as raised:
        detect(blank_pdf(5), file_name="x", limits=Limits(max_pages=4))
    assert raised.value.code == "TOO_MANY_PAGES"


def test_facturx_pdf_is_detected_with_its_embedded_cii() -> None:
    path = corpus_path("akretion-factur-x", "pdf", "invoice_EN16931.pdf")
    detected = detect(path.read_bytes(), file_name=path.name)
    assert detected.deposit.format is DepositFormat.FACTURX
    assert detected.deposit.embedded_xml_name == "factur-x.xml"
    assert detected.xml_root is not None


def test_every_corpus_file_is_detected_or_refused_with_a_code() -> None:
    root = corpus_path()
    seen: dict[str, int] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in (".pdf", ".xml") or not path.is_file():
            continue
        try:
            key = detect(path.read_bytes(), file_name=path.name).deposit.format.value
        except InputError as exc:
            key = exc.code
        seen[key] = seen.get(key, 0) + 1
    for fmt in DepositFormat:
        assert seen.get(fmt.value, 0) > 0, f"no corpus file detected as {fmt.value}"
    # The CEN unit-test sets are <testSet> documents, not invoices.
    assert seen["XML_NOT_AN_INVOICE"] > 200


def test_signed_corpus_pdfs_are_pades() -> None:
    folder = corpus_path("pades-pyhanko")
    formats = {
        detect(p.read_bytes(), file_name=p.name).deposit.format for p in folder.rglob("*.pdf")
    }
    assert DepositFormat.PDF_SIGNED_PADES in formats
