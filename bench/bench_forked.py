"""Disarming one file at a time through the whole gateway path (``Sanitizer.sanitize``:
conversion, independent verification, delivery), with the conversion and the check in children
forked by the sandboxed zygote, against the same files each in a sandbox started for it
(bubblewrap + Python per conversion and per check), in the same run.

    .venv/bin/python bench/bench_forked.py [--files 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gateway.pipeline.sanitize
from gateway.config import Settings
from gateway.pipeline.sanitize import Sanitizer

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("pdf-clean.pdf", "docx-clean.docx", "jpeg-exif.jpg", "csv-formula.csv", "pdf-javascript.pdf")


def run(samples: Path, out: Path, files: int) -> list[float]:
    """Seconds per file; the zygote is started before the clock (as in the service)."""
    durations = []
    with Sanitizer(Settings()) as sanitizer:
        sanitizer.zygote.start()
        for index in range(files):
            source = samples / KINDS[index % len(KINDS)]
            started = time.perf_counter()
            result = sanitizer.sanitize(source, out / str(index))
            durations.append(time.perf_counter() - started)
            if result["outcome"] == "blocked":
                raise SystemExit(f"{source.name} was blocked: {result['reason']}")
    return durations


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        samples = Path(work) / "samples"
        subprocess.run([sys.executable, str(ROOT / "samples" / "make_samples.py"), str(samples)], check=True,
                       capture_output=True)
        forked = run(samples, Path(work) / "forked", args.files)
        gateway.pipeline.sanitize.FORKED_MAX_INPUT = -1  # every file in a sandbox of its own, as before the zygote
        per_job = run(samples, Path(work) / "per-job", args.files)
    results = {"files": args.files, "kinds": list(KINDS),
               "forked": {"per_s": len(forked) / sum(forked), "median_ms": statistics.median(forked) * 1000},
               "per_job": {"per_s": len(per_job) / sum(per_job), "median_ms": statistics.median(per_job) * 1000}}
    ratio = results["forked"]["per_s"] / results["per_job"]["per_s"]
    print("| measure | forked children | a sandbox per conversion and check (baseline) | ratio |\n|---|---|---|---|")
    print(f"| files/s, one at a time ({', '.join(KINDS)}) | {results['forked']['per_s']:.1f} "
          f"(median {results['forked']['median_ms']:.0f} ms) | {results['per_job']['per_s']:.1f} "
          f"(median {results['per_job']['median_ms']:.0f} ms) | {ratio:.1f}× |")
    json.dump(results, sys.stdout)
    print()


if __name__ == "__main__":
    main()
