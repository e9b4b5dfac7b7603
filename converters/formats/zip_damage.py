"""What ``zipfile`` (and the decompressors it drives) raises on a damaged, unsupported or encrypted
container, turned into the outcome a person can act on: ``corrupt_file`` with a sentence saying
what is wrong, ``unsupported_compression`` or ``encrypted_archive``.

Only the kinds these libraries raise on bad input are caught, each with what it means: a
``RuntimeError`` or ``OSError`` that is not about the container (a recursion limit, an I/O error
of the machine) still ends as an internal error, where it belongs."""

from __future__ import annotations

import errno
import lzma
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from converters.errors import ConverterError, CorruptFile, EncryptedArchive, UnsupportedCompression

# zipfile.BadZipFile messages (CPython's zipfile) -> what is wrong, for "{what}" the container
_BAD_ZIP: tuple[tuple[str, str], ...] = (
    ("File is not a zip file", "{what} is cut short or is not a ZIP archive (its end record is missing)"),
    ("Truncated central directory", "the directory of {what} is cut short"),
    ("Bad magic number for central directory", "the directory of {what} is damaged"),
    ("Bad offset for central directory", "the directory of {what} is not where the archive says it is"),
    ("Truncated file header", "a member's header in {what} is cut short"),
    ("Bad magic number for file header", "a member's header in {what} is damaged or not where the directory "
                                         "says it is"),
    ("Bad CRC-32", "a member's checksum does not match its content in {what} (the data is damaged)"),
    ("File name in directory", "a member's name in {what} differs between the directory and its header"),
    ("Overlapped entries", "members of {what} overlap one another (a damaged or crafted archive)"),
    ("Corrupt extra field", "a member's extra field in {what} is damaged"),
    ("Corrupt zip64", "a member's ZIP64 sizes in {what} are damaged"),
    ("zipfiles that span multiple disks", "{what} is one part of a split archive, which cannot be read alone"),
)
# OSError numbers that mean the machine ran out of room, not that the container is damaged
_NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def _bad_zip(message: str, what: str) -> str:
    for start, sentence in _BAD_ZIP:
        if message.startswith(start):
            return sentence.format(what=what)
    return f"{what} is damaged"


@contextmanager
def zip_damage(what: str) -> Iterator[None]:
    """Reading a ZIP container (``what``: "the ZIP archive", "the document package"...) inside this
    block: damage, unsupported methods and encryption become specific converter errors."""
    try:
        yield
    except zipfile.BadZipFile as exc:
        raise CorruptFile(_bad_zip(str(exc), what)) from exc
    except NotImplementedError as exc:  # zipfile: a method, flag or version it cannot read
        message = str(exc)
        if "encryption" in message:
            raise EncryptedArchive(f"{what} uses strong encryption (cannot be inspected)") from exc
        if message.startswith("zip file version"):
            raise UnsupportedCompression(f"{what} needs a newer ZIP reader ({message})") from exc
        raise UnsupportedCompression(f"{what} uses a compression method the gateway cannot read") from exc
    except RuntimeError as exc:  # zipfile: an encrypted member, or a decompressor Python was built without
        message = str(exc)
        if "encrypted" in message or "password" in message:
            raise EncryptedArchive(f"{what} holds an encrypted member (cannot be inspected)") from exc
        if "(missing)" in message:
            raise UnsupportedCompression(f"{what} uses a compression method the gateway cannot read") from exc
        raise
    except EOFError as exc:  # a member's compressed data ends before its stream does
        raise CorruptFile(f"{what} is cut short (a member's data ends early)") from exc
    except (zlib.error, lzma.LZMAError) as exc:
        raise CorruptFile(f"a member's compressed data in {what} is damaged") from exc
    except UnicodeDecodeError as exc:  # a name flagged as UTF-8 that is not
        raise CorruptFile(f"a member's name in {what} is not the UTF-8 its flag says it is") from exc
    except OSError as exc:
        if exc.errno in _NO_ROOM:
            raise ConverterError("the file needs more disk space than allowed", code="resource_limit") from exc
        if exc.errno == errno.EINVAL:  # a seek before the start: an offset in the directory is wrong
            raise CorruptFile(f"the directory of {what} points outside the file") from exc
        if exc.errno is None:  # bz2 on a damaged member ("Invalid data stream")
            raise CorruptFile(f"a member's compressed data in {what} is damaged") from exc
        raise


def file_members(archive: zipfile.ZipFile, what: str) -> list[zipfile.ZipInfo]:
    """The members of ``archive`` that are files (directories left out). A member without a name
    is damage (zipfile's own ``is_dir`` fails on it with IndexError)."""
    infos = archive.infolist()
    if any(not info.filename for info in infos):
        raise CorruptFile(f"a member of {what} has no name")
    return [info for info in infos if not info.filename.endswith("/")]
