"""Real documents made by Office arrive usable: templates stay templates (of the macro-free kind),
slide shows stay slide shows, xlsb becomes xlsx; LibreOffice reopens each output with its text,
and olevba, msodde and oleobj find nothing in it. Inputs: tests/fixtures/office/ (see its README)
and templates LibreOffice makes from the generated samples."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.corpus import Reopener, outside_flags, similarity
from tests.converters.test_detect import libreoffice_convert

pytestmark = pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice comes from scripts/setup.sh")

OFFICE = Path(__file__).resolve().parents[2] / "fixtures" / "office"
_DOC = "application/vnd.openxmlformats-officedocument"
# input -> (output extension, output type)
EXPECTED: dict[str, tuple[str, str]] = {
    "poi-testPPT.ppsx": ("ppsx", f"{_DOC}.presentationml.slideshow"),
    "poi-testPPT.ppsm": ("ppsx", f"{_DOC}.presentationml.slideshow"),
    "poi-test.xltx": ("xltx", f"{_DOC}.spreadsheetml.template"),
    "openxmlsdk-macro.xltm": ("xltx", f"{_DOC}.spreadsheetml.template"),
    "openxmlsdk-BingoSheet.dotx": ("dotx", f"{_DOC}.wordprocessingml.template"),
    "openxmlsdk-macro-enabled.dotm": ("dotx", f"{_DOC}.wordprocessingml.template"),
    "openxmlsdk-macro-enabled.potm": ("potx", f"{_DOC}.presentationml.template"),
    "poi-Simple.xlsb": ("xlsx", f"{_DOC}.spreadsheetml.sheet"),
    # a chart's data workbook travels as an embedded package (blocked before the allowlist rebuild)
    "openxmlsdk-chart-X-y.docx": ("docx", f"{_DOC}.wordprocessingml.document"),
    # templates LibreOffice makes from the generated samples
    "docx-clean.dotx": ("dotx", f"{_DOC}.wordprocessingml.template"),
    "xlsx-clean.xltx": ("xltx", f"{_DOC}.spreadsheetml.template"),
    "pptx-clean.potx": ("potx", f"{_DOC}.presentationml.template"),
}
MADE_BY_LIBREOFFICE = {
    "docx-clean.docx": "dotx:MS Word 2007 XML Template",
    "xlsx-clean.xlsx": "xltx:Calc MS Excel 2007 XML Template",
    "pptx-clean.pptx": "potx:Impress MS PowerPoint 2007 XML Template",
}


@pytest.fixture(scope="module")
def inputs(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    found = {path.name: path for path in OFFICE.iterdir() if path.name in EXPECTED}
    for sample, target in MADE_BY_LIBREOFFICE.items():
        made = libreoffice_convert(samples / sample, target, tmp_path_factory.mktemp("lo"))
        found[made.name] = made
    assert set(found) == set(EXPECTED)
    return found


@pytest.fixture(scope="module")
def results(inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    by_name = {}
    for name, path in inputs.items():  # one --out each: testPPT.ppsx and testPPT.ppsm both become .ppsx
        out = tmp_path_factory.mktemp("out")
        done = subprocess.run([sys.executable, "-m", "gateway", "sanitize", str(path), "--out", str(out)],
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr
        by_name[name] = json.loads(done.stdout.splitlines()[-1])
    return by_name


@pytest.fixture(scope="module")
def reopener(tmp_path_factory: pytest.TempPathFactory) -> Reopener:
    return Reopener(tmp_path_factory.mktemp("reopen"))


NAMES = sorted(EXPECTED)


@pytest.mark.parametrize("name", NAMES)
def test_arrives_as_the_macro_free_kind_of_itself(results: dict[str, dict[str, Any]], name: str) -> None:
    result = results[name]
    assert result["outcome"] in ("passed", "sanitized"), (result["reason_code"], result["reason"])
    extension, mime = EXPECTED[name]
    [output] = result["outputs"]
    assert (Path(output["path"]).suffix, output["type"]) == (f".{extension}", mime)


@pytest.mark.parametrize("name", NAMES)
def test_output_reopens_with_its_text_and_nothing_flagged(results: dict[str, dict[str, Any]],
                                                         inputs: dict[str, Path], reopener: Reopener,
                                                         name: str) -> None:
    outputs = results[name]["outputs"]
    assert len(outputs) == 1, results[name]["reason"]
    output = Path(outputs[0]["path"])
    rebuilt, note = reopener.pdf_text(output)
    assert rebuilt is not None, note
    original, note = reopener.pdf_text(inputs[name])
    assert original is not None, note
    assert similarity(original, rebuilt) >= 0.9
    assert outside_flags(output) == []
