"""Errors raised by converters. Each carries a stable ``code`` that reports and audit records use.

Tree::

    ConverterError                  converter_error
    ├── BlockedType                 blocked_type (and per-kind codes below)
    │     executable, script, shortcut, disk_image, onenote, chm, java_archive,
    │     unknown_binary, svg, html_active, installer
    ├── UnsupportedType             unsupported_type
    ├── CorruptFile                 corrupt_file
    ├── PasswordProtected           password_protected
    ├── EncryptedArchive            encrypted_archive
    ├── UnsupportedCompression      unsupported_compression
    ├── LimitExceeded               limit_exceeded
    │   ├── FileTooLarge            too_large
    │   ├── DecompressionBomb       decompression_bomb
    │   ├── ArchiveTooDeep          archive_too_deep
    │   ├── TooManyMembers          archive_too_many_members
    │   └── TooManyPages            too_many_pages
    └── VerificationFailed          verification_failed
"""

from __future__ import annotations


class ConverterError(Exception):
    """Base of every converter failure. ``reason`` is plain words for the person reading the report."""

    code = "converter_error"

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if code is not None:
            self.code = code


class BlockedType(ConverterError):
    code = "blocked_type"


class UnsupportedType(ConverterError):
    code = "unsupported_type"


class CorruptFile(ConverterError):
    code = "corrupt_file"


class PasswordProtected(ConverterError):
    code = "password_protected"


class EncryptedArchive(ConverterError):
    code = "encrypted_archive"


class UnsupportedCompression(ConverterError):
    """A container compressed with a method (or needing a reader version) the gateway cannot read."""

    code = "unsupported_compression"


class LimitExceeded(ConverterError):
    code = "limit_exceeded"


class FileTooLarge(LimitExceeded):
    code = "too_large"


class DecompressionBomb(LimitExceeded):
    code = "decompression_bomb"


class ArchiveTooDeep(LimitExceeded):
    code = "archive_too_deep"


class TooManyMembers(LimitExceeded):
    code = "archive_too_many_members"


class TooManyPages(LimitExceeded):
    code = "too_many_pages"


class VerificationFailed(ConverterError):
    code = "verification_failed"
