"""Long fuzzing campaign over every target (coverage-guided, atheris, in-process).

    .venv/bin/python bench/fuzz.py --minutes 60 [--targets ooxml mail ...] [--crash-dir /tmp/gateway-fuzz]

The time is shared equally between the chosen targets, run one after another, one process at a
time (tests/fuzz/runner.py: one process per target; if a process dies - a hard timeout, memory -
the target is started again with the next seed for the rest of its time). Seeds are the
project's samples, generated into a temporary directory at the start, plus the small ones made by
tests/fuzz/seeds.py. Each failing input is saved under CRASH_DIR/TARGET/ with a line in
CRASH_DIR/TARGET/failures.jsonl; CRASH_DIR/summary.json holds the figures printed at the end:
per target the inputs run, inputs/s, distinct failures (exception type + innermost frame in our
code, so one bug counts once), internal errors, hangs and outputs the inspector flagged."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fuzz.targets import TARGETS  # noqa: E402

INTERNAL_KINDS = ("crashed", "escaped", "report_invalid", "inspector_crashed")


def run_target(name: str, seconds: float, seeds: Path, crash_dir: Path, seed: int, budget: float,
               work: Path) -> dict[str, Any]:
    """Run one target for ``seconds``, restarting it if its process dies; merged statistics."""
    merged: dict[str, Any] = {"target": name, "runs": 0, "seconds": 0.0, "failures": {}, "outcomes": {},
                              "restarts": 0, "slowest_seconds": 0.0, "mutator_errors": 0}
    deadline = time.monotonic() + seconds
    attempt = 0
    while (left := deadline - time.monotonic()) > 5:
        stats = work / f"{name}-{attempt}.json"
        log = crash_dir / name / f"runner-{attempt}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as output:
            result = subprocess.run(
                [sys.executable, "-m", "tests.fuzz.runner", "--target", name, "--seeds", str(seeds),
                 "--crash-dir", str(crash_dir), "--stats", str(stats), "--seconds", f"{left:.0f}",
                 "--seed", str(seed + attempt), "--time-budget", str(budget),
                 "--work", str(work / f"{name}-{attempt}")],
                cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, check=False, timeout=left + 300)
        if stats.exists():
            part = json.loads(stats.read_text(encoding="utf-8"))
            merged["runs"] += part["runs"]
            merged["seconds"] += part["seconds"]
            merged["slowest_seconds"] = max(merged["slowest_seconds"], part["slowest_seconds"])
            merged["mutator_errors"] += part["mutator_errors"]
            for outcome, count in part["outcomes"].items():
                merged["outcomes"][outcome] = merged["outcomes"].get(outcome, 0) + count
            for key, entry in part["failures"].items():
                into = merged["failures"].setdefault(
                    key, {"kind": entry["kind"], "count": 0, "first": entry.get("first")})
                into["count"] += entry["count"]
        if result.returncode != 0:
            merged["restarts"] += 1
            kind = "hard_timeout" if result.returncode == 3 else f"process_exit_{result.returncode}"
            into = merged["failures"].setdefault(f"{kind}@{name}", {"kind": "hang" if result.returncode == 3
                                                                    else "process_died", "count": 0,
                                                                    "first": {"log": str(log)}})
            into["count"] += 1
        attempt += 1
    return merged


def summarise(stats: dict[str, Any]) -> dict[str, Any]:
    failures = stats["failures"]

    def count(kinds: tuple[str, ...]) -> int:
        return sum(f["count"] for f in failures.values() if f["kind"] in kinds)

    return {"target": stats["target"], "inputs": stats["runs"], "seconds": round(stats["seconds"], 1),
            "inputs_per_s": round(stats["runs"] / stats["seconds"], 1) if stats["seconds"] else 0.0,
            "distinct_failures": len(failures), "internal_errors": count(INTERNAL_KINDS),
            "hangs": count(("hang",)), "inspector_flagged": count(("inspector_flagged",)),
            "restarts": stats["restarts"], "slowest_input_s": stats["slowest_seconds"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, required=True, help="total time, shared by the targets")
    parser.add_argument("--targets", nargs="+", choices=sorted(TARGETS), default=list(TARGETS))
    parser.add_argument("--crash-dir", type=Path, default=Path("/tmp/gateway-fuzz"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-budget", type=float, default=5.0, help="seconds per input before it is a hang")
    args = parser.parse_args()

    from tests.fuzz.seeds import make_samples

    args.crash_dir.mkdir(parents=True, exist_ok=True)
    share = args.minutes * 60 / len(args.targets)
    rows: list[dict[str, Any]] = []
    keys: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="gateway-fuzz-") as temporary:
        work = Path(temporary)
        seeds = make_samples(work / "samples")
        for name in args.targets:
            stats = run_target(name, share, seeds, args.crash_dir, args.seed, args.time_budget, work)
            row = summarise(stats)
            rows.append(row)
            print(f"{name}: {row['inputs']} inputs in {row['seconds']} s ({row['inputs_per_s']}/s), "
                  f"{row['distinct_failures']} distinct failures", flush=True)
            for key, entry in sorted(stats["failures"].items()):
                keys.setdefault(key, []).append(name)
                first = entry.get("first") or {}
                print(f"    {entry['count']:6d} x {entry['kind']:18s} {key}  e.g. {first.get('sha256', '')[:12]} "
                      f"from {first.get('mutated_from', '?')}", flush=True)
    header = ("target", "inputs", "inputs/s", "distinct failures", "internal errors", "hangs", "inspector flagged")
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print(f"| {row['target']} | {row['inputs']} | {row['inputs_per_s']} | {row['distinct_failures']} | "
              f"{row['internal_errors']} | {row['hangs']} | {row['inspector_flagged']} |")
    total = sum(r["inputs"] for r in rows)
    print(f"| all | {total} | {round(total / sum(r['seconds'] for r in rows), 1) if total else 0} | "
          f"{len(keys)} (distinct across targets) | {sum(r['internal_errors'] for r in rows)} | "
          f"{sum(r['hangs'] for r in rows)} | {sum(r['inspector_flagged'] for r in rows)} |")
    summary = {"minutes": args.minutes, "rows": rows, "distinct": {k: v for k, v in sorted(keys.items())}}
    (args.crash_dir / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
