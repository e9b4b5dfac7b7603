"""Taking converter outputs into the trusted side and handing them out.

- ``open_beneath`` opens a file under a directory without following any symbolic link, at any
  level, so nothing a sandboxed process left behind can redirect a read.
- ``OutputNamer`` chooses every delivered name here, never in the sandbox: the converter's
  folder and stem, made safe, with the extension of the output's (verified) type, unique without
  regard to case (as Windows sees names).
- ``write_zip`` packs verified files with UTF-8 names and fresh timestamps.
- ``publish_beside`` places a verified file in the destination, never overwriting what is there.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
import zipfile
from pathlib import Path

from converters.detect import output_extension
from converters.names import safe_component, stem_of
from converters.ooxml_package import MACRO_FREE_PACKAGE
from converters.protocol import ODF_TYPES

# the only types that are delivered, and their extension; Office packages only as the macro-free
# kinds (a template stays a template: .dotm arrives as .dotx, .ppsm as .ppsx)
EXTENSION_FOR_TYPE: dict[str, str] = {
    "application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/bmp": "bmp",
    "image/tiff": "tif", "text/plain": "txt", "text/csv": "csv", "application/zip": "zip",
    **{mime: output_extension(mime) for mime in MACRO_FREE_PACKAGE.values()},
    **ODF_TYPES,
}
COPY_CHUNK = 1024 * 1024


def open_beneath(root: Path, relative: str) -> int:
    """Open ``root/relative`` for reading without following symlinks anywhere below ``root``;
    the result must be a regular file. Raises OSError otherwise."""
    parts = relative.split("/")
    directory = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=directory)
            os.close(directory)
            directory = child
        descriptor = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=directory)
    finally:
        os.close(directory)
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise OSError("not a regular file")
    return descriptor


def copy_beneath(root: Path, relative: str, target: Path, limit: int) -> int:
    """Copy a converter output into a directory only this process writes; return its size."""
    source = open_beneath(root, relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    try:
        sink = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        try:
            while chunk := os.read(source, COPY_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise OSError("output larger than allowed")
                os.write(sink, chunk)
        finally:
            os.close(sink)
    finally:
        os.close(source)
    return size


class OutputNamer:
    """Unique, safe, case-insensitively distinct relative paths for delivered files."""

    def __init__(self) -> None:
        self.files: set[str] = set()
        self.dirs: dict[str, str] = {}

    def _free(self, candidate: str, prefix: str) -> bool:
        key = f"{prefix}{candidate}".casefold()
        return key not in self.files and key not in self.dirs

    def name(self, converter_path: str, mime: str) -> str:
        *folders, filename = converter_path.split("/")
        prefix = ""
        for folder in folders:
            component = safe_component(folder)
            key = f"{prefix}{component}".casefold()
            if key in self.dirs:
                component = self.dirs[key].rsplit("/", 1)[-1]
            else:
                base, counter = component, 2
                while not self._free(component, prefix):
                    component = f"{base} ({counter})"
                    counter += 1
                self.dirs[f"{prefix}{component}".casefold()] = f"{prefix}{component}"
            prefix = f"{prefix}{component}/"
        stem = stem_of(filename)
        extension = EXTENSION_FOR_TYPE[mime]
        candidate, counter = f"{stem}.{extension}", 2
        while not self._free(candidate, prefix):
            candidate = f"{stem} ({counter}).{extension}"
            counter += 1
        self.files.add(f"{prefix}{candidate}".casefold())
        return f"{prefix}{candidate}"


def write_zip(target: Path, entries: list[tuple[str, Path | bytes]]) -> None:
    """Pack ``(name in archive, file or its bytes)`` pairs; names are UTF-8 (flagged), times are now."""
    now = time.localtime()[:6]
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(descriptor, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=now)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            if isinstance(path, bytes):
                archive.writestr(info, path)
                continue
            with path.open("rb") as source, archive.open(info, "w", force_zip64=True) as sink:
                while chunk := source.read(COPY_CHUNK):
                    sink.write(chunk)


def publish_beside(source: Path, out_dir: Path, filename: str) -> Path:
    """Place ``source`` in ``out_dir`` as ``filename`` (or ``name (2).ext`` ...), never
    overwriting anything already there."""
    stem, dot, ext = filename.rpartition(".")
    if not dot:
        stem, ext = filename, ""
    temporary = out_dir / f".incoming-{os.getpid()}-{time.monotonic_ns()}"
    shutil.copyfile(source, temporary)
    try:
        for counter in range(1, 10_000):
            target = out_dir / (filename if counter == 1 else f"{stem} ({counter}){dot}{ext}")
            try:
                os.link(temporary, target)
                return target
            except FileExistsError:
                continue
        raise OSError("no free output name")
    finally:
        temporary.unlink(missing_ok=True)
