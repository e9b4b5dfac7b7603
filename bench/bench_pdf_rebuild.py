"""What the PDF rebuild costs: `gateway sanitize FILE` in two trees (a baseline commit and the one
measured), run alternately pair by pair, the median of the per-pair ratios.

    # the inputs, generated (Japanese text with an embedded font, photographs, fax scans, and a
    # LibreOffice export with many subset fonts when soffice is installed)
    .venv/bin/python bench/bench_pdf_rebuild.py make /tmp/pdfbench
    # each tree a checkout of one commit with its own venv (a venv runs the tree it was installed from)
    .venv/bin/python bench/bench_pdf_rebuild.py time --before OLD_TREE --after NEW_TREE --pairs 5 \\
        /tmp/pdfbench/text.pdf /tmp/pdfbench/photos.pdf /tmp/pdfbench/scans.pdf /tmp/pdfbench/office.pdf

Each run is a whole process (sandbox, rebuild, inspector), as an operator's command is. Prints a
Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pikepdf
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from reportlab.pdfgen import canvas

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "samples"))

import make_samples  # noqa: E402

WORDS = ("住民票", "申請書", "令和8年度", "予算", "市役所", "手続き", "様式", "税務課", "水道", "道路", "学校", "健康",
         "会議", "報告", "条例", "金額", "円", "日付", "①", "㈱")


def photograph(seed: int, width: int = 2592, height: int = 1944) -> bytes:
    """A synthetic photograph (smooth colour fields, shapes, sensor noise) as a quality-85 JPEG."""
    rng = random.Random(seed)
    bands = [Image.effect_noise((width // 8, height // 8), 60).resize((width, height), Image.Resampling.BICUBIC)
             .filter(ImageFilter.GaussianBlur(3)) for _ in range(3)]
    picture = Image.merge("RGB", bands)
    draw = ImageDraw.Draw(picture)
    for _ in range(12):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randrange(50, 400)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    picture = Image.blend(picture.filter(ImageFilter.GaussianBlur(2)), Image.effect_noise((width, height), 12)
                          .convert("RGB"), 0.15)
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def photos_pdf(path: Path, pages: int = 20) -> None:
    page = canvas.Canvas(str(path), pagesize=(842, 595))
    with tempfile.TemporaryDirectory() as scratch:
        for number in range(pages):
            picture = Path(scratch) / f"p{number}.jpg"
            picture.write_bytes(photograph(number))
            page.drawImage(str(picture), 20, 20, width=802, height=555)
            page.drawString(20, 5, f"photo {number + 1}")
            page.showPage()
        page.save()


def g4_page(seed: int) -> bytes:
    """An A4 page scanned at 300 dpi, 1 bit: lines of words, scanner speckle, a slight skew; CCITT G4."""
    rng = random.Random(seed)
    scan = Image.new("1", (2480, 3508), 255)
    draw = ImageDraw.Draw(scan)
    font = ImageFont.load_default(size=36)
    for line in range(60):
        text = " ".join(rng.choice(("notice", "budget", "residents", "office", "form", "tax", "water", "report"))
                        for _ in range(rng.randrange(8, 14)))
        draw.text((200 + rng.randrange(-4, 5), 200 + line * 52 + rng.randrange(-2, 3)), text, fill=0, font=font)
    for _ in range(20_000):
        draw.point((rng.randrange(2480), rng.randrange(3508)), fill=0)
    inverted = scan.rotate(0.4, fillcolor=255).point(lambda value: 0 if value else 255)
    buffer = io.BytesIO()
    inverted.save(buffer, "TIFF", compression="group4", tiffinfo={278: 3508})  # one strip: the G4 data at one offset
    tiff = Image.open(io.BytesIO(buffer.getvalue()))
    tags = tiff.getexif()
    offset, count = tags[273], tags[279]
    first = offset[0] if isinstance(offset, tuple) else offset
    size = count[0] if isinstance(count, tuple) else count
    return buffer.getvalue()[first:first + size]


def scans_pdf(path: Path, pages: int = 20) -> None:
    pdf = pikepdf.new()
    for number in range(pages):
        image = pikepdf.Stream(pdf, g4_page(number))
        image.update({"/Type": pikepdf.Name.XObject, "/Subtype": pikepdf.Name.Image, "/Width": 2480, "/Height": 3508,
                      "/ColorSpace": pikepdf.Name.DeviceGray, "/BitsPerComponent": 1,
                      "/Filter": pikepdf.Name.CCITTFaxDecode,
                      "/DecodeParms": pikepdf.Dictionary(K=-1, Columns=2480, Rows=3508)})
        pdf.pages.append(pikepdf.Page(pikepdf.Dictionary(
            Type=pikepdf.Name.Page, MediaBox=[0, 0, 595, 842],
            Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image)),
            Contents=pikepdf.Stream(pdf, b"q 595 0 0 842 0 0 cm /Im0 Do Q"))))
    pdf.save(path)


def office_pdf(path: Path, sections: int = 120) -> bool:
    """A long Japanese document exported by LibreOffice (its subset fonts: TrueType and, for Noto CJK,
    Type 1); False when soffice is not installed."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        return False
    rng = random.Random(7)
    fonts = ("IPAMincho", "IPAGothic", "Noto Sans CJK JP", "Noto Serif CJK JP", "DejaVu Sans", "Liberation Serif")
    body = []
    for section in range(sections):
        body.append(f"<h2>第{section + 1}章 {rng.choice(WORDS)}について</h2>")
        for _ in range(6):
            words = "、".join(rng.choice(WORDS) for _ in range(40))
            body.append(f'<p style="font-family: \'{rng.choice(fonts)}\'">{words}。Ordinance {section}.</p>')
    with tempfile.TemporaryDirectory() as scratch:
        html = Path(scratch) / "office.html"
        html.write_text(f"<html><meta charset='utf-8'><body>{''.join(body)}</body></html>", encoding="utf-8")
        subprocess.run([soffice, f"-env:UserInstallation=file://{scratch}/profile", "--headless", "--convert-to",
                        "pdf:writer_web_pdf_Export", "--outdir", scratch, str(html)],
                       check=True, capture_output=True, timeout=600)
        shutil.move(Path(scratch) / "office.pdf", path)
    return True


