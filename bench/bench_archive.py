"""An archive at the member limit through the whole gateway path (``Sanitizer.sanitize``: the
conversion forked in the sandbox, every member disarmed, the independent check, one ZIP
delivered) against a plain ``zipfile`` extract to disk and rewrite of the same archive, in the
same run, interleaved.

The archive: ``--members`` (default 5,000, the default ``archive_max_members``) one-line text
files in 10 folders, Japanese names; every tenth name is CP932 without ZIP's UTF-8 flag, as
Explorer and Japanese archivers write it.

    .venv/bin/python bench/bench_archive.py [--members 5000] [--rounds 3]

Peak memory: ``ru_maxrss`` of this process (the trusted side) and of the largest process in the
sandboxes it started (the zygote and its forked children), read after they exited.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from gateway.config import Settings
from gateway.pipeline.sanitize import Sanitizer


class Cp932ZipInfo(zipfile.ZipInfo):
    """A member name stored as CP932 bytes without the UTF-8 flag."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # zipfile's own hook
        return self.filename.encode("cp932"), self.flag_bits & ~0x800


def build(members: int) -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(members):
            line = f"{index} 行目のメモです。①\n"
            if index % 10 == 0:
                archive.writestr(Cp932ZipInfo(f"請求書/見積_{index}.txt"), line.encode("cp932"))
            else:
                archive.writestr(f"資料/{index % 9}/メモ{index}.txt", line.encode("utf-8"))
    return data.getvalue()


def baseline(source: Path, work: Path) -> float:
    """Seconds for zipfile to extract every member to disk and write them into a new ZIP."""
    started = time.perf_counter()
    extracted = work / "extracted"
    with zipfile.ZipFile(source) as archive:
        archive.extractall(extracted)
    with zipfile.ZipFile(work / "rewritten.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in extracted.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(extracted).as_posix())
    elapsed = time.perf_counter() - started
    shutil.rmtree(extracted)
    (work / "rewritten.zip").unlink()
    return elapsed


def gateway(sanitizer: Sanitizer, source: Path, out: Path, members: int) -> float:
    started = time.perf_counter()
    result = sanitizer.sanitize(source, out)
    elapsed = time.perf_counter() - started
    if result["outcome"] != "passed" or len(result.get("members", [])) != members:
        raise SystemExit(f"the archive was not passed whole: {result['outcome']} {result['reason']}")
    shutil.rmtree(out)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        source = work / "議事録一式.zip"
        source.write_bytes(build(args.members))
        size = source.stat().st_size
        plain, disarmed = [], []
        with Sanitizer(settings) as sanitizer:
            sanitizer.zygote.start()  # started before the clock, as in the service
            for round_ in range(args.rounds):
                plain.append(baseline(source, work))
                disarmed.append(gateway(sanitizer, source, work / f"out-{round_}", args.members))
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    results = {"members": args.members, "size": size, "load_average": list(os.getloadavg()),
               "gateway_s": disarmed, "baseline_s": plain, "gateway_median_s": statistics.median(disarmed),
               "baseline_median_s": statistics.median(plain), "peak_rss_mib": {"trusted": own, "sandboxed": children},
               "sandbox_memory_limit_mib": settings.sandbox.memory_mb}
    ratio = results["baseline_median_s"] / results["gateway_median_s"]
    print("| measure | gateway | baseline (zipfile extract + rewrite) | ratio |\n|---|---|---|---|")
    print(f"| {args.members}-member ZIP of one-line text files, median of {args.rounds} | "
          f"{results['gateway_median_s']:.2f} s | {results['baseline_median_s']:.2f} s | {ratio:.2f}× |")
    print(f"peak RSS: trusted side {own} MiB, largest sandboxed process {children} MiB "
          f"(limit {settings.sandbox.memory_mb} MiB of address space); load average after: "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    json.dump(results, sys.stdout, ensure_ascii=False)
    print()


if __name__ == "__main__":
    main()
