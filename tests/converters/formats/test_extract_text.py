"""Document text for the mail "text" policy (converters/formats/extract_text.py): it is appended to a
mail body, so it is made as safe as one."""

from __future__ import annotations

import base64
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from converters.formats.extract_text import extract_text

WORD = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _docx(path: Path, paragraphs: list[str]) -> Path:
    body = "".join(f"<w:p><w:r><w:t xml:space=\"preserve\">{escape(text)}</w:t></w:r></w:p>" for text in paragraphs)
    with zipfile.ZipFile(path, "w") as package:
        package.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                         'package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/'
                         'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
        package.writestr("word/document.xml", f'<?xml version="1.0"?><w:document xmlns:w="{WORD}"><w:body>{body}'
                         "</w:body></w:document>")
    return path


def _uuencoded(name: str, data: bytes) -> list[str]:
    import binascii

    lines = [binascii.b2a_uu(data[i:i + 45]).decode("ascii").rstrip("\n") for i in range(0, len(data), 45)]
    return [f"begin 644 {name}", *lines, "`", "end"]


def test_shares_links_and_encoded_files_in_a_document_do_not_reach_the_mail_body(tmp_path: Path) -> None:
    program = b"MZ\x90\x00" + b"This program cannot be run in DOS mode." + bytes(range(256)) * 2
    paragraphs = ["共有 \\\\198.51.100.7\\share\\請求書.exe を開く", "file://198.51.100.7/s/a.lnk",
                  "案内 https://www.city.example.lg.jp/a.html", *_uuencoded("calc.exe", program), "以上"]
    document = _docx(tmp_path / "memo.docx", paragraphs)
    text = extract_text(document)
    assert "共有 ＼＼198.51.100.7\\share\\請求書.exe を開く" in text and "file[:]//198.51.100.7" in text
    assert "hxxps://www[.]city[.]example[.]lg[.]jp/a.html" in text
    assert "begin 644" not in text and "encoded file removed: calc.exe" in text and "以上" in text
    assert base64.b64encode(program[:30]).decode() not in text
    assert "https://www.city.example.lg.jp/a.html" in extract_text(document, defang=False)


def test_plain_text_attachment_text_is_treated_the_same(tmp_path: Path) -> None:
    path = tmp_path / "memo.txt"
    path.write_text("資料: \\\\host\\s\\a.exe と www.example.jp\n", encoding="utf-8")
    assert extract_text(path) == "資料: ＼＼host\\s\\a.exe と www[.]example[.]jp\n"
