"""Run every variant through the disarm path and judge what comes out.

In process (the matrix): ``Engine.process`` - the same converter code the sandbox runs - then this
package's own reading and the oletools judges on the output, and, when they find something, the
independent inspector ``inspect_file`` as the gateway's verification step uses it (a problem there
blocks the file). Two worker processes share the work.

Through the command (a sample): ``gateway sanitize`` on a batch of files, sandbox and all.

``python -m tests.converters.adversarial.run [RESULTS.jsonl]`` prints the work list (the whole
matrix) and can keep every result."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.converters.adversarial.bases import Base, all_bases
from tests.converters.adversarial.excel_formulas import excel_formula_variants
from tests.converters.adversarial.judge import Reading, judge
from tests.converters.adversarial.opc import Package
from tests.converters.adversarial.package_attacks import package_variants
from tests.converters.adversarial.variants import Variant
from tests.converters.adversarial.word_fields import word_field_variants

ROOT = Path(__file__).resolve().parents[3]
CLASS_ORDER = ("word-field", "excel-formula", "package", "powerpoint")
# the outside tools that know each class of construct: msodde reads Word fields (and only DDE links
# in Excel, which are package-level), olevba VBA, oleobj OLE objects and external relationships; no
# oletools tool reads formulas, so for those this package's own reading judges alone
TOOLS: dict[str, tuple[str, ...]] = {"word-field": ("msodde",), "excel-formula": (),
                                     "package": ("olevba", "msodde", "oleobj"), "powerpoint": ("olevba", "oleobj")}


def all_variants() -> list[Variant]:
    """Deterministic: the same list, in the same order, in every process."""
    return [
        *word_field_variants("word.docx"),
        *word_field_variants("lo-word.docx", stories=False, full=False),
        *excel_formula_variants("excel.xlsx"),
        *excel_formula_variants("lo-excel.xlsx", full=False),
        *package_variants(),
    ]


@dataclass
class Result:
    id: str
    klass: str
    construct: str
    variant: str
    location: str
    base: str
    outcome: str = ""
    reason_code: str | None = None
    findings: list[str] = field(default_factory=list)
    inspector: list[str] = field(default_factory=list)  # problems the gateway's inspector saw
    holdings: list[str] = field(default_factory=list)  # what the delivered output still holds
    converter_missed: list[str] = field(default_factory=list)  # what only the inspector stopped
    input_holdings: list[str] = field(default_factory=list)  # what the judge sees in the attack itself
    texts: list[str] = field(default_factory=list)

    @property
    def got_through(self) -> bool:
        return self.outcome != "blocked" and bool(self.holdings)

    def line(self) -> str:
        held = "; ".join(self.holdings[:4]) + (f" (+{len(self.holdings) - 4} more)" if len(self.holdings) > 4 else "")
        return (f"{self.klass} | {self.construct} | {self.variant} | {self.location} | {self.base} | "
                f"{self.outcome} | {held}")


# --- in process ---------------------------------------------------------------------------------
_BASES: dict[str, Package] = {}
_VARIANTS: list[Variant] = []
_WORK = Path()


def _init(bases: dict[str, bytes], work: str) -> None:
    global _WORK
    _BASES.update({name: Package.from_bytes(data) for name, data in bases.items()})
    _VARIANTS[:] = all_variants()
    _WORK = Path(work)


def convert(source: Path, name: str, out: Path) -> tuple[str, str | None, list[str], list[Path]]:
    """The converter as the engine runs it: (outcome, reason code, findings, outputs)."""
    from converters.base import Limits
    from converters.engine import Engine

    out.mkdir(parents=True, exist_ok=True)
    report = Engine(out, "rebuild", Limits()).process(source, name)
    findings = [f"{f.code}: {f.detail}" for f in report.findings]
    if report.outcome == "blocked":
        return "blocked", report.reason_code, findings, []
    return report.outcome, None, findings, [out / o.path for o in report.outputs]


def inspect(outputs: list[Path], scratch: Path) -> list[str]:
    """The gateway's verification step: any problem blocks the file."""
    from converters.inspect.outputs import inspect_file

    scratch.mkdir(parents=True, exist_ok=True)
    return [p for path in outputs for p in inspect_file(path, scratch).problems]


