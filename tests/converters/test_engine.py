from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from converters import registry
from converters.base import Conversion, Converter, ConvertRequest, Limits
from converters.engine import Engine
from tests.conftest import run_engine


class ExplodingConverter(Converter):
    name = "exploding"
    input_types = frozenset({"text/plain"})

    def convert(self, src: Path, out_dir: Path, request: ConvertRequest) -> Conversion:
        (out_dir / f"{request.stem}.txt").write_text("half-written")
        raise RuntimeError("parser bug")


def test_a_converter_crash_blocks_the_file(samples: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.REBUILD, "text/plain", "tests.converters.test_engine:ExplodingConverter")
    report = Engine(tmp_path, "rebuild", Limits()).process(samples / "txt-utf8.txt", "a.txt")
    assert (report.outcome, report.reason_code, report.outputs) == ("blocked", "converter_crashed", [])


def test_oversized_input_is_blocked(samples: Path, tmp_path: Path) -> None:
    report = Engine(tmp_path, "rebuild", Limits(max_input_bytes=10)).process(
        samples / "pdf-clean.pdf", "a.pdf")
    assert (report.outcome, report.reason_code) == ("blocked", "too_large")


def test_same_stem_twice_gets_distinct_output_names(samples: Path, tmp_path: Path) -> None:
    engine = Engine(tmp_path, "rebuild", Limits())
    first = engine.process(samples / "txt-utf8.txt", "memo.txt")
    second = engine.process(samples / "txt-cp932.txt", "MEMO.txt")
    assert first.outputs[0].path == "memo.txt" and second.outputs[0].path == "MEMO (2).txt"


@pytest.mark.parametrize(("name", "says_ichitaro"), [("議事録.jtd", True), ("様式.JTT", True), ("macros.bin", False)])
def test_an_ichitaro_document_is_refused_by_name_not_by_mime_type(tmp_path: Path, name: str,
                                                                  says_ichitaro: bool) -> None:
    # an OLE file the gateway cannot read; named .jtd it is an Ichitaro document, and the reason says so
    src = tmp_path / name
    shutil.copyfile(Path(__file__).parents[2] / "samples" / "fixtures" / "vbaProject.bin", src)
    report = run_engine(src, tmp_path / "out")
    assert report.outcome == "blocked" and report.reason_code == "unsupported_type"
    assert report.reason is not None
    assert ("Ichitaro" in report.reason) is says_ichitaro
    assert ("application/x-ole-storage" in report.reason) is not says_ichitaro
