"""LibreOffice's own metafiles (SVM) written anew from an allowlist of actions
(converters/formats/metafile_svm.py): real SVMs LibreOffice writes as object previews (an embedded
drawing with gradients, hatches, transparency, bitmaps and Japanese text; a chart) and hand-made
attacks (layouts of vcl's SvmReader). The rewritten pictures are drawn by LibreOffice inside an odt
and compared with the originals' drawing; the actions an attacker wrote are gone; the independent
inspector passes the outputs.

Pixel tolerance: at most 1 % of the pixels of the rendered page may differ by more than 48 in a
channel (LibreOffice's comments carry gradient and path hints its renderer may use instead of the
drawing actions; the pictures here differ by 0 % with LibreOffice 7.4, while the hostile originals
do not draw at all: "Read Error")."""

from __future__ import annotations

import base64
import io
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from converters.formats.metafile_records import Rewritten
from converters.formats.metafile_svm import MAX_DEPTH, rewrite_svm
from converters.inspect.metafile_svm import svm_problems
from converters.inspect.outputs import inspect_file
from tests.conftest import run_engine
from tests.converters.formats.test_metafile import PIXELS, differing, drawn, needs_libreoffice, render
from tests.converters.formats.test_odf import with_parts, write_odf

# --- SVM, by hand ---------------------------------------------------------------------------------


def act(kind: int, body: bytes = b"", version: int = 1) -> bytes:
    """An action: type, then its compat block (version, length, data)."""
    return struct.pack("<HHI", kind, version, len(body)) + body


def compat(body: bytes, version: int = 1) -> bytes:
    return struct.pack("<HI", version, len(body)) + body


def svm(actions: list[bytes], count: int | None = None) -> bytes:
    """A metafile of 20 x 10 mm in hundredths of a millimetre, as LibreOffice writes one."""
    map_mode = compat(struct.pack("<H", 0) + bytes(8) + struct.pack("<iiii", 1, 1, 1, 1) + b"\x01")
    header = struct.pack("<I", 0) + map_mode + struct.pack("<ii", 2000, 1000)
    header += struct.pack("<I", len(actions) if count is None else count)
    return b"VCLMTF" + compat(header) + b"".join(actions)


def actions_of(data: bytes) -> list[tuple[int, int, bytes]]:
    """(type, version, data) of each action at the top level."""
    position = 12 + struct.unpack_from("<I", data, 8)[0]
    found = []
    for _ in range(struct.unpack_from("<I", data, position - 4)[0]):
        kind, version, length = struct.unpack_from("<HHI", data, position)
        found.append((kind, version, data[position + 8:position + 8 + length]))
        position += 8 + length
    return found


def kinds(data: bytes) -> list[int]:
    return [kind for kind, _version, _data in actions_of(data)]


def with_actions(data: bytes, extra: list[bytes]) -> bytes:
    """A metafile with ``extra`` actions before its own (its count raised to match)."""
    end = 12 + struct.unpack_from("<I", data, 8)[0]
    count = struct.unpack_from("<I", data, end - 4)[0]
    return data[:end - 4] + struct.pack("<I", count + len(extra)) + b"".join(extra) + data[end:]


def user_colour(red: int, green: int, blue: int) -> bytes:
    return struct.pack("<HHHH", 0x8000, red * 257, green * 257, blue * 257)


def gradient() -> bytes:
    return compat(struct.pack("<H", 0) + user_colour(255, 0, 0) + user_colour(0, 0, 255) + struct.pack("<7H", *[0] * 7))


def line_colour(rgb: int) -> bytes:
    return act(132, struct.pack("<I", rgb) + b"\x01")


def fill_colour(rgb: int) -> bytes:
    return act(133, struct.pack("<I", rgb) + b"\x01")


def rect(left: int, top: int, right: int, bottom: int) -> bytes:
    return act(103, struct.pack("<iiii", left, top, right, bottom))


def polygon(points: list[tuple[int, int]], count: int | None = None) -> bytes:
    body = struct.pack("<H", len(points) if count is None else count)
    return act(110, body + b"".join(struct.pack("<ii", x, y) for x, y in points))


