"""SMTP intake (aiosmtpd): the internet-side mail server relays to it.

No open relay: clients only from the configured networks, recipients only in the configured
domains. SIZE is advertised and enforced, recipients per message are limited. ``250`` only after
the message is durably spooled; ``452``/``451`` when the disk is low or the queue too deep;
internal errors answer ``451`` without details (never ``500 Error: (Exception) ...``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway.audit import records
from gateway.audit.log import AuditLog
from gateway.audit.recorder import Recorder
from gateway.config import ServeSettings
from gateway.spool import Queue, Spool

log = logging.getLogger(__name__)
DEPTH_RECOUNT_SECONDS = 1.0
MAX_RECIPIENTS = 100  # per message (RFC 5321's minimum a server must take)
COMMAND_CALL_LIMIT = {"RCPT": 20_000, "*": 2_000}  # per connection; beyond it 421 and the connection closes
SENDER = re.compile(r"[!-;=?-~]{1,256}@[A-Za-z0-9.-]{1,253}")  # ASCII, no <>, or empty (the null sender)
LOCAL_PART = re.compile(r"[A-Za-z0-9.#$&'*+/=?^_`{|}~-]+")
DOMAIN = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)+")


@dataclass(frozen=True)
class IntakePolicy:
    """What SMTP intake enforces; built from the [serve] settings (``from_settings``), which hold
    every default."""

    relay_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    recipient_domains: tuple[str, ...]
    max_message_bytes: int
    min_free_bytes: int
    max_queue: int
    max_connections_per_client: int
    command_timeout_seconds: float
    max_recipients: int = MAX_RECIPIENTS

    @classmethod
    def from_settings(cls, serve: ServeSettings) -> IntakePolicy:
        return cls(relay_networks=tuple(ipaddress.ip_network(n, strict=False) for n in serve.relay_network_list),
                   recipient_domains=serve.recipient_domain_list, max_message_bytes=serve.max_message_bytes,
                   min_free_bytes=serve.min_free_bytes, max_queue=serve.max_queue,
                   max_connections_per_client=serve.max_connections_per_client,
                   command_timeout_seconds=serve.smtp_timeout_seconds)

    def client_allowed(self, peer: Any) -> bool:
        try:
            address = ipaddress.ip_address(peer[0] if isinstance(peer, tuple) else str(peer))
        except ValueError:
            return False
        return any(address in network for network in self.relay_networks)

    def recipient_allowed(self, address: str) -> bool:
        local, _, domain = address.strip("<>").rpartition("@")
        domain = domain.lower()
        if not local or not LOCAL_PART.fullmatch(local):  # no source routes (%, !), quoted or non-ASCII parts
            return False
        domain = domain.removesuffix(".")  # the root's dot, as in "city.lg.jp."
        if not DOMAIN.fullmatch(domain):  # letters, digits, dots and hyphens only
            return False
        return any(domain == d or domain.endswith("." + d) for d in self.recipient_domains)


def _peer(session: Session) -> str:
    return str(session.peer[0]) if isinstance(session.peer, tuple) and session.peer else "?"


def _log_once(session: Session, kind: str, message: str, *args: object) -> None:
    """A refusal is logged once per connection and kind (a client repeating it cannot flood the log)."""
    logged: set[str] = session.__dict__.setdefault("refusals_logged", set())
    if kind not in logged:
        logged.add(kind)
        log.warning(message, *args)


class IntakeHandler:
    def __init__(self, spool: Spool, audit: AuditLog, policy: IntakePolicy) -> None:
        self.spool, self.policy = spool, policy
        self.recorder = Recorder(audit, spool)
        self.depth, self.depth_counted = 0, 0.0

    async def handle_exception(self, error: Exception) -> str:
        """Anything unexpected in a session: a temporary failure, never the exception's text."""
        log.error("SMTP session error: %s", type(error).__name__)
        return "451 4.3.0 Temporary failure, try again later"

    def _queue_full(self) -> bool:
        """The queue depth, counted again at most once a second (a count lists every queue)."""
        if time.monotonic() - self.depth_counted > DEPTH_RECOUNT_SECONDS:
            self.depth, self.depth_counted = self.spool.depth(), time.monotonic()
        if self.depth >= self.policy.max_queue:
            return True
        self.depth += 1
        return False

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        if getattr(server, "over_limit", False):
            return "421 4.7.0 Too many connections from your address, try again later"
        if not self.policy.client_allowed(session.peer):
            _log_once(session, "client", "refused a client outside the relay networks: %s", _peer(session))
            return "554 5.7.1 Relay access denied: your network may not send through this gateway"
        if address and not SENDER.fullmatch(address):
            return "501 5.1.7 Bad sender address syntax"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if not self.policy.recipient_allowed(address):
            _log_once(session, "recipient", "refused a recipient outside the LGWAN domains from %s: domain %r",
                      _peer(session), address.rpartition("@")[2][:100])
            return "550 5.7.1 Relay access denied: this gateway does not deliver to that domain"
        if len(envelope.rcpt_tos) >= self.policy.max_recipients:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        try:
            if self.spool.free_bytes() < self.policy.min_free_bytes:
                return "452 4.3.1 Insufficient system storage, try again later"
            if self._queue_full():
                return "451 4.3.2 Queue full, try again later"
            content = envelope.original_content or envelope.content
            data = content if isinstance(content, bytes) else str(content).encode("utf-8", "surrogateescape")
            meta = {"channel": "smtp", "client_ip": str(session.peer[0]) if session.peer else "",
                    "sender": envelope.mail_from or "", "recipients": list(envelope.rcpt_tos),
                    "helo": session.host_name or ""}
            job_id = await asyncio.get_running_loop().run_in_executor(None, self._store, meta, data)
        except OSError as exc:
            log.error("spooling failed: %s", type(exc).__name__)
            return "452 4.3.1 Could not store the message, try again later"
        except Exception as exc:  # process boundary: never accept what was not stored, never leak details
            log.error("intake failed: %s", type(exc).__name__)
            return "451 4.3.0 Temporary failure, try again later"
        return f"250 2.0.0 OK queued as {job_id}"

    def _store(self, meta: dict[str, Any], data: bytes) -> str:
        """Stage durably, record, then commit into ``incoming``; in one trip to a worker thread.
        The commit is the last step before 250 (as Postfix's): a crash before it discards the
        staged mail at the next start (the sender, never told 250, sends it again) and closes its
        ``received`` record with ``not_accepted``; a crash after it delivers the mail. An audit
        log that cannot be written postpones the record (a 4xx would only bring the mail twice)."""
        job_id = self.spool.stage({**meta, "attempts": 0}, data)
        self.recorder.write(records.received_mail(job_id, meta, len(data)))
        try:
            self.spool.commit(job_id, Queue.INCOMING)
        except BaseException:
            self.recorder.write(records.not_accepted(job_id))
            self.spool.discard(job_id)
            raise
        return job_id


