"""Validation of the report a sandboxed converter sends back. Nothing in it is trusted: every
field is type-checked and bounded, and every output path must name a regular file inside the
job's output directory."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from converters.base import METHODS, OUTCOMES, RASTER_FRAMES_TYPE, Finding, Output, Report
from converters.names import is_safe_relative_path
from converters.protocol import ODF_TYPES, OOXML_OUTPUT_TYPES
from gateway.errors import ReportInvalid

CODE = re.compile(r"^[a-z0-9_]{1,64}$")
MIME = re.compile(r"^[a-z0-9][a-z0-9.+-]{0,60}/[A-Za-z0-9][A-Za-z0-9.+-]{0,100}$")
SHA256 = re.compile(r"^([0-9a-f]{64})?$")
OUTPUT_TYPES = frozenset({
    "application/pdf", "image/jpeg", "image/png", "image/gif", "image/bmp", "image/tiff",
    "text/plain", "text/csv", RASTER_FRAMES_TYPE, *OOXML_OUTPUT_TYPES, *ODF_TYPES,
})
MAX_TEXT = 2000
MAX_DEPTH = 16
MAX_NODES = 100_000


def _text(value: Any, field: str, *, optional: bool = False) -> str:
    if value is None and optional:
        return ""
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ReportInvalid(f"converter report field {field} is not a bounded string")
    return value


def _regular_file_inside(root: Path, relative: str) -> None:
    if not is_safe_relative_path(relative):
        raise ReportInvalid("converter report names an unsafe output path")
    current = root
    for part in relative.split("/"):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except OSError as exc:
            raise ReportInvalid("converter report names a missing output") from exc
        if stat.S_ISLNK(mode):
            raise ReportInvalid("converter output is a symbolic link")
    if not stat.S_ISREG(mode):
        raise ReportInvalid("converter output is not a regular file")


class _Parser:
    def __init__(self, out_root: Path, method: str, rasterised: frozenset[str],
                 present: frozenset[str] | None = None) -> None:
        self.out_root = out_root
        self.present = present
        self.rasterised = rasterised
        self.method = method
        self.nodes = 0

    def parse(self, data: Any, depth: int) -> Report:
        self.nodes += 1
        if not isinstance(data, dict) or depth > MAX_DEPTH or self.nodes > MAX_NODES:
            raise ReportInvalid("converter report has an unexpected shape")
        outcome = data.get("outcome")
        if outcome not in OUTCOMES or data.get("method") != self.method:
            raise ReportInvalid("converter report has an unknown outcome or method")
        mime = _text(data.get("type"), "type")
        if not MIME.match(mime):
            raise ReportInvalid("converter report has a malformed type")
        sha256 = _text(data.get("sha256", ""), "sha256")
        size = data.get("size", 0)
        if not SHA256.match(sha256) or not isinstance(size, int) or size < 0:
            raise ReportInvalid("converter report has a malformed digest or size")
        reason_code = _text(data.get("reason_code"), "reason_code", optional=True)
        if reason_code and not CODE.match(reason_code):
            raise ReportInvalid("converter report has a malformed reason code")
        findings = []
        for item in self._list(data.get("findings"), "findings"):
            if not isinstance(item, dict) or not CODE.match(_text(item.get("code"), "finding")):
                raise ReportInvalid("converter report has a malformed finding")
            findings.append(Finding(item["code"], _text(item.get("detail", ""), "detail")))
        outputs = []
        for item in self._list(data.get("outputs"), "outputs"):
            if not isinstance(item, dict) or item.get("type") not in OUTPUT_TYPES:
                raise ReportInvalid("converter report lists an output of a type that may not leave")
            path = _text(item.get("path"), "path")
            if item["type"] == RASTER_FRAMES_TYPE:
                if path not in self.rasterised:
                    raise ReportInvalid("converter report names a rasterised document that never arrived")
            elif self.present is not None:  # outputs handed back in memory, not written in out_root
                if not is_safe_relative_path(path) or path not in self.present:
                    raise ReportInvalid("converter report names a missing or unsafe output")
            else:
                _regular_file_inside(self.out_root, path)
            outputs.append(Output(path, item["type"]))
        if outcome == "blocked" and outputs:
            raise ReportInvalid("converter report lists outputs for a blocked file")
        members = None
        if data.get("members") is not None:
            members = [self.parse(m, depth + 1) for m in self._list(data["members"], "members")]
        return Report(
            input=_text(data.get("input"), "input"), type=mime, outcome=outcome,
            method=self.method,  # type: ignore[arg-type]
            outputs=outputs, findings=findings,
            reason=_text(data.get("reason"), "reason", optional=True) or None,
            reason_code=reason_code or None, members=members, sha256=sha256, size=size)

    @staticmethod
    def _list(value: Any, field: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise ReportInvalid(f"converter report field {field} is not a list")
        return value


def parse_report(raw: bytes, out_root: Path, method: str, rasterised: frozenset[str] = frozenset(),
                 present: frozenset[str] | None = None) -> Report:
    """Turn the sandbox's JSON into a validated Report, or raise ReportInvalid. With ``present``
    (the names of the outputs handed back through a pipe) outputs are looked up there, not in
    ``out_root``."""
    if method not in METHODS:
        raise ReportInvalid("unknown method")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: also huge integers
        raise ReportInvalid("converter report is not valid JSON") from exc
    return _Parser(out_root, method, rasterised, present).parse(data, 0)
