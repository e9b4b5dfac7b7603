"""The two stages of an upload made visible: ``Sanitizer.sanitize`` says "scanning" before the malware
scan of the original and "disarming" only once the scan let it go on; the uploads worker writes that as
``results/ID/progress.json`` (stage, file N of M, no names) and removes it when ``result.json`` is there."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from converters.base import Method
from gateway.antivirus.source import ScanSource
from gateway.config import ServeSettings, Settings
from gateway.pipeline.progress import PROGRESS_FILE, Stage, read_progress, write_progress
from gateway.pipeline.sanitize import Sanitizer
from gateway.pipeline.scan import Check
from gateway.pipeline.uploads import UploadWorker
from gateway.service import Service
from gateway.spool import fsync_dir, new_job_id
from tests.gateway.test_service import DOMAIN

TEXT = "年度末の予算執行について、別紙のとおりご連絡します。\n"


def recording_scan(sanitizer: Sanitizer, events: list[str], answer: Check | None = None) -> None:
    """The malware stage's check, noted in ``events`` when it runs (and answering ``answer`` if given)."""
    real = sanitizer.malware.check

    def check(source: ScanSource, what: str = "file", *, count: bool = True) -> Check:
        events.append("scan")
        return answer if answer is not None else real(source, what, count=count)

    sanitizer.malware.check = check  # type: ignore[method-assign]


def test_scanning_is_told_before_the_scan_and_disarming_after_it(tmp_path: Path) -> None:
    source = tmp_path / "連絡.txt"
    source.write_text(TEXT, encoding="utf-8")
    events: list[str] = []
    with Sanitizer(Settings()) as sanitizer:
        recording_scan(sanitizer, events)
        result = sanitizer.sanitize(source, tmp_path / "out", progress=events.append)
    assert events == ["scanning", "scan", "disarming"]
    assert result["outcome"] == "passed"


def test_a_file_the_scan_blocks_is_never_disarmed(tmp_path: Path) -> None:
    source = tmp_path / "請求書.txt"
    source.write_text(TEXT, encoding="utf-8")
    events: list[str] = []
    infected = Check(True, "malware", "malware found: Test.Signature", ("Test.Signature",),
                     ({"code": "malware_found", "detail": "Test.Signature"},))
    with Sanitizer(Settings()) as sanitizer:
        recording_scan(sanitizer, events, infected)
        result = sanitizer.sanitize(source, tmp_path / "out", progress=events.append)
    assert events == ["scanning", "scan"]
    assert (result["outcome"], result["reason_code"]) == ("blocked", "malware")


def test_without_a_callback_nothing_changes(tmp_path: Path) -> None:
    source = tmp_path / "memo.txt"
    source.write_text(TEXT, encoding="utf-8")
    with Sanitizer(Settings()) as sanitizer:
        assert sanitizer.sanitize(source, tmp_path / "out")["outcome"] == "passed"


def test_the_worker_notes_each_file_s_stage_and_removes_the_note_once_done(tmp_path: Path) -> None:
    service = Service(Settings(serve=ServeSettings(data_dir=str(tmp_path / "data"), recipient_domains=DOMAIN)))
    transfer = new_job_id()
    staging = service.spool.queue("tmp") / transfer
    (staging / "files").mkdir(parents=True)
    for index in range(2):
        (staging / "files" / str(index)).write_text(TEXT, encoding="utf-8")
    envelope = {"user": "総務課", "names": ["秘密の計画.txt", "b.txt"], "destination": "総務"}
    (staging / "envelope.json").write_text(json.dumps(envelope, ensure_ascii=False), encoding="utf-8")
    os.rename(staging, service.spool.queue("uploads") / transfer)
    fsync_dir(service.spool.queue("uploads"))
    job = service.spool.claim("uploads", "working")
    assert job is not None
    worker = UploadWorker(service.settings, service.stopping)
    folder = service.serve.data_path / "results" / transfer
    seen: list[dict[str, Any]] = []
    sanitize = worker.sanitizer.sanitize

    def watched(src: Path, out_dir: Path, method: Method | None = None, display_name: str | None = None,
                progress: Callable[[Stage], None] | None = None) -> dict[str, Any]:
        assert progress is not None

        def reading(stage: Stage) -> None:  # the note on disk, right after the worker wrote it
            progress(stage)
            seen.append(json.loads((folder / PROGRESS_FILE).read_text(encoding="utf-8")))

        return sanitize(src, out_dir, method, display_name, progress=reading)

    worker.sanitizer.sanitize = watched  # type: ignore[method-assign]
    try:
        worker.process_upload(job)
    finally:
        worker.close()
        service.audit.close()
    assert seen == [{"stage": "scanning", "file": 1, "files": 2}, {"stage": "disarming", "file": 1, "files": 2},
                    {"stage": "scanning", "file": 2, "files": 2}, {"stage": "disarming", "file": 2, "files": 2}]
    assert (folder / "result.json").exists() and not (folder / PROGRESS_FILE).exists()
    assert not list(folder.glob(f"{PROGRESS_FILE}*"))


def test_a_note_holds_only_a_stage_and_counts(tmp_path: Path) -> None:
    write_progress(tmp_path, "disarming", 3, 5)
    assert json.loads((tmp_path / PROGRESS_FILE).read_text(encoding="utf-8")) == {
        "stage": "disarming", "file": 3, "files": 5}
    assert read_progress(tmp_path) == {"stage": "disarming", "file": 3, "files": 5}
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("text", ["", "not json", "[]", '{"stage": "done", "file": 1, "files": 1}',
                                  '{"stage": "scanning", "file": 0, "files": 1}',
                                  '{"stage": "scanning", "file": 2, "files": 1}',
                                  '{"stage": "scanning", "file": true, "files": 1}',
                                  '{"stage": "scanning", "file": "1", "files": 1}'])
def test_a_note_that_is_not_one_is_not_shown(tmp_path: Path, text: str) -> None:
    (tmp_path / PROGRESS_FILE).write_text(text, encoding="utf-8")
    assert read_progress(tmp_path) is None
    assert read_progress(tmp_path / "missing") is None
