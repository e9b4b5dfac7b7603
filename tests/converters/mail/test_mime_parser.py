"""The depth-limited MIME parser: the email package's reading of every ordinary mail, and no
recursion at any depth."""

from __future__ import annotations

import email
import tracemalloc
from email.message import Message
from email.policy import compat32
from pathlib import Path

import pytest

from converters.formats.charset import encode_iso2022jp
from converters.mail.mime_parser import ParamSafeMessage, parse_limited


def parts_of(message: Message) -> list[Message]:
    """The parts of a multipart message (compat32 holds them as a list of messages)."""
    payload = message.get_payload()
    assert isinstance(payload, list)
    parts: list[Message] = []
    for part in payload:
        assert isinstance(part, Message)
        parts.append(part)
    return parts


def param_safe(message: Message) -> ParamSafeMessage:
    """A part parse_limited made (every part it makes is a ParamSafeMessage)."""
    assert isinstance(message, ParamSafeMessage)
    return message


def shape(message: Message) -> list[tuple[int, str, object]]:
    """Depth, content type and leaf payload of every part, in order."""
    found: list[tuple[int, str, object]] = []
    stack = [(0, message)]
    while stack:
        depth, part = stack.pop()
        payload = part.get_payload()
        found.append((depth, part.get_content_type(), None if isinstance(payload, list) else payload))
        if isinstance(payload, list):
            stack.extend((depth + 1, child) for child in reversed(parts_of(part)))
    return found


def nested_multipart(levels: int, text: str = "最初の本文です。") -> bytes:
    head = "From: a@example.jp\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    first = f"--b0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    opening = "".join(f"--b{n - 1}\r\nContent-Type: multipart/mixed; boundary=b{n}\r\n\r\n" for n in range(1, levels))
    closing = "".join(f"--b{n}--\r\n" for n in range(levels - 1, -1, -1))
    return (head + first + opening + "--b1999\r\nContent-Type: text/plain\r\n\r\ndeepest\r\n" + closing).encode()


def nested_messages(levels: int) -> bytes:
    return (b"From: a@example.jp\r\nContent-Type: message/rfc822\r\n\r\n"
            + b"Subject: x\r\nContent-Type: message/rfc822\r\n\r\n" * levels + b"Subject: y\r\n\r\nend\r\n")


def test_ordinary_mails_read_exactly_as_the_email_package_reads_them(samples: Path) -> None:
    mails = sorted(samples.glob("mail-*.eml"))
    assert len(mails) >= 10
    for path in mails:
        raw = path.read_bytes()
        message, cut = parse_limited(raw, 200)  # the sample MIME bomb is 50 deep
        assert cut == []
        unlimited = email.message_from_bytes(raw, policy=compat32)
        assert shape(message) == shape(unlimited), path.name
        assert [type(d) for d in message.defects] == [type(d) for d in unlimited.defects], path.name


@pytest.mark.parametrize("raw", [nested_multipart(2000), nested_messages(2000)], ids=["multipart", "rfc822"])
def test_2000_levels_are_read_down_to_the_limit_only(raw: bytes) -> None:
    with pytest.raises(RecursionError):  # why this module exists
        email.message_from_bytes(raw, policy=compat32)
    message, cut = parse_limited(raw, 20)
    found = shape(message)
    assert max(depth for depth, _, _ in found) == 21
    [(_, _, payload)] = [entry for entry in found if entry[0] == 21]
    assert len(cut) == 1 and isinstance(payload, str) and len(payload) > 10_000  # the rest, undivided
    assert "deepest" in payload or "end" in payload


def test_the_first_text_part_before_a_deep_branch_is_read_whole() -> None:
    message, _ = parse_limited(nested_multipart(2000), 20)
    first = parts_of(message)[0]
    body = first.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert body.decode("utf-8") == "最初の本文です。"