def benign_actions() -> list[bytes]:
    return [line_colour(0), fill_colour(0xC03030), rect(100, 100, 900, 600), fill_colour(0x3060C0),
            polygon([(1000, 900), (1500, 100), (1900, 900)])]


def file_dib(width: int, height: int, rows: int | None = None) -> bytes:
    """A 24-bit DIB after its BITMAPFILEHEADER; ``rows`` fewer than the height: a header that lies."""
    stride = (width * 3 + 3) // 4 * 4
    bits = bytes([0x30, 0x60, 0xC0]) * width + bytes(stride - 3 * width)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 0, 0, 0, 0)
    body = info + bits * (height if rows is None else rows)
    return b"BM" + struct.pack("<IHHI", 14 + len(body), 0, 0, 54) + body


def bitmap_scale(dib: bytes) -> bytes:
    """META_BMPSCALE_ACTION: the DIB drawn at (1000, 100), 800 x 400."""
    return act(117, dib + struct.pack("<iiii", 1000, 100, 800, 400))


EMF_PLUS = b"\x01\x40\x01\x00" + struct.pack("<III", 28, 16, 0xDBC01002) + bytes(16)
POSTSCRIPT = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n(/etc/passwd) (r) file pop\nshowpage\n"


def comment(name: bytes, data: bytes = b"") -> bytes:
    return act(512, struct.pack("<H", len(name)) + name + struct.pack("<iI", 0, len(data)) + data)


def eps() -> bytes:
    """META_EPS_ACTION: a graphic link to PostScript, its place and a substitute metafile."""
    link = compat(struct.pack("<HII", 4, len(POSTSCRIPT), 0)) + POSTSCRIPT
    return act(143, link + struct.pack("<iiii", 0, 0, 2000, 1000) + svm([rect(0, 0, 10, 10)]))


def float_transparent(inner: bytes) -> bytes:
    return act(147, inner + struct.pack("<iiii", 0, 0, 2000, 1000) + gradient())


def nested(depth: int) -> bytes:
    """A metafile holding transparency groups ``depth`` deep around a rectangle."""
    data = svm([fill_colour(0x208020), rect(100, 700, 500, 950)])
    for _ in range(depth):
        data = svm([float_transparent(data)])
    return data


ATTACKS = {
    "comment": comment(b"EMF_PLUS", EMF_PLUS),
    "eps": eps(),
    "unknown": act(300, b"\x90" * 32),
    "lying bitmap": bitmap_scale(file_dib(64, 64, rows=4)),
    "polygon count": polygon([(0, 0), (500, 500), (0, 500)], count=5000),
    "deep nesting": float_transparent(nested(999)),  # 1000 groups
}
REMOVED = {"comment": "EMF+ records (comments)", "eps": "EPS (PostScript) actions", "unknown": "record types not kept",
           "lying bitmap": "damaged bitmaps", "polygon count": "records shorter than their contents",
           "deep nesting": "transparency groups nested too deep"}


def rewritten(result: Rewritten | str) -> Rewritten:
    assert isinstance(result, Rewritten), result
    return result


# --- the rewrite ----------------------------------------------------------------------------------

def test_a_benign_svm_is_written_as_it_came() -> None:
    source = svm(benign_actions())
    result = rewritten(rewrite_svm(source, PIXELS))
    assert result.data == source and result.removed == {} and svm_problems(result.data) == []


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_each_attack_action_is_left_out_and_named(attack: str) -> None:
    source = svm([ATTACKS[attack], *benign_actions()])
    assert svm_problems(source) != []
    result = rewritten(rewrite_svm(source, PIXELS))
    assert result.removed == {REMOVED[attack]: 1}
    assert result.data == svm(benign_actions())
    assert svm_problems(result.data) == []


def test_a_metafile_of_comments_and_eps_alone_is_refused() -> None:
    assert rewrite_svm(svm([comment(b"EMF_PLUS", EMF_PLUS), eps()]), PIXELS) == (
        "nothing of the SVM metafile is left to draw without its EMF+ records (comments) x1, "
        "EPS (PostScript) actions x1")


