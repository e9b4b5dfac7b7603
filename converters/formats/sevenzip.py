"""7z archives through py7zr, with the limits of ``converters.formats.archive`` enforced while bytes are
produced (py7zr writes members through a factory of our own)."""

from __future__ import annotations

import lzma
import shutil
from pathlib import Path

import py7zr
import py7zr.exceptions
import py7zr.io

from converters.base import Conversion, Converter, ConvertRequest
from converters.errors import CorruptFile, DecompressionBomb, EncryptedArchive, UnsupportedCompression
from converters.formats.archive import ENCRYPTED_REASON, Extraction


class _CountingWriter(py7zr.io.Py7zIO):
    """A py7zr member writer that enforces the limits while bytes are produced."""

    def __init__(self, target: Path, job: Extraction) -> None:
        self.job = job
        self.handle = target.open("wb")

    def write(self, data: bytes | bytearray) -> int:
        self.job.account(len(data))
        limits = self.job.request.limits
        if self.job.produced > limits.archive_ratio_grace_bytes and (
                self.job.produced > limits.archive_max_ratio * self.job.compressed_size):
            raise DecompressionBomb("the archive expands far more than normal files do (7z bomb)")
        return self.handle.write(data)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.handle.seek(offset, whence)

    def flush(self) -> None:
        self.handle.flush()

    def size(self) -> int:
        return self.handle.tell()

    def close(self) -> None:
        self.handle.close()


class _WriterFactory(py7zr.io.WriterFactory):
    def __init__(self, job: Extraction) -> None:
        self.job = job
        self.files: list[tuple[str, Path]] = []

    def create(self, filename: str) -> py7zr.io.Py7zIO:
        self.job.budget.add_member()
        target = self.job.staging / f"member-{len(self.files)}"
        self.files.append((filename, target))
        return _CountingWriter(target, self.job)


class SevenZipConverter(Converter):

    def convert(self, src: Path, out_dir: Path, request: ConvertRequest) -> Conversion:
        job = Extraction(out_dir, request, src.stat().st_size)
        try:
            with py7zr.SevenZipFile(src, mode="r") as archive:
                if archive.needs_password():
                    raise EncryptedArchive(ENCRYPTED_REASON)
                entries = [e for e in archive.list() if not e.is_directory]
                job.check_declared([int(e.uncompressed or 0) for e in entries], src.stat().st_size)
                factory = _WriterFactory(job)
                archive.extractall(factory=factory)
            for name, target in factory.files:
                if target.exists():
                    job.member(target, name)
        except py7zr.exceptions.PasswordRequired as exc:
            raise EncryptedArchive(ENCRYPTED_REASON) from exc
        except py7zr.exceptions.UnsupportedCompressionMethodError as exc:
            raise UnsupportedCompression("the 7z archive uses a compression method the gateway cannot read") from exc
        except py7zr.exceptions.CrcError as exc:
            raise CorruptFile("a member's checksum does not match its content in the 7z archive "
                              "(the data is damaged)") from exc
        # AttributeError: py7zr reads header parts a damaged header leaves as None
        # (``header.main_streams.packinfo.packpositions``) instead of raising Bad7zFile
        except (py7zr.exceptions.ArchiveError, py7zr.exceptions.Bad7zFile, EOFError, OSError,
                ValueError, KeyError, IndexError, TypeError, AttributeError, lzma.LZMAError) as exc:
            raise CorruptFile("the 7z archive is damaged") from exc
        finally:
            shutil.rmtree(job.staging, ignore_errors=True)
        return job.finish()
