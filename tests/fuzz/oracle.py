"""What counts as a failure when an input is fuzzed, and the key that counts each bug once.

The only acceptable outcome for an input is a report: passed, sanitized, or blocked with a
specific reason code. An internal error is:

- ``crashed``: an exception a converter did not turn into a ConverterError, which the engine
  reports as ``converter_crashed`` (captured here, with its traceback, by a subclass of the engine);
- ``escaped``: an exception leaving the engine, detection, the inspector or the MIME split (in the
  sandbox the child dies: ``converter_crashed``);
- ``report_invalid``: a report the trusted side would refuse (``converter_report_invalid``): not
  encodable as the sandbox sends it, or rejected by ``gateway.pipeline.report.parse_report`` or the mail
  pipeline's own check; a blocked report without a specific code;
- ``inspector_flagged``: a passed or sanitized output that the independent inspector flags or
  types differently from what the converter declared (the gateway would then block it with
  ``verification_failed``: the converter let something through it should have removed or refused);
- ``hang``: an input that ran past the per-input time budget (recorded by the runner's watchdog).

The distinct-failure key is the exception type and the innermost frame in this repository's code
(file and function, not the line: lines move as the code is edited), so one bug found by
many inputs and from several targets counts once."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import traceback
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any
from unittest import mock

from converters.base import Limits, Report
from converters.engine import Engine
from converters.errors import ConverterError

ROOT = Path(__file__).resolve().parents[2]
OUR_CODE = (ROOT / "converters", ROOT / "gateway")
INTERNAL_CODES = frozenset({"converter_crashed", "converter_report_invalid", "converter_error"})


@dataclass
class Failure:
    kind: str
    key: str
    exception: str = ""
    message: str = ""
    frame: str = ""  # innermost frame in our code: file:function:line
    library_frame: str = ""  # innermost frame of all (often in the library that raised)
    trace: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ours(filename: str) -> str | None:
    path = Path(filename)
    for root in OUR_CODE:
        if path.is_relative_to(root):
            return str(path.relative_to(ROOT))
    return None


def _frames_of(tb: TracebackType | None) -> list[tuple[str, str, int]]:
    frames = []
    while tb is not None:
        code = tb.tb_frame.f_code
        frames.append((code.co_filename, code.co_name, tb.tb_lineno))
        tb = tb.tb_next
    return frames


def stack_frames(frame: FrameType | None) -> list[tuple[str, str, int]]:
    """Outermost first, like a traceback."""
    frames = []
    while frame is not None:
        frames.append((frame.f_code.co_filename, frame.f_code.co_name, frame.f_lineno))
        frame = frame.f_back
    return frames[::-1]


def locate(frames: list[tuple[str, str, int]]) -> tuple[str, str]:
    """(innermost frame in our code, innermost frame of all)."""
    ours = ""
    for filename, function, line in reversed(frames):
        relative = _ours(filename)
        if relative is not None:
            ours = f"{relative}:{function}:{line}"
            break
    library = ""
    if frames:
        filename, function, line = frames[-1]
        library = f"{_ours(filename) or Path(filename).name}:{function}:{line}"
    return ours, library


def exception_name(exc: BaseException) -> str:
    kind = type(exc)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def failure_from(kind: str, exc: BaseException) -> Failure:
    frames = _frames_of(exc.__traceback__)
    ours, library = locate(frames)
    where = ours.rsplit(":", 1)[0] if ours else library.rsplit(":", 1)[0]
    name = exception_name(exc)
    trace = [line.rstrip() for line in traceback.format_exception(exc)][-6:]
    return Failure(kind, f"{name}@{where}", name, str(exc)[:300], ours, library, trace)


class TracingEngine(Engine):
    """The engine as the gateway runs it, keeping each exception it turns into converter_crashed
    (and into resource_limit) with its traceback instead of only the exception's name."""

    def __init__(self, out_root: Path, limits: Limits) -> None:
        super().__init__(out_root, "rebuild", limits)
        self.crashes: list[BaseException] = []
        self.resource: list[BaseException] = []

    def _process(self, src: Path, name: str, rel_dir: str, depth: int, report: Report) -> None:
        try:
            super()._process(src, name, rel_dir, depth, report)
        except ConverterError:
            raise
        except (MemoryError, RecursionError) as exc:
            self.resource.append(exc)
            raise
        except Exception as exc:
            self.crashes.append(exc)
            raise


