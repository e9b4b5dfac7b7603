"""Real documents through ``gateway sanitize``: are they still usable, and is what passed clean?

    .venv/bin/python bench/corpus.py DIR [--threshold 0.9] [--tsv rows.tsv] [--only SUBSTRING]

DIR holds harmless Office documents (the corpus is not in the repository; see BENCHMARKS.md for
where it came from). Each file goes through the gateway's own per-file path (``Sanitizer``, as
``gateway sanitize`` runs it), then its output is judged by tools that are not the gateway's:

- *usable*: the outcome is ``passed`` or ``sanitized``; LibreOffice (headless, a throw-away
  profile with macros disabled) turns the output into a non-empty PDF; and the output's text is
  roughly the input's (the characters of the input's PDF text found in the output's PDF text,
  counted as a multiset, at least ``--threshold`` of them). An input LibreOffice cannot open is
  judged on its output alone.
- *clean*: olevba finds no VBA or Excel 4 macro, msodde no DDE link, oleobj no embedded object,
  no customUI callback and no external relationship other than an http(s)/mailto hyperlink (the
  links the gateway keeps by design).

Prints one row per file and the totals: % usable, and the number of delivered outputs an outside
tool flags (goal: 0).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OFFICE_SUFFIXES = frozenset(
    ".docx .docm .dotx .dotm .xlsx .xlsm .xltx .xltm .xlam .xlsb .pptx .pptm .ppsx .ppsm .potx .potm "
    ".doc .dot .xls .xlt .xla .ppt .pps .pot .rtf .odt .ods .odp".split())
SOFFICE_TIMEOUT = 180
CHECK_TIMEOUT = 120
KEPT_LINK_SCHEMES = ("http://", "https://", "mailto:")


@dataclass
class Row:
    name: str
    outcome: str = "blocked"
    reason_code: str = ""
    reason: str = ""
    output: str = ""
    output_type: str = ""
    similarity: float | None = None
    problems: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def usable(self) -> bool:
        return self.outcome in ("passed", "sanitized") and not self.problems

    @property
    def delivered(self) -> bool:
        return self.outcome in ("passed", "sanitized")


# ---------------------------------------------------------------- outside checks (own process)

def outside_flags(path: Path) -> list[str]:
    """What olevba, msodde and oleobj report on ``path``; empty when they report nothing."""
    from oletools import msodde, oleobj
    from oletools.olevba import VBA_Parser

    flags: list[str] = []
    with contextlib.redirect_stdout(io.StringIO()):
        parser = VBA_Parser(str(path))
        try:
            if parser.detect_vba_macros():
                flags.append("olevba: VBA macros")
            if parser.detect_xlm_macros():
                flags.append("olevba: Excel 4 macros")
        finally:
            parser.close()
    with contextlib.redirect_stdout(io.StringIO()):
        links = msodde.process_maybe_encrypted(str(path), field_filter_mode=msodde.FIELD_FILTER_DDE)
    if links.strip():
        flags.append(f"msodde: {links.strip()[:120]}")
    captured = io.StringIO()
    with tempfile.TemporaryDirectory(prefix="oleobj-") as dump, contextlib.redirect_stdout(captured):
        err_stream, err_dump, _ = oleobj.process_file(str(path), None, dump)
        dumped = [entry.name for entry in Path(dump).iterdir()]
    for line in captured.getvalue().splitlines():
        if line.startswith("Found relationship 'hyperlink' with external link "):
            target = line.rsplit("external link ", 1)[1].strip()
            if target.lower().startswith(KEPT_LINK_SCHEMES):
                continue
            flags.append(f"oleobj: {line[:160]}")
        elif line.startswith(("Found relationship", "Found customUI")):
            flags.append(f"oleobj: {line[:160]}")
    if dumped:
        flags.append(f"oleobj: embedded objects {', '.join(sorted(dumped))[:120]}")
    if err_stream or err_dump:
        flags.append("oleobj: could not read every stream")
    return flags


def run_outside_checks(path: Path) -> list[str]:
    """olevba/msodde/oleobj in a child process (they can hang or crash on odd input)."""
    try:
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--check", str(path)],
                              capture_output=True, timeout=CHECK_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return ["outside tools: timed out"]
    try:
        answer = json.loads(done.stdout.decode("utf-8").strip().splitlines()[-1])
    except (ValueError, IndexError):
        return [f"outside tools failed (exit {done.returncode})"]
    if not isinstance(answer, list):
        return ["outside tools: unreadable answer"]
    return [str(flag) for flag in answer]


# ---------------------------------------------------------------- LibreOffice reopening

class Reopener:
    """Converts files to PDF with LibreOffice in one throw-away, macro-disabled profile."""

    def __init__(self, root: Path) -> None:
        from converters.formats.libreoffice import prepare_profile, soffice

        self.root = root
        self.profile = prepare_profile(root / "profile")
        self.soffice = soffice()
        self.count = 0

    def pdf_text(self, path: Path) -> tuple[str | None, str]:
        """(text of LibreOffice's PDF of ``path``, or None when no PDF came out; a note)."""
        self.count += 1
        outdir = self.root / f"pdf-{self.count}"
        command = [self.soffice, "--headless", "--norestore", "--nolockcheck", "--nodefault", "--nologo",
                   f"-env:UserInstallation=file://{self.profile}", "--convert-to", "pdf", "--outdir", str(outdir),
                   str(path)]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True,
                                   env={**os.environ, "HOME": str(self.root)})
        try:
            process.wait(timeout=SOFFICE_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return None, "LibreOffice timed out"
        pdf = outdir / f"{path.stem}.pdf"
        if not pdf.is_file() or pdf.stat().st_size == 0:
            return None, "LibreOffice made no PDF"
        text = subprocess.run(["pdftotext", "-q", str(pdf), "-"], capture_output=True, timeout=120, check=False)
        if text.returncode != 0:
            return None, "LibreOffice's PDF is unreadable"
        return text.stdout.decode("utf-8", "replace"), ""


def similarity(original: str, rebuilt: str) -> float:
    """Share of the original's non-space characters (as a multiset) found in the rebuilt text."""
    wanted = Counter(ch for ch in original if not ch.isspace())
    if not wanted:
        return 1.0
    have = Counter(ch for ch in rebuilt if not ch.isspace())
    return sum(min(count, have[ch]) for ch, count in wanted.items()) / sum(wanted.values())


# ---------------------------------------------------------------- the run

def judge(sanitizer: Any, reopener: Reopener, path: Path, work: Path, threshold: float) -> Row:
    row = Row(path.name)
    started = time.monotonic()
    result = sanitizer.sanitize(path, work / "out")
    row.seconds = time.monotonic() - started
    row.outcome = str(result.get("outcome"))
    row.reason_code = str(result.get("reason_code") or "")
    row.reason = str(result.get("reason") or "")
    outputs = result.get("outputs") or []
    if not row.delivered:
        row.problems.append(f"blocked: {row.reason_code}")
        return row
    if len(outputs) != 1:
        row.problems.append(f"{len(outputs)} outputs")
        return row
    output = Path(outputs[0]["path"])
    row.output, row.output_type = output.name, str(outputs[0].get("type", ""))
    row.flags = run_outside_checks(output)
    rebuilt, note = reopener.pdf_text(output)
    if rebuilt is None:
        row.problems.append(f"output: {note}")
        return row
    original, note = reopener.pdf_text(path)
    if original is None:
        return row  # LibreOffice cannot open the input: the output is judged alone
    row.similarity = similarity(original, rebuilt)
    if row.similarity < threshold:
        row.problems.append(f"text kept {row.similarity:.0%}")
    return row


def run(directory: Path, threshold: float, only: str | None) -> list[Row]:
    from gateway.config import Settings
    from gateway.pipeline.sanitize import Sanitizer

    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in OFFICE_SUFFIXES
                   and (only is None or only in p.name))
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="corpus-") as scratch, Sanitizer(Settings()) as sanitizer:
        sanitizer.expect(files)
        reopener = Reopener(Path(scratch))
        for index, path in enumerate(files):
            work = Path(scratch) / f"file-{index}"
            work.mkdir()
            try:
                row = judge(sanitizer, reopener, path, work, threshold)
            except Exception as exc:  # one file's failure is a row, not the end of the run
                row = Row(path.name, outcome="error", problems=[f"harness: {type(exc).__name__}: {exc}"[:200]])
            rows.append(row)
            print(format_row(row), flush=True)
    return rows


