"""Structure-aware mutation of internet mail (RFC 5322 / MIME) on its raw bytes.

Operations: boundaries (parameter changed, quoted or not, too long, shared with the parent, a
delimiter line removed, duplicated or without its closing ``--``), nesting (the message wrapped in
N levels of multipart or message/rfc822, N up to a few thousand), charsets (parameters and
encoded words: ISO-2022-JP, CP932, EUC-JP, UTF-7, unknown and malformed ones), transfer encodings
(changed, re-encoded, or the encoded body damaged), header repetition (a header repeated up to
thousands of times, folded very long, without a colon, with raw 8-bit bytes), content types and
file names (RFC 2231 continuations, encoded words), line endings, and truncation."""

from __future__ import annotations

import base64
import quopri
import random
import re

HEADER_END = re.compile(rb"\r?\n\r?\n")
BOUNDARY_PARAM = re.compile(rb'boundary\s*=\s*("([^"]*)"|[^;\s]+)', re.IGNORECASE)
DELIMITER = re.compile(rb"^--[^\r\n]*\r?$", re.MULTILINE)
HEADER_LINE = re.compile(rb"^[!-9;-~]+:[^\n]*\n(?:[ \t][^\n]*\n)*", re.MULTILINE)
CTYPE = re.compile(rb"^content-type:[^\n]*\n(?:[ \t][^\n]*\n)*", re.MULTILINE | re.IGNORECASE)
CTE = re.compile(rb"^content-transfer-encoding:[^\n]*\n", re.MULTILINE | re.IGNORECASE)
CHARSET = re.compile(rb'charset\s*=\s*("[^"]*"|[^;\s]+)', re.IGNORECASE)
CHARSETS = (b"iso-2022-jp", b"shift_jis", b"cp932", b"euc-jp", b"utf-8", b"utf-7", b"utf-16", b"unknown-8bit",
            b"x-unknown", b"", b'"utf-8', b"iso-8859-1", b"us-ascii", b"windows-31j", b"iso-2022-jp-2",
            b"bogus\x00", b"utf-8''", b"x" * 300)
ENCODINGS = (b"base64", b"quoted-printable", b"7bit", b"8bit", b"binary", b"x-uuencode", b"bogus", b"BASE64",
             b"base64 base64", b"")
CONTENT_TYPES = (
    b"text/plain", b"text/html", b"text/calendar", b"message/rfc822", b"message/partial; id=1; number=1; total=2",
    b"message/external-body; access-type=URL; URL=http://example.com/", b"multipart/alternative",
    b"multipart/signed; protocol=application/pkcs7-signature", b"application/pkcs7-mime; smime-type=enveloped-data",
    b"application/ms-tnef", b"message/delivery-status", b"application/octet-stream", b"text/rfc822-headers",
    b"multipart/mixed", b"multipart/related; type=text/html", b"image/png", b"application/zip",
    b"text/plain; format=flowed; delsp=yes", b"", b"/", b"text", b"multipart/mixed; boundary=",
)
SUBJECTS = (
    b"=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=", b"=?iso-2022-jp?B?GyRCRnxL?= =?iso-2022-jp?B?XDhsGyhC?=",
    b"=?UTF-8?Q?=E6=97=A5=E6=9C=AC?=", b"=?shift_jis?B?k/qWe4zq?=", b"=?x-unknown?B?AAAA?=",
    b"=?UTF-8?B?invalid!!?=", b"=?utf-8?q?=ZZ?=", b"=?euc-jp?B?xnzL3A==?=", b"=?UTF-8*ja?B?5pel?=", b"=??B??=",
    b"=?ISO-2022-JP?B?GyRC", "日本語の件名".encode("cp932"), "日本語".encode(), b"\x1b$BF|K\\\x1b(B",
)
FILENAMES = (
    b'attachment; filename="invoice.pdf.exe"', b"attachment; filename*=UTF-8''%E8%AB%8B%E6%B1%82.pdf",
    b"attachment; filename*0*=ISO-2022-JP''%1B%24B; filename*1*=F%7CK%5C%1B%28B.txt",
    b'attachment; filename="=?UTF-8?B?6KuL5rGC5pu4LnBkZg==?="', b"attachment; filename=" + b"a" * 2000 + b".txt",
    b'inline; filename="..\\..\\evil.bat"', b"attachment; filename*0=a; filename*2=c; filename*1=b",
    b'attachment; filename="\xe8\xab\x8b\xe6\xb1\x82.zip"', b"attachment; filename", b"attachment;;;",
)
HEADER_NAMES = (b"Content-Type", b"Subject", b"From", b"To", b"Received", b"Content-Transfer-Encoding",
                b"MIME-Version", b"Content-Disposition", b"X-Header")