def walk(report: Report) -> Iterator[Report]:
    yield report
    for member in report.members or []:
        yield from walk(member)


def _problem_head(problem: str) -> str:
    return problem.split(":", 1)[0].split(" ", 1)[0][:60]


class Check:
    """One input's verdict: the outcome label for the statistics and the failures found."""

    def __init__(self) -> None:
        self.outcome = ""
        self.failures: list[Failure] = []


def _encode(data: Any) -> bytes:
    """As the sandboxed child sends its answer (converters/__main__.py, converters/zygote.py)."""
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def unencodable_field(data: Any, path: str = "") -> str:
    """Where in a report the first string stands that UTF-8 cannot carry (a lone surrogate):
    list indexes are written [], so one field counts once."""
    if isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            return path or "(top)"
        return ""
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        if isinstance(key, str) and unencodable_field(key):
            return f"{path}.<key>"
        found = unencodable_field(value, f"{path}[]" if isinstance(key, int) else f"{path}.{key}")
        if found:
            return found
    return ""


def _unencodable(data: Any, exc: Exception) -> Failure:
    failure = failure_from("report_invalid", exc)
    field = unencodable_field(data) if isinstance(exc, UnicodeEncodeError) else ""
    failure.key = f"report_unencodable:{field or failure.exception}"
    failure.message = f"the report cannot be sent as UTF-8 JSON ({failure.exception} at {field or '?'}): " \
                      "the sandboxed child dies writing it"
    return failure


def check_engine(src: Path, name: str, work: Path, limits: Limits) -> Check:
    from converters.inspect.outputs import inspect_file
    from gateway.errors import ReportInvalid
    from gateway.pipeline.report import parse_report
    from gateway.pipeline.verdicts import types_agree

    check = Check()
    out = work / "out"
    out.mkdir()
    engine = TracingEngine(out, limits)
    try:
        report = engine.process(src, name)
    except BaseException as exc:  # nothing may leave the engine
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        check.outcome = "escaped"
        check.failures.append(failure_from("escaped", exc))
        return check
    check.outcome = report.outcome if report.outcome != "blocked" else f"blocked:{report.reason_code}"
    check.failures.extend(failure_from("crashed", exc) for exc in engine.crashes)
    crashed = [r for r in walk(report) if r.reason_code in INTERNAL_CODES or (r.outcome == "blocked"
                                                                              and not r.reason_code)]
    if crashed and not engine.crashes:  # a code set without an exception behind it
        check.failures.append(Failure("crashed", f"report:{crashed[0].reason_code}", message=crashed[0].reason or ""))
    try:
        raw = _encode(report.to_dict())
    except (UnicodeError, ValueError, TypeError, RecursionError) as exc:
        check.failures.append(_unencodable(report.to_dict(), exc))
        return check
    try:
        parse_report(raw, out, "rebuild")
    except ReportInvalid as exc:
        check.failures.append(Failure("report_invalid", f"ReportInvalid:{exc.reason}", "ReportInvalid", exc.reason))
        return check
    scratch = work / "scratch"
    for member in walk(report):
        if member.outcome == "blocked":
            continue
        for output in member.outputs:
            scratch.mkdir(exist_ok=True)
            try:
                verdict = inspect_file(out / output.path, scratch)
                _encode(verdict.to_dict())
            except Exception as exc:  # the inspector crashing on an output is an internal error too
                check.failures.append(failure_from("inspector_crashed", exc))
                continue
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            if verdict.problems or not types_agree(output.type, verdict.type):
                head = _problem_head(verdict.problems[0]) if verdict.problems else f"type:{verdict.type}"
                check.failures.append(Failure(
                    "inspector_flagged", f"inspector_flagged:{output.type}:{head}",
                    message="; ".join(verdict.problems)[:300] or f"declared {output.type}, inspector read "
                                                                  f"{verdict.type}"))
    return check


