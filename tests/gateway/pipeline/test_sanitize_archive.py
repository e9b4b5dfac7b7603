"""Archives through the whole gateway path (forked conversion in the sandbox, the independent
check, one ZIP delivered): thousands of small members, names that clash between files and folders."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

from converters.protocol import MAX_REQUEST_LINE
from gateway.config import Settings
from gateway.errors import ReportInvalid
from gateway.pipeline.sanitize import Sanitizer

NO_FILES = re.compile(r"(?!)")


class Cp932ZipInfo(zipfile.ZipInfo):
    """A member name stored as CP932 bytes without the UTF-8 flag (Explorer, Lhaplus)."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # zipfile's own hook
        return self.filename.encode("cp932"), self.flag_bits & ~0x800


def many_members(count: int) -> tuple[bytes, dict[str, bytes]]:
    """A ZIP of ``count`` one-line text files (every tenth name in CP932 without the UTF-8 flag)
    and what each should arrive as (UTF-8 text, by its name in the delivered ZIP)."""
    data, expected = io.BytesIO(), {}
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(count):
            line = f"{index} 行目のメモです。①\n"
            if index % 10 == 0:
                name = f"請求書/見積_{index}.txt"
                archive.writestr(Cp932ZipInfo(name), line.encode("cp932"))
            else:
                name = f"資料/{index // 500:02d}/メモ{index}.txt"
                archive.writestr(name, line.encode("utf-8"))
            expected[name] = line.encode("utf-8")
    return data.getvalue(), expected


def test_an_archive_of_5000_small_members_passes(tmp_path: Path) -> None:
    """At the member limit (5,000): the check's listing of outputs once overflowed the zygote's
    64 KiB request line and the whole archive failed as converter_crashed."""
    raw, expected = many_members(Settings().limits.archive_max_members)
    source = tmp_path / "議事録一式.zip"
    source.write_bytes(raw)
    with Sanitizer(Settings()) as sanitizer:
        result = sanitizer.sanitize(source, tmp_path / "out")
    assert (result["outcome"], result["reason_code"], result["verified"]) == ("passed", None, True)
    assert len(result["members"]) == len(expected)
    [delivered] = result["outputs"]
    with zipfile.ZipFile(delivered["path"]) as archive:
        assert {info.filename: archive.read(info) for info in archive.infolist()} == expected


@pytest.mark.parametrize("nested_first", [False, True])
def test_a_file_and_a_nested_archive_of_its_name_are_both_delivered(tmp_path: Path, nested_first: bool) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("中身.txt", "入れ子\n")
    entries = [("報告.txt", "外側\n".encode()), ("報告.txt.zip", inner.getvalue())]
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as archive:
        for name, data in entries[::-1] if nested_first else entries:
            archive.writestr(name, data)
    with Sanitizer(Settings()) as sanitizer:
        result = sanitizer.sanitize(tmp_path / "a.zip", tmp_path / "out")
    assert result["outcome"] == "passed"
    with zipfile.ZipFile(result["outputs"][0]["path"]) as archive:
        delivered = {name: archive.read(name).decode() for name in archive.namelist()}
    if nested_first:
        assert delivered == {"報告.txt/中身.txt": "入れ子\n", "報告 (2).txt": "外側\n"}
    else:
        assert delivered == {"報告.txt (2)/中身.txt": "入れ子\n", "報告.txt": "外側\n"}


def test_a_request_line_too_long_for_the_zygote_is_refused_before_it_is_sent(tmp_path: Path) -> None:
    """Long content travels with the data; a request line the zygote would read cut short is
    an error here, and the zygote keeps serving."""
    with Sanitizer(Settings()) as sanitizer:
        with pytest.raises(ReportInvalid):
            sanitizer.zygote.run("inspect", b"[]\n", {"padding": "x" * MAX_REQUEST_LINE}, NO_FILES)
        assert sanitizer.zygote.run("inspect", b"[]\n", {}, NO_FILES).report == []
