"""The inspector's own reading of SVM pictures (converters/inspect/metafile_svm.py): what the SVM
rewrite writes passes; an output that still carries a comment (EMF+), an EPS action, a wallpaper,
an unknown action, a lying bitmap, counts or text beyond its action, nesting past its depth, or
bytes after its last action is flagged - alone and inside an odt."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest

from converters.formats.metafile_svm import rewrite_svm
from converters.inspect.metafile_svm import svm_problems
from converters.inspect.odf_parts import picture_problems
from converters.inspect.outputs import inspect_file
from tests.conftest import run_engine
from tests.converters.formats.test_metafile import PIXELS
from tests.converters.formats.test_metafile_svm import (
    ATTACKS,
    act,
    benign_actions,
    bitmap_scale,
    comment,
    file_dib,
    odt_with_svm,
    rewritten,
    svm,
)


def test_what_the_rewrite_writes_passes() -> None:
    hostile = svm([*ATTACKS.values(), *benign_actions(), bitmap_scale(file_dib(4, 2))])
    clean = rewritten(rewrite_svm(hostile, PIXELS)).data
    assert svm_problems(clean) == [] and svm_problems(svm(benign_actions())) == []


@pytest.mark.parametrize(("action", "problem"), [
    (ATTACKS["comment"], "SVM comment (EMF+ or other data)"),
    (comment(b"XGRAD_SEQ_BEGIN"), "SVM comment (EMF+ or other data)"),
    (ATTACKS["eps"], "SVM EPS (PostScript)"),
    (act(127, bytes(64)), "SVM wallpaper"),
    (ATTACKS["unknown"], "SVM action 300 not allowed"),
    (ATTACKS["lying bitmap"], "SVM bitmap bits shorter than its size"),
    (bitmap_scale(b"XX" + file_dib(4, 2)[2:]), "SVM bitmap without its file header"),
    (ATTACKS["polygon count"], "SVM point count beyond its action"),
    (act(112, struct.pack("<iiH", 0, 0, 900) + b"abc" + bytes(4)), "SVM text beyond its action"),
    (act(103, bytes(12)), "SVM action 103 shorter than its type"),
    (ATTACKS["deep nesting"], "SVM transparency groups nested too deep"),
])
def test_an_svm_output_still_carrying_an_action_is_flagged(action: bytes, problem: str) -> None:
    assert svm_problems(svm([action, *benign_actions()])) == [problem]


def test_an_svm_must_end_with_its_last_action() -> None:
    source = svm(benign_actions())
    assert svm_problems(source + b"\x90" * 8) == ["data after the SVM metafile"]
    assert svm_problems(source[:-2]) == ["SVM actions unreadable"]
    assert svm_problems(svm(benign_actions(), count=9)) == ["SVM actions unreadable"]
    assert svm_problems(b"VCLMTF" + bytes(30)) == ["SVM header unreadable"]


def test_an_odt_with_a_hostile_svm_is_not_clean(tmp_path: Path) -> None:
    hostile = svm([ATTACKS["eps"], *benign_actions()])
    assert picture_problems("Pictures/drawing.svm", hostile) == ["SVM EPS (PostScript) in Pictures/drawing.svm"]
    verdict = inspect_file(odt_with_svm(tmp_path / "hostile.odt", hostile), tmp_path)
    assert not verdict.clean and any("EPS" in problem for problem in verdict.problems)
    report = run_engine(tmp_path / "hostile.odt", tmp_path / "out")
    output = tmp_path / "out" / report.outputs[0].path
    assert inspect_file(output, tmp_path).clean
    with zipfile.ZipFile(output) as package:
        assert package.read("Pictures/drawing.svm") == rewritten(rewrite_svm(hostile, PIXELS)).data == svm(
            benign_actions())
