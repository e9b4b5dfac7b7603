"""The converter's JSON report is untrusted: malformed reports and unsafe outputs are refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from converters.base import RASTER_FRAMES_TYPE
from gateway.errors import ReportInvalid
from gateway.pipeline.report import parse_report


def report(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"input": "a.pdf", "sha256": "", "size": 1, "type": "application/pdf",
                            "outcome": "passed", "method": "rebuild",
                            "outputs": [{"path": "a.pdf", "type": "application/pdf"}],
                            "findings": [], "reason": None, "reason_code": None}
    data.update(changes)
    return data


def parse(data: object, root: Path, rasterised: frozenset[str] = frozenset()) -> object:
    return parse_report(json.dumps(data).encode(), root, "rebuild", rasterised)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4")
    return tmp_path


def test_valid_report(root: Path) -> None:
    assert parse(report(), root).outputs[0].path == "a.pdf"  # type: ignore[attr-defined]


@pytest.mark.parametrize("changes", [
    {"outcome": "approved"},
    {"method": "rasterize"},
    {"type": "not a mime"},
    {"outputs": [{"path": "../a.pdf", "type": "application/pdf"}]},
    {"outputs": [{"path": "/etc/passwd", "type": "application/pdf"}]},
    {"outputs": [{"path": "missing.pdf", "type": "application/pdf"}]},
    {"outputs": [{"path": "a.pdf", "type": "application/x-msdownload"}]},
    {"outputs": [{"path": "a.pdf", "type": RASTER_FRAMES_TYPE}]},
    {"outcome": "blocked"},
    {"findings": [{"code": "Bad Code!", "detail": ""}]},
    {"findings": "none"},
    {"reason": "x" * 5000},
    {"sha256": "zz"},
    {"members": [{"outcome": "passed"}]},
])
def test_malformed_reports_are_refused(root: Path, changes: dict[str, Any]) -> None:
    with pytest.raises(ReportInvalid):
        parse(report(**changes), root)


def test_symlinked_outputs_are_refused(root: Path) -> None:
    (root / "link.pdf").symlink_to(root / "a.pdf")
    (root / "dir").symlink_to(root)
    for path in ("link.pdf", "dir/a.pdf"):
        with pytest.raises(ReportInvalid):
            parse(report(outputs=[{"path": path, "type": "application/pdf"}]), root)


def test_raster_outputs_must_have_arrived(root: Path) -> None:
    raster = {"outputs": [{"path": "r.pdf", "type": RASTER_FRAMES_TYPE}], "outcome": "sanitized"}
    with pytest.raises(ReportInvalid):
        parse(report(**raster), root)
    assert parse(report(**raster), root, frozenset({"r.pdf"}))


def test_deeply_nested_members_are_refused(root: Path) -> None:
    data: dict[str, Any] = report(outputs=[])
    for _ in range(40):
        data = report(outputs=[], members=[data])
    with pytest.raises(ReportInvalid):
        parse(data, root)


def test_not_json(root: Path) -> None:
    for raw in (b"", b"\xff\xfe", b"[1,2", b"null"):
        with pytest.raises(ReportInvalid):
            parse_report(raw, root, "rebuild")
