"""``gateway serve``: SMTP intake → spool → pipeline workers → outbox → delivery, every state
change in the audit log. Jobs left half-done by a crash are recovered at start; a job that
fails repeatedly goes to ``corrupt`` and is audited, never dropped; a delivery that keeps
failing is retried with exponential backoff until its maximum age, then marked failed.

The main process takes mail (SMTP) and uploads (HTTP) and supervises; the work is done by
worker processes that meet only in the spool, as Postfix's do: ``pipeline`` (one per core;
each keeps a sandboxed zygote), ``delivery`` and ``uploads``. A worker that dies is started
again, and the job it held (its flock is gone with it) is queued again.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from gateway.audit import records
from gateway.audit.log import AuditLog
from gateway.audit.records import Recorder
from gateway.config import ServeSettings, Settings
from gateway.delivery.notices import rejected_notice
from gateway.delivery.transports import DirectoryTransport, SmtpTransport
from gateway.delivery.worker import IDLE_POLL_SECONDS, DeliveryWorker, Transport
from gateway.errors import ConfigError, GatewayError
from gateway.intake.smtp import IntakeHandler, IntakePolicy, start_smtp, tls_context
from gateway.intake.throttle import UNLOCK_DIR, AuthThrottle
from gateway.logs import configure as configure_logging
from gateway.pipeline import jobs
from gateway.pipeline.mail import MailSanitizer
from gateway.pipeline.sanitize import Sanitizer
from gateway.pipeline.scan import STATUS_TIMEOUT, MalwareStage, ScanDeferred
from gateway.sandbox.crash_report import transfer
from gateway.spool import Spool, SpoolJob, fsync_dir, write_durably
from gateway.startup import ListenFailed, listen
from gateway.stop_signal import SPAWN, StopSignal

log = logging.getLogger(__name__)
MAX_PIPELINE_ATTEMPTS = 3
PR_SET_NAME = 15
PR_SET_PDEATHSIG = 1
SUPERVISE_SECONDS = 1.0
STOP_GRACE_SECONDS = 30.0  # on stop, workers get the sandbox's timeout plus this to finish their jobs
PURGE_SECONDS = 3600.0
HTTP_START_SECONDS = 30.0


def run_worker(settings: Settings, role: str, stopping: StopSignal) -> None:
    """A worker process's life: one loop until the service stops (it dies with the service)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    libc.prctl(PR_SET_NAME, f"gw-{role}".encode("ascii")[:15], 0, 0, 0)  # what ps and top show
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides when workers stop
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    configure_logging(multiprocessing.current_process().name, settings.serve.log_format)
    service = Service(settings, stopping)
    try:
        {"pipeline": service._pipeline_loop, "delivery": service.delivery.loop,
         "uploads": service._upload_loop}[role]()
    finally:
        service.transport.close()
        service.audit.close()


