"""The pipeline workers of ``gateway serve`` (gateway/runner.py's loop): ``MailWorker`` takes a
mail from ``incoming``, keeps its original in the quarantine, has it split and its attachments
disarmed in the sandbox, and commits the sanitised message (or the notice that replaces a
stopped mail) into ``outbox`` with its audit records. ``ScanWaiting`` is what mail and uploads
share: when the antivirus engines cannot scan, the job waits untouched (gateway/pipeline/scan.py).
"""

from __future__ import annotations

import logging

from gateway.audit import records
from gateway.config import Settings
from gateway.delivery.notices import rejected_notice
from gateway.errors import GatewayError
from gateway.pipeline.mail import MailSanitizer
from gateway.pipeline.quarantine import keep_original
from gateway.pipeline.sanitize import Sanitizer
from gateway.pipeline.scan import MalwareStage, ScanDeferred
from gateway.runner import Runner
from gateway.sandbox.crash_report import transfer
from gateway.spool import Queue, SpoolJob
from gateway.stop_signal import StopSignal

log = logging.getLogger(__name__)
MAX_PIPELINE_ATTEMPTS = 3


class ScanWaiting(Runner):
    def wait_for_scan(self, job: SpoolJob, stage: MalwareStage, reason: str) -> None:
        """The engines could not scan: the job goes back to its queue as it came (no attempt
        counted, recorded as deferred once) and this worker waits ``retry_seconds`` before its
        next job. If the engines do answer, only this file's scan failed: that counts as a failed
        attempt, so a file that always fails cannot hold the queue forever."""
        if stage.engines_answer():
            log.error("the malware scan of %s failed while the engines answer; counted as a failed attempt", job.id)
            self.attempt_failed(job, "the malware scan failed")
            return
        envelope = job.envelope()
        self.spool.move(job, self.source, {**envelope, "waiting_for_scan": reason})
        if not envelope.get("waiting_for_scan"):
            self.recorder.write(records.scan_deferred(job.id, reason))
        log.warning("%s waits for the malware scan (tried again in %g s): %s", job.id,
                    self.settings.antivirus.retry_seconds, reason)
        self.stopping.wait(self.settings.antivirus.retry_seconds)


class MailWorker(ScanWaiting):
    role, source, working, max_attempts = "pipeline", Queue.INCOMING, Queue.ACTIVE, MAX_PIPELINE_ATTEMPTS

    def __init__(self, settings: Settings, stopping: StopSignal) -> None:
        super().__init__(settings, stopping)
        self.quarantine = settings.serve.data_path / "quarantine"
        self.sanitizer = MailSanitizer(settings, Sanitizer(settings, defer_scans=True))

    def start(self) -> None:
        try:
            self.sanitizer.zygote.start()  # ready before the first mail (otherwise that mail starts it)
            self.sanitizer.sanitizer.zygote.start()  # and before the first attachment
        except GatewayError as exc:
            log.error("the sandboxed splitter did not start: %s", exc.code)

    def close(self) -> None:
        try:
            self.sanitizer.close()
        finally:
            super().close()

    def process(self, job: SpoolJob) -> None:
        self.spool.discard_outgoing(job)  # what an attempt cut short before its commit left
        envelope = job.envelope()
        if self.spool.already_queued_or_delivered(job.id):  # a spool left by an older version after a crash
            self.spool.remove(job)
            return
        keep_original(self.quarantine, job.original)
        try:
            with transfer(job.id, self.spool.root):  # a sandboxed crash is logged with the id, and counted
                result = self.sanitizer.process(job.original)
        except ScanDeferred as exc:  # the antivirus engines cannot scan now: the mail waits, untouched
            self.wait_for_scan(job, self.sanitizer.sanitizer.malware, exc.reason)
            return
        summary, data = result.summary, result.data
        serve = self.settings.serve
        # the records go with the commit (one rename into outbox, or done), and are written after it
        if result.message is None:
            intents = [*records.attachments(job.id, summary), records.mail_rejected(job.id, summary)]
            notice = rejected_notice(job.id, envelope, str(summary.get("reason") or ""),
                                     str(summary.get("sha256", "")), serve.postmaster, serve.quarantine_days,
                                     str(summary.get("reason_code") or ""))
            if notice is None:
                done = self.spool.move(job, Queue.DONE, intents=[r.to_json() for r in intents], hold=True)
                self.recorder.commit(done, intents)
                self.spool.remove(done)
                return
            sender, recipients, data = notice  # its recipients (and the postmaster) get a notice instead
        else:
            intents = [*records.attachments(job.id, summary), records.mail_sanitized(job.id, summary, data)]
            sender, recipients = envelope.get("sender", ""), envelope.get("recipients", [])
        sent = self.spool.send_on(job, {"sender": sender, "recipients": recipients}, data,
                                  [r.to_json() for r in intents])
        try:
            self.recorder.commit(sent, intents)
        finally:
            sent.release()
