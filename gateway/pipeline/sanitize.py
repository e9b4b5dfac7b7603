"""Disarm one file end to end.

1. Copy the input into a fresh job directory (hashing it on the way).
2. Convert it in the sandbox; rasterised pages stream over a pipe to a thread here that builds
   the PDFs in ``final/`` (a directory only this process writes). A file that needs neither
   LibreOffice nor pixels is converted (and later verified) in a child forked by a sandboxed
   zygote instead of a sandbox started for it; its outputs come back through a pipe.
3. Validate the converter's report, then copy each output it names from ``out/`` into ``final/``
   (no symlink followed), under a name chosen here from the output's type.
   Before that, the input is scanned for malware (``gateway/pipeline/scan.py``): a hit blocks
   it (``malware``), an engine that cannot scan defers the job or blocks it, by configuration.
4. Verify everything in ``final/`` in a second sandboxed run that can only read it (and, with
   ``[antivirus] scan_outputs``, scan every output).
5. Publish the verified files (an archive as one ZIP) into the destination, never overwriting.

The result is the ``gateway sanitize`` JSON object of docs/CONTRACT.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from converters.base import RASTER_FRAMES_TYPE, Finding, Method, Output, Report
from converters.engine import file_sha256
from converters.errors import ConverterError
from converters.names import stem_of
from gateway.config import Settings
from gateway.errors import GatewayError, ReportInvalid, SandboxCrash
from gateway.pipeline.jobs import JOB_FINAL, JOB_IN, JOB_OUT, JOB_SCRATCH, Job, create_job
from gateway.pipeline.outputs import OutputNamer, copy_beneath, publish_beside, write_zip
from gateway.pipeline.progress import Stage
from gateway.pipeline.raster_pdf import PixelAssembly
from gateway.pipeline.report import parse_report
from gateway.pipeline.scan import FINDING_MALWARE, NOT_SCANNED, MalwareStage, ScanDeferred
from gateway.pipeline.spares import Spare, SparePool, needs_libreoffice
from gateway.pipeline.verdicts import parse_verdicts
from gateway.sandbox.runner import Running, Sandbox
from gateway.sandbox.zygote import AnswerTooLarge, Zygote

log = logging.getLogger(__name__)
FORKED_MAX_INPUT = 64 * 1024 * 1024  # larger inputs get a sandbox of their own (outputs stay on disk)
# a relative path without empty, "." or ".." components (outputs of the forked converter)
OUTPUT_PATH = re.compile(r"(?!(?:.*/)?\.{1,2}(?:/|$))[^/\x00\ud800-\udfff]{1,255}"
                         r"(?:/(?!\.{1,2}(?:/|$))[^/\x00\ud800-\udfff]{1,255}){0,31}")
MAX_FORKED_OUTPUTS = 10_000  # files a forked converter may hand back (archives hold at most 5,000 by default)
MAX_FORKED_DEPTH = 8  # deeper output trees are made again in a per-job sandbox, not written out here
NO_FILES = re.compile(r"(?!)")  # the inspector sends back a report only


def _copy_hashing(src: Path, target: Path, limit: int) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with src.open("rb") as source, target.open("wb") as sink:
        while chunk := source.read(1024 * 1024):
            size += len(chunk)
            if size > limit:
                raise ConverterError("the file is larger than the size limit", code="too_large")
            digest.update(chunk)
            sink.write(chunk)
    return digest.hexdigest(), size


def _block(report: Report, code: str, reason: str) -> None:
    report.outcome, report.outputs = "blocked", []
    report.reason_code, report.reason = code, reason


def _walk(report: Report) -> Iterator[Report]:
    yield report
    for member in report.members or []:
        yield from _walk(member)


class Sanitizer:
    def __init__(self, settings: Settings, *, defer_scans: bool = False) -> None:
        """``defer_scans``: when the antivirus engines cannot scan and ``[antivirus] on_unavailable``
        is "defer", ``sanitize`` raises ``ScanDeferred`` (the service's jobs wait) instead of blocking."""
        self.settings = settings
        self.malware = MalwareStage(settings.antivirus, can_defer=defer_scans)
        self.sandbox = Sandbox(settings.sandbox)
        self.spares = SparePool(self.sandbox, settings.work_dir, settings.sanitize.office_spares)
        self.zygote = Zygote(self.sandbox, preload="files")

    def __enter__(self) -> Sanitizer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.zygote.close()
        self.spares.close()

    def expect(self, paths: list[Path], method: Method | None = None) -> None:
        """Start warm spares now when some of ``paths`` will need LibreOffice."""
        chosen = method or self.settings.sanitize.method
        if any(needs_libreoffice(path, chosen) for path in paths):
            self.spares.fill()

    def sanitize(self, src: Path, out_dir: Path, method: Method | None = None,
                 display_name: str | None = None, progress: Callable[[Stage], None] | None = None) -> dict[str, Any]:
        """``progress``, when given, is told "scanning" before the malware scan of the original and
        "disarming" once the scan let it go on, before its conversion (the uploads worker's note)."""
        started = time.monotonic()
        chosen: Method = method or self.settings.sanitize.method
        name = display_name or src.name
        report = Report(input=name, type="application/octet-stream", outcome="blocked", method=chosen)
        office = needs_libreoffice(src, chosen)
        spare = self.spares.take() if self.sandbox.settings.mode == "bwrap" and office else None
        job = spare.job if spare is not None else create_job(self.sandbox, self.settings.work_dir)
        forked = chosen == "rebuild" and not office and src.stat().st_size <= FORKED_MAX_INPUT
        inspector = None
        held: dict[str, bytes] = {}  # outputs of a forked conversion kept in memory (an archive's many members)
        check = NOT_SCANNED
        try:
            if not forked:
                inspector = self._start_inspector(job)
            report.sha256, report.size = _copy_hashing(src, job.input, self.settings.limits.max_input_bytes)
            job.hand_in(job.input)  # 0600, the sandbox user's
            if progress is not None:
                progress("scanning")
            check = self.malware.check(job.input)  # the original, before anything parses it
            if check.blocked:
                report.findings.extend(Finding(f["code"], f["detail"]) for f in check.findings)
                raise ConverterError(check.reason, code=check.blocked)
            if progress is not None:
                progress("disarming")
            if forked:
                try:
                    report = self._convert_forked(job, name, chosen, report, held)
                except AnswerTooLarge:  # too much to pass back through a pipe: the per-job sandbox instead
                    forked, inspector = False, self._start_inspector(job)
                    report = self._convert(job, name, chosen, report, spare)
            else:
                report = self._convert(job, name, chosen, report, spare)
            report.findings.extend(Finding(f["code"], f["detail"]) for f in check.findings)  # the scan's notes
            verified = self._verify(job, report, inspector, held)
            if self.malware.scan_outputs:
                self._scan_outputs(job, report, held)
            result = self._deliver(job, report, out_dir, verified, held)
        except ScanDeferred:
            raise  # the job waits for the engines: neither blocked nor passed
        except (ConverterError, GatewayError) as exc:
            _block(report, exc.code, exc.reason)
            result = self._describe(report, {}, False)
        except Exception as exc:  # the boundary for one file: whatever went wrong, it is blocked
            log.error("internal error while disarming a file: %s", type(exc).__name__, exc_info=True)
            _block(report, "internal_error", "internal error; the file was not passed")
            result = self._describe(report, {}, False)
        finally:
            for process in (spare.running if spare is not None else None, inspector):
                if process is not None and process.process.poll() is None:
                    self.sandbox.stop(process)
            job.remove()
        result["input"] = str(src) if display_name is None else display_name
        result["sha256"], result["size"] = report.sha256, report.size
        result["scanned"] = check.scanned
        result["signatures"] = sorted({f.detail for r in _walk(report) for f in r.findings
                                       if f.code == FINDING_MALWARE})
        result["duration_ms"] = round((time.monotonic() - started) * 1000)
        return result

    def _start_inspector(self, job: Job) -> Running:
        """The verifying sandbox, started while the conversion runs; it waits for its list."""
        return self.sandbox.spawn(self.sandbox.python_argv(
            "inspect", f"--scratch={job.inside('scratch', JOB_SCRATCH)}/inspect",
            f"--root={job.inside('final', JOB_FINAL)}", "--list=-"), job.inspect_binds(), uid=job.uid,
            with_stdin=True)

    def _convert_forked(self, job: Job, name: str, method: Method, original: Report, held: dict[str, bytes]) -> Report:
        """Convert in a child forked by the sandboxed zygote (no LibreOffice, no pixel stream):
        the outputs come back through the pipe and are named here as from a per-job sandbox. An
        archive's outputs stay in memory (``held``, by their name in ``final/``) until they are
        checked and packed: thousands of small files each created twice on disk took seconds; a
        single file's outputs are written into ``final/``."""
        answer = self.zygote.run("convert", job.input.read_bytes(),
                                 {"name": name, "method": method, "limits": self.settings.limits.to_dict()},
                                 OUTPUT_PATH)
        if len(answer.files) > MAX_FORKED_OUTPUTS or any(n.count("/") >= MAX_FORKED_DEPTH for n in answer.files):
            raise AnswerTooLarge("too many or too deeply nested outputs to write out here")
        names = frozenset(answer.files)
        if any(name[:cut] in names for name in names for cut in range(len(name)) if name[cut] == "/"):
            raise ReportInvalid("the converter named outputs that cannot all exist")  # a file where a folder is
        report = parse_report(json.dumps(answer.report).encode("utf-8"), job.dir("out"), method, present=names)
        report.sha256, report.size = original.sha256, original.size
        namer, budget = OutputNamer(), self.settings.limits.archive_max_total_bytes
        for member in _walk(report):
            taken = []
            for output in member.outputs:
                data = answer.files[output.path]
                budget -= len(data)
                if budget < 0:
                    raise ReportInvalid("the converter's outputs are larger than allowed")
                relative = namer.name(output.path, output.type)
                held[relative] = data
                taken.append(Output(relative, output.type))
            member.outputs = taken
        if report.members is None:  # one file: on disk, published as a per-job sandbox's outputs are
            for relative, data in held.items():
                target = job.dir("final") / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("xb") as handle:
                    handle.write(data)
            held.clear()
        return report

    def _inspect_forked(self, job: Job, outputs: list[Output], held: dict[str, bytes]) -> bytes:
        """The independent check in a forked child: the outputs are sent, not shared (their
        listing, one JSON line, then their bytes)."""
        final = job.dir("final")
        contents = [held[o.path] if o.path in held else (final / o.path).read_bytes() for o in outputs]
        listing = json.dumps([[o.path, len(c)] for o, c in zip(outputs, contents, strict=True)], ensure_ascii=False)
        answer = self.zygote.run("inspect", b"".join([listing.encode("utf-8"), b"\n", *contents]), {}, NO_FILES)
        return json.dumps(answer.report).encode("utf-8")

    def _convert(self, job: Job, name: str, method: Method, original: Report, spare: Spare | None) -> Report:
        """Run the converter (a fresh sandbox, or a warm spare) while a thread builds PDFs from the
        pixels it streams; then take every output it reports into ``final/`` under a name chosen here."""
        limits = self.settings.limits.to_dict()
        assembly = PixelAssembly()
        if spare is not None:
            read_end = spare.frames
        else:
            read_end, write_end = os.pipe()
        reader = threading.Thread(target=assembly.run, args=(read_end, job.dir("final"), self.settings), daemon=True)
        reader.start()
        try:
            if spare is not None:
                try:
                    spare.dispatch(name, method, limits)
                except OSError as exc:
                    self.sandbox.stop(spare.running)
                    raise SandboxCrash("the prepared converter stopped before its document arrived") from exc
                result = self.sandbox.finish(spare.running, input_sha256=original.sha256)
            else:
                argv = self.sandbox.python_argv(
                    "convert", f"--input={job.inside('in', JOB_IN)}/input", f"--name={name}",
                    f"--out={job.inside('out', JOB_OUT)}", f"--method={method}", f"--limits={json.dumps(limits)}",
                    f"--frames-fd={write_end}")
                result = self.sandbox.run(argv, job.convert_binds(), pass_fds=(write_end,), uid=job.uid,
                                          input_sha256=original.sha256)
        finally:
            reader.join()
        built = frozenset(assembly.built)
        report = parse_report(result.stdout, job.dir("out"), method, built)
        report.sha256, report.size = original.sha256, original.size
        if assembly.error is not None and any(o.type == RASTER_FRAMES_TYPE for r in _walk(report) for o in r.outputs):
            raise assembly.error
        self._take_outputs(job, report, built)
        return report

    def _take_outputs(self, job: Job, top: Report, built: frozenset[str]) -> None:
        namer = OutputNamer()
        budget = self.settings.limits.archive_max_total_bytes
        final = job.dir("final")
        for raster in built:  # already in final/, named by the converter's safe path
            namer.files.add(raster.casefold())
        for report in _walk(top):
            taken = []
            for output in report.outputs:
                if output.type == RASTER_FRAMES_TYPE:
                    taken.append(Output(output.path, "application/pdf"))
                    continue
                relative = namer.name(output.path, output.type)
                try:
                    budget -= copy_beneath(job.dir("out"), output.path, final / relative, budget)
                except OSError as exc:
                    raise ReportInvalid("a converter output is not a regular file inside the job") from exc
                taken.append(Output(relative, output.type))
            report.outputs = taken

    def _verify(self, job: Job, top: Report, inspector: Running | None, held: dict[str, bytes]) -> dict[str, bool]:
        """Verify every output in a sandboxed run that can only read them: the inspector started
        while the conversion ran (it gets the list of outputs on its standard input), or without
        one a child forked by the zygote."""
        outputs = [o for r in _walk(top) for o in r.outputs]
        if not outputs:
            return {}
        if inspector is None:
            raw = self._inspect_forked(job, outputs, held)
        else:
            stdin = inspector.process.stdin
            if stdin is None:
                raise SandboxCrash("the inspector has no input")
            job.share_final()
            try:
                stdin.write(json.dumps([o.path for o in outputs]).encode("utf-8") + b"\n")
                stdin.close()
            except OSError as exc:
                raise SandboxCrash("the inspector stopped before its work arrived") from exc
            raw = self.sandbox.finish(inspector).stdout
        verdicts = parse_verdicts(raw, outputs)
        for report in _walk(top):
            problems = [p for o in report.outputs for p in verdicts[o.path]]
            if problems:
                log.warning("verification failed for a %s: %s", report.type, "; ".join(problems)[:300])
                _block(report, "verification_failed",
                       "the disarmed output failed the independent check: " + "; ".join(problems)[:300])
        self._settle_archives(top)
        return {path: not problems for path, problems in verdicts.items()}

    def _scan_outputs(self, job: Job, top: Report, held: dict[str, bytes]) -> None:
        """``scan_outputs``: every verified output scanned as well; a hit (or, by the policies, an
        output that cannot be scanned) blocks the file or archive member it belongs to."""
        final = job.dir("final")
        for report in _walk(top):
            for output in report.outputs:
                data = held.get(output.path)
                check = self.malware.check(data if data is not None else final / output.path, "disarmed output")
                report.findings.extend(Finding(f["code"], f["detail"]) for f in check.findings)
                if check.blocked:
                    _block(report, check.blocked, check.reason)
                    break
        self._settle_archives(top)

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

    def _deliver(self, job: Job, report: Report, out_dir: Path, verdicts: dict[str, bool],
                 held: dict[str, bytes]) -> dict[str, Any]:
        out_dir.mkdir(parents=True, exist_ok=True)
        final = job.dir("final")
        published: dict[str, dict[str, str]] = {}
        if report.outcome == "blocked":
            return self._describe(report, published, False)
        if report.members is not None:
            prefix = stem_of(report.input) + "/"
            entries: list[tuple[str, Path | bytes]] = [(o.path.removeprefix(prefix), held.get(o.path, final / o.path))
                                                       for m in _walk(report) for o in m.outputs]
            archive = job.dir("deliver") / "repacked.zip"
            write_zip(archive, entries)
            target = publish_beside(archive, out_dir, f"{stem_of(report.input)}.zip")
            for member in _walk(report):
                for output in member.outputs:
                    data = held.get(output.path)
                    digest = hashlib.sha256(data).hexdigest() if data is not None else file_sha256(final / output.path)
                    published[output.path] = {"path": output.path.removeprefix(prefix), "container": str(target),
                                              "sha256": digest, "type": output.type}
            report.outputs = [Output(target.name, "application/zip")]
            published[target.name] = {"path": str(target), "sha256": file_sha256(target), "type": "application/zip"}
        else:
            for output in report.outputs:
                target = publish_beside(final / output.path, out_dir, Path(output.path).name)
                published[output.path] = {"path": str(target), "sha256": file_sha256(target), "type": output.type}
        return self._describe(report, published, bool(verdicts) and all(verdicts.values()))

    def _describe(self, report: Report, published: dict[str, dict[str, str]], verified: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "input": report.input, "sha256": report.sha256, "size": report.size, "type": report.type,
            "outcome": report.outcome, "method": report.method,
            "outputs": [published[o.path] for o in report.outputs if o.path in published],
            "findings": [f.to_dict() for f in report.findings],
            "reason": report.reason, "reason_code": report.reason_code,
            "verified": verified and report.outcome != "blocked",
        }
        if report.members is not None:
            data["members"] = [self._describe(m, published, verified) for m in report.members]
        return data


def sanitize_paths(settings: Settings, paths: list[Path], out_dir: Path,
                   method: Method | None) -> Iterator[dict[str, Any]]:
    """Sanitise each path in turn; a failure of one never stops the others (it is blocked)."""
    with Sanitizer(settings) as sanitizer:
        sanitizer.expect(paths, method)
        for path in paths:
            try:
                yield sanitizer.sanitize(path, out_dir, method)
            except Exception as exc:  # process boundary for one file: block it, keep serving the rest
                log.error("internal error on one file: %s", type(exc).__name__, exc_info=True)
                yield {"input": str(path), "outcome": "blocked", "reason": "internal error; the file was not passed",
                       "reason_code": "internal_error", "outputs": [], "findings": [], "verified": False}