def test_a_part_after_a_cut_branch_is_read_as_usual() -> None:
    """The cut ends at the enclosing boundary; the next sibling (a multipart itself) is divided."""
    raw = (b"From: a@example.jp\r\nContent-Type: multipart/mixed; boundary=top\r\n\r\n"
           b"--top\r\nContent-Type: multipart/mixed; boundary=one\r\n\r\n"
           b"--one\r\nContent-Type: multipart/mixed; boundary=two\r\n\r\n"
           b"--two\r\nContent-Type: text/plain\r\n\r\ntoo deep\r\n--two--\r\n--one--\r\n"
           b"--top\r\nContent-Type: multipart/mixed; boundary=side\r\n\r\n"
           b"--side\r\nContent-Type: text/plain\r\n\r\nsibling\r\n--side--\r\n"
           b"--top--\r\n")
    unlimited = shape(email.message_from_bytes(raw, policy=compat32))
    assert [(d, t) for d, t, _ in unlimited] == [(0, "multipart/mixed"), (1, "multipart/mixed"), (2, "multipart/mixed"),
                                                 (3, "text/plain"), (1, "multipart/mixed"), (2, "text/plain")]
    message, cut = parse_limited(raw, 3)
    assert cut == [] and shape(message) == unlimited
    message, cut = parse_limited(raw, 2)  # the leaf at depth 3 is beyond the limit: read, listed as cut
    assert len(cut) == 1 and shape(message) == unlimited
    message, cut = parse_limited(raw, 1)
    assert [(d, t) for d, t, _ in shape(message)] == [(0, "multipart/mixed"), (1, "multipart/mixed"),
                                                      (2, "multipart/mixed"), (1, "multipart/mixed"),
                                                      (2, "text/plain")]
    assert len(cut) == 2 and "too deep" in str(cut[0].get_payload()) and cut[1].get_payload() == "sibling"


REGRESSIONS = Path(__file__).resolve().parents[2] / "fuzz" / "regressions"
DAMAGED_NAME = (b"From: a@example.jp\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n"
                b"--X\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n"
                b"--X\r\nContent-Type: application/pdf; name*1=zz; name*=UTF-8''%E8%A6%8B.pdf\r\n"
                b"Content-Disposition: attachment; filename*=UTF-8''%E8%A6%8B%E7%A9%8D%E6%9B%B8.pdf;"
                b" filename*2=.exe\r\n\r\nJVBERi0=\r\n--X--\r\n")


def test_rfc2231_pieces_numbered_and_unnumbered_are_read_from_the_unnumbered_one() -> None:
    """``filename*2`` beside ``filename*`` (no ``*0``): the email package raises TypeError sorting
    them, on any read of the header; the unnumbered piece is a whole value by itself."""
    unlimited = parts_of(email.message_from_bytes(DAMAGED_NAME, policy=compat32))[1]
    with pytest.raises(TypeError):
        unlimited.get_filename()
    message, _ = parse_limited(DAMAGED_NAME, 20)
    part = param_safe(parts_of(message)[1])
    assert part.get_filename() == "見積書.pdf"  # the orphan piece ".exe" is not appended
    assert part.get_param("name") == ("UTF-8", "", "見.pdf".encode().decode("latin-1"))
    assert part.get_content_type() == "application/pdf"
    assert part.damaged_parameters == ["content-disposition: filename", "content-type: name"]
    assert param_safe(message).damaged_parameters == [] and parts_of(message)[0].get_payload() == "body"


def test_a_damaged_boundary_parameter_is_read_from_its_unnumbered_piece() -> None:
    """The fuzz input: the parser's own get_boundary() raised out of the parse, losing the mail."""
    raw = (REGRESSIONS / "ef20fc6e1e03-mail.bin").read_bytes()
    with pytest.raises(TypeError):
        email.message_from_bytes(raw, policy=compat32)
    assert param_safe(parse_limited(raw, 20)[0]).damaged_parameters == ["content-type: filename"]
    raw = (b"From: a@example.jp\r\nContent-Type: multipart/mixed; boundary*2=z; boundary*=us-ascii''y\r\n\r\n"
           b"--y\r\nContent-Type: text/plain\r\n\r\none\r\n--y\r\n\r\ntwo\r\n--y--\r\n")
    message, _ = parse_limited(raw, 20)
    assert message.get_boundary() == "y" and [p.get_payload() for p in parts_of(message)] == ["one", "two"]
    assert param_safe(message).damaged_parameters == ["content-type: boundary"] and message.defects == []


