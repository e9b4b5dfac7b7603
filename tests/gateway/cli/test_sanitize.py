"""`gateway sanitize` as operators run it: JSON Lines per docs/CONTRACT.md, exit codes, every output
inside --out and verified, the ClamAV test corpus never leaking clam.exe."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

CLAM_TESTFILES = Path("/usr/share/clamav-testfiles")
REQUIRED = {"input", "sha256", "size", "type", "outcome", "method", "outputs", "findings", "reason",
            "verified", "duration_ms"}
# sample -> (outcome, reason_code)
EXPECTED = {
    "pdf-clean.pdf": ("passed", None), "pdf-javascript.pdf": ("sanitized", None),
    "pdf-embedded-file.pdf": ("sanitized", None), "pdf-user-password.pdf": ("blocked", "password_protected"),
    "pdf-corrupt.pdf": ("blocked", "corrupt_file"), "png-bomb.png": ("blocked", "decompression_bomb"),
    "png-trailing-zip.png": ("sanitized", None), "jpeg-exif.jpg": ("passed", None),
    "csv-formula.csv": ("sanitized", None), "txt-iso2022jp.txt": ("passed", None),
    "zip-cp932-names.zip": ("passed", None), "zip-mixed.zip": ("sanitized", None),
    "zip-encrypted.zip": ("blocked", "encrypted_archive"), "zip-bomb.zip": ("blocked", "decompression_bomb"),
    "zip-traversal.zip": ("sanitized", None), "exe-renamed.pdf": ("blocked", "executable"),
    "lnk-stub.lnk": ("blocked", "shortcut"), "iso-stub.iso": ("blocked", "disk_image"),
    "one-stub.one": ("blocked", "onenote"), "js-script.js": ("blocked", "script"),
    "svg-script.svg": ("blocked", "svg"), "unknown-binary.dat": ("blocked", "unsupported_type"),
}


def gateway(*args: str, check_rc: int | None = 0) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True,
                            timeout=600)
    if check_rc is not None:
        assert result.returncode == check_rc, result.stderr
    return result


def lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def corpus_run(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp("sanitized")
    inputs = sorted(samples / name for name in EXPECTED)
    return out, lines(gateway("sanitize", *map(str, inputs), "--out", str(out)))


Run = tuple[Path, list[dict[str, Any]]]


def test_one_json_object_per_input_with_the_contract_fields(corpus_run: Run, samples: Path) -> None:
    results = corpus_run[1]
    assert [Path(r["input"]).name for r in results] == sorted(EXPECTED)
    for result in results:
        assert REQUIRED <= set(result)
        name = Path(result["input"]).name
        assert (result["outcome"], result["reason_code"]) == EXPECTED[name], name
        assert result["sha256"] == sha256(samples / name)
        assert result["size"] == (samples / name).stat().st_size
        if result["outcome"] == "blocked":
            assert result["outputs"] == [] and result["reason"] and result["verified"] is False
        else:
            assert result["outputs"] and result["verified"] is True and result["reason"] is None


def test_outputs_exist_inside_out_with_their_digests(corpus_run: Run) -> None:
    out, results = corpus_run
    listed = set()
    for result in results:
        for output in result["outputs"]:
            path = Path(output["path"])
            assert path.resolve().parent == out.resolve()
            assert sha256(path) == output["sha256"]
            listed.add(path.name)
    assert {p.name for p in out.iterdir()} == listed  # nothing else was written


def test_archive_members_are_reported_and_repacked(corpus_run: Run) -> None:
    results = corpus_run[1]
    mixed = next(r for r in results if r["input"].endswith("zip-mixed.zip"))
    by_name = {m["input"]: m for m in mixed["members"]}
    assert by_name["setup.exe"]["outcome"] == "blocked" and by_name["setup.exe"]["outputs"] == []
    report_pdf = by_name["docs/report.pdf"]
    assert report_pdf["verified"] is True
    assert report_pdf["outputs"][0]["container"] == mixed["outputs"][0]["path"]
    with zipfile.ZipFile(mixed["outputs"][0]["path"]) as archive:
        assert sorted(archive.namelist()) == ["docs/report.pdf", "readme.txt"]
        packed = hashlib.sha256(archive.read("docs/report.pdf")).hexdigest()
        assert packed == report_pdf["outputs"][0]["sha256"]
    cp932 = next(r for r in results if r["input"].endswith("zip-cp932-names.zip"))
    with zipfile.ZipFile(cp932["outputs"][0]["path"]) as archive:
        assert sorted(archive.namelist()) == ["請求書/令和8年度_見積書①.txt", "資料.csv"]
        assert all(info.flag_bits & 0x800 for info in archive.infolist())  # UTF-8 names, flagged


def test_rasterize_method(samples: Path, tmp_path: Path) -> None:
    [result] = lines(gateway("sanitize", str(samples / "pdf-javascript.pdf"), "--method", "rasterize",
                             "--out", str(tmp_path)))
    assert (result["outcome"], result["method"], result["verified"]) == ("sanitized", "rasterize", True)
    text = subprocess.run(["pdftotext", result["outputs"][0]["path"], "-"], capture_output=True,
                          text=True, check=True).stdout
    assert text.strip() == ""


def test_usage_and_configuration_errors_exit_2(samples: Path, tmp_path: Path) -> None:
    assert gateway("sanitize", str(tmp_path / "missing.pdf"), "--out", str(tmp_path), check_rc=2).stdout == ""
    bad = tmp_path / "bad.toml"
    bad.write_text("[sandbox]\nmode = \"none\"\n")
    result = gateway("sanitize", str(samples / "pdf-clean.pdf"), "--out", str(tmp_path), "--config",
                     str(bad), check_rc=2)
    assert "allow_unsandboxed" in result.stderr
    bad.write_text("[limits]\nmax_pages = -1\n")
    gateway("sanitize", str(samples / "pdf-clean.pdf"), "--out", str(tmp_path), "--config", str(bad),
            check_rc=2)
    gateway("sanitize", "--out", str(tmp_path), check_rc=2)


def test_a_crashing_sandbox_blocks_the_file_and_the_run_goes_on(samples: Path, tmp_path: Path) -> None:
    starved = tmp_path / "starved.toml"
    starved.write_text("[sandbox]\nmemory_mb = 8\n")
    results = lines(gateway("sanitize", str(samples / "pdf-clean.pdf"), str(samples / "png-clean.png"),
                            "--out", str(tmp_path / "out"), "--config", str(starved)))
    assert [r["outcome"] for r in results] == ["blocked", "blocked"]
    assert {r["reason_code"] for r in results} <= {"resource_limit", "converter_crashed"}
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_unsandboxed_mode_works_when_explicitly_allowed(samples: Path, tmp_path: Path) -> None:
    config = tmp_path / "dev.toml"
    config.write_text("[sandbox]\nmode = \"none\"\nallow_unsandboxed = true\n")
    [result] = lines(gateway("sanitize", str(samples / "pdf-javascript.pdf"), "--out", str(tmp_path / "o"),
                             "--config", str(config)))
    assert (result["outcome"], result["verified"]) == ("sanitized", True)


@pytest.mark.skipif(not CLAM_TESTFILES.is_dir(), reason="clamav-testfiles is installed by scripts/setup.sh")
def test_clamav_test_corpus_never_leaks_clam_exe(tmp_path: Path) -> None:
    files = sorted(p for p in CLAM_TESTFILES.iterdir() if p.is_file())
    assert len(files) >= 40
    out = tmp_path / "out"
    results = lines(gateway("sanitize", *map(str, files), "--out", str(out)))
    assert len(results) == len(files)
    assert all(r["outcome"] in ("passed", "sanitized", "blocked") for r in results)
    # An outside judge: ClamAV itself, with a signature for clam.exe's exact bytes, scanning
    # every output (it unpacks zips and PDFs on its own). It must find the originals, so the
    # check can fail.
    clam = (CLAM_TESTFILES / "clam.exe").read_bytes()
    signature = tmp_path / "clam-exe.hdb"
    signature.write_text(f"{hashlib.md5(clam).hexdigest()}:{len(clam)}:Sample.ClamExe\n")  # noqa: S324
    clamscan = shutil.which("clamscan")
    if clamscan:
        dirty = subprocess.run([clamscan, "--no-summary", "-r", "-d", str(signature), str(CLAM_TESTFILES)],
                               capture_output=True, text=True)
        assert dirty.returncode == 1 and "Sample.ClamExe" in dirty.stdout
        if out.exists():
            clean = subprocess.run([clamscan, "--no-summary", "-r", "-d", str(signature), str(out)],
                                   capture_output=True, text=True)
            assert clean.returncode == 0, clean.stdout
    for path in out.rglob("*") if out.exists() else []:
        if path.is_file():
            assert b"This program cannot be run in DOS mode" not in path.read_bytes()
            assert clam[64:200] not in path.read_bytes()


def test_refuses_to_run_without_bubblewrap(samples: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bin"
    bare.mkdir()
    result = subprocess.run([sys.executable, "-m", "gateway", "sanitize", str(samples / "pdf-clean.pdf"),
                             "--out", str(tmp_path / "out")], capture_output=True, text=True,
                            env={"PATH": str(bare)}, timeout=60)
    assert result.returncode == 2 and "bubblewrap" in result.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_names_that_collide_on_windows_or_look_like_options(samples: Path, tmp_path: Path) -> None:
    dashed = tmp_path / "-見積書.txt"
    dashed.write_bytes((samples / "txt-utf8.txt").read_bytes())
    results = lines(gateway("sanitize", str(samples / "zip-case-names.zip"), str(dashed), "--out", str(tmp_path / "o")))
    assert [r["outcome"] for r in results] == ["passed", "passed"]
    with zipfile.ZipFile(results[0]["outputs"][0]["path"]) as archive:
        names = archive.namelist()
    folded = [name.casefold() for name in names]
    prefixes = {"/".join(n.split("/")[:i]) for n in folded for i in range(1, n.count("/") + 1)}
    assert len(set(folded)) == len(names) == 5 and not prefixes & set(folded)
    assert Path(results[1]["outputs"][0]["path"]).name == "-見積書.txt"


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice comes from scripts/setup.sh")
def test_office_through_the_sandbox_and_warm_spares(samples: Path, tmp_path: Path) -> None:
    rebuilt = lines(gateway("sanitize", *(str(samples / n) for n in (
        "xls-macro.xls", "docm-macro.docm", "odt-macro.odt", "docx-password.docx")), "--out", str(tmp_path / "r")))
    assert [(r["outcome"], r["verified"]) for r in rebuilt] == [
        ("sanitized", True), ("sanitized", True), ("sanitized", True), ("blocked", False)]
    assert [Path(r["outputs"][0]["path"]).suffix for r in rebuilt[:3]] == [".xlsx", ".docx", ".odt"]
    # three Office files rasterised in one run: the first spare is started up front, each later
    # document finds the next spare already waiting
    copies = []
    for index in range(3):
        copies.append(tmp_path / f"doc{index}.docx")
        copies[-1].write_bytes((samples / "docx-clean.docx").read_bytes())
    rasterised = lines(gateway("sanitize", *map(str, copies), "--method", "rasterize", "--out", str(tmp_path / "p")))
    assert all(r["outcome"] == "sanitized" and r["verified"] for r in rasterised)
    assert all(r["outputs"][0]["type"] == "application/pdf" for r in rasterised)
