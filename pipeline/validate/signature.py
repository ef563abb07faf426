"""PAdES signature checks with pyHanko: one ``SignatureReport`` per embedded signature.

This is the only module that imports pyHanko (DESIGN 7); the rest of the pipeline sees
``SignatureReport`` objects. Validation is offline and reproducible:

- trust roots are always explicit (an empty list trusts nobody; pyHanko's fallback to the
  operating system's store is never used) and nothing is fetched from the network;
- the validation time is an argument, so a golden result stays the same for years.

How a verdict is reached, from pyHanko's status (``bottom_line`` first, then why):

- ``invalid``: the signed bytes changed (``intact`` is false), the signature value does not
  check out (``valid`` is false), the signature does not cover its whole revision, the
  document was changed after signing beyond what signatures allow (modification level
  ``OTHER``, or DocMDP violated), a broken timestamp token, a revoked signer, or a
  signature pyHanko rejects as malformed;
- ``indeterminate``: intact and valid, but the signer does not chain to a trust root (or
  the chain cannot be used at the validation time), or the check could not be completed;
- ``valid``: intact, valid, trusted, no disallowed change, and pyHanko's ``bottom_line``
  agrees.

The PAdES level is inferred (pyHanko does not report it): ``/SubFilter
/ETSI.CAdES.detached`` is B-B, with a signature timestamp B-T, with a ``/DSS`` in the
document as well B-LT, and with a document timestamp added after the signature over a
``/DSS`` B-LTA; ``adbe.pkcs7.detached`` signatures are not PAdES (``None``).

Document timestamps (``/DocTimeStamp``, ``ETSI.RFC3161``) get a report of their own, judged
the same way, with the timestamp authority as signer and no PAdES level. A signature format
pyHanko cannot check (``adbe.x509.rsa_sha1``) is ``indeterminate``; signature data that
cannot be read is ``invalid``. A PDF that cannot be read at all raises ``CorruptPdf``
(``EncryptedPdf`` when it needs a password): only that raises, never a bad signature.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any, TypeVar

from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.crypt.api import AuthStatus
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESSubIndic
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import (
    DocumentTimestampStatus,
    PdfSignatureStatus,
    SignatureCoverageLevel,
)
from pyhanko_certvalidator import ValidationContext

from pipeline.errors import CorruptPdf, EncryptedPdf, UsageError
from pipeline.models import SignatureReport, SignatureVerdict

__all__ = ["load_trust_roots", "verify_signatures"]

PADES_SUBFILTER = "ETSI.CAdES.detached"
#: What pyHanko can validate: CMS signatures and RFC 3161 document timestamps.
SUPPORTED_SUBFILTERS = frozenset(str(item.value).lstrip("/") for item in SigSeedSubFilter)
CERTIFICATE_SUFFIXES = frozenset({".pem", ".crt", ".cer", ".der"})

#: A signer certificate must allow signatures: digitalSignature or nonRepudiation
#: (pyHanko's default asks for nonRepudiation only, which many real certificates lack).
_SIGNER_KEY_USAGE = KeyUsageConstraints(
    key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
)

_COVERAGE_NAMES = {
    SignatureCoverageLevel.ENTIRE_FILE: "entire_file",
    SignatureCoverageLevel.ENTIRE_REVISION: "entire_revision",
    SignatureCoverageLevel.CONTIGUOUS_BLOCK_FROM_START: "partial",
    SignatureCoverageLevel.UNCLEAR: "partial",
}

_ALLOWED_CHANGES = {
    ModificationLevel.LTA_UPDATES: "validation data and timestamps added later",
    ModificationLevel.FORM_FILLING: "form filling and further signatures added later",
    ModificationLevel.ANNOTATIONS: "annotations, form filling and further signatures added later",
}

_T = TypeVar("_T")


# --------------------------------------------------------------------------- trust roots


def load_trust_roots(path: Path) -> list[bytes]:
    """The DER bytes of every certificate in ``path``: a folder of ``.pem``, ``.crt``,
    ``.cer`` or ``.der`` files (PEM files without a certificate, such as keys, are
    skipped), or one file (a PEM bundle or a DER certificate).

    Raises ``UsageError`` when the path does not exist, holds no certificate, or a file
    is not a certificate: trust roots are configuration, and a typo there must not
    silently turn every signature into « untrusted ».
    """
    if path.is_dir():
        files = sorted(
            item
            for item in path.iterdir()
            if item.is_file() and item.suffix.lower() in CERTIFICATE_SUFFIXES
        )
    elif path.is_file():
        files = [path]
    else:
        raise UsageError(
            f"trust roots: {path} does not exist; give a folder of certificates or a PEM "
            "bundle (setting INTAKE_TRUST_ROOTS)",
            code="TRUST_ROOTS_NOT_FOUND",
        )
    roots: list[bytes] = []
    for file in files:
        data = file.read_bytes()
        if path.is_dir() and asn1_pem.detect(data) and b"CERTIFICATE-----" not in data:
            continue  # a key or a CRL kept beside the certificates
        try:
            certificates = _parse_certificates(data)
        except ValueError as exc:
            raise UsageError(
                f"trust roots: {file} is not a certificate ({exc})", code="TRUST_ROOTS_INVALID"
            ) from exc
        roots.extend(certificate.dump() for certificate in certificates)
    if not roots:
        raise UsageError(
            f"trust roots: no certificate found in {path} (expected .pem, .crt, .cer or "
            ".der files)",
            code="TRUST_ROOTS_EMPTY",
        )
    return roots


def _parse_certificates(data: bytes) -> list[asn1_x509.Certificate]:
    """Certificates from DER bytes or PEM text (several blocks allowed)."""
    if asn1_pem.detect(data):
        certificates = [
            _load_der(der)
            for kind, _, der in asn1_pem.unarmor(data, multiple=True)
            if kind == "CERTIFICATE"
        ]
        if not certificates:
            raise ValueError("PEM data without a CERTIFICATE block")
        return certificates
    return [_load_der(data)]


def _load_der(der: bytes) -> asn1_x509.Certificate:
    try:
        certificate = asn1_x509.Certificate.load(der)
        certificate.native  # noqa: B018 - force a full parse: asn1crypto is lazy
    except Exception as exc:  # asn1crypto raises ValueError, TypeError, …
        raise ValueError(f"not an X.509 certificate: {exc}") from exc
    return certificate


# --------------------------------------------------------------------------- entry point


def verify_signatures(
    data: bytes,
    *,
    trust_roots: Sequence[bytes],
    validation_time: datetime | None = None,
) -> tuple[SignatureReport, ...]:
    """Check every signature (and document timestamp) embedded in a PDF.

    ``trust_roots`` are DER or PEM certificates; an empty sequence trusts nobody, so
    every intact signature is ``indeterminate``. ``validation_time`` defaults to now; a
    naive datetime is taken as UTC. Returns an empty tuple for an unsigned PDF. Works
    from synchronous code and from inside a running event loop.

    Raises ``CorruptPdf`` when the bytes are not a readable PDF, ``EncryptedPdf`` when it
    needs a password, ``UsageError`` when a trust root is not a certificate.
    """
    roots: list[asn1_x509.Certificate] = []
    for index, root in enumerate(trust_roots):
        try:
            roots.extend(_parse_certificates(bytes(root)))
        except ValueError as exc:
            raise UsageError(
                f"trust root #{index + 1} is not a certificate ({exc})",
                code="TRUST_ROOTS_INVALID",
            ) from exc
    moment = validation_time or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    with _quiet_pyhanko():
        reader = _open(data)
        return _run(_verify_all(reader, roots, moment))


# --------------------------------------------------------------------------- reading


def _open(data: bytes) -> PdfFileReader:
    if b"%PDF-" not in data[:1024]:  # readers accept a little junk before the header
        raise CorruptPdf("the file is not a PDF (no %PDF header): it cannot be checked")
    try:
        reader = PdfFileReader(BytesIO(data), strict=False)
        encrypted = reader.encrypted
    except Exception as exc:  # pyHanko raises many types on hostile input
        raise _corrupt(data, exc) from exc
    if encrypted:
        try:
            result = reader.decrypt(b"")
        except Exception as exc:
            raise _corrupt(data, exc) from exc
        if result.status is AuthStatus.FAILED:
            raise EncryptedPdf(
                "the PDF is protected by a password: ask the sender for an unprotected "
                "copy of the invoice"
            )
    return reader


def _corrupt(data: bytes, exc: BaseException) -> CorruptPdf:
    if b"%%EOF" not in data[-2048:]:
        return CorruptPdf(
            "the PDF is truncated (no end-of-file marker): the upload or the scan was "
            f"interrupted; ask for the file again ({_describe(exc)})",
            code="PDF_TRUNCATED",
        )
    return CorruptPdf(
        f"the PDF structure cannot be read ({_describe(exc)}): ask the sender for a new "
        "export of the file"
    )


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class _Found:
    """A signature field of the document: pyHanko's view of it, or why it has none."""

    field_name: str
    embedded: EmbeddedPdfSignature | None
    sub_filter: str | None
    error: BaseException | None = None

    @property
    def supported(self) -> bool:
        return self.sub_filter in SUPPORTED_SUBFILTERS