@pytest.mark.parametrize("label", [b'"iso-2022-jp\x00"', b"*=utf-8''shift_jis"], ids=["nul", "rfc2231"])
def test_an_unusable_charset_label_reads_the_undecoded_payload_as_an_unknown_label(label: bytes) -> None:
    """8-bit bytes in a part: get_payload() decodes them by the label and catches LookupError
    only; a NUL in the label raised ValueError, an RFC 2231 label (a tuple) TypeError."""
    raw = b"From: a@example.jp\r\nContent-Type: text/plain; charset" + (b"" if label.startswith(b"*") else b"=") + \
        label + b"\r\n\r\n\x82\xa0abc\r\n"
    with pytest.raises((ValueError, TypeError)):
        email.message_from_bytes(raw, policy=compat32).get_payload()
    message, _ = parse_limited(raw, 20)
    assert message.get_payload() == "\ufffd\ufffdabc\r\n"
    assert message.get_payload(decode=True) == b"\x82\xa0abc\r\n"  # the bytes themselves, for the body's detection


def many_parts(count: int) -> bytes:
    first = (b"--b\r\nContent-Type: text/plain; charset=iso-2022-jp\r\n\r\n"
             + encode_iso2022jp("①最初の本文です。㈱")[0] + b"\r\n")
    rest = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(count))
    return (b"From: a@example.jp\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            + first + rest + b"--b--\r\n")


def test_a_part_budget_stops_the_parse_and_keeps_what_came_before() -> None:
    """200,000 one-line parts: the parser stops soon after the budget (it would otherwise build
    every part first), and the parts before the stop are what the unlimited parser makes."""
    raw = many_parts(200_000)
    message, cut = parse_limited(raw, 20, max_parts=1000)
    parts = parts_of(message)
    assert 1000 <= len(parts) < 5000 and len(cut) == 1
    unlimited = parts_of(email.message_from_bytes(raw[:200_000], policy=compat32))
    assert parts[0].get_payload(decode=True) == unlimited[0].get_payload(decode=True)
    assert parse_limited(many_parts(10), 20, max_parts=1000)[1] == []  # under the budget: nothing cut


def test_a_mail_of_a_million_parts_delivers_its_first_text_with_a_truncation_note(tmp_path: Path) -> None:
    from converters.mail.split import split_mail

    raw = many_parts(1_000_000)  # 36 MB
    tracemalloc.start()
    try:
        report = split_mail(raw, tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 150 * 1024 * 1024  # every part built first took gigabytes (a sandbox memory limit ends it)
    assert not report["rejected"]
    assert "①最初の本文です。㈱" in (tmp_path / "body.txt").read_text(encoding="utf-8")
    assert "mail_structure_truncated" in [finding["code"] for finding in report["findings"]]


@pytest.mark.parametrize("encoding", ["BASE64 ", "base64\t", "base64 (binary)", " Base64;x"])
def test_a_transfer_encoding_is_read_by_its_first_token(encoding: str) -> None:
    """compat32 compared the whole value: "base64 " with a trailing space was not decoded, and the
    attachment Outlook and Thunderbird show as a file arrived as its base64 text."""
    raw = ("Content-Type: application/octet-stream; name=\"a.dat\"\r\nContent-Transfer-Encoding: "
           f"{encoding}\r\n\r\nTVqQAAMAAAA=\r\n").encode("ascii")
    message, _ = parse_limited(raw, 20)
    assert message.get_payload(decode=True) == b"MZ\x90\x00\x03\x00\x00\x00"
    assert message["content-transfer-encoding"].strip().lower() == "base64"