def format_row(row: Row) -> str:
    verdict = "usable" if row.usable else "NOT usable"
    sim = "-" if row.similarity is None else f"{row.similarity:.2f}"
    flagged = f" FLAGGED: {'; '.join(row.flags)}" if row.delivered and row.flags else ""
    problems = f" ({'; '.join(row.problems)})" if row.problems else ""
    reason = f" [{row.reason[:100]}]" if row.reason else ""
    return (f"{row.name}\t{row.outcome}\t{row.reason_code or '-'}\t{row.output_type or '-'}\t{sim}\t"
            f"{row.seconds:.2f}s\t{verdict}{problems}{reason}{flagged}")


def summary(rows: list[Row]) -> str:
    usable = sum(row.usable for row in rows)
    flagged = [row for row in rows if row.delivered and row.flags]
    lines = [f"files: {len(rows)}",
             f"usable: {usable}/{len(rows)} = {100 * usable / max(len(rows), 1):.1f}% (goal >= 97%)",
             f"delivered but flagged by olevba/msodde/oleobj: {len(flagged)} (goal 0)"]
    causes = Counter((row.outcome, row.reason_code or (row.problems[0].split(":")[0] if row.problems else ""))
                     for row in rows if not row.usable)
    for (outcome, code), count in causes.most_common():
        lines.append(f"  not usable: {count} x {outcome} {code}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, nargs="?")
    parser.add_argument("--threshold", type=float, default=0.9, help="share of the input's text kept (0..1)")
    parser.add_argument("--only", help="only files whose name contains this")
    parser.add_argument("--tsv", type=Path, help="also write the rows here")
    parser.add_argument("--check", type=Path, help=argparse.SUPPRESS)  # internal: outside tools on one file
    args = parser.parse_args()
    if args.check is not None:
        print(json.dumps(outside_flags(args.check)))
        return
    if args.directory is None or not args.directory.is_dir():
        parser.error("give a directory of documents")
    rows = run(args.directory, args.threshold, args.only)
    print(summary(rows))
    if args.tsv is not None:
        with args.tsv.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(format_row(row) + "\n")


if __name__ == "__main__":
    main()
