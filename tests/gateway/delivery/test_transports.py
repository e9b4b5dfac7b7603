"""SMTP delivery to the LGWAN side: one connection for many messages, and a dropped connection
is noticed instead of failing every message after it."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from gateway.audit.log import AuditLog
from gateway.config import ServeSettings
from gateway.delivery.transports import DeliveryError, DirectoryTransport, PermanentDeliveryError, SmtpTransport
from gateway.intake.smtp import COMMAND_CALL_LIMIT, IntakeHandler, IntakePolicy, start_smtp
from gateway.spool import Spool
from tests.gateway.test_service import free_port

MESSAGE = "Subject: テスト\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n本文\r\n".encode()


class CountingSink:
    def __init__(self) -> None:
        self.greetings = 0
        self.messages: list[bytes] = []

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        self.greetings += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        if b"REJECT-ME" in content:
            return "554 5.6.0 Message content rejected"
        if b"LATER" in content:
            return "451 4.3.0 Try again later"
        self.messages.append(content)
        return "250 OK"


def test_many_messages_share_one_connection_and_refusals_keep_it_usable() -> None:
    sink, port = CountingSink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    transport = SmtpTransport("127.0.0.1", port)
    try:
        for index in range(3):
            assert transport.deliver(f"job{index}", "gw@example.jp", ["soumu@city.example.lg.jp"], MESSAGE) == {
                "soumu@city.example.lg.jp": "delivered"}
        with pytest.raises(PermanentDeliveryError):
            transport.deliver("job3", "gw@example.jp", ["nobody@city.example.lg.jp"], MESSAGE)
        assert transport.deliver("job4", "gw@example.jp", ["soumu@city.example.lg.jp", "nobody@city.example.lg.jp"],
                                 MESSAGE) == {"soumu@city.example.lg.jp": "delivered",
                                              "nobody@city.example.lg.jp": "refused"}
        with pytest.raises(PermanentDeliveryError):  # refused for good: kept and reported, not retried
            transport.deliver("job5", "gw@example.jp", ["soumu@city.example.lg.jp"], b"Subject: REJECT-ME\r\n\r\nx\r\n")
        with pytest.raises(DeliveryError) as later:
            transport.deliver("job6", "gw@example.jp", ["soumu@city.example.lg.jp"], b"Subject: LATER\r\n\r\nx\r\n")
        assert not isinstance(later.value, PermanentDeliveryError)
        transport.deliver("job7", "gw@example.jp", ["soumu@city.example.lg.jp"], MESSAGE)
        assert (len(sink.messages), sink.greetings) == (5, 1)
    finally:
        transport.close()
        controller.stop()


def test_a_server_restart_between_messages_is_survived() -> None:
    sink, port = CountingSink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    transport = SmtpTransport("127.0.0.1", port, idle_check_seconds=0)
    try:
        transport.deliver("job0", "gw@example.jp", ["soumu@city.example.lg.jp"], MESSAGE)
        controller.stop()
        with pytest.raises(DeliveryError):  # the server is gone: the message waits in the queue
            transport.deliver("job1", "gw@example.jp", ["soumu@city.example.lg.jp"], MESSAGE)
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        transport.deliver("job1", "gw@example.jp", ["soumu@city.example.lg.jp"], MESSAGE)
        assert (len(sink.messages), sink.greetings) == (2, 2)
    finally:
        transport.close()
        controller.stop()


def test_the_directory_transport_writes_the_envelope_on_top_atomically(tmp_path: Path) -> None:
    transport = DirectoryTransport(tmp_path / "lgwan")
    message = b"From: a@example.jp\r\nSubject: x\r\n\r\nbody\r\n"
    result = transport.deliver("job1", "a@example.jp", ["soumu@city.example.lg.jp", "bad\r\nX-Evil: 1"], message)
    assert result == {"soumu@city.example.lg.jp": "delivered", "bad\r\nX-Evil: 1": "delivered"}
    written = (tmp_path / "lgwan" / "job1.eml").read_bytes()
    assert written == (b"Return-Path: <a@example.jp>\r\nDelivered-To: soumu@city.example.lg.jp\r\n" + message)
    assert [p.name for p in (tmp_path / "lgwan").iterdir()] == ["job1.eml"]  # no temporary file left


def nobody_relays() -> IntakePolicy:
    """The intake policy for city.example.lg.jp with the [serve] defaults, and no relay network."""
    return replace(IntakePolicy.from_settings(ServeSettings(recipient_domains="city.example.lg.jp")), relay_networks=())


@pytest.mark.parametrize(("address", "allowed"), [
    ("soumu@city.example.lg.jp", True), ("Soumu@CITY.example.LG.jp", True), ("a@sub.city.example.lg.jp", True),
    ("a@evil.example.com", False), ("a@xcity.example.lg.jp", False), ("a%b@city.example.lg.jp", False),
    ("a@evil\nx.city.example.lg.jp", False), ("a@[127.0.0.1]", False), ("a@evil .city.example.lg.jp", False),
    ("u@city.example.lg.jp.", True), ("u@city.example.lg.jp\n", False),
])
def test_recipients_only_in_the_lgwan_domains_and_plainly_written(address: str, allowed: bool) -> None:
    policy = nobody_relays()
    assert policy.recipient_allowed(address) is allowed


def test_refusals_are_logged_once_per_connection_and_commands_are_capped(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    policy = nobody_relays()  # nobody may relay
    audit = AuditLog(tmp_path / "audit.sqlite3")
    controller = start_smtp(IntakeHandler(Spool(tmp_path / "spool"), audit, policy), "127.0.0.1", free_port(), policy)
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.intake.smtp"), \
                smtplib.SMTP("127.0.0.1", controller.port, timeout=30) as client:
            client.ehlo("relay.example.jp")
            answers = [client.mail("a@example.jp")[0] for _ in range(200)]
            assert set(answers) == {554}
            codes: list[int] = []
            while len(codes) <= COMMAND_CALL_LIMIT["*"] + 5 and 421 not in codes[-1:]:
                codes.append(client.noop()[0])
            assert len(codes) == COMMAND_CALL_LIMIT["*"] + 1 and codes[-1] == 421  # cut off, not served for ever
        refusals = [r for r in caplog.records if "outside the relay networks" in r.getMessage()]
        assert len(refusals) == 1
    finally:
        controller.stop()
        audit.close()