def check_detect(src: Path, name: str) -> Check:
    from converters.detect import detect, extension_agrees

    check = Check()
    try:
        detection = detect(src)
        extension_agrees(name, detection.type)
    except Exception as exc:
        check.outcome = "escaped"
        check.failures.append(failure_from("escaped", exc))
        return check
    check.outcome = detection.blocked_code or detection.type
    return check


def check_inspect(src: Path, work: Path) -> Check:
    from converters.inspect.outputs import inspect_file

    check = Check()
    scratch = work / "scratch"
    scratch.mkdir()
    try:
        verdict = inspect_file(src, scratch)
        _encode(verdict.to_dict())
    except Exception as exc:
        check.outcome = "escaped"
        check.failures.append(failure_from("escaped", exc))
        return check
    check.outcome = "clean" if verdict.clean else _problem_head(verdict.problems[0])
    return check


def check_mail(raw: bytes, work: Path) -> Check:
    from converters.mail.split import split_mail
    from gateway.errors import ReportInvalid
    from gateway.pipeline.mail import MAX_BODY_BYTES, MailSanitizer

    check = Check()
    out = work / "out"
    out.mkdir()
    try:
        result = split_mail(raw, out)
    except Exception as exc:  # RecursionError included: in the sandbox the whole mail is lost
        check.outcome = "escaped"
        check.failures.append(failure_from("escaped", exc))
        return check
    try:
        parsed = MailSanitizer._parse(json.loads(_encode(result)))
    except (UnicodeError, ValueError, TypeError, RecursionError) as exc:
        check.failures.append(_unencodable(result, exc))
        return check
    except ReportInvalid as exc:
        check.failures.append(Failure("report_invalid", f"ReportInvalid:{exc.reason}", "ReportInvalid", exc.reason))
        return check
    if parsed.get("rejected"):
        check.outcome = "rejected"
        return check
    body = out / "body.txt"
    if parsed.get("body_file") != "body.txt" or not body.is_file() or body.stat().st_size > MAX_BODY_BYTES:
        check.failures.append(Failure("report_invalid", "ReportInvalid:body file", "ReportInvalid", "no body file"))
    for index, item in enumerate(parsed["attachments"], start=1):
        if not isinstance(item, dict) or item.get("file") != f"att-{index}" or not (out / f"att-{index}").is_file():
            check.failures.append(Failure("report_invalid", "ReportInvalid:attachment", "ReportInvalid",
                                          "malformed attachment"))
            break
    codes = sorted({f["code"] for f in parsed["findings"]} & {"mail_structure_truncated", "mail_body_truncated"})
    check.outcome = "delivered" + (f":{codes[0]}" if codes else "")
    return check


LIBREOFFICE_SKIPPED = "fuzz_libreoffice_skipped"


@contextlib.contextmanager
def without_libreoffice() -> Iterator[None]:
    """LibreOffice is too slow to fuzz: legacy Office and RTF are fuzzed up to the point where the
    converter hands them to it (type detection, decryption, oletools' analysis); the conversion
    itself becomes a block with the code ``fuzz_libreoffice_skipped``, in this process only."""
    import converters.formats.office

    def skipped(*_: object, **__: object) -> Path:
        raise ConverterError("LibreOffice is not run while fuzzing", code=LIBREOFFICE_SKIPPED)

    # the name office.py calls (it imports convert_with_libreoffice from converters.formats.libreoffice)
    with mock.patch.object(converters.formats.office, "convert_with_libreoffice", skipped):
        yield


def run_case(kind: str, data: bytes, name: str, work: Path | None = None, limits: Limits | None = None) -> Check:
    """One input through the oracle of its kind (engine, detect, inspect, mail), in ``work`` (or a
    temporary directory), with LibreOffice skipped."""
    with contextlib.ExitStack() as stack:
        if work is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fuzz-case-")))
        stack.enter_context(without_libreoffice())
        src = work / "in" / name
        src.parent.mkdir(parents=True)
        src.write_bytes(data)
        if kind == "engine":
            return check_engine(src, name, work, limits or Limits())
        if kind == "detect":
            return check_detect(src, name)
        if kind == "inspect":
            return check_inspect(src, work)
        if kind == "mail":
            return check_mail(data, work)
        raise ValueError(f"unknown target kind {kind}")
