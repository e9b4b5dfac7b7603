"""Benchmarks of the disarm core, each against a baseline measured in the same run.

    .venv/bin/python bench/bench_sanitize.py [--pages 200] [--repeat 3]

1. Rasterise throughput: `Sanitizer.sanitize(..., "rasterize")` (sandbox, trusted PDF rebuild,
   sandboxed verification) against bare PyPDFium2 render + Pillow JPEG q85 of the same PDF.
2. KiB per page of the rasterised text PDF, and of the baseline's JPEG pages.
3. Peak memory (max RSS) of the gateway process and of the largest sandboxed child while
   rasterising the 200-page PDF.
4. Time to block a decompression-bomb PNG and a 1 GiB ZIP bomb, end to end.
Prints a Markdown table (for BENCHMARKS.md) and the raw figures as JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "samples"))

import make_samples  # noqa: E402

from gateway.config import Settings  # noqa: E402
from gateway.pipeline.sanitize import Sanitizer  # noqa: E402


def baseline_render(pdf: Path, dpi: int) -> tuple[float, int]:
    """Bare PDFium render + JPEG q85 per page; returns (seconds, total JPEG bytes)."""
    started = time.perf_counter()
    total = 0
    document = pdfium.PdfDocument(str(pdf))
    for index in range(len(document)):
        page = document[index]
        image = page.render(scale=dpi / 72).to_pil()
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=85)
        total += buffer.tell()
        page.close()
    document.close()
    return time.perf_counter() - started, total


def gateway_rasterise(sanitizer: Sanitizer, pdf: Path, out: Path) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    result = sanitizer.sanitize(pdf, out, "rasterize")
    elapsed = time.perf_counter() - started
    if result["outcome"] != "sanitized" or not result["verified"]:
        raise SystemExit(f"rasterise failed: {result}")
    return elapsed, result


MEMORY_PROBE = """
import resource, sys
from pathlib import Path
from gateway.config import Settings
from gateway.pipeline.sanitize import Sanitizer
result = Sanitizer(Settings()).sanitize(Path(sys.argv[1]), Path(sys.argv[2]), "rasterize")
assert result["outcome"] == "sanitized" and result["verified"], result
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def peak_memory(pdf: Path, out: Path) -> tuple[float, float]:
    """Max RSS (MiB) of a fresh gateway process rasterising ``pdf`` (its own, without children),
    and of the converter that renders it (run directly, so its peak is measured exactly)."""
    gateway = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(pdf), str(out)], capture_output=True,
                             text=True, check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(os.devnull, "wb") as sink:
        subprocess.run([sys.executable, "-m", "converters", "convert", f"--input={pdf}", "--name=x.pdf",
                        f"--out={out}-converter", "--method=rasterize", f"--frames-fd={sink.fileno()}"],
                       check=True, capture_output=True, pass_fds=(sink.fileno(),))
    converter = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return float(gateway.stdout), max(converter, before) / 1024


def time_to_block(sanitizer: Sanitizer, sample: Path, out: Path) -> tuple[float, str]:
    started = time.perf_counter()
    result = sanitizer.sanitize(sample, out)
    return time.perf_counter() - started, str(result["reason_code"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = Settings()
    sanitizer = Sanitizer(settings)
    dpi = settings.limits.raster_dpi
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pdf = work / "text.pdf"
        make_samples.text_pdf(pdf, pages=args.pages)
        bombs = make_samples.make_all(work / "samples")
        base_runs, ours_runs = [], []
        base_bytes = 0
        result: dict[str, Any] = {}
        for run in range(args.repeat):  # interleaved, so machine noise hits both alike
            seconds, base_bytes = baseline_render(pdf, dpi)
            base_runs.append(seconds)
            seconds, result = gateway_rasterise(sanitizer, pdf, work / f"out-{run}")
            ours_runs.append(seconds)
        out_size = Path(result["outputs"][0]["path"]).stat().st_size
        dense = work / "dense.pdf"
        make_samples.text_pdf(dense, pages=10, dense=True)
        dense_result = sanitizer.sanitize(dense, work / "dense-out", "rasterize")
        dense_size = Path(dense_result["outputs"][0]["path"]).stat().st_size
        _, dense_jpeg = baseline_render(dense, dpi)
        own_peak, children_peak = peak_memory(pdf, work / "memory")
        png_bomb = time_to_block(sanitizer, bombs / "png-bomb.png", work / "bomb")
        zip_bomb = time_to_block(sanitizer, bombs / "zip-bomb.zip", work / "bomb")
    base, ours = statistics.median(base_runs), statistics.median(ours_runs)
    figures = {
        "pages": args.pages, "dpi": dpi, "repeat": args.repeat,
        "baseline_pages_per_s": args.pages / base, "gateway_pages_per_s": args.pages / ours,
        "ratio": base / ours,
        "gateway_kib_per_page": out_size / 1024 / args.pages,
        "baseline_jpeg_kib_per_page": base_bytes / 1024 / args.pages,
        "gateway_kib_per_dense_page": dense_size / 1024 / 10, "baseline_jpeg_kib_per_dense_page":
            dense_jpeg / 1024 / 10,
        "peak_rss_gateway_mib": own_peak, "peak_rss_renderer_mib": children_peak,
        "png_bomb_seconds": png_bomb[0], "png_bomb_code": png_bomb[1],
        "zip_bomb_1gib_seconds": zip_bomb[0], "zip_bomb_code": zip_bomb[1],
    }
    print("| measure | figure | goal |\n|---|---|---|")
    print(f"| rasterise, gateway vs bare PDFium+JPEG ({args.pages} text pages, {dpi} dpi) | "
          f"{figures['ratio']:.2f}× ({figures['gateway_pages_per_s']:.1f} vs "
          f"{figures['baseline_pages_per_s']:.1f} pages/s) | ≥ 0.8× |")
    print(f"| KiB per A4 text page | {figures['gateway_kib_per_page']:.0f} (baseline JPEG q85: "
          f"{figures['baseline_jpeg_kib_per_page']:.0f}) | ≤ 150 |")
    print(f"| KiB per dense A4 text page (full lines, 10.5 pt) | {figures['gateway_kib_per_dense_page']:.0f} "
          f"(baseline JPEG q85: {figures['baseline_jpeg_kib_per_dense_page']:.0f}) | ≤ 150 |")
    print(f"| peak RSS, {args.pages}-page PDF | {own_peak + children_peak:.0f} MiB at most (gateway process "
          f"{own_peak:.0f} MiB + sandboxed renderer ≤ {children_peak:.0f} MiB) | ≤ 512 MiB |")
    print(f"| block decompression-bomb PNG (60000×60000) | {png_bomb[0]:.2f} s ({png_bomb[1]}) | ≤ 5 s |")
    print(f"| block 1 GiB ZIP bomb | {zip_bomb[0]:.2f} s ({zip_bomb[1]}) | ≤ 5 s |")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
