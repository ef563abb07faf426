"""The one hardened XML parser used everywhere XML is read.

No entity resolution, no DTD loading, no network, no XInclude, and DOCTYPE declarations
refused outright: an invoice never needs one, and entity tricks (billion laughs, external
file or URL entities) all start with a DOCTYPE.
"""

from __future__ import annotations

import re

from lxml import etree

from pipeline.errors import InputTooLarge, MalformedXml, UnsafeXml

DEFAULT_MAX_XML_BYTES = 20 * 1024 * 1024
#: Real invoices nest about 10 levels deep; far deeper trees are attacks or broken exports.
MAX_DEPTH = 64


_DOCTYPE = re.compile(rb"<!DOCTYPE")
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")


def _declares_doctype(data: bytes) -> bool:
    """A DOCTYPE before the root element, found in the bytes so that libxml2 never sees
    the entity declarations (its own amplification guard would report a bomb as merely
    malformed). UTF-16 documents are caught after parsing, from the parsed DTD."""
    doctype = _DOCTYPE.search(data)
    if doctype is None:
        return False
    element = _FIRST_ELEMENT.search(data)
    return element is None or doctype.start() < element.start()


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        collect_ids=False,
    )


def parse_xml(data: bytes, *, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> etree._Element:
    """Parse XML bytes safely and return the root element.

    Raises ``InputTooLarge`` over ``max_bytes``, ``UnsafeXml`` on a DOCTYPE or an absurd
    depth, ``MalformedXml`` when the bytes are not well-formed XML.
    """
    if len(data) > max_bytes:
        raise InputTooLarge(
            f"the XML is {len(data)} bytes, over the limit of {max_bytes}",
            code="XML_TOO_LARGE",
        )
    if _declares_doctype(data):
        raise _doctype_forbidden()
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise MalformedXml(f"the file is not well-formed XML ({exc.msg})") from exc
    docinfo = root.getroottree().docinfo
    # lxml-stubs lacks DocInfo.doctype, hence getattr.
    if getattr(docinfo, "doctype", None) or docinfo.internalDTD is not None:
        raise _doctype_forbidden()
    if _depth_exceeds(root, MAX_DEPTH):
        raise UnsafeXml(f"the XML nests deeper than {MAX_DEPTH} levels", code="XML_TOO_DEEP")
    return root


def _doctype_forbidden() -> UnsafeXml:
    return UnsafeXml(
        "the XML declares a DOCTYPE; invoices never need one and it can hide entity "
        "attacks: ask the sender for the file without it",
        code="XML_DOCTYPE_FORBIDDEN",
    )


def _depth_exceeds(root: etree._Element, limit: int) -> bool:
    stack: list[tuple[etree._Element, int]] = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in element)
    return False


def local_name(element: etree._Element) -> str:
    """The tag without its namespace."""
    return etree.QName(element).localname


def namespace(element: etree._Element) -> str | None:
    return etree.QName(element).namespace
