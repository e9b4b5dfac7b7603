"""Archives (ZIP, 7z, tar) and single-file compression (gzip, bzip2, xz).

Members are extracted one at a time under limits (depth, member count, total expanded size,
expansion ratio, checked against both the declared sizes and the bytes actually produced), each
is disarmed by the engine as if it had arrived alone, and the report lists every member. Member
names are decoded correctly (CP932 names without ZIP's UTF-8 flag) and made safe, so nothing
can be written outside the output directory. Encrypted members block the whole archive.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import lzma
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, cast

from converters.base import Budget, Conversion, Converter, ConvertRequest, Finding, Outcome, Report
from converters.errors import (
    ArchiveTooDeep,
    ConverterError,
    CorruptFile,
    DecompressionBomb,
    EncryptedArchive,
    UnsupportedCompression,
)
from converters.formats.zip_damage import file_members, zip_damage
from converters.names import safe_relative_path, stem_of

CHUNK = 1024 * 1024
ENCRYPTED_REASON = "encrypted archive (cannot be inspected)"
ZIP_ENCRYPTED_FLAGS = 0x1 | 0x40  # traditional (ZipCrypto/AES) and strong encryption
FOLDER_TYPES = frozenset({"application/zip", "application/x-tar", "application/x-7z-compressed"})  # members in a folder
__all__ = ["ENCRYPTED_REASON", "FOLDER_TYPES", "Extraction"]


def decode_zip_name(info: zipfile.ZipInfo) -> str:
    """The member name as its author wrote it: UTF-8 when flagged, else UTF-8, CP932 or CP437."""
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.filename.encode("cp437")
    for charset in ("utf-8", "cp932"):
        try:
            return raw.decode(charset)
        except UnicodeDecodeError:
            continue
    return info.filename


class AllMembersBlocked(ConverterError):
    """Every file in the archive was blocked; the member reports say why."""

    code = "archive_all_members_blocked"

    def __init__(self, members: list[Report]) -> None:
        super().__init__("every file in the archive was blocked")
        self.members = members


class Extraction:
    """Shared bookkeeping for one archive: limits, staging area, member reports."""

    def __init__(self, out_dir: Path, request: ConvertRequest, compressed_size: int,
                 *, own_folder: bool = True) -> None:
        if request.process_member is None or request.budget is None:
            raise CorruptFile("archive recursion is not configured")
        if request.depth >= request.limits.archive_max_depth:
            raise ArchiveTooDeep(f"archives are nested more than {request.limits.archive_max_depth} deep")
        self.request = request
        self.budget: Budget = request.budget
        self.process: Callable[[Path, str, str, int], Report] = request.process_member
        self.compressed_size = max(compressed_size, 1)
        self.staging = out_dir / f".extract-{request.stem}"
        self.staging.mkdir(parents=True, exist_ok=True)
        folder = f"{request.rel_dir}/{request.stem}" if own_folder else request.rel_dir
        self.members_dir = folder.strip("/")
        self.reports: list[Report] = []
        self.findings: list[Finding] = []
        self.produced = 0

    def check_declared(self, sizes: list[int], compressed: int) -> None:
        limits = self.request.limits
        total = sum(sizes)
        if total > limits.archive_max_total_bytes - self.budget.expanded_bytes:
            raise DecompressionBomb("the archive declares more content than the allowed total size")
        if total > limits.archive_ratio_grace_bytes and total > limits.archive_max_ratio * max(compressed, 1):
            raise DecompressionBomb("the archive expands far more than normal files do (zip bomb)")

    def copy_limited(self, source: IO[bytes], target: Path) -> None:
        limits = self.request.limits
        with target.open("wb") as sink:
            while True:
                chunk = source.read(CHUNK)
                if not chunk:
                    return
                self.account(len(chunk))
                if self.produced > limits.archive_ratio_grace_bytes and (
                        self.produced > limits.archive_max_ratio * self.compressed_size):
                    raise DecompressionBomb("the archive expands far more than normal files do (zip bomb)")
                sink.write(chunk)

    def account(self, count: int) -> None:
        self.produced += count
        self.budget.add_bytes(count)

    def member(self, extracted: Path, name: str) -> None:
        safe = safe_relative_path(name)
        if safe != name.replace("\\", "/").strip("/"):
            self.findings.append(Finding("archive_path_sanitised", safe))
        folder = "/".join(filter(None, [self.members_dir, *safe.split("/")[:-1]]))
        report = self.process(extracted, safe, folder, self.request.depth + 1)
        self.reports.append(report)
        extracted.unlink(missing_ok=True)

    def staged(self) -> Path:
        return self.staging / f"member-{len(self.reports)}"

    def finish(self) -> Conversion:
        shutil.rmtree(self.staging, ignore_errors=True)
        if not self.reports:
            raise CorruptFile("the archive holds no files")
        outcomes = {report.outcome for report in self.reports}
        if outcomes == {"blocked"}:
            raise AllMembersBlocked(self.reports)
        removed = [r.input for r in self.reports if r.outcome == "blocked"]
        self.findings.extend(Finding("archive_member_removed", name) for name in removed)
        outcome: Outcome = "passed" if outcomes == {"passed"} and not self.findings else "sanitized"
        return Conversion(outcome, [], self.findings, members=self.reports)


class ZipConverter(Converter):

    def convert(self, src: Path, out_dir: Path, request: ConvertRequest) -> Conversion:
        job = Extraction(out_dir, request, src.stat().st_size)
        try:
            with zip_damage("the ZIP archive"), zipfile.ZipFile(src) as archive:
                infos = file_members(archive, "the ZIP archive")
                if any(info.flag_bits & ZIP_ENCRYPTED_FLAGS for info in infos):
                    raise EncryptedArchive(ENCRYPTED_REASON)
                job.check_declared([i.file_size for i in infos], sum(i.compress_size for i in infos))
                for info in infos:
                    name = decode_zip_name(info)
                    mode = info.external_attr >> 16
                    if stat.S_ISLNK(mode):
                        job.findings.append(Finding("archive_link_skipped", safe_relative_path(name)))
                        continue
                    job.budget.add_member()
                    target = job.staged()
                    with archive.open(info) as member:
                        job.copy_limited(member, target)
                    job.member(target, name)
        finally:
            shutil.rmtree(job.staging, ignore_errors=True)
        return job.finish()


class TarConverter(Converter):

    def convert(self, src: Path, out_dir: Path, request: ConvertRequest) -> Conversion:
        job = Extraction(out_dir, request, src.stat().st_size)
        try:
            with tarfile.open(src, mode="r:") as archive:
                members = archive.getmembers()
                job.check_declared([m.size for m in members if m.isreg()], src.stat().st_size)
                for member in members:
                    if member.isdir():
                        continue
                    if not member.isreg():
                        job.findings.append(Finding("archive_link_skipped", safe_relative_path(member.name)))
                        continue
                    job.budget.add_member()
                    handle = archive.extractfile(member)
                    if handle is None:
                        continue
                    target = job.staged()
                    with handle:
                        job.copy_limited(handle, target)
                    job.member(target, member.name)
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:  # what tarfile raises on damage
            raise CorruptFile(_tar_failure(exc)) from exc
        finally:
            shutil.rmtree(job.staging, ignore_errors=True)
        return job.finish()


def open_compressed(mime: str, path: Path) -> IO[bytes]:
    if mime == "application/gzip":
        return cast(IO[bytes], gzip.open(path, "rb"))
    if mime == "application/x-bzip2":
        return cast(IO[bytes], bz2.open(path, "rb"))
    return cast(IO[bytes], lzma.open(path, "rb"))


# what gzip, bz2 and lzma raise on a damaged stream (gzip.BadGzipFile and bz2's "Invalid data
# stream" are OSErrors without an errno)
COMPRESSED_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError)
_GZIP_SENTENCES = (
    ("CRC check failed", "the compressed file's checksum does not match its content (the data is damaged)"),
    ("Incorrect length", "the compressed file's recorded length does not match its content"),
    ("Not a gzipped file", "the compressed file is damaged (unreadable data where a gzip header should be)"),
)


def compressed_failure(exc: BaseException) -> ConverterError | None:
    """The specific outcome for what gzip, bz2 or lzma raised while a single compressed file was
    read; None for an OSError that is not about the file."""
    if isinstance(exc, EOFError):
        return CorruptFile("the compressed file is cut short")
    if isinstance(exc, (zlib.error, lzma.LZMAError)):
        return CorruptFile("the compressed data is damaged")
    if isinstance(exc, OSError) and exc.errno is None:
        message = str(exc)
        if message.startswith("Unknown compression method"):
            return UnsupportedCompression("the compressed file uses a compression method the gateway cannot read")
        for start, sentence in _GZIP_SENTENCES:
            if message.startswith(start):
                return CorruptFile(sentence)
        return CorruptFile("the compressed file is damaged")
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return ConverterError("the file needs more disk space than allowed", code="resource_limit")
    return None


def _tar_failure(exc: BaseException) -> str:
    message = str(exc)
    if isinstance(exc, EOFError) or "unexpected end of data" in message or message.startswith("truncated"):
        return "the tar archive is cut short"
    if "bad checksum" in message:
        return "a header in the tar archive fails its checksum (the archive is damaged)"
    return "the tar archive is damaged"


INNER_SUFFIX = {"application/gzip": ".gz", "application/x-bzip2": ".bz2", "application/x-xz": ".xz"}


class CompressedFileConverter(Converter):
    """gzip / bzip2 / xz: one compressed file; its content is disarmed as a member."""


    def convert(self, src: Path, out_dir: Path, request: ConvertRequest) -> Conversion:
        job = Extraction(out_dir, request, src.stat().st_size, own_folder=False)
        base = request.original_name.rsplit("/", 1)[-1]
        suffix = INNER_SUFFIX[request.detected_type]
        if base.lower().endswith(".tgz"):
            inner_name = base[:-4] + ".tar"
        elif base.lower().endswith(suffix) and len(base) > len(suffix):
            inner_name = base[: -len(suffix)]
        else:
            inner_name = stem_of(base)
        try:
            job.budget.add_member()
            target = job.staged()
            with open_compressed(request.detected_type, src) as stream:
                job.copy_limited(stream, target)
            job.member(target, inner_name)
        except COMPRESSED_ERRORS as exc:
            failure = compressed_failure(exc)
            if failure is None:  # an I/O error of the machine, not of the file
                raise
            raise failure from exc
        finally:
            shutil.rmtree(job.staging, ignore_errors=True)
        return job.finish()
