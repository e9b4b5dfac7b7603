"""Office benchmarks, each against a baseline measured in the same run.

    .venv/bin/python bench/bench_office.py [--files 200] [--latency-runs 9]

1. OOXML rebuild throughput (files/s) for a ~100 KB docx (text and a picture), in-process and
   with 2 worker processes, against a plain unzip + re-zip of the same file.
2. Office -> rasterised PDF latency for a 10-page docx through the whole gateway path (sandbox,
   LibreOffice, rendering, verification): cold (no spare) and warm (a spare with LibreOffice
   already started), median and p95.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import docx
from PIL import Image

from converters.base import Limits
from converters.engine import Engine
from converters.inspect.outputs import inspect_file
from gateway.config import Settings
from gateway.pipeline.sanitize import Sanitizer

LINE = "令和8年度 情報セキュリティ対策基準 第7.4条 ①㈱ The quick brown fox jumps over the lazy dog."


def make_docx(path: Path, pages: int, picture: bool) -> None:
    document = docx.Document()
    if picture:
        image = Image.effect_noise((160, 160), 60).convert("RGB")
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        buffer.seek(0)
        document.add_picture(buffer)
    for page in range(pages):
        for line in range(12):  # 12 two-line paragraphs fill one A4 page in the default style
            document.add_paragraph(f"{LINE} p{page + 1} l{line + 1}")
        if page + 1 < pages:
            document.add_page_break()
    document.save(str(path))


def rezip(src: Path, target: Path) -> None:
    with zipfile.ZipFile(src) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            out.writestr(info.filename, source.read(info))


def rebuild(args: tuple[Path, Path, int]) -> None:
    src, out, count = args
    for index in range(count):
        folder = out / str(index)
        folder.mkdir(parents=True, exist_ok=True)
        report = Engine(folder, "rebuild", Limits()).process(src, "report.docx")
        if report.outcome == "blocked":
            raise SystemExit(report.reason)


def per_second(count: int, action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return count / (time.perf_counter() - started)


def latencies(sanitizer: Sanitizer, source: Path, out: Path, runs: int, warm: bool) -> list[float]:
    results = []
    for run in range(runs):
        if warm:
            sanitizer.spares.fill()
            time.sleep(5)  # an idle gateway: the spare's LibreOffice has finished starting
        started = time.perf_counter()
        result = sanitizer.sanitize(source, out / f"{'warm' if warm else 'cold'}-{run}", "rasterize")
        results.append(time.perf_counter() - started)
        if result["outcome"] != "sanitized" or not result["verified"]:
            raise SystemExit(f"rasterise failed: {result}")
    return results


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--latency-runs", type=int, default=9)
    parser.add_argument("--no-raster", action="store_true", help="only the rebuild and the inspector (no LibreOffice)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        small = work / "report.docx"
        make_docx(small, pages=6, picture=True)
        ten = work / "ten-pages.docx"
        make_docx(ten, pages=10, picture=False)
        docx_kib = small.stat().st_size / 1024
        n = args.files

        def rezip_copies() -> None:
            for i in range(n):
                rezip(small, work / f"z{i}.docx")

        baseline = per_second(n, rezip_copies)
        single = per_second(n, lambda: rebuild((small, work / "single", n)))
        with ProcessPoolExecutor(2) as pool:
            double = per_second(n, lambda: list(pool.map(rebuild, [(small, work / f"p{k}", n // 2) for k in range(2)])))
        rebuilt = next((work / "single").rglob("*.docx"))
        inspected = per_second(n, lambda: [inspect_file(rebuilt, work) for _ in range(n)])
        print(f"| OOXML rebuild, {docx_kib:.0f} KB docx | {single:.0f} files/s in one process, {double:.0f} files/s "
              f"on 2 processes ({single / baseline:.2f}× a plain unzip+re-zip at {baseline:.0f} files/s) |")
        print(f"| OOXML inspector on the rebuilt docx | {inspected:.0f} files/s ({inspected / baseline:.2f}× the "
              "re-zip) |")
        if args.no_raster:
            return
        cold_settings = Settings()
        cold_settings = replace(cold_settings, sanitize=replace(cold_settings.sanitize, office_spares=0))
        with Sanitizer(cold_settings) as sanitizer:
            cold = latencies(sanitizer, ten, work, args.latency_runs, warm=False)
        with Sanitizer(Settings()) as sanitizer:
            warm = latencies(sanitizer, ten, work, args.latency_runs, warm=True)
    figures = {
        "docx_kib": docx_kib,
        "rezip_files_per_s": baseline, "rebuild_files_per_s": single, "rebuild_2proc_files_per_s": double,
        "rebuild_vs_rezip": single / baseline,
        "raster_cold_median_s": statistics.median(cold), "raster_cold_p95_s": p95(cold),
        "raster_warm_median_s": statistics.median(warm), "raster_warm_p95_s": p95(warm),
    }
    print("| measure | figure | goal |\n|---|---|---|")
    print(f"| OOXML rebuild, {docx_kib:.0f} KB docx | {single:.0f} files/s in one process, {double:.0f} files/s on 2 "
          f"processes ({single / baseline:.2f}× a plain unzip+re-zip at {baseline:.0f} files/s) | ≥ 50 files/s |")
    print(f"| 10-page docx → rasterised PDF, warm spare | median {figures['raster_warm_median_s']:.2f} s, "
          f"p95 {figures['raster_warm_p95_s']:.2f} s | median ≤ 1.0 s |")
    print(f"| 10-page docx → rasterised PDF, cold | median {figures['raster_cold_median_s']:.2f} s, "
          f"p95 {figures['raster_cold_p95_s']:.2f} s | (cold soffice 1.5–2.2 s) |")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