@dataclass
class Service:
    settings: Settings
    stopping: StopSignal = field(default_factory=StopSignal)

    @property
    def serve(self) -> ServeSettings:
        return self.settings.serve

    def __post_init__(self) -> None:
        data = self.serve.data_path
        if self.settings.work_dir is None:  # the jobs' scratch space: the data directory's own, swept at start
            self.settings = replace(self.settings, work_dir=data / "work")
            (data / "work").mkdir(parents=True, exist_ok=True, mode=0o700)
        self.spool = Spool(data / "spool")
        self.audit = AuditLog(data / "audit.sqlite3", database=self.serve.audit_database)
        self.recorder = Recorder(self.audit, self.spool)
        self.quarantine = data / "quarantine"
        self.quarantine.mkdir(parents=True, exist_ok=True, mode=0o700)
        lgwan = self.serve.lgwan_smtp_address
        self.transport: Transport = (SmtpTransport(*lgwan) if lgwan
                                     else DirectoryTransport(data / "lgwan"))
        self.policy = IntakePolicy.from_settings(self.serve)
        self.threads: list[threading.Thread] = []
        self.workers: dict[str, Any] = {}  # name -> multiprocessing process
        self.workers_joined = threading.Event()
        self.results = data / "results"
        self.results.mkdir(parents=True, exist_ok=True)
        self.lgwan_files = data / "lgwan-files"
        self.http_servers: list[Any] = []
        self.controller: Controller | None = None
        # failed logins counted across both listeners; `gateway auth unlock` drops requests into auth-unlock/
        self.auth_throttle = AuthThrottle(unlock_dir=data / UNLOCK_DIR)
        self.delivery = DeliveryWorker(self.spool, self.transport, self.serve, self.stopping, self.recorder,
                                       self._park)

    def start(self) -> None:
        """Bind every listener first (a failure ends start-up before any worker runs), then start
        the workers and serve. Anything failing on the way, or a stop signal (an exception raised
        by the signal handler), stops what was started before it goes on."""
        listeners = self._bind()
        try:
            self._start(listeners)
        except BaseException:
            for listener in listeners.values():
                listener.close()
            self.stop()
            raise

    def _bind(self) -> dict[str, socket.socket]:
        wanted = [("smtp", self.serve.smtp_address, "SMTP intake, [serve] smtp_listen"),
                  ("http", self.serve.http_address, "HTTP uploads, [serve] http_listen"),
                  ("lgwan-http", self.serve.lgwan_http_address, "LGWAN HTTP, [serve] lgwan_http_listen")]
        bound: dict[str, socket.socket] = {}
        try:
            for name, address, what in wanted:
                if address is not None:
                    bound[name] = listen(*address, what)
        except BaseException:
            for listener in bound.values():
                listener.close()
            raise
        return bound

    def _start(self, listeners: dict[str, socket.socket]) -> None:
        tls = None
        if self.serve.tls_certificate:
            try:
                tls = tls_context(self.serve.tls_certificate, self.serve.tls_key)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"cannot load the TLS certificate {self.serve.tls_certificate} and key "
                                  f"{self.serve.tls_key}: {getattr(exc, 'strerror', None) or exc}") from None
        self.recorder.recover()  # first: it reads what the crash left under tmp/ and in delivered/
        recovered = self.spool.recover()
        jobs.sweep(self.settings.work_dir)  # job directories (originals inside) a crashed run left
        if recovered:
            log.warning("recovered %d jobs left by an interrupted run", recovered)
        for index in range(self.serve.workers):
            self._spawn(f"pipeline-{index}", "pipeline")
        self._spawn("delivery", "delivery")
        self._spawn("uploads", "uploads")
        self.controller = start_smtp(IntakeHandler(self.spool, self.audit, self.policy), *self.serve.smtp_address,
                                     self.policy, tls, listeners.pop("smtp"))
        self._thread(self._maintenance_loop, "maintenance")
        starting = [self._start_http(listeners.pop(name), uploads=uploads)
                    for name, uploads in (("http", True), ("lgwan-http", False)) if name in listeners]
        deadline = time.monotonic() + HTTP_START_SECONDS
        for server, thread in starting:  # ready only once each HTTP server serves
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise ListenFailed(f"the HTTP server on {server.config.host}:{server.config.port} did not start")
                time.sleep(0.05)

    def _start_http(self, listener: socket.socket, *, uploads: bool) -> tuple[Any, threading.Thread]:
        import uvicorn

        from gateway.intake.http_api import ApiContext, create_app
        from gateway.intake.tokens import TokenStore

        tokens = TokenStore(self.serve.data_path / "tokens.sqlite3", self.serve.audit_database)
        context = ApiContext(self.spool, self.audit, tokens, self.results, self.serve.max_upload_bytes,
                             self.serve.min_free_bytes, self.serve.max_queue, self.auth_throttle,
                             antivirus=MalwareStage(self.settings.antivirus, timeout=STATUS_TIMEOUT))
        host, port = listener.getsockname()[:2]
        config = uvicorn.Config(create_app(context, accepts_uploads=uploads, serve=self.serve), host=host, port=port,
                                log_level="warning", access_log=False, timeout_keep_alive=5, limit_concurrency=100)
        server = uvicorn.Server(config)
        self.http_servers.append(server)
        return server, self._thread(lambda: server.run(sockets=[listener]), "http" if uploads else "http-lgwan")

    def _spawn(self, name: str, role: str) -> None:
        process = SPAWN.Process(target=run_worker, args=(self.settings, role, self.stopping),
                                name=name, daemon=False)
        process.start()
        self.workers[name] = process

    def supervise(self) -> None:
        """Start again any worker that died, and queue again the jobs it held."""
        if self.stopping.is_set():
            return
        dead = [name for name, process in self.workers.items() if not process.is_alive()]
        released = self.spool.release_orphans()  # held by a dead worker, or let go after an error
        for name in dead:
            log.error("worker %s stopped (exit %s); starting it again", name, self.workers[name].exitcode)
            self._spawn(name, name.split("-")[0])
        if released:
            log.warning("queued again %d jobs that no worker holds", released)

    def _thread(self, target: Any, name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)
        return thread

    def stop(self) -> None:
        """Stop taking mail, let every worker finish the job in hand, then stop."""
        self.stopping.set()
        if self.controller is not None:
            self.controller.stop()
        for server in self.http_servers:
            server.should_exit = True
        deadline = time.monotonic() + self.settings.sandbox.timeout_seconds + STOP_GRACE_SECONDS
        for process in self.workers.values():  # one deadline for all: the longest job may finish
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():  # its job goes back to the queue at the next start
                process.kill()
                process.join()
        self.workers_joined.set()
        for thread in self.threads:
            thread.join(timeout=120)
        self.audit.close()

    # pipeline -----------------------------------------------------------------------------
    def _pipeline_loop(self) -> None:
        sanitizer = MailSanitizer(self.settings, Sanitizer(self.settings, defer_scans=True))
        try:
            try:
                sanitizer.zygote.start()  # ready before the first mail (otherwise that mail starts it)
                sanitizer.sanitizer.zygote.start()  # and before the first attachment
            except GatewayError as exc:
                log.error("the sandboxed splitter did not start: %s", exc.code)
            while not self.stopping.is_set():
                job = None
                try:
                    job = self.spool.claim("incoming", "active")
                    if job is None:
                        self.stopping.wait(IDLE_POLL_SECONDS)
                        continue
                    self._process(sanitizer, job)
                except Exception as exc:  # the loop must never die: count the attempt, go on
                    log.error("pipeline loop error: %s", type(exc).__name__, exc_info=True)
                    if job is not None:
                        self._pipeline_attempt_failed(job)
                    self.stopping.wait(1)
        finally:
            sanitizer.close()

    def _process(self, sanitizer: MailSanitizer, job: SpoolJob) -> None:
        self.spool.discard_outgoing(job)  # what an attempt cut short before its commit left
        envelope = job.envelope()
        if self.spool.already_queued_or_delivered(job.id):  # a spool left by an older version after a crash
            self.spool.remove(job)
            return
        try:
            self._keep_original(job.original)
            with transfer(job.id, self.spool.root):  # a sandboxed crash is logged with the id, and counted
                result = sanitizer.process(job.original)
            data = result.data
        except ScanDeferred as exc:  # the antivirus engines cannot scan now: the mail waits, untouched
            self._scan_deferred(job, "incoming", sanitizer.sanitizer.malware, exc.reason)
            return
        except Exception as exc:  # a worker boundary: retry, then park in corrupt, never drop
            log.error("pipeline failed on %s: %s", job.id, type(exc).__name__)
            self._pipeline_attempt_failed(job)
            return
        summary = result.summary
        # the records go with the commit (one rename into outbox, or done), and are written after it
        if result.message is None:
            intents = [*records.attachments(job.id, summary), records.mail_rejected(job.id, summary)]
            notice = rejected_notice(job.id, envelope, str(summary.get("reason") or ""),
                                     str(summary.get("sha256", "")), self.serve.postmaster, self.serve.quarantine_days)
            if notice is None:
                done = self.spool.move(job, "done", intents=[r.to_json() for r in intents], hold=True)
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

    def _scan_deferred(self, job: SpoolJob, queue: str, stage: MalwareStage, reason: str) -> None:
        """The engines could not scan: the job goes back to ``queue`` as it came (no attempt
        counted, recorded as deferred once) and this worker waits ``retry_seconds`` before its
        next job. If the engines do answer, only this file's scan failed: that counts as a failed
        attempt, so a file that always fails cannot hold the queue forever."""
        if stage.engines_answer():
            log.error("the malware scan of %s failed while the engines answer; counted as a failed attempt", job.id)
            if queue == "incoming":
                self._pipeline_attempt_failed(job)
            else:
                self._park(job, "the malware scan failed")
            return
        envelope = job.envelope()
        self.spool.move(job, queue, {**envelope, "waiting_for_scan": reason})
        if not envelope.get("waiting_for_scan"):
            self.recorder.write(records.scan_deferred(job.id, reason))
        log.warning("%s waits for the malware scan (tried again in %g s): %s", job.id,
                    self.settings.antivirus.retry_seconds, reason)
        self.stopping.wait(self.settings.antivirus.retry_seconds)

    def _park(self, job: SpoolJob, detail: str) -> None:
        """Keep a job that cannot go on in ``corrupt`` (audited); if even that fails, unlock it
        for the orphan sweep."""
        try:
            failed = records.failed(job.id, f"{detail}; kept in corrupt")
            job = self.spool.move(job, "corrupt", intents=[failed.to_json()], hold=True)  # released below
            self.recorder.commit(job, [failed])
        except Exception as exc:  # the disk or the audit log is in trouble: leave it to the sweep
            log.error("could not park %s: %s", job.id, type(exc).__name__)
        finally:
            job.release()

    def _pipeline_attempt_failed(self, job: SpoolJob) -> None:
        """Count a failed attempt on a mail: back to ``incoming``, or ``corrupt`` (audited) after
        MAX_PIPELINE_ATTEMPTS. If even that fails, the job is unlocked for the orphan sweep."""
        try:
            envelope = job.envelope()
            attempts = int(envelope.get("attempts", 0)) + 1
            if attempts >= MAX_PIPELINE_ATTEMPTS:
                failed = records.failed(job.id, f"pipeline failed {attempts} times; kept in corrupt")
                job = self.spool.move(job, "corrupt", {**envelope, "attempts": attempts},
                                      intents=[failed.to_json()], hold=True)  # released below
                self.recorder.commit(job, [failed])
            else:
                self.spool.move(job, "incoming", {**envelope, "attempts": attempts})
        except Exception as exc:  # the disk or the audit log is in trouble: leave it to the sweep
            log.error("could not count a failed attempt on %s: %s", job.id, type(exc).__name__)
        finally:
            job.release()

    def _keep_original(self, source: Path) -> None:
        """Originals stay in the quarantine (0600, by content hash), never forwarded: a hard
        link to the spooled file where possible (no copy), a copy otherwise."""
        with source.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        target = self.quarantine / digest
        if target.exists():
            return
        try:
            os.link(source, target)
        except FileExistsError:
            return
        except OSError:
            shutil.copyfile(source, target)
        target.chmod(0o600)

    # retention ----------------------------------------------------------------------------
    def _maintenance_loop(self) -> None:
        next_purge = 0.0
        while not self.stopping.is_set():
            try:
                self.supervise()
                self.recorder.settle_orphans()  # records a worker that died mid-commit left in corrupt or done
                self.recorder.write_postponed()
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + PURGE_SECONDS
                    self.purge()
            except Exception as exc:  # the thread must never die: log, go on
                log.error("maintenance failed: %s", type(exc).__name__)
            self.stopping.wait(SUPERVISE_SECONDS)
        # workers this thread started die with it (PDEATHSIG follows the thread): it stays
        # until stop() has let every worker finish its job
        self.workers_joined.wait()

    def purge(self, now: float | None = None) -> tuple[int, int]:
        """Delete originals older than the quarantine period and audit records past retention."""
        moment = now if now is not None else time.time()
        cutoff = moment - self.serve.quarantine_days * 86400
        removed = 0
        for original in self.quarantine.iterdir():
            if original.stat().st_mtime < cutoff:
                original.unlink()
                removed += 1
        horizon = datetime.fromtimestamp(moment - self.serve.audit_retention_days * 86400, UTC)
        purged = self.audit.purge_before(horizon.isoformat(timespec="milliseconds"))
        if removed or purged:
            self.recorder.write(records.purged(f"{removed} originals, {purged} audit records"))
        return removed, purged

    # uploads ------------------------------------------------------------------------------
    def _upload_loop(self) -> None:
        with Sanitizer(self.settings, defer_scans=True) as sanitizer:
            while not self.stopping.is_set():
                job = self.spool.claim("uploads", "working")
                if job is None:
                    self.stopping.wait(IDLE_POLL_SECONDS)
                    continue
                try:
                    with transfer(job.id, self.spool.root):
                        self._process_upload(sanitizer, job)
                except ScanDeferred as exc:  # its status says "waiting_for_scan" until the engines answer
                    shutil.rmtree(self.results / job.id / "outputs", ignore_errors=True)  # the files done so far
                    self._scan_deferred(job, "uploads", sanitizer.malware, exc.reason)
                except Exception as exc:  # a worker boundary: park the upload, never drop it
                    log.error("upload processing failed on %s: %s", job.id, type(exc).__name__)
                    self._park(job, "processing failed")

    def _process_upload(self, sanitizer: Sanitizer, job: SpoolJob) -> None:
        self.spool.discard_outgoing(job)  # records of an attempt cut short before its commit
        meta = job.envelope()
        target = self.results / job.id
        files = []
        for index, name in enumerate(meta.get("names", [])):
            source = job.path / "files" / str(index)
            self._keep_original(source)
            result = sanitizer.sanitize(source, target / "outputs" / str(index), display_name=str(name))
            for output in result["outputs"]:
                output["stored"] = f"{index}/{Path(output['path']).name}"
                output["path"] = Path(output["path"]).name
            files.append(result)
        target.mkdir(parents=True, exist_ok=True)
        self._deliver_files(job.id, str(meta.get("destination") or ""), target / "outputs", files)
        (target / "meta.json").write_text(json.dumps({"user": meta.get("user", "")}), encoding="utf-8")
        temporary = target / "result.json.tmp"
        temporary.write_text(json.dumps({"files": files}, ensure_ascii=False), encoding="utf-8")
        os.replace(temporary, target / "result.json")
        intents = [*(records.part(job.id, index, "file", result) for index, result in enumerate(files)),
                   records.files_delivered(job.id)]
        done = self.spool.move(job, "done", intents=[r.to_json() for r in intents], hold=True)  # the commit
        self.recorder.commit(done, intents)
        self.spool.remove(done)

    def _deliver_files(self, transfer_id: str, destination: str, outputs: Path, files: list[dict[str, Any]]) -> None:
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
        os.rename(partial, final)
        fsync_dir(folder)
