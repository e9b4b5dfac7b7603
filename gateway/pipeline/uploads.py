"""The uploads worker of ``gateway serve`` (gateway/runner.py's loop): takes an upload from
``uploads``, keeps each original in the quarantine, disarms each file in the sandbox, writes the
results the HTTP API shows (``DATA_DIR/results/ID``) and hands every output to the LGWAN side
(``DATA_DIR/lgwan-files/DESTINATION/ID``) all together or not at all; then commits the job with
its audit records."""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from gateway.audit import records
from gateway.config import Settings
from gateway.pipeline.progress import Stage, clear_progress, write_progress
from gateway.pipeline.quarantine import keep_original
from gateway.pipeline.sanitize import Sanitizer
from gateway.pipeline.scan import ScanDeferred
from gateway.pipeline.worker import MAX_PIPELINE_ATTEMPTS, ScanWaiting
from gateway.sandbox.crash_report import transfer
from gateway.sharing import group_id, share, share_tree
from gateway.spool import Queue, SpoolJob, fsync_dir, write_durably
from gateway.stop_signal import StopSignal

log = logging.getLogger(__name__)


class UploadWorker(ScanWaiting):
    role, source, working, max_attempts = Queue.UPLOADS, Queue.UPLOADS, Queue.WORKING, MAX_PIPELINE_ATTEMPTS

    def __init__(self, settings: Settings, stopping: StopSignal) -> None:
        super().__init__(settings, stopping)
        data = settings.serve.data_path
        self.quarantine, self.results, self.lgwan_files = data / "quarantine", data / "results", data / "lgwan-files"
        self.sanitizer = Sanitizer(settings, defer_scans=True)
        self.group = group_id(settings.serve.delivery_group)

    def close(self) -> None:
        try:
            self.sanitizer.close()
        finally:
            super().close()

    def process(self, job: SpoolJob) -> None:
        try:
            with transfer(job.id, self.spool.root):
                self.process_upload(job)
        except ScanDeferred as exc:  # its status says "waiting_for_scan" until the engines answer
            shutil.rmtree(self.results / job.id / "outputs", ignore_errors=True)  # the files done so far
            clear_progress(self.results / job.id)
            self.wait_for_scan(job, self.sanitizer.malware, exc.reason)

    def process_upload(self, job: SpoolJob) -> None:
        self.spool.discard_outgoing(job)  # records of an attempt cut short before its commit
        meta = job.envelope()
        target = self.results / job.id
        clear_progress(target)  # a note left by an attempt cut short
        names = meta.get("names", [])
        files = []
        for index, name in enumerate(names):
            source = job.path / "files" / str(index)
            keep_original(self.quarantine, source)
            note = functools.partial(self.note_progress, target, file=index + 1, files=len(names))
            result = self.sanitizer.sanitize(source, target / "outputs" / str(index), display_name=str(name),
                                             progress=note)
            for output in result["outputs"]:
                output["stored"] = f"{index}/{Path(output['path']).name}"
                output["path"] = Path(output["path"]).name
            files.append(result)
        target.mkdir(parents=True, exist_ok=True)
        self.deliver_files(job.id, str(meta.get("destination") or ""), target / "outputs", files)
        (target / "meta.json").write_text(json.dumps({"user": meta.get("user", "")}), encoding="utf-8")
        temporary = target / "result.json.tmp"
        temporary.write_text(json.dumps({"files": files}, ensure_ascii=False), encoding="utf-8")
        os.replace(temporary, target / "result.json")
        clear_progress(target)  # result.json says it all now
        intents = [*(records.part(job.id, index, "file", result) for index, result in enumerate(files)),
                   records.files_delivered(job.id)]
        done = self.spool.move(job, Queue.DONE, intents=[r.to_json() for r in intents], hold=True)  # the commit
        self.recorder.commit(done, intents)
        self.spool.remove(done)

    @staticmethod
    def note_progress(target: Path, stage: Stage, file: int, files: int) -> None:
        """What the API and the console show meanwhile; a note that cannot be written changes no outcome."""
        try:
            write_progress(target, stage, file, files)
        except OSError as exc:
            log.warning("progress note not written: %s", type(exc).__name__)

    def deliver_files(self, transfer_id: str, destination: str, outputs: Path, files: list[dict[str, Any]]) -> None:
        """All of a transfer's outputs reach the LGWAN side together or not at all: written
        under a hidden name, fsynced, then renamed into place (a transfer already in place, from
        a run interrupted after this point, is left as it is)."""
        folder = self.lgwan_files / destination
        final, partial = folder / transfer_id, folder / f".{transfer_id}.partial"
        if final.exists():
            return
        shutil.rmtree(partial, ignore_errors=True)
        for result in files:
            for output in result["outputs"]:
                index, _, name = output["stored"].partition("/")
                (partial / index).mkdir(parents=True, exist_ok=True)
                write_durably(partial / index / name, (outputs / output["stored"]).read_bytes())
        partial.mkdir(parents=True, exist_ok=True)
        share_tree(partial, self.group)  # before the rename: the pickup never sees it half readable
        for parent in [folder, *[p for p in folder.parents if p.is_relative_to(self.lgwan_files)]]:
            share(parent, self.group)
        os.rename(partial, final)
        fsync_dir(folder)