@pytest.mark.parametrize("damage", ["magic", "header", "count", "action beyond the end", "none action"])
def test_a_damaged_svm_is_refused_whole(damage: str) -> None:
    source = svm(benign_actions())
    data = {"magic": b"VCLMTX" + source[6:], "header": source[:20], "count": svm(benign_actions(), count=6),
            "action beyond the end": source[:-3], "none action": svm([b"\x00\x00", *benign_actions()])}[damage]
    assert rewrite_svm(data, PIXELS) == "a damaged or disguised SVM metafile"


def test_fields_of_later_versions_and_bytes_past_an_action_are_not_copied() -> None:
    """A line of version 9 keeps the fields of version 2 and a line info of version 5; what follows
    them inside the action, and bytes after the last action, go."""
    line_info = compat(struct.pack("<Hi", 1, 30) + bytes(16) + struct.pack("<HH", 2, 1) + bytes(32) + b"MZ\x90", 7)
    line = act(102, struct.pack("<iiii", 0, 0, 1000, 1000) + line_info + b"<script>", version=9)
    result = rewritten(rewrite_svm(svm([line_colour(0), line]) + b"PK\x03\x04", PIXELS))
    [(_kind, _version, _colour), (kind, version, data)] = actions_of(result.data)
    assert (kind, version, len(data)) == (102, 2, 16 + 6 + 58) and b"MZ" not in data and b"<script>" not in data
    assert struct.unpack_from("<HI", data, 16) == (5, 58) and result.trailing == 4


def test_text_after_a_unicode_font_is_read_as_utf16() -> None:
    """A font in RTL_TEXTENCODING_UNICODE makes the texts after it UTF-16 with a 32-bit length (read
    the 8-bit way, the string would end inside the characters and the index fields would be text)."""
    names = struct.pack("<H", 5) + b"Arial" + struct.pack("<H", 0)
    font = act(138, compat(names + struct.pack("<ii", 0, 300) + struct.pack("<H", 0xFFFF) + bytes(16 + 2 + 4)))
    text = "日本語".encode("utf-16-le")
    action = act(112, struct.pack("<ii", 100, 500) + struct.pack("<I", 3) + text + struct.pack("<HH", 0, 3))
    result = rewritten(rewrite_svm(svm([font, action]), PIXELS))
    assert result.removed == {} and result.data == svm([font, action]) and svm_problems(result.data) == []
    [_font, (_kind, _version, data)] = actions_of(result.data)
    assert data[8:12] == struct.pack("<I", 3) and data[12:18] == text


def test_bitmaps_are_checked_and_written_anew() -> None:
    whole = bitmap_scale(file_dib(4, 2))
    offset_lies = bitmap_scale(file_dib(4, 2)[:10] + struct.pack("<I", 4000) + file_dib(4, 2)[14:])
    png_inside = bitmap_scale(file_dib(4, 2)[:14 + 16] + struct.pack("<I", 5) + file_dib(4, 2)[14 + 20:])
    result = rewritten(rewrite_svm(svm([whole, offset_lies, png_inside]), PIXELS))
    assert kinds(result.data) == [117]
    assert result.removed == {"damaged bitmaps": 1, "JPEG or PNG bitmaps": 1}
    assert rewritten(rewrite_svm(svm([whole, *benign_actions()]), 7)).removed == {"bitmaps over the size limit": 1}


def test_a_transparency_group_is_written_anew_inside() -> None:
    inner = svm([comment(b"XGRAD_SEQ_BEGIN"), *benign_actions(), act(300, b"x")])
    result = rewritten(rewrite_svm(svm([float_transparent(inner)]), PIXELS))
    assert result.removed == {"comments": 1, "record types not kept": 1}
    [(kind, _version, data)] = actions_of(result.data)
    assert kind == 147 and data.startswith(svm(benign_actions()))
    assert svm_problems(result.data) == []


def test_nesting_is_kept_to_its_depth() -> None:
    result = rewritten(rewrite_svm(nested(MAX_DEPTH), PIXELS))
    assert result.removed == {} and result.data == nested(MAX_DEPTH) and svm_problems(result.data) == []
    assert rewrite_svm(nested(MAX_DEPTH + 1), PIXELS) == (
        "nothing of the SVM metafile is left to draw without its transparency groups nested too deep x1")
    assert svm_problems(nested(MAX_DEPTH + 1)) == ["SVM transparency groups nested too deep"]


# --- real SVMs, drawn -----------------------------------------------------------------------------

