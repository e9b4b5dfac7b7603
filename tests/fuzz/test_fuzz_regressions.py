"""Replay every input fuzzing found (tests/fuzz/regressions/manifest.json).

- ``"status": "fixed"``: the input must go through its target's oracle with no failure at all and
  end with one of the ``expected`` outcomes (``blocked:corrupt_file``, ``delivered:*`` ...).
- ``"status": "open"`` (the converter bug is known and not fixed yet): the input goes through the
  real gateway path - the sandboxed ``Sanitizer`` for files, ``MailSanitizer`` for mail, the
  inspector as a separate process read by ``parse_verdicts`` for inspector inputs - and the
  CURRENT behaviour must be fail-closed: blocked with a reason code, or delivered only when every
  output passed the independent verification (an archive without the members that failed it,
  each of them blocked with ``verification_failed``); a mail is rejected with a reason code or delivered
  with each attachment blocked or verified; an inspector that crashes must not be read as clean.
  Whether the failure still reproduces in-process is reported as a warning (when it no longer
  does, the entry can be marked fixed, which then asserts its expected outcome)."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fuzz.oracle import run_case
from tests.fuzz.regress import HERE, load_manifest
from tests.fuzz.targets import TARGETS

ENTRIES = load_manifest()
MAX_BYTES = 24 * 1024
OUTPUT_TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".gif": "image/gif",
                ".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff", ".txt": "text/plain",
                ".csv": "text/csv",
                ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                ".odt": "application/vnd.oasis.opendocument.text",
                ".ods": "application/vnd.oasis.opendocument.spreadsheet"}


def test_manifest_is_well_formed() -> None:
    assert ENTRIES, "the manifest holds the inputs fuzzing found"
    for entry in ENTRIES:
        data = (HERE / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["file"]
        assert entry["file"] == f"{entry['sha256'][:12]}-{entry['target']}.bin"
        assert len(data) <= MAX_BYTES, entry["file"]
        assert entry["target"] in TARGETS and entry["status"] in ("open", "fixed") and entry["expected"]
    assert len({e["file"] for e in ENTRIES}) == len(ENTRIES)


def _fail_closed_file(src: Path, out: Path) -> dict[str, Any]:
    from gateway.config import Settings
    from gateway.pipeline.sanitize import Sanitizer

    sanitizer = Sanitizer(Settings())
    try:
        result = sanitizer.sanitize(src, out)
    finally:
        sanitizer.close()
    members = list(_members(result))
    for node in [result, *members]:
        if node["outcome"] == "blocked":
            assert node["reason_code"], node
            assert not node["outputs"], node
    if result["outcome"] != "blocked" and result["verified"] is not True:
        # an archive is delivered without the members that failed verification: each became a block
        assert any(m["outcome"] == "blocked" and m["reason_code"] == "verification_failed" for m in members), result
    return result


def _members(result: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for member in result.get("members") or []:
        yield member
        yield from _members(member)


def _fail_closed_mail(src: Path) -> dict[str, Any]:
    from gateway.config import Settings
    from gateway.pipeline.mail import MailSanitizer

    mail = MailSanitizer(Settings())
    try:
        summary: dict[str, Any] = mail.process(src).summary
    finally:
        mail.close()
    assert summary["outcome"] in ("rejected", "delivered"), summary
    if summary["outcome"] == "rejected":
        assert summary["reason_code"], summary
    for attachment in summary["attachments"]:
        assert attachment["outcome"] == "blocked" or attachment.get("verified") is True, attachment
    return summary


def _fail_closed_inspector(src: Path, tmp_path: Path) -> str:
    """The inspector as the gateway runs it (its own process, answer read by parse_verdicts): a
    crash or an unreadable answer must never be taken for a clean verdict."""
    from converters.base import Output
    from gateway.errors import ReportInvalid
    from gateway.pipeline.verdicts import parse_verdicts

    listing = tmp_path / "list.json"
    listing.write_text(json.dumps([src.name]), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "converters", "inspect", "--scratch", str(tmp_path / "scratch"),
                          "--root", str(src.parent), "--list", str(listing)],
                         capture_output=True, timeout=120, check=False)
    declared = OUTPUT_TYPES.get(src.suffix.lower(), "application/octet-stream")
    try:
        verdicts = parse_verdicts(run.stdout, [Output(src.name, declared)])
    except ReportInvalid:
        return "inspector answer refused"
    if run.returncode != 0:
        raise AssertionError(f"the inspector failed (status {run.returncode}) but its answer was read")
    return "problems: " + "; ".join(verdicts[src.name]) if verdicts[src.name] else "clean"


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_regression(entry: dict[str, Any], tmp_path: Path) -> None:
    data = (HERE / entry["file"]).read_bytes()
    kind = TARGETS[entry["target"]].kind
    check = run_case(kind, data, entry["name"])
    keys = sorted({f.key for f in check.failures})
    if entry["status"] == "fixed":
        assert not check.failures, f"{entry['file']} fails again: {keys}"
        assert any(fnmatch.fnmatchcase(check.outcome, p) for p in entry["expected"]), \
            f"{entry['file']}: outcome {check.outcome}, expected one of {entry['expected']}"
        return
    src = tmp_path / "input" / entry["name"]
    src.parent.mkdir()
    src.write_bytes(data)
    if kind == "mail":
        result = _fail_closed_mail(src)
        now = f"{result['outcome']} {result.get('reason_code') or ''}"
    elif kind == "inspect":
        now = _fail_closed_inspector(src, tmp_path)
    else:
        result = _fail_closed_file(src, tmp_path / "delivered")
        now = f"{result['outcome']} {result.get('reason_code') or ''}"
    state = "still reproduces" if entry["key"] in keys else f"no longer reproduces in-process (outcome " \
                                                               f"{check.outcome}): mark it fixed"
    warnings.warn(f"open fuzz regression {entry['file']} ({entry['key']}): {state}; through the gateway: {now}",
                  stacklevel=1)
