"""Red-team tests of the PDF rebuild's pictures and font programs (converters/formats/pdf_images.py,
pdf_fonts.py and their inspector checks): what an attacker writes in a picture's or a font's place - or
in a stream beside them - never reaches a reader's decoder as written, and a file the inspector would
refuse is cleaned by the converter instead (a verification failure blocks a document a removal saves)."""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name
from PIL import Image

from converters.inspect.outputs import inspect_file
from tests.conftest import run_engine
from tests.converters.formats.test_pdf_images import rendered


def attacker_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(buffer, "JPEG", comment=b"attacker")
    return buffer.getvalue()


def one_page(path: Path, content: bytes, resources: Dictionary, pdf: pikepdf.Pdf) -> Path:
    page = Dictionary(Type=Name.Page, MediaBox=[0, 0, 200, 200], Resources=resources,
                      Contents=pikepdf.Stream(pdf, content))
    pdf.pages.append(pikepdf.Page(page))
    pdf.save(path)
    return path


def sanitized(source: Path, tmp_path: Path) -> tuple[Path, set[tuple[str, str]]]:
    report = run_engine(source, tmp_path / "out")
    assert report.outputs, report.reason
    output = tmp_path / "out" / report.outputs[0].path
    assert inspect_file(output, tmp_path).problems == []
    return output, {(finding.code, finding.detail) for finding in report.findings}


def stream_filters(path: Path) -> list[list[str]]:
    with pikepdf.open(path) as pdf:
        found = []
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Stream):
                listed = obj.get("/Filter")
                items = listed if isinstance(listed, Array) else [listed] if listed else []
                found.append([str(item) for item in items])
        return found


