"""Outputs the inspector sandbox reads are readable by it under the service's umask (077): started
as root, the inspector is the job's own uid, not the owner of what the trusted side copied."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest

from gateway.config import Settings
from gateway.pipeline.sanitize import Sanitizer

# 議事録 in CP932, as Word writes RTF for Japanese text
RTF = ("{\\rtf1\\ansi\\ansicpg932\\deff0{\\fonttbl{\\f0\\fnil\\fcharset128 MS Mincho;}}\\f0 "
       "\\'8b\\'63\\'8e\\'96\\'98\\'5e sample\\par }")


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice comes from scripts/setup.sh")
def test_a_libreoffice_made_output_is_verified_under_the_services_umask(tmp_path: Path) -> None:
    source = tmp_path / "議事録.rtf"
    source.write_text(RTF, encoding="ascii")
    previous = os.umask(0o077)  # as gateway serve runs
    try:
        with Sanitizer(Settings()) as sanitizer:
            result = sanitizer.sanitize(source, tmp_path / "out")
    finally:
        os.umask(previous)
    assert (result["outcome"], result["reason_code"]) == ("sanitized", None), result["reason"]
    assert result["verified"] is True
    [output] = result["outputs"]
    with zipfile.ZipFile(output["path"]) as docx:
        assert "議事録" in docx.read("word/document.xml").decode("utf-8")