async def _verify_all(
    reader: PdfFileReader, roots: list[asn1_x509.Certificate], moment: datetime
) -> tuple[SignatureReport, ...]:
    found = _find_signatures(reader)
    has_dss = _has_dss(reader)
    doc_timestamp_revisions = [
        item.embedded.signed_revision
        for item in found
        if item.embedded is not None and _object_type(item.embedded) == "/DocTimeStamp"
    ]
    reports: list[SignatureReport] = []
    for item in found:
        if item.embedded is None:
            reports.append(_unreadable(item))
            continue
        later_doc_timestamp = any(
            revision > item.embedded.signed_revision for revision in doc_timestamp_revisions
        )
        try:
            report = await _verify_one(
                item,
                item.embedded,
                _context(roots, moment),
                has_dss=has_dss,
                later_doc_timestamp=later_doc_timestamp,
                trust_given=bool(roots),
            )
        except Exception as exc:  # a hostile signature must not stop the others
            report = _failed(item, item.embedded, exc)
        reports.append(report)
    return tuple(reports)


def _context(roots: list[asn1_x509.Certificate], moment: datetime) -> ValidationContext:
    """A fresh, offline validation context (contexts cache what they learn)."""
    return ValidationContext(
        trust_roots=list(roots),
        allow_fetching=False,
        moment=moment,
        revocation_mode="soft-fail",
    )


