"""Damaged mails split in-process and in the sandboxed zygote must end the same way, and never in
a crash: a failure only the sandbox shows is one a test suite run outside it never sees."""

from __future__ import annotations

import base64
import random
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from converters.mail.split import split_mail
from gateway.config import SandboxSettings
from gateway.errors import GatewayError
from gateway.pipeline.mail import SPLIT_FILES
from gateway.sandbox.runner import Sandbox
from gateway.sandbox.zygote import Zygote
from tests.gateway.pipeline.mail_damage import damaged_mails


def in_process(raw: bytes) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        try:
            report = split_mail(raw, Path(scratch))
        except Exception as exc:  # the class is what is compared
            return f"crash ({type(exc).__name__})"
    return "rejected" if report.get("rejected") else "split"


def sandboxed(zygote: Zygote, raw: bytes) -> str:
    try:
        report = zygote.run("mail-split", raw, {"defang": True}, SPLIT_FILES).report
    except GatewayError as exc:
        return f"crash ({exc.code})"
    return "rejected" if isinstance(report, dict) and report.get("rejected") else "split"


@pytest.fixture
def zygote() -> Iterator[Zygote]:
    subject = Zygote(Sandbox(SandboxSettings(timeout_seconds=60, cpu_seconds=60)))
    yield subject
    subject.close()


def test_damaged_mails_end_the_same_way_in_and_out_of_the_sandbox(samples: Path, zygote: Zygote) -> None:
    outcomes: Counter[tuple[str, str]] = Counter()
    differ = []
    for name, raw in damaged_mails(samples):
        here, there = in_process(raw), sandboxed(zygote, raw)
        outcomes[(here, there)] += 1
        if here != there or "crash" in here:
            differ.append((name, here, there))
    assert sum(outcomes.values()) > 900 and outcomes[("split", "split")] > 800
    assert differ == []


def mail_with(header: str, body: bytes) -> bytes:
    return (b"From: a@example.jp\r\nTo: b@example.jp\r\nMIME-Version: 1.0\r\n" + header.encode("ascii")
            + b"\r\n\r\n" + body)


@pytest.mark.parametrize("label", ["base64", "zlib", "rot13", "hex", "uu", "bz2", "quopri", "punycode", "undefined",
                                   "idna"])
def test_a_charset_label_naming_a_codec_that_is_not_a_charset_is_detected_instead(tmp_path: Path, label: str) -> None:
    body = "お知らせ：会議は３時からです。".encode("cp932")
    word = base64.b64encode(body).decode("ascii")
    raw = mail_with(f"Subject: =?{label}?B?{word}?=\r\nContent-Type: text/plain; charset={label}", body)
    split = split_mail(raw, tmp_path)
    assert (tmp_path / "body.txt").read_text(encoding="utf-8") == "お知らせ：会議は３時からです。"
    assert split["headers"]["subject"] == "お知らせ：会議は３時からです。"
    assert {"code": "mail_charset_unknown", "detail": label} in split["findings"]


def test_8bit_bytes_in_addresses_and_labels_come_back_as_text(tmp_path: Path) -> None:
    raw = (b"From: \x8e\x52\x93\x63 <yama\xe5da@example.jp>\r\nTo: b@exa\xffmple.jp\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=\"x-\xe3\x81\x82\"\r\n\r\n" + "本文".encode())
    split = split_mail(raw, tmp_path)
    text = repr(split)
    assert not any("\ud800" <= char <= "\udfff" for char in text)
    assert split["addresses"]["to"][0][1] != "b@example.jp"  # never silently repaired into another address
    assert (tmp_path / "body.txt").read_text(encoding="utf-8") == "本文"


def test_damaged_winmail_dat_is_named_damaged_never_a_crash(samples: Path, tmp_path: Path) -> None:
    """Bytes replaced in the sample's winmail.dat; these variants made tnefparse raise what the
    split did not expect (LookupError: an unknown code page; UnicodeDecodeError reading a name
    after the stream was opened)."""
    import email
    from email.policy import compat32

    raw = (samples / "mail-winmail-dat.eml").read_bytes()
    split = split_mail(raw, tmp_path)
    assert any(f["code"] == "tnef_unpacked" for f in split["findings"]) and split["attachments"]
    message = email.message_from_bytes(raw, policy=compat32)
    [part] = [p for p in message.walk() if "tnef" in p.get_content_type()]
    tnef, encoded = part.get_payload(decode=True), part.get_payload()
    assert isinstance(tnef, bytes) and isinstance(encoded, str)
    rng = random.Random(7)  # noqa: S311  (reproducible damage, no secret)
    variants = []
    for _ in range(600):
        data = bytearray(tnef)
        for _ in range(rng.randrange(1, 10)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        variants.append(bytes(data))
    for number in (17, 138, 560, 593):
        damaged = raw.replace(encoded.encode("ascii"), base64.encodebytes(variants[number]))
        out = tmp_path / f"damaged-{number}"
        out.mkdir()
        split = split_mail(damaged, out)
        assert [d["reason_code"] for d in split["dropped"]] == ["corrupt_file"], number
        assert not split["attachments"]


def test_the_service_delivers_the_first_text_of_a_mail_nested_2000_levels(tmp_path: Path) -> None:
    """The same through `gateway serve`: SMTP in, the spool, a pipeline worker, the LGWAN side."""
    import email as email_package
    import email.policy

    from aiosmtpd.controller import Controller

    from tests.gateway.test_service import Sink, free_port, relay, start_service, wait_for

    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    nested = "".join(f"--b{n}\r\nContent-Type: multipart/mixed; boundary=b{n + 1}\r\n\r\n" for n in range(2000))
    raw = ("From: a@example.co.jp\r\nTo: soumu@city.example.lg.jp\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=b0\r\n\r\n--b0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           "入れ子の前の本文です。\r\n" + nested + "--b0--\r\n").encode()
    service = start_service(tmp_path, port)
    try:
        assert relay(service, raw) == {}
        wait_for(lambda: len(sink.messages) == 1)
    finally:
        service.stop()
        controller.stop()
    message = email_package.message_from_bytes(sink.messages[0], policy=email.policy.default)
    body = message.get_body(("plain",))
    assert body is not None
    text = str(body.get_content())
    assert text.startswith("入れ子の前の本文です。") and "入れ子が深すぎるか部分が多すぎるため" in text
