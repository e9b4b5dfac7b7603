"""Disarm one input: detect its type by content, apply the type policy, run its converter, and
recurse into archive members. Every failure becomes a ``blocked`` report; nothing is passed
that a converter did not produce."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from converters.base import Budget, ConvertRequest, Finding, Limits, Method, Report
from converters.detect import SCRIPT_EXTENSIONS, detect, extension_agrees, extension_of
from converters.errors import ConverterError
from converters.formats.archive import FOLDER_TYPES
from converters.layout import Layout
from converters.names import safe_component
from converters.protocol import FrameWriter
from converters.registry import RASTER_ONLY, converter_for

log = logging.getLogger(__name__)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
CSV_EXTENSIONS = frozenset({"csv", "tsv"})
# Ichitaro (JustSystems) documents are OLE compound files the gateway cannot read: said plainly, not by MIME type
ICHITARO_EXTENSIONS = frozenset({"jtd", "jtdc", "jtt", "jttc", "jbw", "jfw", "jvw", "juf", "jaw", "jsw"})
FRAMES_FILE = ".raster-frames"


class Engine:
    """Processes one top-level input and all its members inside one output root."""

    def __init__(self, out_root: Path, method: Method, limits: Limits,
                 frames: FrameWriter | None = None, warm_office: object = None) -> None:
        """``frames`` receives rasterised pages; without one they go to ``out_root/FRAMES_FILE``."""
        self.out_root = out_root
        self._frames = frames
        self.warm_office = warm_office
        self.method: Method = method
        self.limits = limits
        self.budget = Budget(limits)
        self.layout = Layout()  # names of files and folders, unique within each folder

    @property
    def frames(self) -> FrameWriter:
        if self._frames is None:
            self._frames = FrameWriter((self.out_root / FRAMES_FILE).open("wb"))
        return self._frames

    def process(self, src: Path, name: str, rel_dir: str = "", depth: int = 0) -> Report:
        report = Report(input=name, type="application/octet-stream", outcome="blocked",
                        method=self.method)
        try:
            self._process(src, name, rel_dir, depth, report)
        except ConverterError as exc:
            self._block(report, exc.code, exc.reason)
            members = getattr(exc, "members", None)
            if members is not None:
                report.members = members
        except (MemoryError, RecursionError):
            self._block(report, "resource_limit", "the file needs more memory than allowed")
        except Exception as exc:  # a converter crash blocks this file, never passes it
            log.warning("converter crashed on a %s: %s", report.type, type(exc).__name__)
            self._block(report, "converter_crashed", "the file could not be processed safely")
        return report

    @staticmethod
    def _block(report: Report, code: str, reason: str) -> None:
        report.outcome = "blocked"
        report.outputs = []
        report.reason = reason
        report.reason_code = code

    def _process(self, src: Path, name: str, rel_dir: str, depth: int, report: Report) -> None:
        size = report.size = src.stat().st_size
        report.sha256 = file_sha256(src)
        if size > self.limits.max_input_bytes:
            raise ConverterError("the file is larger than the size limit", code="too_large")
        detection = detect(src)
        report.type = detection.type
        raster_only = self.method == "rasterize" and detection.type in RASTER_ONLY
        if detection.blocked_code is not None and not raster_only:
            raise ConverterError(f"blocked: {detection.blocked_reason}", code=detection.blocked_code)
        script = {extension_of(name), extension_of(safe_component(name.rsplit("/", 1)[-1]))} & SCRIPT_EXTENSIONS
        if script:  # as written, and as it would be saved (invisible characters gone)
            raise ConverterError(
                f"blocked: .{min(script)} files are scripts or shortcuts that Windows runs", code="script")
        if not extension_agrees(name, detection.type):
            report.findings.append(Finding(
                "extension_mismatch", f".{extension_of(name)} but the content is {detection.type}"))
        mime = detection.type
        if mime == "text/plain" and extension_of(name) in CSV_EXTENSIONS:
            mime = report.type = "text/csv"
        converter = converter_for(mime, self.method)
        if converter is None:
            if mime == "application/x-ole-storage" and extension_of(name) in ICHITARO_EXTENSIONS:
                raise ConverterError(
                    "blocked: Ichitaro (一太郎) documents are not supported; ask the sender for a PDF",
                    code="unsupported_type")
            raise ConverterError(f"blocked: files of type {mime} are not supported",
                                 code="unsupported_type")
        rel_dir = self.layout.folder(rel_dir)
        out_dir = self.out_root / rel_dir if rel_dir else self.out_root
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = self.layout.stem(rel_dir, name, makes_folder=mime in FOLDER_TYPES)
        request = ConvertRequest(
            method=self.method, limits=self.limits, stem=stem,
            original_name=name, detected_type=mime, rel_dir=rel_dir, depth=depth,
            process_member=self.process, budget=self.budget,
            frames=self.frames if self.method == "rasterize" else None, warm_office=self.warm_office)
        conversion = converter.convert(src, out_dir, request)
        for output in conversion.outputs:
            self.layout.wrote(rel_dir, output.path)
        prefix = f"{rel_dir}/" if rel_dir else ""
        report.outcome = conversion.outcome
        report.outputs = [type(o)(prefix + o.path, o.type) for o in conversion.outputs]
        report.findings.extend(conversion.findings)
        report.members = conversion.members
        if report.findings and report.outcome == "passed" and any(
                f.code == "extension_mismatch" for f in report.findings):
            report.outcome = "sanitized"