def _find_signatures(reader: PdfFileReader) -> list[_Found]:
    """Every filled signature field, in signing order; unreadable ones last."""
    try:
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except Exception as exc:
        raise CorruptPdf(
            f"the signature fields of the PDF cannot be read ({_describe(exc)})"
        ) from exc
    readable: list[_Found] = []
    unreadable: list[_Found] = []
    for field_name, sig_object, sig_field in fields:
        sub_filter: str | None = None
        try:
            raw = sig_object.get_object().get("/SubFilter")
            sub_filter = str(raw).lstrip("/") if raw is not None else None
            if sub_filter not in SUPPORTED_SUBFILTERS:
                # e.g. adbe.x509.rsa_sha1: not CMS, pyHanko cannot read it
                unreadable.append(_Found(str(field_name), None, sub_filter))
                continue
            embedded = EmbeddedPdfSignature(reader, sig_field, field_name)
        except Exception as exc:
            unreadable.append(_Found(str(field_name), None, sub_filter, exc))
            continue
        readable.append(_Found(str(field_name), embedded, sub_filter))
    readable.sort(key=lambda item: item.embedded.signed_revision if item.embedded else 0)
    return readable + unreadable


def _has_dss(reader: PdfFileReader) -> bool:
    try:
        return "/DSS" in reader.root
    except Exception:
        return False


def _object_type(embedded: EmbeddedPdfSignature) -> str:
    return str(embedded.sig_object_type)


