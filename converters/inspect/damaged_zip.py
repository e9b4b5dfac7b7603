"""The inspector's own account of a ZIP package it cannot read (written apart from the converters'
handling of damaged containers, with which it shares no code).

``zipfile`` and the decompressors it drives raise many kinds on a damaged, encrypted or
unsupported package: ``BadZipFile`` (damaged structure, CRC mismatch), ``EOFError`` (a member cut
short), ``zlib.error`` / ``lzma.LZMAError`` / an ``OSError`` from bz2 (damaged compressed data),
``NotImplementedError`` (a method, reader version or strong encryption it cannot read),
``RuntimeError`` (an encrypted member, or a decompressor this Python lacks) and ``ValueError``
(a name flagged UTF-8 that is not, a seek before the start). Inside ``zip_reading`` each becomes
one ``ZipUnreadable`` whose text the inspector reports as a problem: what cannot be read is not
clean. Any other ``RuntimeError`` (a recursion limit) is not about the package and is left alone."""

from __future__ import annotations

import lzma
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

# kind -> what it says about the package
_DAMAGE: tuple[tuple[type[Exception], str], ...] = (
    (zipfile.BadZipFile, "damaged ZIP structure or checksum"),
    (zlib.error, "damaged compressed data"),
    (lzma.LZMAError, "damaged compressed data"),
    (EOFError, "a member is cut short"),
    (NotImplementedError, "a compression method, reader version or encryption that cannot be read"),
    (ValueError, "damaged ZIP structure"),
    (OSError, "damaged compressed data or structure"),
)
_KINDS = tuple(kind for kind, _ in _DAMAGE)


class ZipUnreadable(Exception):
    """The package, or one of its members, could not be read: damaged, encrypted or unsupported."""


def _name(exc: BaseException) -> str:
    kind = type(exc)
    module = {"_lzma": "lzma", "builtins": "", "zipfile": ""}.get(kind.__module__, kind.__module__)
    return f"{module}.{kind.__qualname__}" if module else kind.__qualname__


@contextmanager
def zip_reading() -> Iterator[None]:
    """Open and read a ZIP package inside this block: what the libraries raise on a package they
    cannot read leaves it as ``ZipUnreadable``."""
    try:
        yield
    except _KINDS as exc:
        meaning = next(text for kind, text in _DAMAGE if isinstance(exc, kind))
        raise ZipUnreadable(f"{meaning} ({_name(exc)})") from exc
    except RuntimeError as exc:
        message = str(exc)
        if "encrypted" in message or "password" in message:
            raise ZipUnreadable(f"an encrypted member ({_name(exc)})") from exc
        if "(missing)" in message:  # zipfile: "Compression requires the (missing) bz2 module"
            raise ZipUnreadable(f"a compression method that cannot be read ({_name(exc)})") from exc
        raise