def drawing_fodt(path: Path) -> Path:
    """A flat odt with an embedded drawing (gradient, hatch with a dashed line, transparency, a
    transparency gradient, a photo and a half-transparent bitmap, Japanese text): LibreOffice writes
    its preview as an SVM when it saves the odt."""
    photo, alpha = io.BytesIO(), io.BytesIO()
    image = Image.new("RGB", (16, 12))
    image.putdata([(x * 16, y * 20, 128) for y in range(12) for x in range(16)])
    image.save(photo, "PNG")
    Image.new("RGBA", (16, 12), (30, 160, 30, 120)).save(alpha, "PNG")
    ns = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
          'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
          'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
          'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" office:version="1.3"')
    graphic = "style:family=\"graphic\"><style:graphic-properties"
    drawing = (
        f'<office:document {ns} office:mimetype="application/vnd.oasis.opendocument.graphics"><office:styles>'
        '<draw:gradient draw:name="grad" draw:style="linear" draw:start-color="#ff0000" draw:end-color="#0000ff" '
        'draw:angle="300" draw:border="0%"/><draw:hatch draw:name="hat" draw:style="double" draw:color="#008000" '
        'draw:distance="0.2cm" draw:rotation="450"/><draw:stroke-dash draw:name="dsh" draw:style="rect" '
        'draw:dots1="1" draw:dots1-length="0.2cm" draw:distance="0.1cm"/><draw:opacity draw:name="tg" '
        'draw:style="linear" draw:start="0%" draw:end="100%" draw:angle="0" draw:border="0%"/></office:styles>'
        f'<office:automatic-styles><style:style style:name="g1" {graphic} draw:fill="gradient" '
        'draw:fill-gradient-name="grad" draw:stroke="solid" svg:stroke-width="0.05cm" svg:stroke-color="#000000"/>'
        f'</style:style><style:style style:name="h1" {graphic} draw:fill="hatch" draw:fill-hatch-name="hat" '
        f'draw:stroke="dash" draw:stroke-dash="dsh"/></style:style><style:style style:name="t1" {graphic} '
        'draw:fill="solid" draw:fill-color="#3060c0" draw:opacity="50%"/></style:style><style:style '
        f'style:name="f1" {graphic} draw:fill="solid" draw:fill-color="#c03030" draw:opacity-name="tg"/>'
        '</style:style><style:style style:name="P1" style:family="paragraph"><style:text-properties '
        'fo:font-size="18pt"/></style:style></office:automatic-styles><office:body><office:drawing>'
        '<draw:page draw:name="p1"><draw:rect draw:style-name="g1" svg:x="1cm" svg:y="1cm" svg:width="6cm" '
        'svg:height="3cm"/><draw:ellipse draw:style-name="h1" svg:x="8cm" svg:y="1cm" svg:width="5cm" '
        'svg:height="3cm"/><draw:polygon draw:style-name="t1" svg:x="1cm" svg:y="5cm" svg:width="4cm" '
        'svg:height="3cm" svg:viewBox="0 0 4000 3000" draw:points="0,3000 2000,0 4000,3000"/><draw:rect '
        'draw:style-name="f1" svg:x="6cm" svg:y="5cm" svg:width="4cm" svg:height="3cm"/>'
        '<draw:frame svg:x="11cm" svg:y="5cm" svg:width="3cm" svg:height="2cm"><draw:image><office:binary-data>'
        f'{base64.b64encode(photo.getvalue()).decode()}</office:binary-data></draw:image></draw:frame>'
        '<draw:frame svg:x="14.5cm" svg:y="5cm" svg:width="3cm" svg:height="2cm"><draw:image><office:binary-data>'
        f'{base64.b64encode(alpha.getvalue()).decode()}</office:binary-data></draw:image></draw:frame>'
        '<draw:frame svg:x="1cm" svg:y="9cm" svg:width="12cm" svg:height="2cm"><draw:text-box>'
        '<text:p text:style-name="P1">日本語の図 Test</text:p></draw:text-box></draw:frame></draw:page>'
        '</office:drawing></office:body></office:document>')
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?><office:document {ns} '
                    'office:mimetype="application/vnd.oasis.opendocument.text"><office:body><office:text>'
                    '<text:p>図の文書</text:p><text:p><draw:frame text:anchor-type="as-char" svg:width="17cm" '
                    f'svg:height="11cm"><draw:object>{drawing}</draw:object></draw:frame></text:p></office:text>'
                    '</office:body></office:document>', encoding="utf-8")
    return path