class LimitedSMTP(SMTP):
    """Counts connections per client address; beyond the limit every MAIL FROM gets 421."""

    def __init__(self, handler: Any, *, connections: dict[str, int], limit: int, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.connections, self.limit = connections, limit
        self.client: str | None = None
        self.over_limit = False

    def connection_made(self, transport: Any) -> None:
        peer = transport.get_extra_info("peername")
        self.client = str(peer[0]) if peer else ""
        self.connections[self.client] = self.connections.get(self.client, 0) + 1
        self.over_limit = self.connections[self.client] > self.limit
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self.client is not None:
            self.connections[self.client] -= 1
            self.client = None
        super().connection_lost(error)


class IntakeController(Controller):
    def __init__(self, handler: IntakeHandler, policy: IntakePolicy, sock: socket.socket | None = None,
                 **kwargs: Any) -> None:
        self.policy = policy
        self.connections: dict[str, int] = {}
        self.sock = sock  # bound and listening already (gateway.startup.listen), or None: bind here
        super().__init__(handler, **kwargs)

    def _create_server(self) -> Any:
        if self.sock is None:
            return super()._create_server()
        return self.loop.create_server(self._factory_invoker, sock=self.sock, ssl=self.ssl_context)

    def factory(self) -> SMTP:
        return LimitedSMTP(self.handler, connections=self.connections, limit=self.policy.max_connections_per_client,
                           **self.SMTP_kwargs)


def tls_context(certificate: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate, key)
    return context


def start_smtp(handler: IntakeHandler, host: str, port: int, policy: IntakePolicy,
               tls: ssl.SSLContext | None = None, sock: socket.socket | None = None) -> Controller:
    controller = IntakeController(handler, policy, sock, hostname=host, port=port,
                                  data_size_limit=policy.max_message_bytes, ident="LGWAN sanitisation gateway",
                                  timeout=policy.command_timeout_seconds, enable_SMTPUTF8=False, tls_context=tls,
                                  command_call_limit=COMMAND_CALL_LIMIT)
    controller.start()
    return controller