def _header_blocks(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of the top header block and of each part's header block."""
    blocks = []
    end = HEADER_END.search(data)
    blocks.append((0, end.start() + 1 if end else len(data)))
    for delimiter in DELIMITER.finditer(data):
        start = delimiter.end() + 1
        end = HEADER_END.search(data, start)
        if end and end.start() - start < 8192:
            blocks.append((start, end.start() + 1))
        if len(blocks) > 500:
            break
    return blocks


class MimeMutator:
    def __init__(self) -> None:
        self.last_op = ""

    def __call__(self, data: bytes, rng: random.Random) -> bytes:
        ops = (self.boundary, self.boundary, self.nesting, self.charset, self.charset, self.transfer_encoding,
               self.transfer_encoding, self.repeat_header, self.content_type, self.filename, self.line_endings,
               self.truncate)
        op = rng.choice(ops)
        self.last_op = f"mime.{op.__name__}"
        return op(data, rng)

    @staticmethod
    def boundary(data: bytes, rng: random.Random) -> bytes:
        params = list(BOUNDARY_PARAM.finditer(data))
        delimiters = list(DELIMITER.finditer(data))
        if params and (rng.random() < 0.5 or not delimiters):
            match = rng.choice(params)
            value = match.group(2) if match.group(2) is not None else match.group(1)
            other = rng.choice(params).group(1)
            new = rng.choice((b'"' + value + b' "', value.strip(b'"') + b"x", b'""', b"x" * 200, b'"a b;c=d"',
                              other, value[: max(1, len(value) // 2)], b'"' + value, value + b'"', b"--"))
            return data[:match.start(1)] + new + data[match.end(1):]
        if not delimiters:
            return data
        match = rng.choice(delimiters)
        line = match.group(0)
        choice = rng.randrange(4)
        if choice == 0:
            return data[:match.start()] + data[match.end():]  # delimiter removed
        if choice == 1:
            return data[:match.end()] + b"\n" + line + data[match.end():]  # delimiter twice
        if choice == 2:
            new = line[:-2] if line.rstrip(b"\r").endswith(b"--") else line.rstrip(b"\r") + b"--"
            return data[:match.start()] + new + data[match.end():]  # closing / not closing
        return data[:match.start()] + line.rstrip(b"\r") + b" \t" + data[match.end():]

    @staticmethod
    def nesting(data: bytes, rng: random.Random) -> bytes:
        """The message wrapped in many levels of multipart or message/rfc822 (the innermost keeps
        the original body, so text stands below the cut)."""
        depth = rng.choice((2, 19, 20, 21, 25, 60, 300, 1000, 2000))
        end = HEADER_END.search(data)
        headers = data[:end.start() + 1] if end else b""
        body = data[end.end():] if end else data
        kept = b"".join(m.group(0) for m in HEADER_LINE.finditer(headers)
                        if not m.group(0).lower().startswith((b"content-", b"mime-version")))
        inner = b"Content-Type: text/plain; charset=utf-8\n\n" + body[:4000]
        if rng.random() < 0.5:
            for level in range(depth, 0, -1):
                inner = (b"Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n" % (level, level)
                         + inner + b"\n--b%d--\n" % level)
        else:
            for _ in range(depth):
                inner = b"Content-Type: message/rfc822\n\nSubject: fwd\n" + inner
        return kept + b"MIME-Version: 1.0\n" + inner

    @staticmethod
    def charset(data: bytes, rng: random.Random) -> bytes:
        if rng.random() < 0.5:
            found = list(CHARSET.finditer(data))
            if found:
                match = rng.choice(found)
                return data[:match.start(1)] + rng.choice(CHARSETS) + data[match.end(1):]
            ctypes = list(CTYPE.finditer(data))
            if ctypes:
                match = rng.choice(ctypes)
                at = match.end() - 1
                return data[:at] + b"; charset=" + rng.choice(CHARSETS) + data[at:]
        subject = re.search(rb"^subject:[^\n]*\n", data, re.MULTILINE | re.IGNORECASE)
        value = b" ".join(rng.choice(SUBJECTS) for _ in range(rng.randrange(1, 4)))
        if subject:
            return data[:subject.start()] + b"Subject: " + value + b"\n" + data[subject.end():]
        return b"Subject: " + value + b"\n" + data

    @staticmethod
    def transfer_encoding(data: bytes, rng: random.Random) -> bytes:
        blocks = _header_blocks(data)
        start, end = rng.choice(blocks)
        headers = data[start:end]
        body_start = end + (2 if data[end:end + 2] == b"\r\n" else 1)
        body_end = data.find(b"\n--", body_start)
        body_end = len(data) if body_end < 0 else body_end + 1
        body = data[body_start:body_end]
        encoding = rng.choice(ENCODINGS)
        choice = rng.randrange(3)
        if choice == 0 and encoding.lower() == b"base64":
            body = base64.encodebytes(body)
        elif choice == 0 and encoding == b"quoted-printable":
            body = quopri.encodestring(body)
        elif choice == 1:
            damaged = rng.choice((b"!!!!", b"=", b"==\n==", b"\x00", b"=ZZ", b"=\r\n", b"A", "日本".encode("cp932")))
            at = rng.randrange(len(body) + 1)
            body = body[:at] + damaged + body[at:]
        headers = CTE.sub(b"", headers)
        headers += b"Content-Transfer-Encoding: " + encoding + b"\n"
        return data[:start] + headers + data[end:body_start] + body + data[body_end:]

    @staticmethod
    def repeat_header(data: bytes, rng: random.Random) -> bytes:
        start, end = rng.choice(_header_blocks(data))
        lines = list(HEADER_LINE.finditer(data, start, end))
        count = rng.choice((2, 3, 50, 500, 2000))
        choice = rng.randrange(4)
        if choice == 0 and lines:
            line = rng.choice(lines).group(0)
            return data[:end] + line * count + data[end:]
        if choice == 1:
            name = rng.choice(HEADER_NAMES)
            fold = b"\n\t".join(b"x" * 70 for _ in range(count))
            return data[:start] + name + b": " + fold + b"\n" + data[start:]
        if choice == 2:
            line = rng.choice((b"no colon here\n", b"Bad Header : x\n", b"X-Nul: a\x00b\n", b":empty-name\n",
                               "X-8bit: 日本語\n".encode("cp932"), b" continuation first\n"))
            return data[:start] + line * rng.choice((1, count)) + data[start:]
        types = b"".join(b"Content-Type: " + rng.choice(CONTENT_TYPES) + b"\n" for _ in range(min(count, 50)))
        return data[:start] + types + data[start:]

    @staticmethod
    def content_type(data: bytes, rng: random.Random) -> bytes:
        ctypes = list(CTYPE.finditer(data))
        new = b"Content-Type: " + rng.choice(CONTENT_TYPES) + b"\n"
        if not ctypes:
            return new + data
        match = rng.choice(ctypes)
        return data[:match.start()] + new + data[match.end():]

    @staticmethod
    def filename(data: bytes, rng: random.Random) -> bytes:
        start, end = rng.choice(_header_blocks(data))
        header = b"Content-Disposition: " + rng.choice(FILENAMES) + b"\n"
        existing = re.compile(rb"^content-disposition:[^\n]*\n(?:[ \t][^\n]*\n)*", re.MULTILINE | re.IGNORECASE)
        block = existing.sub(b"", data[start:end])
        return data[:start] + block + header + data[end:]

    @staticmethod
    def line_endings(data: bytes, rng: random.Random) -> bytes:
        choice = rng.randrange(4)
        if choice == 0:
            return data.replace(b"\r\n", b"\n")
        if choice == 1:
            return re.sub(rb"(?<!\r)\n", b"\r\n", data)
        if choice == 2:
            return data.replace(b"\n", b"\r", rng.randrange(1, 20))
        return data.rstrip(b"\r\n")

    @staticmethod
    def truncate(data: bytes, rng: random.Random) -> bytes:
        cuts = [m.start() for m in DELIMITER.finditer(data)] + [m.start() for m in HEADER_END.finditer(data)]
        if cuts and rng.random() < 0.7:
            return data[:rng.choice(cuts) + rng.choice((0, 1, 2, 5))]
        return data[:rng.randrange(len(data) + 1)]
