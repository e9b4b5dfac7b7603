"""Seeds for the fuzz targets: the project's samples (samples/make_samples.py, generated into a
temporary directory, never committed) that are small enough to mutate quickly, plus small seeds
made here - minimal packages and messages whose few parts the structure-aware mutators reach
quickly."""

from __future__ import annotations

import base64
import bz2
import gzip
import io
import lzma
import tarfile
import zipfile
from pathlib import Path

MAX_SEED_BYTES = 64 * 1024
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _zip(parts: list[tuple[str, str | bytes]], stored: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts:
            archive.writestr(name, data, compress_type=zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def minimal_docx() -> bytes:
    types = (f'{XML_HEAD}<Types xmlns="{CT}"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
             'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
             '"/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.'
             'document.main+xml"/></Types>')
    rels = (f'{XML_HEAD}<Relationships xmlns="{PKG_RELS}"><Relationship Id="rId1" Type="{R}/officeDocument" '
            'Target="word/document.xml"/></Relationships>')
    doc_rels = (f'{XML_HEAD}<Relationships xmlns="{PKG_RELS}"><Relationship Id="rId5" Type="{R}/hyperlink" '
                'Target="https://example.com/" TargetMode="External"/></Relationships>')
    document = (f'{XML_HEAD}<w:document xmlns:w="{W}" xmlns:r="{R}"><w:body><w:p><w:r><w:t>請求書 日本語</w:t></w:r>'
                '</w:p><w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve"> '
                'DATE </w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>2026/1/1</w:t>'
                '</w:r><w:r><w:fldChar w:fldCharType="end"/></w:r></w:p><w:p><w:hyperlink r:id="rId5"><w:r><w:t>'
                'link</w:t></w:r></w:hyperlink></w:p><w:sectPr/></w:body></w:document>')
    return _zip([("[Content_Types].xml", types), ("_rels/.rels", rels), ("word/document.xml", document),
                 ("word/_rels/document.xml.rels", doc_rels)])


def minimal_xlsx() -> bytes:
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    types = (f'{XML_HEAD}<Types xmlns="{CT}"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
             'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
             f'<Override PartName="/xl/workbook.xml" ContentType="{sheet_type}.sheet.main+xml"/>'
             f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{sheet_type}.worksheet+xml"/>'
             f'<Override PartName="/xl/sharedStrings.xml" ContentType="{sheet_type}.sharedStrings+xml"/></Types>')
    rels = (f'{XML_HEAD}<Relationships xmlns="{PKG_RELS}"><Relationship Id="rId1" Type="{R}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>')
    wb_rels = (f'{XML_HEAD}<Relationships xmlns="{PKG_RELS}"><Relationship Id="rId1" Type="{R}/worksheet" '
               f'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{R}/sharedStrings" '
               'Target="sharedStrings.xml"/></Relationships>')
    workbook = (f'{XML_HEAD}<workbook xmlns="{main}" xmlns:r="{R}"><sheets><sheet name="表1" sheetId="1" r:id="rId1"/>'
                '</sheets><definedNames><definedName name="合計">表1!$B$1</definedName></definedNames></workbook>')
    sheet = (f'{XML_HEAD}<worksheet xmlns="{main}" xmlns:r="{R}"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c>'
             '<c r="B1"><f>SUM(1,2)</f><v>3</v></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>=1+1</t></is>'
             '</c></row></sheetData></worksheet>')
    strings = f'{XML_HEAD}<sst xmlns="{main}" count="1" uniqueCount="1"><si><t>見積</t></si></sst>'
    return _zip([("[Content_Types].xml", types), ("_rels/.rels", rels), ("xl/workbook.xml", workbook),
                 ("xl/_rels/workbook.xml.rels", wb_rels), ("xl/worksheets/sheet1.xml", sheet),
                 ("xl/sharedStrings.xml", strings)])


def minimal_odf(kind: str) -> bytes:
    office = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
    namespaces = (f'xmlns:office="{office}" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
                  'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
                  'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:of="urn:oasis:names:tc:opendocument:xmlns:of:1.2"')
    if kind == "text":
        body = ('<office:text><text:p>日本語の文書</text:p><text:p><text:a xlink:type="simple" '
                'xlink:href="https://example.com/">link</text:a></text:p></office:text>')
    else:
        body = ('<office:spreadsheet><table:table table:name="表"><table:table-row><table:table-cell '
                'office:value-type="float" office:value="3" table:formula="of:=SUM(1;2)"><text:p>3</text:p>'
                '</table:table-cell></table:table-row></table:table></office:spreadsheet>')
    content = (f'{XML_HEAD}<office:document-content {namespaces} office:version="1.2"><office:body>{body}'
               '</office:body></office:document-content>')
    mime = f"application/vnd.oasis.opendocument.{kind}"
    manifest = (f'{XML_HEAD}<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
                f'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="{mime}"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                '</manifest:manifest>')
    return _zip([("mimetype", mime), ("content.xml", content), ("META-INF/manifest.xml", manifest)],
                stored=("mimetype",))


def small_pdf() -> bytes:
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    page = pdf.pages[0]
    page.obj.Contents = pdf.make_stream(b"BT /F1 12 Tf 20 100 Td (Hello) Tj ET")
    page.obj.Annots = pdf.make_indirect(pikepdf.Array([pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 50, 50],
        A=pikepdf.Dictionary(S=pikepdf.Name.GoTo, D=pikepdf.Array([page.obj, pikepdf.Name.Fit])))]))
    buffer = io.BytesIO()
    pdf.save(buffer, compress_streams=False, object_stream_mode=pikepdf.ObjectStreamMode.disable)
    return buffer.getvalue()


def small_images() -> dict[str, bytes]:
    from PIL import Image

    images = {}
    picture = Image.new("RGB", (8, 6), (200, 30, 40))
    for name, fmt, extra in (("s.png", "PNG", {}), ("s.jpg", "JPEG", {"quality": 50}), ("s.bmp", "BMP", {}),
                             ("s.tif", "TIFF", {"compression": "tiff_deflate"}), ("s.webp", "WEBP", {}),
                             ("s.gif", "GIF", {})):
        buffer = io.BytesIO()
        picture.save(buffer, fmt, **extra)
        images[name] = buffer.getvalue()
    buffer = io.BytesIO()
    frames = [Image.new("P", (4, 4), i) for i in range(3)]
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    images["frames.gif"] = buffer.getvalue()
    buffer = io.BytesIO()
    Image.new("LA", (5, 5), (10, 128)).save(buffer, "PNG")
    images["alpha.png"] = buffer.getvalue()
    return images


def archives() -> dict[str, bytes]:
    text = "見積書の本文\r\n".encode("cp932")
    made = {"two.zip": _zip([("readme.txt", "読んでください\n"), ("data/表.csv", "a,b\r\n1,=1+1\r\n")]),
            "nested.zip": _zip([("inner.zip", _zip([("deep.txt", "deep\n")])), ("top.txt", "top\n")])}
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("descriptor.txt", "w") as member:  # written with a data descriptor
            member.write(b"streamed member\n" * 4)
    made["descriptor.zip"] = stream.getvalue()
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in (("a.txt", text), ("dir/b.csv", b"x,y\r\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    made["small.tar"] = tar.getvalue()
    made["small.tar.gz"] = gzip.compress(tar.getvalue(), mtime=0)
    made["note.txt.gz"] = gzip.compress(text, mtime=0)
    made["note.txt.bz2"] = bz2.compress(text)
    made["note.txt.xz"] = lzma.compress(text)
    try:
        import py7zr

        seven = io.BytesIO()
        with py7zr.SevenZipFile(seven, "w") as archive:
            archive.writestr(text, "a.txt")
        made["small.7z"] = seven.getvalue()
    except ImportError:
        pass
    return made


def texts() -> dict[str, bytes]:
    return {"utf8.txt": "日本語のテキスト\n二行目\n".encode(), "sjis.txt": "全角　ｶﾅ ①\r\n".encode("cp932"),
            "jis.txt": "日本語\n".encode("iso-2022-jp"), "formula.csv": "名前,値\r\n=SUM(A1),＋1\r\n@x,-2\r\n".encode(),
            "page.html": b"<html><body><p>hi <a href='https://example.com/'>x</a></p><script>x()</script></body></html>"}


def rtf() -> dict[str, bytes]:
    return {"small.rtf": (b"{\\rtf1\\ansi\\ansicpg932\\deff0{\\fonttbl{\\f0\\fcharset128 MS Mincho;}}"
                          b"\\f0 \\'93\\'fa\\'96\\'7b {\\field{\\*\\fldinst DATE}{\\fldrslt 1}}"
                          b"{\\object\\objemb{\\*\\objclass Package}{\\*\\objdata 0105000002000000}}\\par}")}


def mails() -> dict[str, bytes]:
    attachment = base64.encodebytes(_zip([("a.txt", "添付\n")])).replace(b"\n", b"\r\n")
    multipart = (b"From: =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <a@example.jp>\r\nTo: b@city.example.lg.jp\r\n"
                 b"Subject: =?UTF-8?B?5pel5pys6Kqe?=\r\nMIME-Version: 1.0\r\n"
                 b'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n--outer\r\n'
                 b'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n--alt\r\n'
                 b"Content-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
                 + "本文です。\r\n".encode("iso-2022-jp") + b"\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\n"
                 b"Content-Transfer-Encoding: quoted-printable\r\n\r\n<p>=E6=9C=AC</p>\r\n--alt--\r\n--outer\r\n"
                 b"Content-Type: application/zip; name=\"a.zip\"\r\nContent-Transfer-Encoding: base64\r\n"
                 b"Content-Disposition: attachment; filename*=UTF-8''%E8%B3%87%E6%96%99.zip\r\n\r\n" + attachment
                 + b"--outer--\r\n")
    forwarded = (b"From: a@example.jp\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\n"
                 b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n'
                 b"see below\r\n--b1\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@example.jp\r\nSubject: inner\r\n"
                 b"Content-Type: text/plain; charset=shift_jis\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                 + "内側の本文\r\n".encode("cp932") + b"--b1--\r\n")
    plain = b"From: a@example.jp\nSubject: plain\n\nhello\n"
    return {"multipart.eml": multipart, "forwarded.eml": forwarded, "plain.eml": plain}


def handmade() -> dict[str, bytes]:
    made: dict[str, bytes] = {"tiny.docx": minimal_docx(), "tiny.xlsx": minimal_xlsx(),
                              "tiny.odt": minimal_odf("text"), "tiny.ods": minimal_odf("spreadsheet"),
                              "tiny.pdf": small_pdf()}
    for group in (small_images(), archives(), texts(), rtf(), mails()):
        made.update(group)
    return made


def sample_files(samples: Path | None, max_bytes: int = MAX_SEED_BYTES) -> dict[str, bytes]:
    """The generated samples small enough to be useful seeds (bombs and 10 MB mails left out)."""
    if samples is None:
        return {}
    return {path.name: path.read_bytes() for path in sorted(samples.iterdir())
            if path.is_file() and path.stat().st_size <= max_bytes}


def make_samples(target: Path) -> Path:
    """Generate the project's samples into ``target`` (a temporary directory)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "samples"))
    import make_samples as generator

    return Path(generator.make_all(target))
