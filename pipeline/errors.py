"""Exceptions raised when input cannot be processed at all.

A bad piece (wrong SIRET, failed rule, broken signature) is *not* an exception: it comes
back as findings. Only input that cannot be processed raises, with one of these classes.
Every class carries a stable ``code`` (upper snake case) and the ``exit_code`` of the
``intake`` command, and its message tells an operator what to do.

    IntakeError                      exit 4 unless a subclass says otherwise
    ├── UsageError                   exit 2: bad command line or settings
    ├── InputError                   exit 3: the input could not be read
    │   ├── EmptyInput               EMPTY_FILE
    │   ├── InputTooLarge            FILE_TOO_LARGE, TOO_MANY_PAGES
    │   ├── UnsupportedFormat        UNSUPPORTED_FORMAT
    │   ├── CorruptPdf               PDF_CORRUPT, PDF_TRUNCATED
    │   ├── EncryptedPdf             PDF_ENCRYPTED
    │   ├── MalformedXml             XML_MALFORMED
    │   └── UnsafeXml                XML_DOCTYPE_FORBIDDEN, XML_TOO_DEEP
    └── InternalError                exit 4: a defect of the pipeline itself
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of the ``intake`` command (DESIGN 4.5)."""

    OK = 0
    REJECTED = 1
    USAGE = 2
    UNREADABLE = 3
    INTERNAL = 4


class IntakeError(Exception):
    """Base class: processing stopped; ``code`` and ``message`` say why."""

    exit_code: ExitCode = ExitCode.INTERNAL
    default_code = "INTERNAL_ERROR"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code

    def one_line(self) -> str:
        """The single line printed on stderr and written in verdicts."""
        return f"{self.code}: {self.message}"


class UsageError(IntakeError):
    exit_code = ExitCode.USAGE
    default_code = "BAD_USAGE"


class InputError(IntakeError):
    """The input could not be read; the operator must obtain a usable file."""

    exit_code = ExitCode.UNREADABLE
    default_code = "UNREADABLE_INPUT"


class EmptyInput(InputError):
    default_code = "EMPTY_FILE"


class InputTooLarge(InputError):
    default_code = "FILE_TOO_LARGE"


class UnsupportedFormat(InputError):
    default_code = "UNSUPPORTED_FORMAT"


class CorruptPdf(InputError):
    default_code = "PDF_CORRUPT"


class EncryptedPdf(InputError):
    default_code = "PDF_ENCRYPTED"


class MalformedXml(InputError):
    default_code = "XML_MALFORMED"


class UnsafeXml(InputError):
    default_code = "XML_UNSAFE"


class InternalError(IntakeError):
    exit_code = ExitCode.INTERNAL
    default_code = "INTERNAL_ERROR"
