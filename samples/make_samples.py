"""Generate the sample corpus: harmless stand-ins for real attack traits, named
``<format>-<trait>.<ext>``. Nothing here is live malware: "executables" are inert headers,
"scripts" only show text, the PDF JavaScript only calls app.alert.

    python samples/make_samples.py [OUT_DIR]     (default: samples/out)
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path

import mail_samples
import office_samples
import pikepdf
import py7zr
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

JAPANESE_FONT = Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf")
JAPANESE_TEXT = "令和8年度 情報セキュリティ対策基準 ①㈱ 髙橋 ～ ﾃｽﾄ"
INERT_PE = (b"MZ" + b"\x90\x00" * 29 + struct.pack("<I", 0x40)
            + b"This program cannot be run in DOS mode.\r\n$" + b"\x00" * 16
            + b"PE\x00\x00" + b"\x4c\x01" + b"\x00" * 200)
INERT_ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 120


def text_pdf(path: Path, pages: int = 1, lines: str = JAPANESE_TEXT, *, dense: bool = False) -> None:
    """A4 text pages; ``dense`` fills every line to the margin at 10.5 pt (a worst-case page)."""
    font = "Helvetica"
    if JAPANESE_FONT.exists():
        pdfmetrics.registerFont(TTFont("IPAGothic", str(JAPANESE_FONT)))
        font = "IPAGothic"
    page = canvas.Canvas(str(path), pagesize=A4)
    for number in range(pages):
        page.setFont(font, 10.5 if dense else 11)
        y = 800
        while y > 60 if not dense else y > 40:
            text = f"{lines} p.{number + 1} line {(800 - y) // 16 + 1}"
            if dense:  # every line different, so compression cannot lean on repeats
                full = f"{lines} The quick brown fox jumps 0123456789 {JAPANESE_TEXT}"
                shift = (y * 7 + number * 3) % len(full)
                text = (full[shift:] + full[:shift])[:70]
            page.drawString(50 if not dense else 40, y, text)
            y -= 15 if dense else 16
        page.showPage()
    page.save()


def pdf_with(path: Path, base: Path, mutate: object) -> None:
    with pikepdf.open(base) as pdf:
        mutate(pdf)  # type: ignore[operator]
        pdf.save(path)


def js_action(pdf: pikepdf.Pdf, code: str) -> pikepdf.Dictionary:
    return pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Action, S=pikepdf.Name.JavaScript,
                                                JS=pikepdf.String(code)))


def add_link(pdf: pikepdf.Pdf, action: pikepdf.Dictionary) -> None:
    annot = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[50, 50, 200, 80], A=action))
    pdf.pages[0].obj["/Annots"] = pikepdf.Array([annot])


def make_pdfs(out: Path) -> None:
    clean = out / "pdf-clean.pdf"
    text_pdf(clean)
    text_pdf(out / "pdf-multipage-text.pdf", pages=10)

    def javascript(pdf: pikepdf.Pdf) -> None:
        pdf.Root.OpenAction = js_action(pdf, "app.alert('sample: OpenAction JavaScript');")
        names = pikepdf.Dictionary(JavaScript=pikepdf.Dictionary(
            Names=pikepdf.Array([pikepdf.String("init"), js_action(pdf, "app.alert('names');")])))
        pdf.Root.Names = names
        pdf.pages[0].obj.AA = pikepdf.Dictionary(O=js_action(pdf, "app.alert('page open');"))
        add_link(pdf, js_action(pdf, "app.alert('link');"))

    def launch(pdf: pikepdf.Pdf) -> None:
        add_link(pdf, pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("cmd.exe"),
                                         Win=pikepdf.Dictionary(F=pikepdf.String("cmd.exe"))))

    def uri(pdf: pikepdf.Pdf) -> None:
        add_link(pdf, pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("https://example.com/")))

    def embedded(pdf: pikepdf.Pdf) -> None:
        spec = pikepdf.AttachedFileSpec(pdf, b"sample attachment: would be an .exe in an attack",
                                        filename="invoice.exe")
        pdf.attachments["invoice.exe"] = spec

    def xfa(pdf: pikepdf.Pdf) -> None:
        stream = pdf.make_stream(b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'><script>x</script></xdp:xdp>")
        pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array(), XFA=stream)

    def submit(pdf: pikepdf.Pdf) -> None:
        add_link(pdf, pikepdf.Dictionary(S=pikepdf.Name.SubmitForm, F=pikepdf.String("https://example.com/c")))

    def outline(pdf: pikepdf.Pdf) -> None:
        # two bookmarks; the second chains GoTo -> Launch -> GoToR, with no /Type on the actions
        launch = pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("cmd.exe"))
        remote = pikepdf.Dictionary(S=pikepdf.Name.GoToR, F=pikepdf.String("\\\\attacker.example\\share\\x.pdf"),
                                    D=pikepdf.Array([0, pikepdf.Name.Fit]))
        first = pdf.make_indirect(pikepdf.Dictionary(Title=pikepdf.String("はじめに"),
                                                     Dest=pikepdf.Array([pdf.pages[0].obj, pikepdf.Name.Fit])))
        second = pdf.make_indirect(pikepdf.Dictionary(Title=pikepdf.String("資料"), A=pikepdf.Dictionary(
            S=pikepdf.Name.GoTo, D=pikepdf.Array([pdf.pages[0].obj, pikepdf.Name.Fit]),
            Next=pikepdf.Array([launch, remote]))))
        outlines = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Outlines, First=first, Last=second, Count=2))
        for item, prev, nxt in ((first, None, second), (second, first, None)):
            item.Parent = outlines
            if prev is not None:
                item.Prev = prev
            if nxt is not None:
                item.Next = nxt
        pdf.Root.Outlines = outlines

    def bookmarks(pdf: pikepdf.Pdf) -> None:
        outline(pdf)
        del pdf.Root.Outlines.Last.A

    for trait, mutate in (("outline-launch", outline), ("bookmarks", bookmarks), ("javascript", javascript), ("launch", launch), ("uri-link", uri),
                          ("embedded-file", embedded), ("xfa", xfa), ("submitform", submit)):
        pdf_with(out / f"pdf-{trait}.pdf", clean, mutate)
    with pikepdf.open(clean) as pdf:
        pdf.save(out / "pdf-owner-password.pdf", encryption=pikepdf.Encryption(
            owner="owner-secret", user="", allow=pikepdf.Permissions(extract=False)))
        pdf.save(out / "pdf-user-password.pdf", encryption=pikepdf.Encryption(owner="o", user="user-secret"))
    data = clean.read_bytes()
    (out / "pdf-corrupt.pdf").write_bytes(data[: len(data) // 3])


def make_images(out: Path) -> None:
    photo = Image.new("RGB", (320, 200))
    for x in range(320):
        for y in range(0, 200, 4):
            photo.putpixel((x, y), (x % 256, y, (x * y) % 256))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90
    exif[0x010F] = "SampleCam"
    exif[0x8825] = {2: (35.0, 41.0, 0.0)}  # GPS latitude
    photo.save(out / "jpeg-exif.jpg", "JPEG", quality=90, exif=exif)
    photo.save(out / "png-clean.png")
    payload = b"MZ-PAYLOAD<script>alert('sample')</script>" * 20
    photo.save(out / "png-icc-payload.png", icc_profile=payload)
    photo.save(out / "jpeg-comment.jpg", quality=90, comment=b"<script>alert('sample')</script>")
    photo.save(out / "tiff-photoshop.tif", tiffinfo={34377: payload, 33723: payload})
    meta = io.BytesIO()
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(1)</script>")
    photo.save(meta, "PNG", pnginfo=info)
    (out / "png-text-chunk.png").write_bytes(meta.getvalue())
    polyglot = io.BytesIO()
    with zipfile.ZipFile(polyglot, "w") as archive:
        archive.writestr("payload.js", "WScript.Echo('sample');")
    (out / "png-trailing-zip.png").write_bytes((out / "png-clean.png").read_bytes() + polyglot.getvalue())
    jpeg_polyglot = (out / "jpeg-exif.jpg").read_bytes() + b"<script>alert('polyglot')</script>"
    (out / "jpeg-trailing-script.jpg").write_bytes(jpeg_polyglot)
    frames = [Image.new("RGB", (60, 40), color) for color in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(out / "gif-animated.gif", save_all=True, append_images=frames[1:], duration=200, loop=0)
    photo.save(out / "bmp-clean.bmp")
    photo.save(out / "tiff-multipage.tif", save_all=True, append_images=[photo.rotate(90)])
    photo.save(out / "webp-clean.webp", quality=80)
    (out / "png-bomb.png").write_bytes(png_bomb(60_000, 60_000))
    data = (out / "png-clean.png").read_bytes()
    (out / "png-corrupt.png").write_bytes(data[:200])
    (out / "svg-script.svg").write_text(
        '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        "<script>alert('sample')</script><rect width='10' height='10'/></svg>\n", encoding="utf-8")


def png_bomb(width: int, height: int) -> bytes:
    """A tiny PNG that declares width x height grey pixels (all zero)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    body = b"".join(compressor.compress(row) for _ in range(min(height, 2000))) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def make_text(out: Path) -> None:
    body = f"{JAPANESE_TEXT}\r\n住所: 東京都千代田区 ㈱サンプル ①②③\r\n"
    (out / "txt-utf8.txt").write_text(body, encoding="utf-8")
    (out / "txt-cp932.txt").write_bytes(body.encode("cp932"))
    (out / "txt-eucjp.txt").write_bytes("令和8年度 情報セキュリティ 高橋 テスト ｶﾅ\n".encode("euc_jp"))
    # ISO-2022-JP with NEC row 13 (①, ㈱) as Outlook writes it, and half-width kana by ESC ( I
    iso = (b"\x1b$B" + "お知らせ".encode("iso2022_jp")[3:-3] + b"\x2d\x21\x2d\x6a\x1b(B (NEC) "
           + b"\x1b(I\x43\x44\x1b(B\n")
    (out / "txt-iso2022jp.txt").write_bytes(iso)
    csv_rows = ("氏名,金額,メモ\r\n山田,-12.5,通常\r\n"
                "攻撃,\"=HYPERLINK(\"\"https://example.com\"\",\"\"click\"\")\",+cmd|' /C calc'!A0\r\n"
                "@SUM(1+1),-2+3,＝1+1\r\n")
    (out / "csv-formula.csv").write_bytes(csv_rows.encode("cp932"))
    (out / "html-disguised.txt").write_text(
        "<html><body><p>ご案内</p><script>alert('sample')</script>"
        "<a href='https://example.com/login'>ログイン</a></body></html>", encoding="utf-8")
    (out / "txt-control-chars.txt").write_bytes(b"line\x00one\x1b[31m red\x07\n")


