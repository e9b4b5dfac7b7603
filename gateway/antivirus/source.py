"""What a scan reads: bytes, a path, or a seekable binary file object, read in chunks.

Only the content is ever sent to an engine; a path (Japanese or not) is opened here and its name
goes nowhere. A file object is read from where it stands and put back there afterwards, so several
engines can read the same object one after the other. Reading errors raise
:class:`ScanSourceError` (the caller's file, not the engine, is at fault).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from gateway.antivirus.errors import ScanSourceError

ScanSource = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO

DEFAULT_CHUNK = 64 * 1024


@contextmanager
def open_source(source: ScanSource) -> Iterator[BinaryIO]:
    """A binary file object positioned at the start of what is to be scanned."""
    if isinstance(source, bytes | bytearray | memoryview):
        yield io.BytesIO(bytes(source))
        return
    if isinstance(source, str | os.PathLike):
        try:
            handle = open(source, "rb")
        except OSError as exc:
            raise ScanSourceError(f"the file to scan cannot be opened: {exc.strerror}") from exc
        with handle:
            yield handle
        return
    try:
        start = source.tell()
    except (OSError, ValueError) as exc:
        raise ScanSourceError("the file object to scan is not seekable") from exc
    try:
        yield source
    finally:
        try:
            source.seek(start)
        except (OSError, ValueError):
            pass  # a closed object: nothing to put back


def known_size(handle: BinaryIO) -> int | None:
    """Bytes left to read in ``handle`` when that can be told without reading, else None."""
    try:
        here = handle.tell()
        end = handle.seek(0, os.SEEK_END)
        handle.seek(here)
    except (OSError, ValueError):
        return None
    return max(0, end - here)


def read_chunks(handle: BinaryIO, chunk_size: int = DEFAULT_CHUNK) -> Iterator[bytes]:
    """``handle``'s content in chunks of at most ``chunk_size`` bytes (constant memory)."""
    while True:
        try:
            chunk = handle.read(chunk_size)
        except OSError as exc:
            raise ScanSourceError(f"the file to scan cannot be read: {exc.strerror}") from exc
        if not chunk:
            return
        yield chunk