def disarm(source: Path, name: str, out: Path) -> tuple[str, str | None, list[str], list[str], list[Path]]:
    """(outcome, reason code, findings, inspector problems, delivered outputs) as the gateway
    decides them: the converter, then the inspector, whose problems block the file."""
    outcome, code, findings, outputs = convert(source, name, out)
    if outcome == "blocked":
        return outcome, code, findings, [], []
    problems = inspect(outputs, out / ".scratch")
    if problems:
        return "blocked", "verification_failed", findings, problems, []
    return outcome, code, findings, [], outputs


def _one(index: int) -> Result:
    """One variant. The inspector runs only when the converter's output still holds something:
    on a clean output its verdict cannot make the file unsafe (it can only block it), and it is
    the slowest step. What the inspector then catches is kept as ``converter_missed``."""
    variant = _VARIANTS[index]
    result = Result(variant.id, variant.klass, variant.construct, variant.variant, variant.location, variant.base)
    folder = _WORK / f"v{index}"
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / f"attack.{variant.extension}"
    try:
        source.write_bytes(variant.make(_BASES[variant.base]))
    except KeyError as exc:  # the generator could not plant the construct: a bug here, not a pass
        result.outcome = "generator-error"
        result.holdings = [f"generator could not build the variant: {exc}"]
        return result
    result.input_holdings = [str(h) for h in Reading(source).holdings]
    result.outcome, result.reason_code, result.findings, outputs = convert(source, source.name, folder / "out")
    for output in outputs:
        holdings, texts = judge(output, TOOLS[variant.klass])
        result.holdings += [str(h) for h in holdings]
        result.texts += texts
    if result.holdings:
        result.inspector = inspect(outputs, folder / "scratch")
        if result.inspector:
            result.outcome, result.reason_code = "blocked", "verification_failed"
            result.converter_missed, result.holdings = result.holdings, []
    shutil.rmtree(folder, ignore_errors=True)
    return result


def _chunk(indices: list[int]) -> list[Result]:
    return [_one(i) for i in indices]


def run_in_process(bases: dict[str, Base], work: Path, workers: int = 2,
                   only: list[int] | None = None) -> list[Result]:
    variants = all_variants()
    indices = only if only is not None else list(range(len(variants)))
    data = {name: base.package.to_bytes() for name, base in bases.items()}
    chunks = [indices[i::workers * 4] for i in range(workers * 4)]
    with ProcessPoolExecutor(workers, initializer=_init, initargs=(data, str(work))) as pool:
        done = [r for part in pool.map(_chunk, chunks) for r in part]
    order = {i: n for n, i in enumerate(indices)}
    by_id = {variants[i].id: order[i] for i in indices}
    return sorted(done, key=lambda r: by_id[r.id])


# --- which variants a routine run takes ---------------------------------------------------------
def _kind(variant: Variant) -> str:
    return "split" if variant.variant.startswith("split-at-") else variant.variant