class Cp932ZipInfo(zipfile.ZipInfo):
    """A member name stored as CP932 bytes without the UTF-8 flag, as Windows' Explorer and
    Japanese archivers write it."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # zipfile's own hook
        return self.filename.encode("cp932"), self.flag_bits & ~0x800


def make_archives(out: Path) -> None:
    with zipfile.ZipFile(out / "zip-cp932-names.zip", "w") as archive:
        for name in ("請求書/令和8年度_見積書①.txt", "資料.csv"):
            archive.writestr(Cp932ZipInfo(name), "内容です\r\n".encode("cp932"))
    with zipfile.ZipFile(out / "zip-traversal.zip", "w") as archive:
        archive.writestr("../../escaped.txt", "sample traversal")
        archive.writestr("/abs/path.txt", "sample absolute")
        archive.writestr("C:\\Windows\\evil.txt", "sample drive")
        archive.writestr("ok/normal.txt", "fine")
    with zipfile.ZipFile(out / "zip-mixed.zip", "w") as archive:
        archive.write(out / "pdf-javascript.pdf", "docs/report.pdf")
        archive.writestr("setup.exe", INERT_PE)
        archive.writestr("readme.txt", "読んでください\n")
        archive.writestr("invoice.pdf.lnk", b"L\x00\x00\x00\x01\x14\x02\x00" + b"\x00" * 68)
        archive.writestr("run.js", "WScript.Echo('sample');")
    with zipfile.ZipFile(out / "zip-case-names.zip", "w") as archive:
        for name in ("Docs/a.txt", "docs/a.txt", "b.txt", "B.TXT/c.txt", "-見積書.txt"):
            archive.writestr(name, f"{name}\n")
    with zipfile.ZipFile(out / "zip-only-exe.zip", "w") as archive:
        archive.writestr("setup.exe", INERT_PE)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.write(out / "pdf-clean.pdf", "inner.pdf")
        archive.writestr("deeper.exe", INERT_PE)
    with zipfile.ZipFile(out / "zip-nested.zip", "w") as archive:
        archive.writestr("inner.zip", inner.getvalue())
        archive.writestr("top.txt", "top level\n")
    with zipfile.ZipFile(out / "zip-bomb.zip", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        bomb = zipfile.ZipInfo("zeros.txt")
        bomb.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(bomb, "w", force_zip64=True) as member:
            block = b"\x00" * (1 << 20)
            for _ in range(1024):  # 1 GiB expanded
                member.write(block)
    with zipfile.ZipFile(out / "jar-stub.jar", "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nMain-Class: Sample\n")
        archive.writestr("Sample.class", b"\xca\xfe\xba\xbe\x00\x00\x00\x34")
    if shutil.which("7z"):
        target = out / "zip-encrypted.zip"
        target.unlink(missing_ok=True)
        subprocess.run(["7z", "a", "-tzip", "-psample-password", str(target), str(out / "txt-utf8.txt")],
                       check=True, capture_output=True)
    with py7zr.SevenZipFile(out / "7z-clean.7z", "w") as archive:
        archive.write(out / "pdf-clean.pdf", "文書.pdf")
        archive.write(out / "txt-utf8.txt", "メモ.txt")
    with py7zr.SevenZipFile(out / "7z-encrypted.7z", "w", password="sample-password") as archive:
        archive.write(out / "txt-utf8.txt", "secret.txt")
    with tarfile.open(out / "tar-gz-clean.tar.gz", "w:gz") as archive:
        archive.add(out / "pdf-clean.pdf", "docs/clean.pdf")
        archive.add(out / "csv-formula.csv", "docs/data.csv")
    with tarfile.open(out / "tar-symlink.tar", "w") as archive:
        link = tarfile.TarInfo("passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
        archive.add(out / "txt-utf8.txt", "note.txt")
    (out / "zip-corrupt.zip").write_bytes((out / "zip-mixed.zip").read_bytes()[:300])


def make_blocked(out: Path) -> None:
    (out / "exe-stub.exe").write_bytes(INERT_PE)
    (out / "exe-renamed.pdf").write_bytes(INERT_PE)
    (out / "elf-stub.bin").write_bytes(INERT_ELF)
    (out / "lnk-stub.lnk").write_bytes(b"L\x00\x00\x00\x01\x14\x02\x00" + b"\x00" * 68)
    (out / "one-stub.one").write_bytes(
        b"\xe4\x52\x5c\x7b\x8c\xd8\xa7\x4d\xae\xb1\x53\x78\xd0\x29\x96\xd3" + b"\x00" * 64)
    (out / "chm-stub.chm").write_bytes(b"ITSF\x03\x00\x00\x00" + b"\x00" * 88)
    iso = bytearray(0x9000)
    iso[0x8001:0x8006] = b"CD001"
    (out / "iso-stub.iso").write_bytes(bytes(iso))
    (out / "vhd-stub.vhd").write_bytes(b"\x00" * 1024 + b"conectix" + b"\x00" * 504)
    (out / "js-script.js").write_text("WScript.Echo('sample');\n", encoding="utf-8")
    (out / "vbs-script.vbs").write_text("MsgBox \"sample\"\n", encoding="utf-8")
    (out / "hta-script.hta").write_text("<html><script>alert('sample')</script></html>\n", encoding="utf-8")
    (out / "ps1-script.ps1").write_text("Write-Host 'sample'\n", encoding="utf-8")
    (out / "bat-script.bat").write_text("@echo sample\r\n", encoding="utf-8")
    (out / "sh-script.txt").write_text("#!/bin/sh\necho sample\n", encoding="utf-8")
    (out / "unknown-binary.dat").write_bytes(bytes(range(256)) * 16)


def make_all(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    make_pdfs(out)
    make_images(out)
    make_text(out)
    make_archives(out)
    make_blocked(out)
    office_samples.make_office(out)
    office_samples.make_legacy_samples(out)
    mail_samples.make_mail(out)
    return out


if __name__ == "__main__":
    target = (Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "out").resolve()
    make_all(target)
    print(f"samples written to {target}")
