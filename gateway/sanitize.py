"""Disarm one file end to end: copy it into a job directory, convert it in the sandbox,
validate the report, build rasterised PDFs on the trusted side, verify every output in a second
sandboxed run, and only then write the verified outputs to the destination directory.

The result is the ``gateway sanitize`` JSON object of CONTRACT.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converters.base import RASTER_FRAMES_TYPE, Method, Output, Report
from converters.errors import ConverterError
from converters.names import safe_component, stem_of
from converters.raster_pdf import assemble
from gateway.config import Settings
from gateway.errors import GatewayError, ReportInvalid, SandboxFailure
from gateway.report import parse_report
from gateway.sandbox import Bind, Sandbox

log = logging.getLogger(__name__)
JOB_IN, JOB_OUT, JOB_SCRATCH, JOB_RASTER = "/job/in", "/job/out", "/job/scratch", "/job/raster"


@dataclass
class _Job:
    """One input's scratch space. ``out`` and ``scratch`` are writable by the sandbox; ``raster``
    is written only by this process (PDFs built from streamed pixels)."""

    root: Path
    input: Path
    out: Path
    scratch: Path
    raster: Path
    sandboxed: bool
    raster_paths: frozenset[str] = frozenset()

    def binds(self) -> list[Bind]:
        return [Bind(self.input.parent, JOB_IN), Bind(self.out, JOB_OUT, writable=True),
                Bind(self.scratch, JOB_SCRATCH, writable=True), Bind(self.raster, JOB_RASTER)]

    def inside(self, path: Path) -> str:
        """``path`` as the sandboxed child sees it."""
        if not self.sandboxed:
            return str(path)
        for real, seen in ((self.input.parent, JOB_IN), (self.out, JOB_OUT),
                           (self.scratch, JOB_SCRATCH), (self.raster, JOB_RASTER)):
            if path == real or real in path.parents:
                return seen + "/" + path.relative_to(real).as_posix() if path != real else seen
        raise ValueError("path outside the job")

    def locate(self, output: Output) -> Path:
        """Where an output's bytes are: PDFs built here from pixels, or the converter's files."""
        return self.raster / output.path if output.path in self.raster_paths else self.out / output.path


class _Assembly:
    """Builds PDFs from the pixel stream of a sandboxed converter (runs on its own thread)."""

    def __init__(self) -> None:
        self.built: list[str] = []
        self.error: ConverterError | None = None

    def run(self, descriptor: int, root: Path, settings: Settings) -> None:
        with os.fdopen(descriptor, "rb", buffering=1024 * 1024) as stream:
            try:
                self.built = assemble(stream, root, max_pixels=settings.limits.max_image_pixels,
                                      max_pages=settings.limits.max_pages,
                                      workers=settings.sanitize.raster_workers)
            except ConverterError as exc:
                self.error = exc
            finally:
                while stream.read(1024 * 1024):  # drain, so a failing child is never stuck writing
                    pass


def _copy_hashing(src: Path, target: Path, limit: int) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with src.open("rb") as source, target.open("wb") as sink:
        while chunk := source.read(1024 * 1024):
            size += len(chunk)
            if size > limit:
                raise ConverterError("the file is larger than the size limit", code="too_large")
            digest.update(chunk)
            sink.write(chunk)
    target.chmod(0o644)
    return digest.hexdigest(), size


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _block(report: Report, code: str, reason: str) -> None:
    report.outcome, report.outputs = "blocked", []
    report.reason_code, report.reason = code, reason


def _walk(report: Report) -> Iterator[Report]:
    yield report
    for member in report.members or []:
        yield from _walk(member)


def _publish(source: Path, out_dir: Path, filename: str) -> Path:
    """Place ``source`` in ``out_dir`` under ``filename`` (or ``name (2).ext``...), never
    overwriting anything already there."""
    stem, dot, ext = filename.rpartition(".")
    if not dot:
        stem, ext = filename, ""
    temporary = out_dir / f".incoming-{os.getpid()}-{time.monotonic_ns()}"
    shutil.copyfile(source, temporary)
    try:
        for counter in range(1, 10_000):
            name = filename if counter == 1 else f"{stem} ({counter}){dot}{ext}"
            target = out_dir / name
            try:
                os.link(temporary, target)
                return target
            except FileExistsError:
                continue
        raise OSError("no free output name")
    finally:
        temporary.unlink(missing_ok=True)


class Sanitizer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sandbox = Sandbox(settings.sandbox)

    def sanitize(self, src: Path, out_dir: Path, method: Method | None = None,
                 display_name: str | None = None) -> dict[str, Any]:
        started = time.monotonic()
        chosen: Method = method or self.settings.sanitize.method
        name = display_name or src.name
        work = Path(tempfile.mkdtemp(prefix="gw-job-", dir=self.settings.work_dir))
        try:
            work.chmod(0o711)
            job = _Job(work, work / "in" / "input", work / "out", work / "scratch", work / "raster",
                       self.settings.sandbox.mode != "none")
            job.input.parent.mkdir(mode=0o755)
            job.raster.mkdir(mode=0o755)
            self.sandbox.prepare_writable(job.out)
            self.sandbox.prepare_writable(job.scratch)
            report = Report(input=name, type="application/octet-stream", outcome="blocked", method=chosen)
            try:
                report.sha256, report.size = _copy_hashing(
                    src, job.input, self.settings.limits.max_input_bytes)
                report, job.raster_paths = self._convert(job, name, chosen, report)
                verified = self._finish_outputs(job, report)
                result = self._deliver(job, report, out_dir, verified)
            except ConverterError as exc:
                _block(report, exc.code, exc.reason)
                result = self._describe(report, out_dir, {}, False)
            except SandboxFailure as exc:
                _block(report, exc.code, exc.reason)
                result = self._describe(report, out_dir, {}, False)
            result["input"] = str(src) if display_name is None else display_name
            result["sha256"], result["size"] = report.sha256, report.size
            result["duration_ms"] = round((time.monotonic() - started) * 1000)
            return result
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _convert(self, job: _Job, name: str, method: Method,
                 fallback: Report) -> tuple[Report, frozenset[str]]:
        """Run the converter in the sandbox while a thread builds PDFs from the pixels it streams."""
        read_end, write_end = os.pipe()
        assembled = _Assembly()
        reader = threading.Thread(target=assembled.run, args=(read_end, job.raster, self.settings),
                                  daemon=True)
        reader.start()
        argv = self.sandbox.python_argv(
            "convert", "--input", job.inside(job.input), "--name", name, "--out", job.inside(job.out),
            "--method", method, "--limits", json.dumps(self.settings.limits.to_dict()),
            "--frames-fd", str(write_end))
        try:
            result = self.sandbox.run(argv, job.binds(), pass_fds=(write_end,))
        finally:
            reader.join()
        report = parse_report(result.stdout, job.out, method, frozenset(assembled.built))
        if assembled.error is not None and any(
                o.type == RASTER_FRAMES_TYPE for r in _walk(report) for o in r.outputs):
            raise assembled.error
        report.sha256, report.size = fallback.sha256, fallback.size
        return report, frozenset(assembled.built)

    def _finish_outputs(self, job: _Job, top: Report) -> dict[str, bool]:
        """Verify every output in a second sandboxed run; returns verdicts by output path."""
        for report in _walk(top):
            report.outputs = [Output(o.path, "application/pdf") if o.type == RASTER_FRAMES_TYPE else o
                              for o in report.outputs]
        outputs = [o for r in _walk(top) for o in r.outputs]
        if not outputs:
            return {}
        verdicts = self._inspect(job, outputs)
        for report in _walk(top):
            problems = [p for o in report.outputs for p in verdicts.get(o.path, ["not inspected"])]
            if problems:
                log.warning("verification failed for a %s: %s", report.type, "; ".join(problems)[:300])
                _block(report, "verification_failed",
                       "the disarmed output failed the independent check: " + "; ".join(problems)[:300])
        self._settle_archives(top)
        return {path: not problems for path, problems in verdicts.items()}

    def _inspect(self, job: _Job, outputs: list[Output]) -> dict[str, list[str]]:
        argv = self.sandbox.python_argv("inspect", "--scratch", job.inside(job.scratch),
                                        *[job.inside(job.locate(o)) for o in outputs])
        result = self.sandbox.run(argv, job.binds())
        try:
            verdicts = json.loads(result.stdout)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ReportInvalid("inspector report is not valid JSON") from exc
        if not isinstance(verdicts, list) or len(verdicts) != len(outputs):
            raise ReportInvalid("inspector report does not cover every output")
        by_path: dict[str, list[str]] = {}
        for output, verdict in zip(outputs, verdicts, strict=True):
            problems = verdict.get("problems") if isinstance(verdict, dict) else None
            clean = isinstance(verdict, dict) and verdict.get("clean") is True and problems == []
            found = problems or ["unreadable verdict"]
            by_path[output.path] = [] if clean else [str(p)[:200] for p in found]
        return by_path

    @staticmethod
    def _settle_archives(report: Report) -> None:
        """After verification, an archive whose members are now all blocked is itself blocked."""
        for member in report.members or []:
            Sanitizer._settle_archives(member)
        if report.members is not None and report.outcome != "blocked":
            if all(m.outcome == "blocked" for m in report.members):
                _block(report, "archive_all_members_blocked", "every file in the archive was blocked")
            elif any(m.outcome != "passed" for m in report.members):
                report.outcome = "sanitized"

    def _deliver(self, job: _Job, report: Report, out_dir: Path, verdicts: dict[str, bool]) -> dict[str, Any]:
        out_dir.mkdir(parents=True, exist_ok=True)
        published: dict[str, dict[str, str]] = {}
        if report.outcome == "blocked":
            return self._describe(report, out_dir, published, False)
        if report.members is not None:
            archive = job.scratch / "repacked.zip"
            prefix = stem_of(report.input) + "/"
            with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as packed:
                for member in _walk(report):
                    for output in member.outputs:
                        arcname = output.path[len(prefix):] if output.path.startswith(prefix) else output.path
                        packed.write(job.locate(output), arcname)
            target = _publish(archive, out_dir, f"{stem_of(report.input)}.zip")
            for member in _walk(report):
                for output in member.outputs:
                    arcname = output.path[len(prefix):] if output.path.startswith(prefix) else output.path
                    published[output.path] = {"path": arcname, "container": str(target),
                                              "sha256": _sha256(job.locate(output)), "type": output.type}
            report.outputs = [Output(target.name, "application/zip")]
            published[target.name] = {"path": str(target), "sha256": _sha256(target),
                                      "type": "application/zip"}
        else:
            for output in report.outputs:
                filename = safe_component(Path(output.path).name)
                target = _publish(job.locate(output), out_dir, filename)
                published[output.path] = {"path": str(target), "sha256": _sha256(target), "type": output.type}
        all_verified = bool(verdicts) and all(verdicts.values())
        return self._describe(report, out_dir, published, all_verified)

    def _describe(self, report: Report, out_dir: Path, published: dict[str, dict[str, str]],
                  verified: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "input": report.input, "sha256": report.sha256, "size": report.size, "type": report.type,
            "outcome": report.outcome, "method": report.method,
            "outputs": [published[o.path] for o in report.outputs if o.path in published],
            "findings": [f.to_dict() for f in report.findings],
            "reason": report.reason, "reason_code": report.reason_code,
            "verified": verified and report.outcome != "blocked",
        }
        if report.members is not None:
            data["members"] = [self._describe(m, out_dir, published, verified) for m in report.members]
        return data


def sanitize_paths(settings: Settings, paths: list[Path], out_dir: Path,
                   method: Method | None) -> Iterator[dict[str, Any]]:
    """Sanitise each path in turn; a failure of one never stops the others."""
    sanitizer = Sanitizer(settings)
    for path in paths:
        try:
            yield sanitizer.sanitize(path, out_dir, method)
        except GatewayError as exc:
            yield {"input": str(path), "outcome": "blocked", "reason": exc.reason,
                   "reason_code": exc.code, "outputs": [], "findings": [], "verified": False}
