"""``gateway serve``'s supervisor: SMTP intake → spool → pipeline workers → outbox → delivery,
every state change in the audit log. Jobs left half-done by a crash are recovered at start.

The main process takes mail (SMTP) and uploads (HTTP), starts the workers and watches them,
and purges what is past retention; the work is done by worker processes that meet only in the
spool, as Postfix's do, each running gateway/runner.py's loop: ``pipeline`` (gateway/pipeline/
worker.py, one per core; each keeps a sandboxed zygote), ``uploads`` (gateway/pipeline/
uploads.py) and ``delivery`` (gateway/delivery/worker.py). A worker that dies is started
again, and the job it held (its flock is gone with it) is queued again.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import signal
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.controller import Controller

from gateway.audit import records
from gateway.audit.log import AuditLog
from gateway.audit.recorder import Recorder
from gateway.config import ServeSettings, Settings
from gateway.delivery.worker import DeliveryWorker
from gateway.errors import ConfigError
from gateway.intake.smtp import IntakeHandler, IntakePolicy, start_smtp, tls_context
from gateway.intake.throttle import UNLOCK_DIR, AuthThrottle
from gateway.logs import configure as configure_logging
from gateway.pipeline import jobs
from gateway.pipeline.scan import READY_TTL, STATUS_TIMEOUT, MalwareStage
from gateway.pipeline.uploads import UploadWorker
from gateway.pipeline.worker import MailWorker
from gateway.runner import Runner
from gateway.spool import Spool
from gateway.startup import ListenFailed, listen
from gateway.stop_signal import SPAWN, StopSignal

log = logging.getLogger(__name__)
PR_SET_NAME = 15
PR_SET_PDEATHSIG = 1
SUPERVISE_SECONDS = 1.0
STOP_GRACE_SECONDS = 30.0  # on stop, workers get the sandbox's timeout plus this to finish their jobs
PURGE_SECONDS = 3600.0
INDEX_BATCH = 200  # records the search index takes in per transaction
HTTP_START_SECONDS = 30.0


WORKERS: dict[str, type[Runner]] = {"pipeline": MailWorker, "uploads": UploadWorker, "delivery": DeliveryWorker}


def run_worker(settings: Settings, role: str, stopping: StopSignal) -> None:
    """A worker process's life: one loop until the service stops (it dies with the service)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    libc.prctl(PR_SET_NAME, f"gw-{role}".encode("ascii")[:15], 0, 0, 0)  # what ps and top show
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides when workers stop
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    configure_logging(multiprocessing.current_process().name, settings.serve.log_format)
    WORKERS[role](settings, stopping).run()


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

        from gateway.console.sso import with_peer
        from gateway.intake.http_api import ApiContext, create_app
        from gateway.intake.tokens import TokenStore

        tokens = TokenStore(self.serve.data_path / "tokens.sqlite3", self.serve.audit_database)
        context = ApiContext(self.spool, self.audit, tokens, self.results, self.serve.max_upload_bytes,
                             self.serve.min_free_bytes, self.serve.max_queue, self.auth_throttle,
                             antivirus=MalwareStage(self.settings.antivirus, timeout=STATUS_TIMEOUT,
                                                     status_ttl=READY_TTL))
        host, port = listener.getsockname()[:2]
        # the proxy headers applied by with_peer, which keeps the connection's own address first (single sign-on)
        config = uvicorn.Config(with_peer(create_app(context, accepts_uploads=uploads, serve=self.serve)), host=host,
                                port=port, log_level="warning", access_log=False, timeout_keep_alive=5,
                                limit_concurrency=100, proxy_headers=False)
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

    # retention ----------------------------------------------------------------------------
    def _maintenance_loop(self) -> None:
        next_purge = 0.0
        while not self.stopping.is_set():
            try:
                self.supervise()
                self.recorder.settle_orphans()  # records a worker that died mid-commit left in corrupt or done
                self.recorder.write_postponed()
                while self.audit.catch_up(INDEX_BATCH) == INDEX_BATCH:  # the search index follows the log, off the
                    pass  # workers' path, in short transactions so that no append waits long for the lock
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