async def _verify_one(
    item: _Found,
    embedded: EmbeddedPdfSignature,
    context: ValidationContext,
    *,
    has_dss: bool,
    later_doc_timestamp: bool,
    trust_given: bool,
) -> SignatureReport:
    kind = _object_type(embedded)
    if kind == "/DocTimeStamp":
        ts_status = await async_validate_pdf_timestamp(embedded, validation_context=context)
        return _timestamp_report(item, ts_status, trust_given=trust_given)
    if kind != "/Sig":
        return _report(
            item,
            embedded,
            verdict=SignatureVerdict.INDETERMINATE,
            reason=f"the signature object has the unknown type {kind}; it cannot be checked",
        )
    status = await async_validate_pdf_signature(
        embedded,
        signer_validation_context=context,
        key_usage_settings=_SIGNER_KEY_USAGE,
    )
    return _signature_report(
        item,
        status,
        has_dss=has_dss,
        later_doc_timestamp=later_doc_timestamp,
        trust_given=trust_given,
    )


# --------------------------------------------------------------------------- judging


def _signature_report(
    item: _Found,
    status: PdfSignatureStatus,
    *,
    has_dss: bool,
    later_doc_timestamp: bool,
    trust_given: bool,
) -> SignatureReport:
    timestamp = status.timestamp_validity
    verdict, reason = _judge(status, trust_given=trust_given)
    return SignatureReport(
        field_name=item.field_name,
        signer_subject=status.signing_cert.subject.human_friendly,
        signer_cert_sha256=status.signing_cert.sha256.hex(),
        sub_filter=item.sub_filter,
        signing_time=status.signer_reported_dt,
        timestamp_time=timestamp.timestamp if timestamp is not None else None,
        intact=status.intact,
        cryptographically_valid=status.valid,
        trusted=status.trusted,
        coverage=_COVERAGE_NAMES.get(status.coverage) if status.coverage else None,
        modification_level=_level_name(status.modification_level),
        pades_level=_pades_level(
            item.sub_filter,
            signature_timestamp=timestamp is not None,
            has_dss=has_dss,
            later_doc_timestamp=later_doc_timestamp,
        ),
        verdict=verdict,
        reason=reason,
    )


def _timestamp_report(
    item: _Found, status: DocumentTimestampStatus, *, trust_given: bool
) -> SignatureReport:
    verdict, reason = _judge(status, trust_given=trust_given, what="document timestamp")
    return SignatureReport(
        field_name=item.field_name,
        signer_subject=status.signing_cert.subject.human_friendly,
        signer_cert_sha256=status.signing_cert.sha256.hex(),
        sub_filter=item.sub_filter,
        signing_time=status.timestamp,
        timestamp_time=status.timestamp,
        intact=status.intact,
        cryptographically_valid=status.valid,
        trusted=status.trusted,
        coverage=_COVERAGE_NAMES.get(status.coverage) if status.coverage else None,
        modification_level=_level_name(status.modification_level),
        pades_level=None,
        verdict=verdict,
        reason=reason,
    )