def make(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    make_samples.text_pdf(directory / "text.pdf", pages=400)  # Japanese text in an embedded IPA Gothic subset
    photos_pdf(directory / "photos.pdf")
    scans_pdf(directory / "scans.pdf")
    made = ["text.pdf", "photos.pdf", "scans.pdf"] + (["office.pdf"] if office_pdf(directory / "office.pdf") else [])
    for name in made:
        print(f"{directory / name}: {(directory / name).stat().st_size / 1e6:.1f} MB")


def sanitize_once(tree: Path, src: Path, out: Path) -> tuple[float, int]:
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    done = subprocess.run([str(tree / ".venv" / "bin" / "python"), "-m", "gateway", "sanitize", str(src), "--out",
                           str(out)], cwd=tree, capture_output=True, text=True, check=False)
    took = time.perf_counter() - started
    report = json.loads(done.stdout.splitlines()[-1])
    if report["outcome"] not in ("passed", "sanitized"):
        raise SystemExit(f"{tree}: {src.name} was {report['outcome']}: {report.get('reason')}")
    return took, sum(path.stat().st_size for path in out.rglob("*") if path.is_file())


def time_pairs(before: Path, after: Path, files: list[Path], pairs: int) -> None:
    print("| file | before (median) | after (median) | after/before, median of pairs (range) "
          "| output MB before → after |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for src in files:
            times: dict[str, list[float]] = {"before": [], "after": []}
            sizes: dict[str, int] = {}
            for round_ in range(pairs + 1):  # round 0 warms the page cache and both trees' imports
                order = [("before", before), ("after", after)]
                for key, tree in order if round_ % 2 == 0 else reversed(order):
                    took, sizes[key] = sanitize_once(tree, src, Path(scratch) / key)
                    if round_:
                        times[key].append(took)
            ratios = [new / old for new, old in zip(times["after"], times["before"], strict=True)]
            old, new = statistics.median(times["before"]), statistics.median(times["after"])
            print(f"| {src.name} | {old:.2f} s | {new:.2f} s "
                  f"| **{statistics.median(ratios):.2f}×** ({min(ratios):.2f}–{max(ratios):.2f}) "
                  f"| {sizes['before'] / 1e6:.1f} → {sizes['after'] / 1e6:.1f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    making = commands.add_parser("make", help="write the input PDFs into DIR")
    making.add_argument("directory", type=Path)
    timing = commands.add_parser("time", help="time `gateway sanitize` in two trees, pair by pair")
    timing.add_argument("--before", type=Path, required=True, help="baseline checkout with its own .venv")
    timing.add_argument("--after", type=Path, required=True, help="measured checkout with its own .venv")
    timing.add_argument("--pairs", type=int, default=5)
    timing.add_argument("files", type=Path, nargs="+")
    args = parser.parse_args()
    if args.command == "make":
        make(args.directory)
    else:
        time_pairs(args.before.resolve(), args.after.resolve(), [f.resolve() for f in args.files], args.pairs)


if __name__ == "__main__":
    main()