def data_streams_in_a_codec(pdf: pikepdf.Pdf, codec: Name, data: bytes) -> tuple[bytes, Dictionary]:
    """A page whose function, ICC profile, ToUnicode map, Indexed lookup and mesh shading are all
    streams of ``data`` under ``codec`` (and one Flate stream naming JBIG2 shared segments)."""
    def coded(**entries: object) -> pikepdf.Stream:
        stream = pikepdf.Stream(pdf, data)
        stream["/Filter"] = codec
        for key, value in entries.items():
            stream[f"/{key}"] = value
        return stream
    function = coded(FunctionType=0, Domain=[0, 1], Range=[0, 1, 0, 1, 0, 1], Size=[2], BitsPerSample=8)
    mesh = coded(ShadingType=4, ColorSpace=Name.DeviceRGB, BitsPerCoordinate=8, BitsPerComponent=8, BitsPerFlag=8,
                 Decode=[0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    shared = pikepdf.Stream(pdf, b"\x00" * 16)
    ramp = pikepdf.Stream(pdf, b"\x00\x00\x00\xff\xff\xff")
    ramp.update({"/FunctionType": 0, "/Domain": [0, 1], "/Range": [0, 1, 0, 1, 0, 1], "/Size": [2],
                 "/BitsPerSample": 8, "/DecodeParms": Dictionary(JBIG2Globals=shared)})
    image = pikepdf.Stream(pdf, bytes(16))
    image.update({"/Type": Name.XObject, "/Subtype": Name.Image, "/Width": 4, "/Height": 4, "/BitsPerComponent": 8,
                  "/ColorSpace": Array([Name.Indexed, Name.DeviceRGB, 1, coded()])})
    font = Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica, ToUnicode=coded())
    resources = Dictionary(
        Shading=Dictionary(Sh0=Dictionary(ShadingType=2, ColorSpace=Name.DeviceRGB, Coords=[0, 0, 200, 0],
                                          Function=function), Sh1=mesh,
                           Sh2=Dictionary(ShadingType=2, ColorSpace=Name.DeviceRGB, Coords=[0, 0, 200, 0],
                                          Function=ramp)),
        ColorSpace=Dictionary(CS0=Array([Name.ICCBased, coded(N=3)])), XObject=Dictionary(Im0=image),
        Font=Dictionary(F1=font))
    content = b"/Sh0 sh /Sh1 sh /Sh2 sh /CS0 cs 1 0 0 sc 0 0 10 10 re f q 10 0 0 10 0 0 cm /Im0 Do Q " \
              b"BT /F1 12 Tf 10 10 Td (hi) Tj ET"
    return content, resources


@pytest.mark.parametrize("codec", [Name.DCTDecode, Name.JBIG2Decode, Name.JPXDecode, Name.CCITTFaxDecode])
def test_a_data_stream_under_an_image_codec_is_not_copied(tmp_path: Path, codec: Name) -> None:
    """pdf.js and poppler undo a stream's filters whatever the stream is for: a JPEG (or JBIG2, JPX,
    fax) written as a function, an ICC profile, a ToUnicode map, an Indexed lookup or a mesh shading
    reached their image decoders as the attacker wrote it (DCT passed both the rebuild and the inspector)."""
    pdf = pikepdf.new()
    data = attacker_jpeg()
    content, resources = data_streams_in_a_codec(pdf, codec, data)
    output, findings = sanitized(one_page(tmp_path / "in.pdf", content, resources, pdf), tmp_path)
    assert all(not set(names) & {"/DCTDecode", "/JBIG2Decode", "/JPXDecode", "/CCITTFaxDecode"}
               for names in stream_filters(output))
    assert data not in output.read_bytes()
    with pikepdf.open(output) as written:
        assert all(obj.read_raw_bytes() != data for obj in written.objects if isinstance(obj, pikepdf.Stream))
        assert not any("/JBIG2Globals" in repr(obj) for obj in written.objects)
    assert any(code == "pdf_unknown_structure_removed" for code, _ in findings)


def test_the_inspector_refuses_a_jpeg_in_a_stream_that_is_no_picture(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    profile = pikepdf.Stream(pdf, attacker_jpeg())
    profile["/Filter"], profile["/N"] = Name.DCTDecode, 3
    path = one_page(tmp_path / "out.pdf", b"/CS0 cs 1 0 0 sc 0 0 10 10 re f",
                    Dictionary(ColorSpace=Dictionary(CS0=Array([Name.ICCBased, profile]))), pdf)
    assert any("DCTDecode" in problem for problem in inspect_file(path, tmp_path).problems)


def page_content(path: Path) -> bytes:
    with pikepdf.open(path) as pdf:
        contents = pdf.pages[0].obj.get("/Contents")
        streams = list(contents) if isinstance(contents, Array) else [contents]
        return b"\n".join(stream.read_bytes() for stream in streams if isinstance(stream, pikepdf.Stream))


def test_an_inline_image_is_written_anew_whatever_its_filters(tmp_path: Path) -> None:
    """Inline images of the general filters (or none) went out as the attacker wrote them: the
    LZW/Flate/predictor bytes reached the reader's decoders, keys of any kind stayed in the dictionary,
    and raw data past the image's size - here a second inline JPEG and a PS operator - stayed hidden
    in the first image's data wherever a reader and qpdf disagree on where EI is."""
    jpeg = attacker_jpeg()
    import zlib
    content = (b"q 100 0 0 100 0 0 cm BI /W 2 /H 2 /CS /G /BPC 8 ID \x00\xff\xff\x00 (x) PS "
               b"BI /W 16 /H 16 /CS /RGB /BPC 8 /F /DCT ID " + jpeg + b" EI Q "
               b"q 50 0 0 50 100 100 cm BI /W 2 /H 2 /CS /RGB /BPC 8 /F /Fl "
               b"/DP << /Predictor 12 /Colors 3 /Columns 2 >> "
               b"/JS (app.alert\\(1\\)) /Foo << /S /JavaScript >> ID "
               + zlib.compress(b"\x02\xff\x00\x00\x00\xff\x00\x02\x00\x00\xff\x00\x00\xff") + b" EI Q")
    pdf = pikepdf.new()
    source = one_page(tmp_path / "in.pdf", content, Dictionary(), pdf)
    output, _ = sanitized(source, tmp_path)
    written = page_content(output)
    assert jpeg[20:60] not in written and b"PS" not in written and b"JS" not in written and b"Foo" not in written
    with pikepdf.open(output) as pdf:
        images = [item.iimage.obj for item in pikepdf.parse_content_stream(pdf.pages[0])
                  if isinstance(item, pikepdf.ContentStreamInlineImage)]
        assert len(images) == 2
        for details in images:
            assert set(details.keys()) <= {"/Width", "/Height", "/ColorSpace", "/BitsPerComponent", "/Filter"}
            assert details.get("/Filter") == Array([Name.ASCIIHexDecode])
    plain = (b"q 100 0 0 100 0 0 cm BI /W 2 /H 2 /CS /G /BPC 8 /F /AHx ID 00ffff00> EI Q "
             b"q 50 0 0 50 100 100 cm BI /W 2 /H 2 /CS /RGB /BPC 8 /F /AHx ID ff000000ff00ff00ff00ffff> EI Q")
    reference = one_page(tmp_path / "plain.pdf", plain, Dictionary(), pikepdf.new())
    assert rendered(output).tobytes() == rendered(reference).tobytes()


def test_an_inline_image_in_a_colour_space_of_the_page_keeps_its_look(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    palette = Array([Name.Indexed, Name.DeviceRGB, 1, pikepdf.String(b"\xff\x00\x00\x00\x00\xff")])
    content = b"q 100 0 0 100 0 0 cm BI /W 4 /H 2 /CS /P0 /BPC 8 /F /AHx ID 00010001 01000100> EI Q"
    source = one_page(tmp_path / "in.pdf", content, Dictionary(ColorSpace=Dictionary(P0=palette)), pdf)
    output, findings = sanitized(source, tmp_path)
    assert findings == set()
    assert rendered(output).tobytes() == rendered(source).tobytes()


def _eexec(data: bytes) -> bytes:
    key, out = 55665, bytearray()
    for byte in b"\x00\x00\x00\x00" + data:
        cipher = byte ^ (key >> 8)
        out.append(cipher)
        key = ((cipher + key) * 52845 + 22719) & 0xFFFF
    return bytes(out)


def subroutine_bomb() -> bytes:
    """A Type 1 font of 300 bytes whose one glyph calls subroutine 0, each subroutine calling the next ten
    times, nine deep (10^9 calls written out; within Type 1's nesting of ten)."""
    def number(value: int) -> bytes:
        return bytes([value + 139])
    subrs = [b"".join(number(level + 1) + b"\x0a" for _ in range(10)) + b"\x0b" for level in range(9)] + [b"\x0b"]
    glyph = number(0) + number(0) + b"\x0d" + number(0) + b"\x0a\x0e"
    private = b"dup /Private 8 dict dup begin\n/lenIV -1 def\n/Subrs %d array\n" % len(subrs)
    private += b"".join(b"dup %d %d RD " % (index, len(subr)) + subr + b" NP\n" for index, subr in enumerate(subrs))
    private += b"ND\n2 index /CharStrings 2 dict dup begin\n"
    for name, program in ((b".notdef", number(0) + number(0) + b"\x0d\x0e"), (b"A", glyph)):
        private += b"/%s %d RD " % (name, len(program)) + program + b" ND\n"
    private += b"end\nend\nreadonly put\nnoaccess put\ndup /FontName get exch definefont pop\n"
    private += b"mark currentfile closefile\n"
    clear = (b"%!PS-AdobeFont-1.0: Bomb 001\n11 dict begin\n/FontName /Bomb def\n"
             b"/FontMatrix [0.001 0 0 0.001 0 0] readonly def\n/FontBBox {0 0 1000 1000} readonly def\n"
             b"/Encoding StandardEncoding def\ncurrentfile eexec\n")
    return clear + _eexec(private) + b"\n" + b"0" * 512 + b"\ncleartomark\n"


def test_the_work_of_reading_glyph_programs_is_bounded_for_the_whole_document(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each font had its own budget of work (16 M bytes of glyph program run, 10 s here): a 10 KB file of
    eight 300-byte subroutine bombs kept a converter busy for 83 s, twenty of them past the sandbox's
    CPU limit. The document's fonts share one budget; the limits are made small here to run fast."""
    from fontTools.misc.psCharStrings import T1OutlineExtractor

    from converters.formats import pdf_font_type1, pdf_fonts

    monkeypatch.setattr(pdf_font_type1, "MAX_WORK", 100_000)
    monkeypatch.setattr(pdf_fonts, "MAX_DOCUMENT_WORK", 250_000, raising=False)
    run = {"bytes": 0}
    execute = T1OutlineExtractor.execute

    def counted(self: T1OutlineExtractor, program: object, **options: object) -> None:
        run["bytes"] += len(getattr(program, "bytecode", None) or getattr(program, "program", None) or ())
        execute(self, program, **options)
    monkeypatch.setattr(T1OutlineExtractor, "execute", counted)
    pdf = pikepdf.new()
    fonts, content = Dictionary(), b""
    for index in range(8):
        descriptor = Dictionary(Type=Name.FontDescriptor, FontName=Name("/Bomb"), Flags=32, FontBBox=[0, 0, 1000, 1000],
                                ItalicAngle=0, Ascent=800, Descent=-200, CapHeight=700, StemV=80,
                                FontFile=pikepdf.Stream(pdf, subroutine_bomb()))
        fonts[f"/F{index}"] = Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name("/Bomb"), FirstChar=65,
                                         LastChar=65, Widths=[600], FontDescriptor=descriptor)
        content += b"BT /F%d 24 Tf 10 %d Td (A) Tj ET\n" % (index, 10 + 20 * index)
    _, findings = sanitized(one_page(tmp_path / "in.pdf", content, Dictionary(Font=fonts), pdf), tmp_path)
    assert ("pdf_unknown_structure_removed", "font program that cannot be read") in findings
    assert run["bytes"] <= 250_000 + 1_000  # the document's budget, and at most one program past it


def mask_desync_cff() -> bytes:
    """A CFF font whose glyph declares 2 stems, a hint mask, 7 more stems, a second mask: fontTools reads
    that mask as 1 byte (the count at the first mask), FreeType, pdf.js and Adobe's as 2 (the count so
    far) - so the number fontTools reads next (28 12 23: 3095) is the operator ``random`` (12 23) to them."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.misc.psCharStrings import T2CharString
    from fontTools.ttLib import TTFont

    def number(value: int) -> bytes:
        return bytes([value + 139])
    builder = FontBuilder(1000, isTTF=False)
    builder.setupGlyphOrder([".notdef", "A"])
    builder.setupCFF("Masks", {}, {name: T2CharString(program=["endchar"]) for name in (".notdef", "A")}, {})
    cff = builder.font["CFF "].cff
    glyph = cff[0].CharStrings["A"]
    glyph.bytecode = (number(0) + number(10) + number(20) + number(10) + bytes([18, 19, 0xC0])
                      + b"".join(number(10 * index) + number(5) for index in range(7)) + bytes([23, 19, 0xFF])
                      + bytes([28, 12, 23]) + number(0) + number(0) + bytes([21, 14]))
    glyph.program = None
    written = io.BytesIO()
    cff.compile(written, TTFont(recalcBBoxes=False))
    return written.getvalue()


def test_a_hint_mask_fonttools_and_readers_read_apart_removes_the_font_program(tmp_path: Path) -> None:
    from converters.formats.pdf_fonts import rewrite_font_program
    from converters.inspect.pdf_fonts import _cff

    data = mask_desync_cff()
    assert _cff(data) == ["pdf_font CFF glyph operator random"]  # read as a reader reads it
    with pytest.raises(Exception, match="hint mask"):
        rewrite_font_program(data)
    pdf = pikepdf.new()
    program = pikepdf.Stream(pdf, data)
    program["/Subtype"] = Name.Type1C
    descriptor = Dictionary(Type=Name.FontDescriptor, FontName=Name("/Masks"), Flags=32, FontBBox=[0, 0, 1000, 1000],
                            ItalicAngle=0, Ascent=800, Descent=-200, CapHeight=700, StemV=80, FontFile3=program)
    font = Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name("/Masks"), FirstChar=65, LastChar=65,
                      Widths=[600], FontDescriptor=descriptor)
    resources = Dictionary(Font=Dictionary(F1=font))
    source = one_page(tmp_path / "in.pdf", b"BT /F1 24 Tf 10 10 Td (A) Tj ET", resources, pdf)
    output, findings = sanitized(source, tmp_path)  # the inspector read 'random' in what the rebuild wrote
    assert ("pdf_unknown_structure_removed", "font program that cannot be read") in findings
    with pikepdf.open(output) as written:
        kept = written.pages[0].obj.Resources.Font.F1.FontDescriptor
        assert not {"/FontFile", "/FontFile2", "/FontFile3"} & set(kept.keys())


@pytest.mark.parametrize("place", ["page", "form", "type 3 glyph"])
@pytest.mark.parametrize("image", [
    b"BI /W 2 /H 2 /CS /G /BPC 8 ID \x00\xff\xff\x00 EI",
    b"BI /W 2 /H 2 /CS /G /BPC 8 /F /Fl ID x\x9cc`\xf8\xff\x9f\x01\x00\x04\x00\x01\xfe EI",
    b"BI /W 16 /H 16 /CS /RGB /BPC 8 /F /DCT ID " + attacker_jpeg() + b" EI",
    b"BI /W 16 /H 16 /CS /RGB /BPC 8 /F [/AHx /DCT] ID " + attacker_jpeg()[:200].hex().encode() + b"> EI"])
def test_the_inspector_reads_inline_images_in_every_content_stream(tmp_path: Path, place: str, image: bytes) -> None:
    """The inspector looked at no content stream: an inline image kept as written (binary data a reader
    may end elsewhere than qpdf, codec data an attacker wrote) passed it. The rebuild writes each in hex,
    a whole JPEG of Pillow's the only codec."""
    pdf = pikepdf.new()
    drawing = b"q 100 0 0 100 0 0 cm " + image + b" Q"
    if place == "page":
        path = one_page(tmp_path / "out.pdf", drawing, Dictionary(), pdf)
    elif place == "form":
        form = pikepdf.Stream(pdf, drawing)
        form.update({"/Type": Name.XObject, "/Subtype": Name.Form, "/BBox": [0, 0, 200, 200]})
        path = one_page(tmp_path / "out.pdf", b"/Fm0 Do", Dictionary(XObject=Dictionary(Fm0=form)), pdf)
    else:
        glyph = pikepdf.Stream(pdf, b"1000 0 0 0 1000 1000 d1 " + drawing)
        font = Dictionary(Type=Name.Font, Subtype=Name.Type3, FontBBox=[0, 0, 1000, 1000], FirstChar=65, LastChar=65,
                          FontMatrix=[0.001, 0, 0, 0.001, 0, 0], Widths=[1000], CharProcs=Dictionary(g=glyph),
                          Encoding=Dictionary(Type=Name.Encoding, Differences=[65, Name("/g")]))
        path = one_page(tmp_path / "out.pdf", b"BT /T3 24 Tf (A) Tj ET", Dictionary(Font=Dictionary(T3=font)), pdf)
    assert any(problem.startswith(("pdf_image_inline", "pdf_image_jpeg")) for problem in
               inspect_file(path, tmp_path).problems)
