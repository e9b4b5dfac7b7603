"""Damaged mails made from the project's sample mails, the ways mail arrives damaged: cut short,
bytes flipped, boundaries wrong, charsets and transfer encodings wrong or unknown, lines too
long, NULs. Deterministic (seeded): the same corpus on every run."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path

BOUNDARY = re.compile(rb'boundary="?([^";\r\n]+)"?', re.IGNORECASE)
CHARSET = re.compile(rb'charset="?([^";\r\n]+)"?', re.IGNORECASE)
ENCODING = re.compile(rb"(Content-Transfer-Encoding:[ \t]*)([^\r\n]+)", re.IGNORECASE)
BAD_CHARSETS = (b"x-unknown", b"utf-7", b"utf-16", b"utf-32", b"idna", b"punycode", b"base64", b"zlib", b"hex",
                b"rot13", b"unicode_escape", b"raw_unicode_escape", b"uu", b"bz2", b"quopri", b"cp65001",
                b"iso-2022-jp-2004", b"shift_jisx0213", b"euc-jis-2004", b"x-mac-japanese", b"gb18030",
                b"big5hkscs", b"koi8-u", b"\"\"", b"utf-8'ja'", b"iso-8859-1*ja")
BAD_ENCODINGS = (b"base64", b"quoted-printable", b"x-uuencode", b"uuencode", b"8bit", b"binary", b"x-gzip", b"bogus")


def _truncations(raw: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    for fraction in (0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95):
        yield f"truncated-{int(fraction * 100)}", raw[: int(len(raw) * fraction)]
    for match in list(BOUNDARY.finditer(raw))[:2]:
        marker = raw.find(b"--" + match.group(1), match.end())
        if marker > 0:
            yield "truncated-in-boundary", raw[: marker + 3]
    yield "truncated-random", raw[: rng.randrange(1, len(raw))]


def _flips(raw: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    for count in (1, 3, 10, 40):
        data = bytearray(raw)
        for _ in range(count):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        yield f"flipped-{count}", bytes(data)
    data = bytearray(raw)
    for _ in range(20):
        data[rng.randrange(len(data))] = rng.randrange(256)
    yield "bytes-replaced", bytes(data)


def _boundaries(raw: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    for match in BOUNDARY.finditer(raw):
        name = match.group(1)
        yield "boundary-undeclared", raw[: match.start(1)] + b"other" + raw[match.end(1):]
        yield "boundary-close-missing", raw.replace(b"--" + name + b"--", b"")
        yield "boundary-doubled", raw.replace(b"--" + name + b"\r\n", b"--" + name + b"\r\n--" + name + b"\r\n")
        yield "boundary-empty", raw[: match.start()] + b'boundary=""' + raw[match.end():]
        yield "boundary-prefix", raw[: match.start(1)] + name[:1] + raw[match.end(1):]
        yield "boundary-long", raw.replace(name, name * 40)
        return


def _charsets(raw: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    matches = list(CHARSET.finditer(raw))
    if not matches:
        return
    for label in BAD_CHARSETS:
        match = rng.choice(matches)
        yield f"charset-{label.decode('ascii', 'replace')}", raw[: match.start(1)] + label + raw[match.end(1):]
    yield "charset-everywhere-base64", CHARSET.sub(b"charset=base64", raw)


def _encodings(raw: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    matches = list(ENCODING.finditer(raw))
    for label in BAD_ENCODINGS:
        if matches:
            match = rng.choice(matches)
            yield f"cte-{label.decode('ascii')}", raw[: match.start(2)] + label + raw[match.end(2):]
    body = raw.find(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.find(b"\n\n")
    if body > 0:
        yield "base64-garbage", raw[:body] + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!=*=A\r\nQUJD=RE=\r\n"
        yield "qp-garbage", raw[:body] + b"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=G1=\r\n=" \
            + b"=E3=81\r\n"


def _lines(raw: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    cut = rng.randrange(len(raw))
    yield "long-line", raw[:cut] + b"A" * 2_000_000 + raw[cut:]
    yield "long-header", raw.replace(b"Subject: ", b"Subject: " + b"=?utf-8?B?44GC?= " * 20_000, 1)
    yield "nul-bytes", raw.replace(b"\r\n", b"\r\n\x00", 40)
    yield "nul-everywhere", raw.replace(b"e", b"\x00")
    yield "bare-cr", raw.replace(b"\r\n", b"\r")
    yield "lf-only", raw.replace(b"\r\n", b"\n")
    yield "high-bytes-in-headers", raw.replace(b"Subject: ", b"Subject: \xff\xfe\x80\x1b$B", 1)


def _structure(raw: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    """Nesting 2,000 levels deep above the sample's own structure; one of its header lines 2,000 times."""
    blank = re.search(rb"\r?\n\r?\n", raw)
    if blank is None:
        return
    head, rest = raw[: blank.start()] + b"\r\n", raw[blank.end():]
    yield "nested-message-2000", head + b"Content-Type: message/rfc822\r\n\r\n" * 2000 + raw
    yield "nested-multipart-2000", head + b"".join(
        b"Content-Type: multipart/mixed; boundary=n%d\r\n\r\n--n%d\r\n" % (level, level)
        for level in range(2000)) + rest
    line = rng.choice(raw[: blank.start()].splitlines()) + b"\r\n"
    yield "header-repeated-2000", line * 2000 + raw


MUTATORS: tuple[Callable[[bytes, random.Random], Iterator[tuple[str, bytes]]], ...] = (
    _truncations, _flips, _boundaries, _charsets, _encodings, _lines, _structure)


def damaged_mails(samples: Path, seed: int = 15) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) for every damaged variant of every sample mail (``mail-*.eml``)."""
    rng = random.Random(seed)  # noqa: S311  (reproducible damage, no secret)
    for path in sorted(samples.glob("mail-*.eml")):
        raw = path.read_bytes()
        if not raw:
            continue
        for mutate in MUTATORS:
            for name, data in mutate(raw, rng):
                yield f"{path.stem}/{name}", data
