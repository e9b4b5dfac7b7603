"""OpenDocument contract: the same format without Basic, event listeners, macro links or external
images; plain hyperlinks and the text stay."""

from __future__ import annotations

import zipfile
from pathlib import Path

from converters.inspect import inspect_file
from converters.inspect_office import check_odf
from tests.conftest import run_engine


def test_clean_odt_passes(samples: Path, tmp_path: Path) -> None:
    report = run_engine(samples / "odt-clean.odt", tmp_path)
    assert report.outcome == "passed" and report.outputs[0].path == "odt-clean.odt"
    assert inspect_file(tmp_path / "odt-clean.odt", tmp_path).clean


def test_macros_events_and_external_images_are_removed(samples: Path, tmp_path: Path) -> None:
    assert check_odf(samples / "odt-macro.odt")  # the inspector sees the dirt in the original
    report = run_engine(samples / "odt-macro.odt", tmp_path)
    codes = {f.code for f in report.findings}
    assert report.outcome == "sanitized"
    assert {"macro_removed", "script_event_removed", "external_link_removed"} <= codes
    output = tmp_path / report.outputs[0].path
    assert inspect_file(output, tmp_path).clean and check_odf(output) == []
    with zipfile.ZipFile(output) as package:
        assert package.namelist()[0] == "mimetype"
        assert package.getinfo("mimetype").compress_type == zipfile.ZIP_STORED
        assert not [n for n in package.namelist() if n.startswith("Basic/")]
        content = package.read("content.xml").decode()
        manifest = package.read("META-INF/manifest.xml").decode()
    assert "Basic/" not in manifest
    assert "attacker.example" not in content and "vnd.sun.star.script" not in content
    assert "令和8年度 予算要求書 ①㈱ 髙橋" in content and "マクロ実行" in content  # text kept
    assert "https://www.example.jp/" in content  # a plain hyperlink is not active content
