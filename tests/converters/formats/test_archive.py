"""Archive contract: members disarmed one by one and all reported; names decoded and made safe;
encrypted archives and bombs blocked with stable codes."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from converters.base import Limits, Report
from tests.conftest import run_engine


def members(report: Report) -> dict[str, Report]:
    return {m.input: m for m in report.members or []}


def all_outputs(report: Report) -> list[str]:
    found = [o.path for o in report.outputs]
    for member in report.members or []:
        found += all_outputs(member)
    return found


def test_cp932_member_names_are_decoded(samples: Path, tmp_path: Path) -> None:
    report = run_engine(samples / "zip-cp932-names.zip", tmp_path)
    assert set(members(report)) == {"請求書/令和8年度_見積書①.txt", "資料.csv"}
    assert sorted(all_outputs(report)) == ["zip-cp932-names/請求書/令和8年度_見積書①.txt",
                                            "zip-cp932-names/資料.csv"]


def test_traversal_names_cannot_escape(samples: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = run_engine(samples / "zip-traversal.zip", out)
    assert report.outcome == "sanitized"
    assert "archive_path_sanitised" in {f.code for f in report.findings}
    assert set(members(report)) == {"escaped.txt", "abs/path.txt", "Windows/evil.txt", "ok/normal.txt"}
    for path in all_outputs(report):
        assert (out / path).resolve().is_relative_to(out.resolve())
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert written == set(all_outputs(report))
    assert not (tmp_path / "escaped.txt").exists()


def test_mixed_archive_keeps_safe_members_and_removes_the_rest(samples: Path, tmp_path: Path) -> None:
    report = run_engine(samples / "zip-mixed.zip", tmp_path)
    found = members(report)
    assert report.outcome == "sanitized"
    assert found["docs/report.pdf"].outcome == "sanitized"
    assert found["readme.txt"].outcome == "passed"
    assert (found["setup.exe"].outcome, found["setup.exe"].reason_code) == ("blocked", "executable")
    assert found["invoice.pdf.lnk"].reason_code == "shortcut"
    assert found["run.js"].reason_code == "script"
    removed = {f.detail for f in report.findings if f.code == "archive_member_removed"}
    assert removed == {"setup.exe", "invoice.pdf.lnk", "run.js"}


def test_nested_archive_members_are_processed(samples: Path, tmp_path: Path) -> None:
    report = run_engine(samples / "zip-nested.zip", tmp_path)
    inner = members(report)["inner.zip"]
    assert members(inner)["deeper.exe"].reason_code == "executable"
    assert members(inner)["inner.pdf"].outcome == "passed"
    assert "zip-nested/inner/inner.pdf" in all_outputs(report)


@pytest.mark.parametrize("sample", ["zip-encrypted.zip", "7z-encrypted.7z"])
def test_encrypted_archives_are_blocked(samples: Path, tmp_path: Path, sample: str) -> None:
    report = run_engine(samples / sample, tmp_path)
    assert (report.outcome, report.reason_code) == ("blocked", "encrypted_archive")
    assert report.reason == "encrypted archive (cannot be inspected)"


def test_zip_bomb_is_blocked(samples: Path, tmp_path: Path) -> None:
    report = run_engine(samples / "zip-bomb.zip", tmp_path)
    assert (report.outcome, report.reason_code) == ("blocked", "decompression_bomb")


def test_lying_sizes_are_caught_while_expanding(tmp_path: Path) -> None:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.txt", b"a" * (20 * 1024 * 1024))
    raw = bytearray(data.getvalue())
    # rewrite the declared sizes (local header and central directory) to 100 bytes
    for offset in (22, raw.rfind(b"PK\x01\x02") + 24):
        raw[offset:offset + 4] = (100).to_bytes(4, "little")
    (tmp_path / "liar.zip").write_bytes(bytes(raw))
    report = run_engine(tmp_path / "liar.zip", tmp_path / "out")
    assert report.outcome == "blocked"
    assert not list((tmp_path / "out").rglob("big.txt"))


def test_depth_and_member_limits(samples: Path, tmp_path: Path) -> None:
    shallow = run_engine(samples / "zip-nested.zip", tmp_path / "a", limits=Limits(archive_max_depth=1))
    assert members(shallow)["inner.zip"].reason_code == "archive_too_deep"
    few = run_engine(samples / "zip-mixed.zip", tmp_path / "b", limits=Limits(archive_max_members=2))
    assert few.reason_code == "archive_too_many_members"


def test_only_blocked_members_blocks_the_archive(samples: Path, tmp_path: Path) -> None:
    report = run_engine(samples / "zip-only-exe.zip", tmp_path)
    assert (report.outcome, report.reason_code) == ("blocked", "archive_all_members_blocked")
    assert members(report)["setup.exe"].reason_code == "executable"


def test_7z_and_tar_gz(samples: Path, tmp_path: Path) -> None:
    seven = run_engine(samples / "7z-clean.7z", tmp_path / "7z")
    assert seven.outcome == "passed" and set(members(seven)) == {"文書.pdf", "メモ.txt"}
    tgz = run_engine(samples / "tar-gz-clean.tar.gz", tmp_path / "tgz")
    tar = members(tgz)["tar-gz-clean.tar"]
    assert set(members(tar)) == {"docs/clean.pdf", "docs/data.csv"}
    assert members(tar)["docs/data.csv"].outcome == "sanitized"  # formula cells neutralised


def test_tar_links_are_skipped(samples: Path, tmp_path: Path) -> None:
    report = run_engine(samples / "tar-symlink.tar", tmp_path)
    assert set(members(report)) == {"note.txt"}
    assert "archive_link_skipped" in {f.code for f in report.findings}


def test_corrupt_archive_is_blocked(samples: Path, tmp_path: Path) -> None:
    report = run_engine(samples / "zip-corrupt.zip", tmp_path)
    assert (report.outcome, report.reason_code) == ("blocked", "corrupt_file")


def zip_of(entries: list[tuple[str, bytes]]) -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return data.getvalue()


@pytest.mark.parametrize("nested_first", [False, True])
def test_a_file_and_a_nested_archive_of_the_same_name_both_arrive(tmp_path: Path, nested_first: bool) -> None:
    """``a.txt`` and ``a.txt.zip`` side by side: the archive's folder would be called ``a.txt``;
    one of them is renamed with a counter (as case clashes are), neither is lost."""
    inner = zip_of([("中身.txt", "入れ子の中身\n".encode())])
    entries = [("見積/a.txt", "外側のテキスト\n".encode()), ("見積/a.txt.zip", inner)]
    (tmp_path / "outer.zip").write_bytes(zip_of(entries[::-1] if nested_first else entries))
    out = tmp_path / "out"
    report = run_engine(tmp_path / "outer.zip", out)
    assert report.outcome == "passed", [(m.input, m.reason_code) for m in report.members or []]
    nested = members(report)["見積/a.txt.zip"]
    assert members(nested)["中身.txt"].outcome == "passed"
    written = {p.relative_to(out).as_posix(): p.read_text(encoding="utf-8") for p in out.rglob("*") if p.is_file()}
    if nested_first:
        expected = {"outer/見積/a.txt/中身.txt": "入れ子の中身\n", "outer/見積/a (2).txt": "外側のテキスト\n"}
    else:
        expected = {"outer/見積/a.txt (2)/中身.txt": "入れ子の中身\n", "outer/見積/a.txt": "外側のテキスト\n"}
    assert written == expected
    assert sorted(all_outputs(report)) == sorted(expected)


def test_a_file_and_a_folder_of_the_same_name_both_arrive(tmp_path: Path) -> None:
    """A member ``A.TXT`` and members inside a folder ``a.txt/`` (any case), in one ZIP; a real
    folder named like a nested archive's folder shares it (the names in it stay unique)."""
    entries = [("A.TXT", b"file\n"), ("a.txt/one.txt", b"one\n"), ("A.txt/two.txt", b"two\n"),
               ("dir.zip", zip_of([("x.txt", b"x\n")])), ("dir/x.txt", b"real folder\n")]
    (tmp_path / "mixed.zip").write_bytes(zip_of(entries))
    out = tmp_path / "out"
    report = run_engine(tmp_path / "mixed.zip", out)
    assert report.outcome == "passed"
    written = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert written == {"mixed/A.txt": b"file\n", "mixed/a.txt (2)/one.txt": b"one\n",
                       "mixed/a.txt (2)/two.txt": b"two\n", "mixed/dir/x.txt": b"x\n",
                       "mixed/dir/x (2).txt": b"real folder\n"}


def test_a_7z_whose_damaged_header_lacks_its_pack_information_is_corrupt(tmp_path: Path) -> None:
    """py7zr reads ``header.main_streams.packinfo`` that a damaged header leaves as None
    (AttributeError, was converter_crashed); found by this session's final fuzzing campaign."""
    source = Path(__file__).resolve().parents[2] / "fuzz" / "regressions" / "450afa672d95-archive.bin"
    report = run_engine(source, tmp_path, name="書類.7z")
    assert (report.outcome, report.reason_code) == ("blocked", "corrupt_file")
