"""Pictures in a rebuilt PDF are pixels the converter decoded and encoded itself (converters/formats/
pdf_images.py): JBIG2, JPEG 2000, CCITT fax and JPEG bytes an attacker wrote never reach a reader's
decoder. Each kind of picture a PDF carries goes through and still looks the same (the page rendered by
pypdfium2 before and after: lossless pictures identical, re-encoded JPEGs within a mean difference of 4
of 255 per channel); what does not decode, or would be too large once decoded, is removed with a
finding; the inspector (converters/inspect/pdf_images.py) refuses an output still carrying a codec."""

from __future__ import annotations

import io
import shutil
import struct
import time
import zlib
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest
from pikepdf import Array, Dictionary, Name
from PIL import Image, ImageChops, ImageDraw, ImageStat, TiffImagePlugin
from reportlab.pdfgen import canvas

from converters.base import Limits
from converters.inspect.outputs import inspect_file
from tests.conftest import run_engine

W, H = 160, 120
SAME = 0.5  # lossless: the mean difference of the rendered page (0-255 per channel)
JPEG_LOSS = 4.0  # re-encoded JPEG with the input's own quantisation tables


def photo(mode: str = "RGB") -> Image.Image:
    picture = Image.new("RGB", (W, H))
    draw = ImageDraw.Draw(picture)
    for x in range(W):
        draw.line([(x, 0), (x, H)], fill=(x * 255 // W, 120, 255 - x * 255 // W))
    draw.ellipse([20, 20, 90, 90], fill=(250, 220, 30))
    draw.rectangle([100, 60, 150, 110], fill=(20, 20, 20))
    return picture.convert(mode)


def drawing() -> Image.Image:
    """Black and white: shapes in black (0) on white (255)."""
    picture = Image.new("1", (W, H), 255)
    draw = ImageDraw.Draw(picture)
    draw.rectangle([10, 10, 70, 50], fill=0)
    draw.ellipse([80, 30, 150, 110], fill=0)
    draw.line([(0, H - 1), (W - 1, 0)], fill=0, width=3)
    return picture


def encoded(picture: Image.Image, kind: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, kind, **options)
    return buffer.getvalue()


def group4(picture: Image.Image) -> bytes:
    """CCITT G4 data coding the picture's black (0) as the fax's black runs (libtiff through Pillow)."""
    inverted = picture.point(lambda value: 0 if value else 255)  # Pillow writes mode 1 as min-is-black
    data = encoded(inverted, "TIFF", compression="group4", tiffinfo={278: H})
    tiff = Image.open(io.BytesIO(data))
    assert isinstance(tiff, TiffImagePlugin.TiffImageFile)
    offset, count = tiff.tag_v2[273], tiff.tag_v2[279]
    offset = offset[0] if isinstance(offset, tuple) else offset
    count = count[0] if isinstance(count, tuple) else count
    return data[offset:offset + count]


def jbig2(picture: Image.Image) -> bytes:
    """An embedded JBIG2 stream (ISO 14492, as PDF holds it): page information, one immediate lossless
    generic region coded with MMR (T.6, the fax's G4), end of page."""
    def segment(number: int, kind: int, body: bytes) -> bytes:
        return struct.pack(">IBBBI", number, kind, 0, 1, len(body)) + body
    page = struct.pack(">IIIIBH", W, H, 0, 0, 1, 0)
    region = struct.pack(">IIIIB", W, H, 0, 0, 0) + bytes([1]) + group4(picture)
    return segment(0, 48, page) + segment(1, 39, region) + segment(2, 49, b"")


def one_picture(path: Path, data: bytes, entries: dict[str, object], background: bytes = b"",
                smask: tuple[dict[str, object], bytes] | None = None) -> Path:
    """A page of the picture's size drawing it once (over ``background``'s drawing)."""
    pdf = pikepdf.new()
    image = pikepdf.Stream(pdf, data)
    image["/Type"], image["/Subtype"], image["/Width"], image["/Height"] = Name.XObject, Name.Image, W, H
    for key, value in entries.items():
        image[key] = value
    if smask is not None:
        mask = pikepdf.Stream(pdf, smask[1])
        mask_entries = {"/Type": Name.XObject, "/Subtype": Name.Image, "/Width": W, "/Height": H, **smask[0]}
        for key, value in mask_entries.items():
            mask[key] = value
        image["/SMask"] = mask
    page = Dictionary(Type=Name.Page, MediaBox=[0, 0, W, H], Resources=Dictionary(XObject=Dictionary(Im0=image)),
                      Contents=pikepdf.Stream(pdf, background + f"q {W} 0 0 {H} 0 0 cm /Im0 Do Q".encode()))
    pdf.pages.append(pikepdf.Page(page))
    pdf.save(path)
    return path


def rendered(path: Path) -> Image.Image:
    document = pdfium.PdfDocument(str(path))
    try:
        picture: Image.Image = document[0].render(scale=1).to_pil()
        return picture.convert("RGB")
    finally:
        document.close()


def mean_difference(before: Image.Image, after: Image.Image) -> float:
    assert before.size == after.size
    return max(ImageStat.Stat(ImageChops.difference(before, after)).mean)


def filters_and_data(path: Path) -> list[tuple[list[str], bytes]]:
    with pikepdf.open(path) as pdf:
        found = []
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Stream) and "/Width" in obj:
                listed = obj.get("/Filter")
                names = [str(item) for item in (listed if isinstance(listed, Array) else [listed] if listed else [])]
                found.append((names, obj.read_raw_bytes()))
        return found


def run_length(data: bytes) -> bytes:
    """RunLengthDecode data written as literal runs of 128 bytes (ISO 32000-2 7.4.5)."""
    runs = [data[at:at + 128] for at in range(0, len(data), 128)]
    return b"".join(bytes([len(run) - 1]) + run for run in runs) + b"\x80"


def rebuilt(source: Path, out: Path) -> tuple[Path, list[tuple[str, str]]]:
    report = run_engine(source, out)
    assert report.outputs, report.reason
    return out / report.outputs[0].path, [(finding.code, finding.detail) for finding in report.findings]


CMYK_INVERTED = Array([1, 0, 1, 0, 1, 0, 1, 0])  # how Acrobat places a Photoshop (Adobe, inverted) CMYK JPEG
CASES: dict[str, tuple[bytes, dict[str, object], float]] = {
    "jpeg": (encoded(photo(), "JPEG", quality=90),
             {"/ColorSpace": Name.DeviceRGB, "/BitsPerComponent": 8, "/Filter": Name.DCTDecode}, JPEG_LOSS),
    "jpeg grey": (encoded(photo("L"), "JPEG", quality=85),
                  {"/ColorSpace": Name.DeviceGray, "/BitsPerComponent": 8, "/Filter": Name.DCTDecode}, JPEG_LOSS),
    "jpeg inside ASCII85 and Flate": (
        zlib.compress(__import__("base64").a85encode(encoded(photo(), "JPEG", quality=90), adobe=True)[2:]),
        {"/ColorSpace": Name.DeviceRGB, "/BitsPerComponent": 8,
         "/Filter": Array([Name.FlateDecode, Name.ASCII85Decode, Name.DCTDecode])}, JPEG_LOSS),
    "cmyk jpeg, Adobe inverted": (encoded(photo("CMYK"), "JPEG", quality=90),
                                  {"/ColorSpace": Name.DeviceCMYK, "/BitsPerComponent": 8, "/Filter": Name.DCTDecode,
                                   "/Decode": CMYK_INVERTED}, JPEG_LOSS),
    "jpeg 2000": (encoded(photo(), "JPEG2000"), {"/Filter": Name.JPXDecode}, SAME),
    "jpeg 2000 in the dictionary's colour space": (
        encoded(photo(), "JPEG2000"), {"/Filter": Name.JPXDecode, "/ColorSpace": Name.DeviceRGB,
                                       "/BitsPerComponent": 8}, SAME),
    "ccitt g4": (group4(drawing()), {"/ColorSpace": Name.DeviceGray, "/BitsPerComponent": 1,
                                     "/Filter": Name.CCITTFaxDecode,
                                     "/DecodeParms": Dictionary(K=-1, Columns=W, Rows=H)}, SAME),
    "ccitt g4, black is 1": (group4(drawing()), {"/ColorSpace": Name.DeviceGray, "/BitsPerComponent": 1,
                                                 "/Filter": Name.CCITTFaxDecode,
                                                 "/DecodeParms": Dictionary(K=-1, Columns=W, BlackIs1=True)}, SAME),
    "jbig2": (jbig2(drawing()), {"/ColorSpace": Name.DeviceGray, "/BitsPerComponent": 1,
                                 "/Filter": Name.JBIG2Decode}, SAME),
    "indexed, 2 bits": (zlib.compress(bytes((x // 40 * 64 + y // 30 * 16 + (x // 10 % 4) * 4 + y // 10 % 4) & 0xFF
                                            for y in range(H) for x in range(0, W, 4))),
                        {"/ColorSpace": Array([Name.Indexed, Name.DeviceRGB, 3,
                                               pikepdf.String(bytes([200, 30, 30, 30, 200, 30, 30, 30, 200,
                                                                     240, 240, 0]))]),
                         "/BitsPerComponent": 2, "/Filter": Name.FlateDecode}, SAME),
    "16 bits": (zlib.compress(b"".join(struct.pack(">HHH", x * 400, y * 500, 65535 - x * 400)
                                       for y in range(H) for x in range(W))),
                {"/ColorSpace": Name.DeviceRGB, "/BitsPerComponent": 16, "/Filter": Name.FlateDecode}, SAME),
    "stencil mask": (zlib.compress(drawing().tobytes()), {"/ImageMask": True, "/Decode": Array([1, 0]),
                                                           "/Filter": Name.FlateDecode}, SAME),
    "lab, run length": (run_length(bytes(v for y in range(H) for x in range(W) for v in (y * 2, x + 48, 200 - x))),
                        {"/ColorSpace": Array([Name.Lab, Dictionary(WhitePoint=[0.9505, 1, 1.089])]),
                         "/BitsPerComponent": 8, "/Filter": Name.RunLengthDecode}, SAME),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_kind_of_picture_is_written_anew_and_looks_the_same(tmp_path: Path, case: str) -> None:
    data, entries, tolerance = CASES[case]
    background = b"0 0 1 rg 0 0 160 120 re f 1 0 0 rg " if case == "stencil mask" else b""
    source = one_picture(tmp_path / "in.pdf", data, entries, background)
    output, findings = rebuilt(source, tmp_path / "out")
    assert findings == []  # a picture that decodes is no finding: the file passes
    written = filters_and_data(output)
    assert len(written) == 1
    names, raw = written[0]
    assert names in (["/FlateDecode"], ["/DCTDecode"])
    if entries["/Filter"] != Name.FlateDecode:
        assert raw != data  # not the input's bytes (zlib may well write the same Flate again)
    before, after = rendered(source), rendered(output)
    assert ImageStat.Stat(before.convert("L")).stddev[0] > 20  # the picture is there to compare
    assert mean_difference(before, after) <= tolerance
    assert inspect_file(output, tmp_path).problems == []


def test_a_jpeg_2000_with_alpha_gets_it_as_a_soft_mask(tmp_path: Path) -> None:
    picture = photo("RGBA")
    picture.putalpha(Image.linear_gradient("L").resize((W, H)))
    source = one_picture(tmp_path / "in.pdf", encoded(picture, "JPEG2000"),
                         {"/Filter": Name.JPXDecode, "/SMaskInData": 1}, b"0 0 1 rg 0 0 160 120 re f ")
    output, findings = rebuilt(source, tmp_path / "out")
    assert findings == []
    with pikepdf.open(output) as pdf:
        image = pdf.pages[0].Resources.XObject.Im0
        assert image.Filter == Name.FlateDecode and image.ColorSpace == Name.DeviceRGB
        assert "/SMaskInData" not in image and image.SMask.Filter == Name.FlateDecode
    # pdfium's own reading of the JPEG 2000's alpha is not the one ISO 32000-2 gives; the page must show
    # the picture composed over the blue background by its alpha
    expected = Image.alpha_composite(Image.new("RGBA", (W, H), (0, 0, 255, 255)), picture).convert("RGB")
    assert mean_difference(expected, rendered(output)) <= 1.5


def test_a_soft_mask_is_written_anew_too(tmp_path: Path) -> None:
    alpha = Image.linear_gradient("L").rotate(90).resize((W, H))
    source = one_picture(tmp_path / "in.pdf", encoded(photo(), "JPEG", quality=90),
                         {"/ColorSpace": Name.DeviceRGB, "/BitsPerComponent": 8, "/Filter": Name.DCTDecode},
                         b"0 0 1 rg 0 0 160 120 re f ",
                         smask=({"/ColorSpace": Name.DeviceGray, "/BitsPerComponent": 8, "/Filter": Name.DCTDecode},
                                encoded(alpha, "JPEG", quality=95)))
    output, findings = rebuilt(source, tmp_path / "out")
    assert findings == []
    assert sorted(names[0] for names, _ in filters_and_data(output)) == ["/DCTDecode", "/DCTDecode"]
    assert mean_difference(rendered(source), rendered(output)) <= JPEG_LOSS
    with pikepdf.open(output) as pdf:
        assert pdf.pages[0].Resources.XObject.Im0.SMask.read_raw_bytes() != encoded(alpha, "JPEG", quality=95)


def test_a_reportlab_document_with_a_photograph_passes(tmp_path: Path) -> None:
    """ReportLab places a JPEG as ASCII85 around DCT; the picture comes out as a JPEG of our own."""
    (tmp_path / "photo.jpg").write_bytes(encoded(photo().resize((640, 480)), "JPEG", quality=90))
    page = canvas.Canvas(str(tmp_path / "in.pdf"), pagesize=(400, 300))
    page.drawImage(str(tmp_path / "photo.jpg"), 40, 40, width=320, height=240)
    page.drawString(40, 20, "photograph")
    page.save()
    report = run_engine(tmp_path / "in.pdf", tmp_path / "out")
    assert report.outcome == "passed" and report.findings == []
    output = tmp_path / "out" / report.outputs[0].path
    assert [names for names, _ in filters_and_data(output)] == [["/DCTDecode"]]
    assert mean_difference(rendered(tmp_path / "in.pdf"), rendered(output)) <= JPEG_LOSS


@pytest.mark.parametrize(("data", "entries", "detail"), [
    (b"\x00\x00\x00\x00\x30" + b"garbage that is no JBIG2 segment" * 4,
     {"/ColorSpace": Name.DeviceGray, "/BitsPerComponent": 1, "/Filter": Name.JBIG2Decode},
     "a JBIG2 image that cannot be decoded"),
    (b"\x00\x01\x02 not a JPEG", {"/ColorSpace": Name.DeviceRGB, "/BitsPerComponent": 8, "/Filter": Name.DCTDecode},
     "a JPEG image that cannot be decoded"),
    (b"\xff\x4f\xff\x51 not JPEG 2000", {"/Filter": Name.JPXDecode}, "a JPEG 2000 image that cannot be decoded"),
    (encoded(photo(), "JPEG"), {"/ColorSpace": Name.DeviceCMYK, "/BitsPerComponent": 8, "/Filter": Name.DCTDecode},
     "a JPEG image whose colours are not the ones its dictionary gives"),
    (zlib.compress(b"\x80" * (W * H - 1)), {"/ColorSpace": Name.DeviceGray, "/BitsPerComponent": 8,
                                            "/Filter": Name.FlateDecode},
     "an image with fewer samples than its size needs"),
    (group4(drawing()), {"/ColorSpace": Name.DeviceGray, "/BitsPerComponent": 1, "/Filter": Name.CCITTFaxDecode,
                         "/DecodeParms": Dictionary(K=-1)},  # /Columns 1728, not 160
     "a fax image whose rows are not as wide as its dictionary says"),
    (encoded(photo(), "JPEG"), {"/ColorSpace": Name.DeviceRGB, "/BitsPerComponent": 8,
                                "/Filter": Array([Name.DCTDecode, Name.FlateDecode])},
     "an image whose codec is not its last filter"),
])
def test_a_picture_that_does_not_decode_is_removed(tmp_path: Path, data: bytes, entries: dict[str, object],
                                                    detail: str) -> None:
    source = one_picture(tmp_path / "in.pdf", data, entries)
    output, findings = rebuilt(source, tmp_path / "out")
    assert ("pdf_image_removed", detail) in findings
    assert filters_and_data(output) == []
    assert inspect_file(output, tmp_path).problems == []


def test_without_a_jbig2_decoder_a_jbig2_picture_is_removed_not_copied(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    source = one_picture(tmp_path / "in.pdf", jbig2(drawing()), {"/ColorSpace": Name.DeviceGray,
                                                                  "/BitsPerComponent": 1, "/Filter": Name.JBIG2Decode})
    output, findings = rebuilt(source, tmp_path / "out")
    assert findings == [("pdf_image_removed", "a JBIG2 image (no JBIG2 decoder here)")]
    assert filters_and_data(output) == []


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF0) says ``width`` x ``height``."""
    data = bytearray(encoded(photo(), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize(("width", "height", "data", "entries", "detail"), [
    (10000, 9000, zlib.compress(bytes(1000)), {"/ColorSpace": Name.DeviceRGB, "/BitsPerComponent": 8},
     "an image of 10000x9000 pixels, over the limit"),  # 270 MB of samples: over 256 MiB
    (20000, 20000, zlib.compress(bytes(1000)), {"/ImageMask": True}, "an image of 20000x20000 pixels, over the limit"),
    (W, H, zlib.compress(bytes(64 * 1024 * 1024)), {"/ColorSpace": Name.DeviceGray, "/BitsPerComponent": 8},
     "an image whose data cannot be decoded"),  # 19 KB of Flate that would expand to 64 MiB
    (W, H, jpeg_claiming(60000, 60000), {"/ColorSpace": Name.DeviceRGB, "/BitsPerComponent": 8,
                                         "/Filter": Name.DCTDecode},
     "a JPEG image of more pixels than allowed"),  # Pillow's own check, when it reads the header
    (W, H, jpeg_claiming(W, H + 1), {"/ColorSpace": Name.DeviceRGB, "/BitsPerComponent": 8, "/Filter": Name.DCTDecode},
     "a JPEG image whose size is not the one its dictionary gives"),
])
def test_a_decompression_bomb_is_removed_without_being_decoded(tmp_path: Path, width: int, height: int, data: bytes,
                                                               entries: dict[str, object], detail: str) -> None:
    pdf = pikepdf.new()
    image = pikepdf.Stream(pdf, data)
    for key, value in {"/Type": Name.XObject, "/Subtype": Name.Image, "/Width": width, "/Height": height,
                       "/Filter": Name.FlateDecode, **entries}.items():
        image[key] = value
    pdf.pages.append(pikepdf.Page(Dictionary(
        Type=Name.Page, MediaBox=[0, 0, 200, 200], Resources=Dictionary(XObject=Dictionary(Im0=image)),
        Contents=pikepdf.Stream(pdf, b"q 200 0 0 200 0 0 cm /Im0 Do Q"))))
    pdf.save(tmp_path / "bomb.pdf")
    started = time.monotonic()
    output, findings = rebuilt(tmp_path / "bomb.pdf", tmp_path / "out")
    assert time.monotonic() - started < 10
    assert findings == [("pdf_image_removed", detail)]
    assert filters_and_data(output) == []


def test_the_operators_image_limit_holds_inside_a_pdf(tmp_path: Path) -> None:
    # [limits] max_image_pixels lowered by the operator: a PDF's picture over it is removed, as a PNG would be
    pdf = pikepdf.new()
    image = pikepdf.Stream(pdf, zlib.compress(bytes(W * H)))
    image.update({"/Type": Name.XObject, "/Subtype": Name.Image, "/Width": W, "/Height": H,
                  "/ColorSpace": Name.DeviceGray, "/BitsPerComponent": 8, "/Filter": Name.FlateDecode})
    pdf.pages.append(pikepdf.Page(Dictionary(
        Type=Name.Page, MediaBox=[0, 0, 200, 200], Resources=Dictionary(XObject=Dictionary(Im0=image)),
        Contents=pikepdf.Stream(pdf, b"q 200 0 0 200 0 0 cm /Im0 Do Q"))))
    pdf.save(tmp_path / "in.pdf")
    report = run_engine(tmp_path / "in.pdf", tmp_path / "small", limits=Limits(max_image_pixels=W * H - 1))
    assert [(f.code, f.detail) for f in report.findings] == [
        ("pdf_image_removed", f"an image of {W}x{H} pixels, over the limit")]
    report = run_engine(tmp_path / "in.pdf", tmp_path / "default")
    assert report.outcome == "passed"


def inline_page(path: Path, inline: bytes) -> Path:
    pdf = pikepdf.new()
    pdf.pages.append(pikepdf.Page(Dictionary(Type=Name.Page, MediaBox=[0, 0, W, H],
                                             Contents=pikepdf.Stream(pdf, inline))))
    pdf.save(path)
    return path


def inline_images(path: Path) -> list[pikepdf.Dictionary]:
    with pikepdf.open(path) as pdf:
        return [Dictionary({key: value for key, value in instruction.iimage.obj.items()})
                for instruction in pikepdf.parse_content_stream(pdf.pages[0])
                if isinstance(instruction, pikepdf.ContentStreamInlineImage)]


@pytest.mark.parametrize(("header", "data", "tolerance"), [
    (b"/W 160 /H 120 /BPC 1 /CS /G /F /CCF /DP << /K -1 /Columns 160 >>", group4(drawing()), SAME),
    (b"/W 160 /H 120 /IM true /F /CCF /DP << /K -1 /Columns 160 /BlackIs1 true >>", group4(drawing()), SAME),
    (b"/W 160 /H 120 /BPC 8 /CS /RGB /F /DCT", encoded(photo(), "JPEG", quality=90), JPEG_LOSS),
])
def test_inline_fax_and_jpeg_pictures_are_written_anew(tmp_path: Path, header: bytes, data: bytes,
                                                       tolerance: float) -> None:
    content = b"0 0 1 rg 0 0 160 120 re f 1 0 0 rg q 160 0 0 120 0 0 cm BI " + header + b" ID " + data + b" EI Q"
    source = inline_page(tmp_path / "in.pdf", content)
    output, findings = rebuilt(source, tmp_path / "out")
    assert findings == []
    [image] = inline_images(output)
    assert list(image.Filter) in ([Name.ASCIIHexDecode], [Name.ASCIIHexDecode, Name.DCTDecode])
    assert "/DecodeParms" not in image
    before, after = rendered(source), rendered(output)
    assert ImageStat.Stat(before.convert("L")).stddev[0] > 20
    assert mean_difference(before, after) <= tolerance


def test_an_inline_picture_that_does_not_decode_is_left_out(tmp_path: Path) -> None:
    content = b"q 160 0 0 120 0 0 cm BI /W 160 /H 120 /BPC 8 /CS /RGB /F /DCT ID not a jpeg at all EI Q"
    output, _ = rebuilt(inline_page(tmp_path / "in.pdf", content), tmp_path / "out")
    assert inline_images(output) == []


def hand_written(path: Path, entries: dict[str, object], data: bytes) -> Path:
    """An 'output' nobody rebuilt: the inspector must judge it on its own."""
    return one_picture(path, data, entries)


@pytest.mark.parametrize(("entries", "data", "problem"), [
    ({"/ColorSpace": Name.DeviceGray, "/BitsPerComponent": 1, "/Filter": Name.JBIG2Decode}, jbig2(drawing()),
     "pdf_image_codec /JBIG2Decode"),
    ({"/ColorSpace": Name.DeviceGray, "/BitsPerComponent": 1, "/Filter": Name.JBIG2Decode,
      "/DecodeParms": Dictionary(JBIG2Globals=Dictionary())}, jbig2(drawing()), "pdf_image_codec /JBIG2Globals"),
    ({"/Filter": Name.JPXDecode}, encoded(photo(), "JPEG2000"), "pdf_image_codec /JPXDecode"),
    ({"/ColorSpace": Name.DeviceGray, "/BitsPerComponent": 1, "/Filter": Name.CCITTFaxDecode,
      "/DecodeParms": Dictionary(K=-1, Columns=W)}, group4(drawing()), "pdf_image_codec /CCITTFaxDecode"),
    ({"/ColorSpace": Name.DeviceGray, "/BitsPerComponent": 8, "/Filter": Name.RunLengthDecode},
     bytes([127]) + bytes(128) + b"\x80", "pdf_image_filter /RunLengthDecode"),
    ({"/ColorSpace": Name.DeviceRGB, "/BitsPerComponent": 8, "/Filter": Name.DCTDecode},
     jpeg_claiming(W + 1, H), "pdf_image_jpeg not a JPEG of 160x120"),
    ({"/ColorSpace": Name.DeviceRGB, "/BitsPerComponent": 8, "/Filter": Name.DCTDecode},
     b"\xff\xd8 a broken JPEG", "pdf_image_jpeg does not decode"),
])
def test_the_inspector_refuses_an_output_with_a_picture_the_rebuild_did_not_encode(
        tmp_path: Path, entries: dict[str, object], data: bytes, problem: str) -> None:
    output = hand_written(tmp_path / "out.pdf", entries, data)
    assert problem in inspect_file(output, tmp_path).problems