def _judge(
    status: PdfSignatureStatus | DocumentTimestampStatus,
    *,
    trust_given: bool,
    what: str = "signature",
) -> tuple[SignatureVerdict, str]:
    """The verdict and one sentence saying why, most serious problem first."""
    invalid, indeterminate = SignatureVerdict.INVALID, SignatureVerdict.INDETERMINATE
    if not status.intact:
        return invalid, (
            f"the {what} is broken: the signed bytes were changed after signing (the hash "
            "over the signed byte range does not match)"
        )
    if not status.valid:
        return invalid, (
            f"the {what} value does not check out against the signer's certificate: the "
            "signature or its signed attributes were tampered with"
        )
    coverage = status.coverage
    if coverage is not None and coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        return invalid, (
            f"the {what} does not cover its whole revision of the file (a byte range with "
            "gaps): parts of the document were never signed"
        )
    level = status.modification_level
    if level is ModificationLevel.OTHER:
        return invalid, (
            f"the document was modified after signing in a way a {what} does not allow "
            "(content, pages or objects changed)"
        )
    if isinstance(status, PdfSignatureStatus):
        if status.docmdp_ok is False:
            return invalid, (
                "the document was modified after signing beyond what the signer permitted "
                f"(DocMDP); changes found: {_level_phrase(level)}"
            )
        if not status.seed_value_ok:
            error = status.seed_value_constraint_error
            detail = error.failure_message if error is not None else "unknown constraint"
            return invalid, f"the signature breaks its field's seed-value constraints: {detail}"
        timestamp = status.timestamp_validity
        if timestamp is not None and not (timestamp.intact and timestamp.valid):
            return invalid, "the signature timestamp token is broken (not intact or not valid)"
    if status.revoked:
        return invalid, f"the {what}'s certificate has been revoked"
    if isinstance(status.trust_problem_indic, AdESFailure):
        return invalid, (
            f"the signer's certificate fails validation ({status.trust_problem_indic.name})"
        )
    if not status.trusted:
        return indeterminate, _untrusted_reason(status, trust_given=trust_given, what=what)
    if isinstance(status, PdfSignatureStatus):
        timestamp = status.timestamp_validity
        if timestamp is not None and not timestamp.trusted:
            return indeterminate, (
                "the signature is intact and trusted but its timestamp authority does not "
                "chain to a trust root, so the signing time is not proven"
            )
    bottom_line = (
        status.bottom_line
        if isinstance(status, PdfSignatureStatus)
        else status.intact and status.valid and status.trusted
    )
    if not bottom_line:
        return indeterminate, (
            f"the {what} is intact and trusted, but pyHanko's overall judgement is negative"
        )
    signer = _common_name(status.signing_cert)
    if coverage is SignatureCoverageLevel.ENTIRE_FILE:
        scope = "it covers the whole file"
    elif level is not None and level in _ALLOWED_CHANGES:
        scope = f"later changes are limited to {_ALLOWED_CHANGES[level]}, which is allowed"
    else:
        scope = "later changes are allowed"
    return SignatureVerdict.VALID, f"intact, valid and trusted {what} by {signer}; {scope}"


def _untrusted_reason(
    status: PdfSignatureStatus | DocumentTimestampStatus, *, trust_given: bool, what: str
) -> str:
    signer = _common_name(status.signing_cert)
    indication = status.trust_problem_indic
    prefix = f"the {what} is intact and valid, but"
    if not trust_given:
        return f"{prefix} no trust root is configured, so the signer ({signer}) cannot be trusted"
    if indication in (
        None,
        AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND,
        AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE,
    ) and (status.validation_path is None):
        return f"{prefix} the signer's certificate ({signer}) does not chain to a trust root"
    if indication in (
        AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
        AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED,
        AdESIndeterminate.NOT_YET_VALID,
        AdESIndeterminate.EXPIRED,
    ):
        return (
            f"{prefix} the signer's certificate ({signer}) was not valid at the validation "
            f"time ({indication.name})"
        )
    if indication in (
        AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE,
        AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
    ):
        return f"{prefix} it relies on an algorithm or key size no longer accepted"
    return (
        f"{prefix} trust in the signer ({signer}) cannot be established ({_indication(indication)})"
    )


def _common_name(certificate: asn1_x509.Certificate) -> str:
    """The subject's common name, for sentences; the full subject when it has none."""
    try:
        name = certificate.subject.native.get("common_name")
    except Exception:
        name = None
    if isinstance(name, list):
        name = name[0] if name else None
    return str(name) if name else certificate.subject.human_friendly


def _indication(indication: AdESSubIndic | None) -> str:
    return "no reason given" if indication is None else str(getattr(indication, "name", indication))


def _level_name(level: ModificationLevel | None) -> str | None:
    return level.name.lower() if level is not None else None


def _level_phrase(level: ModificationLevel | None) -> str:
    return _level_name(level) or "not analysed"


