"""Run every variant through the disarm path and judge what comes out.

In process (the matrix): ``Engine.process`` - the same converter code the sandbox runs - then the
independent inspector ``inspect_file`` exactly as the gateway's verification step uses it (a
problem there blocks the file), then this package's own reading and the oletools judges on
whatever would have been delivered. Two worker processes share the work.

Through the command (a sample): ``gateway sanitize`` on a batch of files, sandbox and all.

``python -m tests.converters.adversarial.run [--gateway]`` prints the work list."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
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
# the outside tool that knows each class of construct (all three for package-level attacks)
TOOLS = {"word-field": ("msodde",), "excel-formula": ("msodde",), "package": ("olevba", "msodde", "oleobj"),
         "powerpoint": ("olevba", "oleobj")}


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


def disarm(source: Path, name: str, out: Path) -> tuple[str, str | None, list[str], list[str], list[Path]]:
    """(outcome, reason code, findings, inspector problems, delivered outputs) as the gateway
    would decide them: converter, then the inspector, whose problems block the file."""
    from converters.base import Limits
    from converters.engine import Engine
    from converters.inspect import inspect_file

    out.mkdir(parents=True, exist_ok=True)
    report = Engine(out, "rebuild", Limits()).process(source, name)
    findings = [f"{f.code}: {f.detail}" for f in report.findings]
    if report.outcome == "blocked":
        return "blocked", report.reason_code, findings, [], []
    outputs = [out / o.path for o in report.outputs]
    scratch = out / ".scratch"
    scratch.mkdir(exist_ok=True)
    problems = [p for path in outputs for p in inspect_file(path, scratch).problems]
    if problems:
        return "blocked", "verification_failed", findings, problems, []
    return report.outcome, None, findings, [], outputs


def _one(index: int) -> Result:
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
    outcome, code, findings, problems, outputs = disarm(source, source.name, folder / "out")
    result.outcome, result.reason_code, result.findings, result.inspector = outcome, code, findings, problems
    for output in outputs:
        holdings, texts = judge(output, TOOLS[variant.klass])
        result.holdings += [str(h) for h in holdings]
        result.texts += texts
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


def select(variants: list[Variant], budget: int) -> list[int]:
    """A deterministic sample of at most ``budget`` variants (``budget <= 0``: all of them), picked
    greedily: each step takes the variant that shows the most not yet shown - every construct, way
    of writing, location and base once (weighted first), then pairs (construct x way, construct x
    location, way x location). Ties go to the earlier variant. The whole matrix runs with
    ADVERSARIAL_FULL=1."""
    if budget <= 0 or budget >= len(variants):
        return list(range(len(variants)))
    features: list[list[tuple[str, ...]]] = []
    for v in variants:
        k = _kind(v)
        features.append([("c", v.klass, v.construct), ("v", v.klass, k), ("l", v.klass, v.location), ("b", v.base),
                         ("cv", v.klass, v.construct, k), ("cl", v.klass, v.construct, v.location),
                         ("vl", v.klass, k, v.location)])
    weight = {"c": 100, "v": 100, "l": 100, "b": 100, "cv": 1, "cl": 1, "vl": 1}
    chosen: list[int] = []
    covered: set[tuple[str, ...]] = set()
    remaining = set(range(len(variants)))
    while len(chosen) < budget and remaining:
        best, score = -1, 0
        for index in sorted(remaining):
            gain = sum(weight[f[0]] for f in features[index] if f not in covered)
            if gain > score:
                best, score = index, gain
        if best < 0:  # every feature shown: fill the budget in list order
            chosen += sorted(remaining)[:budget - len(chosen)]
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
def work_list(results: list[Result]) -> str:
    rows = sorted((r for r in results if r.got_through or r.outcome == "generator-error"),
                  key=lambda r: (CLASS_ORDER.index(r.klass), r.construct, r.location, r.variant, r.base))
    groups: dict[str, list[Result]] = defaultdict(list)
    for row in rows:
        groups[row.klass].append(row)
    lines = []
    for klass in CLASS_ORDER:
        total = sum(1 for r in results if r.klass == klass)
        lines.append(f"## {klass}: {len(groups[klass])} of {total} variants get through")
        lines.append("class | construct | variant | location | base | outcome | what the output still holds")
        lines += [row.line() for row in groups[klass]]
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
    work = Path(tempfile.mkdtemp(prefix="adversarial-"))
    try:
        bases = all_bases(work)
        results = run_in_process(bases, work / "runs", workers=int(os.environ.get("ADVERSARIAL_WORKERS", "2")))
        print(f"{len(results)} variants: {summary(results)}\n")
        print(work_list(results))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
