"""PAdES verification (pipeline/validate/signature.py) on the demo PKI and on real files.

The demo's signed invoice is checked against its own test root (valid), without it
(indeterminate) and with a byte flipped (invalid). The public corpus (pyHanko's and EU
DSS's test PDFs, see ../shared/corpus/*/SOURCE.md) must never come out valid without
trust roots, must match what its sources say about tampering, and must never crash.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from asn1crypto import pem

from pipeline.errors import CorruptPdf, EncryptedPdf, UsageError
from pipeline.models import SignatureReport, SignatureVerdict
from pipeline.validate.signature import load_trust_roots, verify_signatures
from tests.conftest import DEMO, REPO, corpus_path

PKI = REPO / "fixtures" / "pki"
ROOT_PEM = PKI / "root.pem"
SIGNED = DEMO / "pades-facture-haut-vallon-colleges.pdf"
SELF_SIGNED = DEMO / "pades-facture-signataire-inconnu.pdf"
#: Inside the test PKI's validity (2024–2036) and after the demo signing times.
WHEN = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)

VALID = SignatureVerdict.VALID
INVALID = SignatureVerdict.INVALID
INDETERMINATE = SignatureVerdict.INDETERMINATE


def root_pem() -> bytes:
    return ROOT_PEM.read_bytes()


def verify(
    path: Path, roots: list[bytes] | None = None, *, validation_time: datetime = WHEN
) -> tuple[SignatureReport, ...]:
    return verify_signatures(
        path.read_bytes(), trust_roots=roots or [], validation_time=validation_time
    )


# --------------------------------------------------------------------------- demo PKI


def test_demo_signed_invoice_is_valid_with_the_demo_root() -> None:
    (report,) = verify(SIGNED, [root_pem()])
    assert report.verdict is VALID, report.reason
    assert report.field_name == "Signature1"
    assert report.intact and report.cryptographically_valid and report.trusted
    assert report.coverage == "entire_file"
    assert report.modification_level == "none"
    assert report.sub_filter == "ETSI.CAdES.detached"
    assert report.pades_level == "B-B"
    paris_winter = timezone(timedelta(hours=1))
    assert report.signing_time == datetime(2025, 3, 17, 14, 32, 5, tzinfo=paris_winter)
    assert report.timestamp_time is None
    assert report.signer_subject is not None and "Claire Muller" in report.signer_subject
    assert report.signer_cert_sha256 is not None and len(report.signer_cert_sha256) == 64
    assert "trusted" in report.reason


def test_der_trust_root_works_like_pem() -> None:
    _, _, der = pem.unarmor(root_pem())
    (report,) = verify(SIGNED, [der])
    assert report.verdict is VALID


def test_without_the_root_the_signature_is_indeterminate() -> None:
    (report,) = verify(SIGNED, [])
    assert report.verdict is INDETERMINATE
    assert report.intact and report.cryptographically_valid and not report.trusted
    assert "no trust root" in report.reason


def test_with_an_unrelated_root_the_signature_is_indeterminate() -> None:
    other = corpus_path("pades-pyhanko", "crypto", "testing-ca", "root", "root.cert.pem")
    (report,) = verify(SIGNED, [other.read_bytes()])
    assert report.verdict is INDETERMINATE
    assert "does not chain to a trust root" in report.reason


def test_self_signed_signer_is_indeterminate_even_with_the_demo_root() -> None:
    (report,) = verify(SELF_SIGNED, [root_pem()])
    assert report.verdict is INDETERMINATE
    assert report.intact and report.cryptographically_valid and not report.trusted
    assert "does not chain to a trust root" in report.reason


def test_after_the_certificate_expired_the_signature_is_indeterminate() -> None:
    (report,) = verify(SIGNED, [root_pem()], validation_time=datetime(2037, 6, 1, tzinfo=UTC))
    assert report.verdict is INDETERMINATE
    assert report.intact and not report.trusted


def test_a_byte_flipped_inside_the_signed_range_makes_it_invalid() -> None:
    data = bytearray(SIGNED.read_bytes())
    # inside the first page's content stream: far from /Contents, xref and trailer
    offset = data.index(b"stream\n") + 40
    byte_range_end = data.index(b"/ByteRange")
    assert offset < byte_range_end
    data[offset] ^= 0x01
    (report,) = verify_signatures(bytes(data), trust_roots=[root_pem()], validation_time=WHEN)
    assert report.verdict is INVALID
    assert not report.intact
    assert "changed after signing" in report.reason


def test_an_unsupported_signature_format_is_indeterminate() -> None:
    data = SIGNED.read_bytes().replace(b"/ETSI.CAdES.detached", b"/adbe.x509.rsa_sha1 ")
    (report,) = verify_signatures(data, trust_roots=[root_pem()], validation_time=WHEN)
    assert report.verdict is INDETERMINATE
    assert report.sub_filter == "adbe.x509.rsa_sha1"
    assert "not supported" in report.reason


def test_unreadable_signature_data_is_invalid_and_does_not_raise() -> None:
    data = bytearray(SIGNED.read_bytes())
    start = data.index(b"/Contents <") + len(b"/Contents <")
    end = data.index(b">", start)
    data[start:end] = b"0" * (end - start)  # same length: the PDF stays readable
    (report,) = verify_signatures(bytes(data), trust_roots=[root_pem()], validation_time=WHEN)
    assert report.verdict is INVALID
    assert not report.intact and not report.trusted
    assert "cannot be read" in report.reason


def test_an_unsigned_pdf_has_no_signature() -> None:
    assert verify(DEMO / "facture-etat-dgfip.pdf", [root_pem()]) == ()


def test_naive_validation_time_is_taken_as_utc() -> None:
    (report,) = verify(SIGNED, [root_pem()], validation_time=datetime(2025, 6, 2, 9, 30))
    assert report.verdict is VALID


def test_works_inside_a_running_event_loop() -> None:
    async def inside() -> tuple[SignatureReport, ...]:
        # a Prefect task or an async handler: pyHanko's own asyncio.run would fail here
        return verify_signatures(
            SIGNED.read_bytes(), trust_roots=[root_pem()], validation_time=WHEN
        )

    (report,) = asyncio.run(inside())
    assert report.verdict is VALID


def test_pyhanko_tracebacks_are_kept_out_of_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    """pyHanko logs a full traceback (at WARNING in 0.38) for every untrusted signer or
    disallowed change: a bad piece is a result, not a log storm."""
    logger = logging.getLogger("pyhanko")
    logger.setLevel(logging.DEBUG)
    try:
        with caplog.at_level(logging.DEBUG):
            (untrusted,) = verify(SIGNED)
            modified = verify(corpus_path("pades-eu-dss/validation/pdf-signed-added-page.pdf"))
        assert untrusted.verdict is INDETERMINATE and modified[0].verdict is INVALID
        noisy = [
            record
            for record in caplog.records
            if record.name.startswith("pyhanko") and record.levelno >= logging.WARNING
        ]
        assert not noisy
        assert logger.level == logging.DEBUG  # restored after the call
    finally:
        logger.setLevel(logging.NOTSET)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ((DEMO / "bad-truncated.pdf").read_bytes(), "PDF_TRUNCATED"),
        (b"", "PDF_CORRUPT"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\nthis is not a PDF body\n%%EOF\n", "PDF_CORRUPT"),
        (b"<?xml version='1.0'?><Invoice/>", "PDF_CORRUPT"),
    ],
    ids=["truncated", "empty", "garbage-body", "not-a-pdf"],
)
def test_unreadable_pdf_raises_corrupt_pdf(data: bytes, code: str) -> None:
    with pytest.raises(CorruptPdf) as raised:
        verify_signatures(data, trust_roots=[], validation_time=WHEN)
    assert raised.value.code == code


def test_password_protected_pdf_raises_encrypted_pdf() -> None:
    with pytest.raises(EncryptedPdf) as raised:
        verify(DEMO / "bad-encrypted.pdf")
    assert raised.value.code == "PDF_ENCRYPTED"


def test_a_trust_root_that_is_not_a_certificate_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        verify_signatures(SIGNED.read_bytes(), trust_roots=[b"not a certificate"])


# --------------------------------------------------------------------------- trust roots


def test_load_trust_roots_from_a_folder_skips_keys() -> None:
    roots = load_trust_roots(PKI)  # root.pem plus TEST-ONLY-*.key.pem
    assert roots == [pem.unarmor(root_pem())[2]]


def test_load_trust_roots_from_one_file_and_from_a_bundle(tmp_path: Path) -> None:
    assert load_trust_roots(ROOT_PEM) == load_trust_roots(PKI)
    other = corpus_path("pades-pyhanko", "crypto", "testing-ca", "root", "root.cert.pem")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(root_pem() + other.read_bytes())
    assert len(load_trust_roots(bundle)) == 2
    der = tmp_path / "root.cer"
    der.write_bytes(pem.unarmor(root_pem())[2])
    assert load_trust_roots(der) == load_trust_roots(ROOT_PEM)


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("missing", "TRUST_ROOTS_NOT_FOUND"),
        ("empty-folder", "TRUST_ROOTS_EMPTY"),
        ("garbage-file", "TRUST_ROOTS_INVALID"),
    ],
)
def test_load_trust_roots_refuses_bad_configuration(tmp_path: Path, setup: str, code: str) -> None:
    target = tmp_path / "roots"
    if setup == "empty-folder":
        target.mkdir()
        (target / "notes.txt").write_text("nothing here")
    elif setup == "garbage-file":
        target = tmp_path / "root.crt"
        target.write_bytes(b"\x30\x03\x02\x01")
    with pytest.raises(UsageError) as raised:
        load_trust_roots(target)
    assert raised.value.code == code


# --------------------------------------------------------------------------- public corpus

#: What each corpus PDF must give with no trust roots (../shared/corpus/*/SOURCE.md):
#: "unsigned" no report; "indeterminate" every signature indeterminate (intact, untrusted);
#: "invalid" at least one signature invalid; "not-valid" no valid signature;
#: "unreadable-or-invalid" CorruptPdf or at least one invalid signature.
CORPUS_EXPECTATIONS = {
    "pades-pyhanko/pdf/minimal.pdf": "unsigned",
    "pades-pyhanko/pdf/minimal-signed-twice-both-created.pdf": "indeterminate",
    "pades-pyhanko/pdf/minimal-two-fields-signed-twice.pdf": "indeterminate",
    "pades-pyhanko/pdf/form-update-override-appearance-stream.pdf": "indeterminate",
    "pades-pyhanko/pdf/form-update-override-appearance-stream-sneaky.pdf": "invalid",
    "pades-pyhanko/pdf/form-update-ap-indirect-sneaky-trailer.pdf": "invalid",
    "pades-pyhanko/pdf/pades-lta-dss-indirect-arrs-test.pdf": "indeterminate",
    "pades-pyhanko/pdf/pades-with-old-style-signing-cert-attr.pdf": "indeterminate",
    "pades-pyhanko/pdf/pdf-sig-with-econtent.pdf": "invalid",
    "pades-pyhanko/pdf/ed448-disallowed-hash.pdf": "indeterminate",
    "pades-eu-dss/doc.pdf": "unsigned",
    "pades-eu-dss/not_signed_pdfa.pdf": "unsigned",
    "pades-eu-dss/validation/pdf-signed-original.pdf": "indeterminate",
    "pades-eu-dss/validation/pdf-signed-corrupted.pdf": "unreadable-or-invalid",
    "pades-eu-dss/validation/pdf-signed-out-of-byteRange.pdf": "invalid",
    "pades-eu-dss/validation/pdf-signed-added-page.pdf": "invalid",
    "pades-eu-dss/validation/modified_after_signature.pdf": "invalid",
    "pades-eu-dss/validation/hello_signed_INCSAVE_signed.pdf": "indeterminate",
    "pades-eu-dss/validation/hello_signed_INCSAVE_signed_EDITED.pdf": "invalid",
    "pades-eu-dss/validation/pdf-spoofing-attack.pdf": "unreadable-or-invalid",
    "pades-eu-dss/validation/pades-spoofing-replaced-reason.pdf": "invalid",
    "pades-eu-dss/validation/pdf-byterange-overlap.pdf": "invalid",
    "pades-eu-dss/validation/pades-bes.pdf": "indeterminate",
    "pades-eu-dss/validation/PAdES-LT.pdf": "not-valid",
    "pades-eu-dss/validation/Signature-P-FR_CS-5.pdf": "not-valid",
    "pades-eu-dss/validation/doc-firmado-T.pdf": "indeterminate",
}


def test_every_corpus_pdf_has_an_expectation() -> None:
    on_disk = {
        str(path.relative_to(corpus_path()))
        for folder in ("pades-pyhanko", "pades-eu-dss")
        for path in corpus_path(folder).rglob("*.pdf")
    }
    assert on_disk == set(CORPUS_EXPECTATIONS)


@pytest.mark.parametrize("relative", sorted(CORPUS_EXPECTATIONS))
def test_corpus_pdf_without_trust_roots(relative: str) -> None:
    expectation = CORPUS_EXPECTATIONS[relative]
    data = corpus_path(relative).read_bytes()
    try:
        reports = verify_signatures(data, trust_roots=[], validation_time=WHEN)
    except CorruptPdf:
        assert expectation == "unreadable-or-invalid", f"{relative} could not be read"
        return
    verdicts = [report.verdict for report in reports]
    assert VALID not in verdicts, "nothing is valid without a trust root"
    assert all(report.reason for report in reports)
    assert all(not report.trusted for report in reports)
    if expectation == "unsigned":
        assert reports == ()
    elif expectation == "indeterminate":
        assert verdicts and set(verdicts) == {INDETERMINATE}, [r.reason for r in reports]
        assert all(report.intact for report in reports)
    elif expectation in ("invalid", "unreadable-or-invalid"):
        assert INVALID in verdicts, [r.reason for r in reports]
    else:
        assert verdicts


def test_corpus_tampering_is_explained() -> None:
    (report,) = verify(corpus_path("pades-eu-dss/validation/pdf-signed-out-of-byteRange.pdf"))
    assert not report.intact and "changed after signing" in report.reason
    (report,) = verify(corpus_path("pades-eu-dss/validation/pdf-signed-added-page.pdf"))
    assert report.intact and report.modification_level == "other"
    assert report.coverage == "entire_revision"
    first, second = verify(
        corpus_path("pades-pyhanko/pdf/form-update-override-appearance-stream-sneaky.pdf")
    )
    assert first.verdict is INVALID and first.modification_level == "other"
    assert second.verdict is INDETERMINATE and second.coverage == "entire_file"


def test_corpus_pades_levels_are_inferred() -> None:
    (timestamped,) = verify(corpus_path("pades-eu-dss/validation/doc-firmado-T.pdf"))
    assert timestamped.pades_level == "B-T" and timestamped.timestamp_time is not None
    signature, doc_timestamp = verify(
        corpus_path("pades-pyhanko/pdf/pades-lta-dss-indirect-arrs-test.pdf")
    )
    assert signature.pades_level == "B-LTA"
    assert doc_timestamp.sub_filter == "ETSI.RFC3161" and doc_timestamp.pades_level is None
    (bes,) = verify(corpus_path("pades-eu-dss/validation/pades-bes.pdf"))
    assert bes.pades_level == "B-B"
    (legacy,) = verify(corpus_path("pades-pyhanko/pdf/ed448-disallowed-hash.pdf"))
    assert legacy.sub_filter == "adbe.pkcs7.detached" and legacy.pades_level is None


def test_corpus_signatures_are_valid_with_pyhankos_test_ca_at_their_time() -> None:
    """Real third-party files chain to pyHanko's testing CA (its certificates have
    expired since, hence a validation time in 2021)."""
    roots = load_trust_roots(corpus_path("pades-pyhanko", "crypto", "testing-ca", "root"))
    when = datetime(2021, 9, 1, tzinfo=UTC)
    (report,) = verify(
        corpus_path("pades-pyhanko/pdf/pades-with-old-style-signing-cert-attr.pdf"),
        roots,
        validation_time=when,
    )
    assert report.verdict is VALID, report.reason
    signature, doc_timestamp = verify(
        corpus_path("pades-pyhanko/pdf/pades-lta-dss-indirect-arrs-test.pdf"),
        roots,
        validation_time=when,
    )
    assert signature.verdict is VALID and signature.modification_level == "lta_updates"
    assert doc_timestamp.verdict is VALID
    (weak,) = verify(
        corpus_path("pades-pyhanko/pdf/ed448-disallowed-hash.pdf"), roots, validation_time=when
    )
    assert weak.verdict is INDETERMINATE and "algorithm" in weak.reason