def _pades_level(
    sub_filter: str | None,
    *,
    signature_timestamp: bool,
    has_dss: bool,
    later_doc_timestamp: bool,
) -> str | None:
    if sub_filter != PADES_SUBFILTER:
        return None
    if has_dss and later_doc_timestamp:
        return "B-LTA"
    if has_dss and signature_timestamp:
        return "B-LT"
    if signature_timestamp:
        return "B-T"
    return "B-B"


# --------------------------------------------------------------------------- failures


def _unreadable(item: _Found) -> SignatureReport:
    if not item.supported:
        return SignatureReport(
            field_name=item.field_name,
            sub_filter=item.sub_filter,
            intact=False,
            cryptographically_valid=False,
            trusted=False,
            verdict=SignatureVerdict.INDETERMINATE,
            reason=f"the signature format (/SubFilter /{item.sub_filter}) is not supported: it "
            "cannot be checked",
        )
    return SignatureReport(
        field_name=item.field_name,
        sub_filter=item.sub_filter,
        intact=False,
        cryptographically_valid=False,
        trusted=False,
        verdict=SignatureVerdict.INVALID,
        reason="the signature data cannot be read (malformed signature dictionary or CMS "
        f"structure: {_describe(item.error) if item.error else 'unknown error'})",
    )


def _failed(item: _Found, embedded: EmbeddedPdfSignature, exc: BaseException) -> SignatureReport:
    """pyHanko gave up on this signature: a format failure is invalid, anything else
    (a constraint it cannot evaluate, an unexpected error) is indeterminate."""
    if isinstance(exc, SignatureValidationError):
        sub = exc.ades_subindication
        if isinstance(sub, AdESIndeterminate):
            verdict = SignatureVerdict.INDETERMINATE
            reason = f"the signature cannot be fully checked: {exc.failure_message} ({sub.name})"
        else:
            verdict = SignatureVerdict.INVALID
            reason = f"the signature is malformed: {exc.failure_message}"
    else:
        verdict = SignatureVerdict.INDETERMINATE
        reason = f"the signature could not be checked ({_describe(exc)})"
    return _report(item, embedded, verdict=verdict, reason=reason)


def _report(
    item: _Found, embedded: EmbeddedPdfSignature, *, verdict: SignatureVerdict, reason: str
) -> SignatureReport:
    """A report with what can still be read when validation did not complete."""
    subject = fingerprint = None
    signing_time = None
    with suppress(Exception):  # best effort: the signature may be malformed
        certificate = embedded.signer_cert
        subject = certificate.subject.human_friendly
        fingerprint = certificate.sha256.hex()
    with suppress(Exception):
        signing_time = embedded.self_reported_timestamp
    coverage = embedded.coverage
    return SignatureReport(
        field_name=item.field_name,
        signer_subject=subject,
        signer_cert_sha256=fingerprint,
        sub_filter=item.sub_filter,
        signing_time=signing_time,
        intact=False,
        cryptographically_valid=False,
        trusted=False,
        coverage=_COVERAGE_NAMES.get(coverage) if coverage is not None else None,
        verdict=verdict,
        reason=reason,
    )


# --------------------------------------------------------------------------- plumbing

_LOGGERS = ("pyhanko", "pyhanko_certvalidator")
_quiet_lock = threading.Lock()
_quiet_depth = 0
_saved_levels: dict[str, int] = {}


@contextmanager
def _quiet_pyhanko() -> Iterator[None]:
    """pyHanko logs a full traceback (WARNING or ERROR) for every failed check, which a bad
    piece is not: only let CRITICAL through while we validate (re-entrant, thread-safe)."""
    global _quiet_depth
    with _quiet_lock:
        if _quiet_depth == 0:
            for name in _LOGGERS:
                logger = logging.getLogger(name)
                _saved_levels[name] = logger.level
                logger.setLevel(logging.CRITICAL)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                for name in _LOGGERS:
                    logging.getLogger(name).setLevel(_saved_levels.pop(name, logging.NOTSET))


def _run(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run pyHanko's async validation from sync code, even inside a running loop (a
    Prefect task or an async web handler): then in a worker thread with its own loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pyhanko") as pool:
        return pool.submit(asyncio.run, coroutine).result()
