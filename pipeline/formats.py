"""Format detection from the bytes, never the file name, with the size and page limits.

``detect`` answers one of the six deposit formats or raises an ``InputError`` whose code
says why the bytes cannot be taken (empty, truncated, encrypted, too large, unsupported).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from lxml import etree

from pipeline.errors import (
    CorruptPdf,
    EmptyInput,
    InputTooLarge,
    MalformedXml,
    UnsupportedFormat,
)
from pipeline.models import Deposit, DepositFormat, Finding, Severity
from pipeline.pdfium import inspect_pdf
from pipeline.xmlsafe import local_name, namespace, parse_xml

UBL_INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CII_NS = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
ZUGFERD1_NS = "urn:ferd:CrossIndustryDocument:invoice:1p0"

#: ETSI SubFilters of PAdES (ISO 32000-2 / ETSI EN 319 142); adbe.* are pre-PAdES.
PADES_SUB_FILTERS = frozenset({"ETSI.CAdES.detached", "ETSI.RFC3161"})

#: Names the Factur-X / ZUGFeRD 2 / XRechnung specifications give the embedded invoice.
FACTURX_ATTACHMENT_NAMES = frozenset(
    {"factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml", "order-x.xml"}
)

# The PDF header may sit anywhere in the first 1024 bytes (ISO 32000-1, 7.5.2 note).
_PDF_HEADER_WINDOW = 1024
# "%%EOF" ends every complete PDF; some writers add a little trailing garbage after it.
_PDF_TAIL_WINDOW = 2048

_MAGIC_HINTS: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image: scan it into a PDF before depositing"),
    (b"\xff\xd8\xff", "a JPEG image: scan it into a PDF before depositing"),
    (b"II*\x00", "a TIFF image: scan it into a PDF before depositing"),
    (b"MM\x00*", "a TIFF image: scan it into a PDF before depositing"),
    (b"PK\x03\x04", "a ZIP archive: deposit its files one by one"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document: export it to PDF"),
)


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 50 * 1024 * 1024
    max_pages: int = 200
    max_xml_bytes: int = 20 * 1024 * 1024


@dataclass(frozen=True)
class DetectedInput:
    """A deposit with what detection already parsed, so later stages do not parse twice."""

    deposit: Deposit
    xml_root: etree._Element | None = None
    notes: tuple[Finding, ...] = field(default=())


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def detect(data: bytes, *, file_name: str, limits: Limits | None = None) -> DetectedInput:
    """Detect the deposit format of ``data``; raise an ``InputError`` when it cannot be taken."""
    limits = limits or Limits()
    if not data:
        raise EmptyInput("the file is empty (0 bytes); ask the sender to deposit it again")
    if len(data) > limits.max_file_bytes:
        raise InputTooLarge(
            f"the file is {len(data)} bytes, over the limit of {limits.max_file_bytes}"
        )
    if b"%PDF-" in data[:_PDF_HEADER_WINDOW]:
        return _detect_pdf(data, file_name=file_name, limits=limits)
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return _detect_xml(data, file_name=file_name, limits=limits)
    for magic, hint in _MAGIC_HINTS:
        if data.startswith(magic):
            raise UnsupportedFormat(f"the file is {hint}")
    raise UnsupportedFormat(
        "the file is neither a PDF nor an XML invoice (UBL 2.1, CII D16B); "
        "deposit a PDF, a Factur-X PDF or an XML invoice"
    )


def _detect_pdf(data: bytes, *, file_name: str, limits: Limits) -> DetectedInput:
    if b"%%EOF" not in data[-_PDF_TAIL_WINDOW:]:
        raise CorruptPdf(
            "the PDF is truncated (no end-of-file marker): the upload or the scan was cut "
            "short; ask the sender to deposit it again",
            code="PDF_TRUNCATED",
        )
    facts = inspect_pdf(data, max_pages=limits.max_pages, max_attachment_bytes=limits.max_xml_bytes)
    notes: list[Finding] = []
    xml_root: etree._Element | None = None
    xml_name: str | None = None
    for attachment in facts.attachments:
        if attachment.name.lower() not in FACTURX_ATTACHMENT_NAMES:
            continue
        try:
            root = parse_xml(attachment.data, max_bytes=limits.max_xml_bytes)
        except MalformedXml as exc:
            raise MalformedXml(
                f"the embedded {attachment.name} is not well-formed XML "
                f"({exc.message.removeprefix('the file is not well-formed XML ')})",
                code="EMBEDDED_XML_MALFORMED",
            ) from exc
        if local_name(root) == "CrossIndustryInvoice" and namespace(root) == CII_NS:
            xml_root, xml_name = root, attachment.name
            break
        notes.append(
            Finding(
                code="EMBEDDED_XML_NOT_CII",
                severity=Severity.INFO,
                message=f"the embedded {attachment.name} is not a CII D16B invoice "
                f"({local_name(root)}); the PDF is read as an ordinary PDF",
            )
        )
    if xml_root is not None:
        pdf_format = DepositFormat.FACTURX
    elif PADES_SUB_FILTERS.intersection(facts.signature_sub_filters):
        pdf_format = DepositFormat.PDF_SIGNED_PADES
    else:
        pdf_format = DepositFormat.PDF
    if facts.signature_sub_filters and pdf_format is DepositFormat.PDF:
        notes.append(
            Finding(
                code="SIGNATURE_NOT_PADES",
                severity=Severity.INFO,
                message="the PDF is signed, but not in a PAdES format "
                f"({', '.join(sorted(set(facts.signature_sub_filters))) or 'no SubFilter'})",
            )
        )
    deposit = Deposit(
        file_name=file_name,
        sha256=sha256_hex(data),
        size_bytes=len(data),
        format=pdf_format,
        page_count=facts.page_count,
        embedded_xml_name=xml_name,
        has_signature=bool(facts.signature_sub_filters),
    )
    return DetectedInput(deposit=deposit, xml_root=xml_root, notes=tuple(notes))


def _detect_xml(data: bytes, *, file_name: str, limits: Limits) -> DetectedInput:
    root = parse_xml(data, max_bytes=limits.max_xml_bytes)
    name, ns = local_name(root), namespace(root)
    if name == "Invoice" and ns == UBL_INVOICE_NS:
        xml_format = DepositFormat.UBL_INVOICE
    elif name == "CreditNote" and ns == UBL_CREDIT_NOTE_NS:
        xml_format = DepositFormat.UBL_CREDIT_NOTE
    elif name == "CrossIndustryInvoice" and ns == CII_NS:
        xml_format = DepositFormat.CII
    elif name == "CrossIndustryDocument" and ns == ZUGFERD1_NS:
        raise UnsupportedFormat(
            "the XML is a ZUGFeRD 1.0 invoice, which the platform does not accept; "
            "send CII D16B, Factur-X or UBL 2.1",
            code="XML_ZUGFERD1_UNSUPPORTED",
        )
    else:
        raise UnsupportedFormat(
            f"the XML root is {{{ns}}}{name}, not a UBL 2.1 Invoice or CreditNote nor a "
            "CII D16B CrossIndustryInvoice",
            code="XML_NOT_AN_INVOICE",
        )
    deposit = Deposit(
        file_name=file_name, sha256=sha256_hex(data), size_bytes=len(data), format=xml_format
    )
    return DetectedInput(deposit=deposit, xml_root=root)