def select(variants: list[Variant], budget: int = 0) -> list[int]:
    """A deterministic sample that shows every construct, way of writing, location and base, every
    construct written every way and every way in every location: picked greedily, each step taking
    the variant that shows the most not yet shown (singles weigh most; ties go to the earlier
    variant), until nothing new is shown or ``budget`` (when > 0) variants are picked. What it leaves
    out are further construct x location pairs; ADVERSARIAL_FULL=1 runs the whole matrix."""
    features: list[list[tuple[str, ...]]] = []
    for v in variants:
        k = _kind(v)
        features.append([("c", v.klass, v.construct), ("v", v.klass, k), ("l", v.klass, v.location), ("b", v.base),
                         ("cv", v.klass, v.construct, k), ("vl", v.klass, k, v.location)])
    chosen: list[int] = []
    covered: set[tuple[str, ...]] = set()
    remaining = set(range(len(variants)))
    while remaining and (budget <= 0 or len(chosen) < budget):
        best, score = -1, 0
        for index in sorted(remaining):
            gain = sum(1 if f[0] in ("cv", "vl") else 1000 for f in features[index] if f not in covered)
            if gain > score:
                best, score = index, gain
        if best < 0:
            break
        chosen.append(best)
        covered.update(features[best])
        remaining.discard(best)
    return sorted(chosen)


def gateway_sample(variants: list[Variant]) -> list[int]:
    """One variant per (class, way of writing) and per (class, location), the first in list order."""
    seen: set[tuple[str, str, str]] = set()
    chosen: list[int] = []
    for index, variant in enumerate(variants):
        keys = {("v", variant.klass, _kind(variant)), ("l", variant.klass, variant.location)}
        if not keys <= seen:
            seen |= keys
            chosen.append(index)
    return chosen


# --- through the command ------------------------------------------------------------------------
def run_gateway(files: list[Path], out: Path) -> dict[str, dict[str, object]]:
    """``gateway sanitize`` on all files at once; its JSON line per input, by input path."""
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "gateway", "sanitize", *map(str, files), "--out", str(out)]
    completed = subprocess.run(command, capture_output=True, check=False, timeout=600, cwd=ROOT)
    if completed.returncode != 0:
        raise RuntimeError(f"gateway sanitize exited {completed.returncode}: {completed.stderr[-2000:]!r}")
    lines = [json.loads(line) for line in completed.stdout.decode().splitlines() if line.strip()]
    return {str(line["input"]): line for line in lines}


# --- the work list ------------------------------------------------------------------------------
def _order(result: Result) -> tuple[int, str, str, str, str]:
    return CLASS_ORDER.index(result.klass), result.construct, result.location, result.variant, result.base


def work_list(results: list[Result]) -> str:
    """Per class: the variants that get through, then those only the inspector stopped (the
    converter left the construct in; the file is lost instead of disarmed)."""
    lines = []
    for klass in CLASS_ORDER:
        mine = sorted((r for r in results if r.klass == klass), key=_order)
        through = [r for r in mine if r.got_through or r.outcome == "generator-error"]
        lines.append(f"## {klass}: {len(through)} of {len(mine)} variants get through")
        lines.append("class | construct | variant | location | base | outcome | what the output still holds")
        lines += [row.line() for row in through]
        missed = [r for r in mine if r.converter_missed]
        if missed:
            lines.append(f"### {klass}: {len(missed)} blocked only by the inspector (the converter left this in)")
            lines += [f"{r.klass} | {r.construct} | {r.variant} | {r.location} | {r.base} | "
                      f"{'; '.join(r.converter_missed[:3])}" for r in missed]
        lines.append("")
    return "\n".join(lines)


def summary(results: list[Result]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for result in results:
        key = "through" if result.got_through else (
            f"blocked:{result.reason_code}" if result.outcome == "blocked" else f"{result.outcome}:clean")
        counts[key] += 1
    return ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))


def main() -> int:
    """Print the work list; with a path argument also write every result there as JSON Lines."""
    work = Path(tempfile.mkdtemp(prefix="adversarial-"))
    try:
        bases = all_bases(work)
        results = run_in_process(bases, work / "runs", workers=int(os.environ.get("ADVERSARIAL_WORKERS", "2")))
        print(f"{len(results)} variants: {summary(results)}\n")
        print(work_list(results))
        if len(sys.argv) > 1:
            with open(sys.argv[1], "w", encoding="utf-8") as sink:
                for result in results:
                    sink.write(json.dumps(asdict(result), ensure_ascii=False) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