def chart_pptx(path: Path) -> Path:
    from pptx import Presentation
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches

    presentation = Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[6])
    data = CategoryChartData()
    data.categories = ["東京", "大阪", "名古屋"]
    data.add_series("人口", (13.9, 8.8, 7.5))
    slide.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(1), Inches(6), Inches(4), data)
    presentation.save(str(path))
    return path


def libreoffice_svms(work: Path) -> dict[str, bytes]:
    """The previews LibreOffice writes for an embedded drawing (odt) and a chart (odp)."""
    found = {}
    for source, kind in ((drawing_fodt(work / "drawing.fodt"), "odt"), (chart_pptx(work / "chart.pptx"), "odp")):
        subprocess.run(["soffice", "--headless", "--norestore", f"-env:UserInstallation=file://{work}/profile",
                        "--convert-to", kind, "--outdir", str(work / "lo"), str(source)],
                       capture_output=True, timeout=240, check=False)
        with zipfile.ZipFile((work / "lo" / source.name).with_suffix(f".{kind}")) as package:
            found[source.stem] = package.read("ObjectReplacements/Object 1")
    return found


def odt_with_svm(path: Path, picture: bytes) -> Path:
    body = ('<text:p><draw:frame draw:name="f" svg:width="16cm" svg:height="10cm"><draw:image '
            'xlink:href="Pictures/drawing.svm" xlink:type="simple"/></draw:frame></text:p>')
    return with_parts(write_odf(path.with_name(f"{path.stem}-plain.odt"), body), path,
                      {"Pictures/drawing.svm": picture}, {"Pictures/drawing.svm": "image/x-svm"})


def normalised(action: bytes) -> bytes:
    """An action with each DIB's file size field zeroed (LibreOffice writes an RLE mask's unpacked size
    there; the reader never reads it)."""
    position = action.find(b"BM")
    while position >= 0 and position + 6 <= len(action):
        action = action[:position + 2] + bytes(4) + action[position + 6:]
        position = action.find(b"BM", position + 6)
    return action


@needs_libreoffice
def test_libreoffice_svms_keep_every_action_but_comments_and_draw_as_before(tmp_path: Path) -> None:
    """Every action of LibreOffice's previews but the comments stays as it was; with the attacks
    added, the odt's picture loses them with findings and draws as the benign original does."""
    sources, names = [], []
    for name, original in libreoffice_svms(tmp_path).items():
        assert 512 in kinds(original) and svm_problems(original) == ["SVM comment (EMF+ or other data)"]
        result = rewritten(rewrite_svm(original, PIXELS))
        assert set(result.removed) == {"comments"} and svm_problems(result.data) == []
        kept = [act(kind, data, version) for kind, version, data in actions_of(original) if kind != 512]
        assert [normalised(a) for a in kept] == [normalised(act(k, d, v)) for k, v, d in actions_of(result.data)]
        hostile = odt_with_svm(tmp_path / f"{name}-hostile.odt", with_actions(original, list(ATTACKS.values())))
        report = run_engine(hostile, tmp_path / f"out-{name}")
        assert report.outcome == "sanitized"
        [detail] = [f.detail for f in report.findings if f.code == "metafile_records_removed"]
        assert all(kind in detail for kind in REMOVED.values()), detail
        output = tmp_path / f"out-{name}" / report.outputs[0].path
        assert inspect_file(output, tmp_path).clean
        with zipfile.ZipFile(output) as package:
            cleaned = package.read("Pictures/drawing.svm")
        assert {512, 143, 300}.isdisjoint(kinds(cleaned)) and b"%!PS" not in cleaned and EMF_PLUS not in cleaned
        sources += [odt_with_svm(tmp_path / f"{name}-benign.odt", original), output]
        names.append(name)
    images = render(sources, tmp_path)
    for index, name in enumerate(names):
        benign_image, clean_image = images[2 * index], images[2 * index + 1]
        assert drawn(clean_image), name
        assert differing(benign_image, clean_image) <= 0.01, name
