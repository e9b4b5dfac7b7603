"""Files encoded inside text: uuencode (also ``begin-base64``), yEnc and BinHex 4.0, found anywhere.

The text is read line by line the way decoders read it: a line ends at LF, CRLF or CR. One pass,
linear time (lines nobody could decode are skipped with one C-speed search; no backtracking regex).

- uuencode: a ``begin MODE NAME`` line (``begin-base64`` too) whose next non-blank line is encoded
  data, up to its ``end`` (``====``) line, or without one up to the last data line. Prose that
  merely starts a line with "begin 2024 ..." is not a block: the line after it is not data. Three
  or more full-length data lines (``M`` + 60 characters) are a block even without a ``begin`` line
  (lenient decoders rebuild files from such runs).
- yEnc: a ``=ybegin ... name=`` line up to its ``=yend`` line; decoders read to the end of the text
  when there is none, and so does the block.
- BinHex 4.0: the ``(This file must be converted with BinHex`` line and the ``:``-delimited data
  after it, or a line that starts with ``:`` followed by 40 or more BinHex characters. The carried
  name is read from the decoded BinHex header.

Files are scanned as bytes read as Latin-1 (type detection: offsets are byte offsets, non-ASCII
bytes are never data), decoded text as str (the text converter and mail bodies).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["uuencode", "uuencode-base64", "yenc", "binhex"]
KIND_WORDS: dict[str, str] = {"uuencode": "uuencoded", "uuencode-base64": "uuencoded (base64)",
                              "yenc": "yEnc-encoded", "binhex": "BinHex-encoded"}
CHUNK_CHARS = 1024 * 1024
MAX_NAME_CHARS = 200
BINHEX_ALPHABET = "!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr"
BINHEX_MIN_HEADERLESS = 40

# Where a block may start (matched at line starts only); lines before the first hit are skipped.
TRIGGER = re.compile(r"(?:^|(?<=\r))(?:[ \t]*begin|=ybegin|[ \t]*\([Tt]his file must be converted with BinHex|:|"
                     r"M[ -`]{60})", re.MULTILINE)
EOL = re.compile(r"\r\n|\r|\n")
UU_HEADER = re.compile(r"[ \t]*begin(-base64)?[ \t]+[0-7]{1,4}(?:[ \t]+(.*))?")
UU_DATA = re.compile(r"[ -`]+")
B64_DATA = re.compile(r"[A-Za-z0-9+/]+=*")
YENC_HEADER = re.compile(r"=ybegin2?[ \t].*?\bname=(.*)")
BINHEX_COMMENT = re.compile(r"[ \t]*\([Tt]his file must be converted with BinHex")
BINHEX_DATA = re.compile("[" + re.escape(BINHEX_ALPHABET) + "]+")
NAME_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class EncodedBlock:
    """``text[start:end]`` is the block, from its first line to the end of its last line (EOL included)."""

    start: int
    end: int
    kind: Kind
    name: str

    def describe(self) -> str:
        return f"{self.kind}: {self.name}" if self.name else self.kind


def clean_name(name: str) -> str:
    return NAME_CONTROL.sub("", name).strip()[:MAX_NAME_CHARS]


def _uu_line(line: str) -> int | None:
    """Bytes the uuencoded line carries, or None when it is not a uuencoded line. Shorter lines are
    data too (mail transport strips trailing spaces, which encode zero bytes)."""
    if not UU_DATA.fullmatch(line):
        return None
    count = (ord(line[0]) - 32) & 63
    return count if len(line) - 1 <= (count + 2) // 3 * 4 + 2 else None


def _full_uu_line(line: str) -> bool:
    return line[:1] == "M" and len(line) in (61, 62) and UU_DATA.fullmatch(line) is not None


def binhex_name(data: str) -> str:
    """The file name in a BinHex 4.0 header: 6-bit characters, then run-length (0x90) decoding,
    then a length byte and the name (Mac Roman)."""
    raw = bytearray()
    bits = width = 0
    for char in data[:120]:
        value = BINHEX_ALPHABET.find(char)
        if value < 0:
            break
        bits, width = (bits << 6) | value, width + 6
        if width >= 8:
            width -= 8
            raw.append((bits >> width) & 0xFF)
            bits &= (1 << width) - 1
    out = bytearray()
    index = 0
    while index < len(raw):
        byte = raw[index]
        if byte == 0x90 and index + 1 < len(raw):
            count = raw[index + 1]
            index += 2
            if count == 0:
                out.append(0x90)
            elif out:
                out.extend(out[-1:] * (count - 1))
            continue
        out.append(byte)
        index += 1
    if not out or not 0 < out[0] < 64 or len(out) < 1 + out[0]:
        return ""
    return clean_name(bytes(out[1:1 + out[0]]).decode("mac_roman"))


class _Scanner:
    """Line-by-line state machine; feed lines in order, then ``finish`` at the end of the text."""

    def __init__(self) -> None:
        self.state = "idle"
        self.kind: Kind = "uuencode"
        self.start = 0
        self.last_end = 0  # end of the block's last line so far
        self.name = ""
        self.binhex_chars: list[str] = []
        self.binhex_count = 0
        self.run = 0  # consecutive full uuencoded lines outside any block
        self.run_start = 0
        self.blocks: list[EncodedBlock] = []
        self.opened: list[EncodedBlock] = []  # blocks as soon as they are certain (not yet closed)

    @property
    def idle(self) -> bool:
        return self.state == "idle" and self.run == 0

    def _open(self, state: str, kind: Kind, start: int, end: int, name: str) -> None:
        self.state, self.kind, self.start, self.last_end, self.name = state, kind, start, end, clean_name(name)
        self.opened.append(EncodedBlock(start, end, kind, self.name))

    def _close(self, end: int) -> None:
        name = self.name
        if self.kind == "binhex":
            name = binhex_name("".join(self.binhex_chars)) or name
        self.blocks.append(EncodedBlock(self.start, end, self.kind, name))
        self.state = "idle"
        self.binhex_chars, self.binhex_count = [], 0

    def feed(self, line: str, start: int, end: int) -> None:
        """``line`` without its line end; ``start``/``end`` its offsets (``end`` after the line end)."""
        state = self.state
        if state == "idle":
            self._idle(line, start, end)
        elif state in ("uu_pending", "b64_pending"):
            if not line.strip():
                return
            base64 = state == "b64_pending"
            if (base64 and B64_DATA.fullmatch(line.rstrip())) or (
                    not base64 and (_uu_line(line) or 0) > 0):
                self.state = "b64" if base64 else "uu"
                self.opened.append(EncodedBlock(self.start, end, self.kind, self.name))
                self._data(line, end)
            else:  # "begin" in prose: not a block
                self.state = "idle"
                self._idle(line, start, end)
        elif state in ("uu", "b64"):
            if not line.strip():
                return  # a blank line inside the data; the block ends at its last data line
            if not self._data(line, end):
                self._close(self.last_end)
                self._idle(line, start, end)
        elif state == "yenc":
            if line.startswith("=yend"):
                self._close(end)
        elif state == "binhex_pending":
            if not line.strip():
                return
            if line.startswith(":"):
                self.state = "binhex"
                self.opened.append(EncodedBlock(self.start, end, "binhex", self.name))
                self._binhex(line[1:], end)
            else:
                self.state = "idle"
                self._idle(line, start, end)
        elif state == "binhex":
            if not line.strip():
                return
            if not self._binhex(line, end):
                self._close(self.last_end)
                self._idle(line, start, end)

    def _data(self, line: str, end: int) -> bool:
        """One line inside a uuencode block; False when it is not part of the block."""
        stripped = line.rstrip()
        if self.state == "b64":
            if stripped == "====":
                self._close(end)
                return True
            if not B64_DATA.fullmatch(stripped):
                return False
        elif stripped == "end":
            self._close(end)
            return True
        elif _uu_line(line) is None:
            return False
        self.last_end = end
        return True

    def _binhex(self, data: str, end: int) -> bool:
        """BinHex characters (the opening ``:`` already taken off); closes at the closing ``:``."""
        body, colon, _ = data.partition(":")
        body = body.rstrip()
        if body and not BINHEX_DATA.fullmatch(body):
            return False
        if self.binhex_count < 120:
            self.binhex_chars.append(body)
            self.binhex_count += len(body)
        self.last_end = end
        if colon:
            self._close(end)
        return True

    def _idle(self, line: str, start: int, end: int) -> None:
        if _full_uu_line(line):
            if self.run == 0:
                self.run_start = start
            self.run += 1
            if self.run == 3:
                self.run = 0
                self.state, self.kind, self.start, self.name = "uu", "uuencode", self.run_start, ""
                self.opened.append(EncodedBlock(self.run_start, end, "uuencode", ""))
                self.last_end = end
            return
        self.run = 0
        header = UU_HEADER.fullmatch(line)
        if header is not None:
            base64 = header.group(1) is not None
            self.state = "b64_pending" if base64 else "uu_pending"
            self.kind = "uuencode-base64" if base64 else "uuencode"
            self.start, self.last_end, self.name = start, end, clean_name(header.group(2) or "")
            return
        yenc = YENC_HEADER.match(line)
        if yenc is not None:
            self._open("yenc", "yenc", start, end, yenc.group(1))
            return
        if BINHEX_COMMENT.match(line):
            self.state, self.kind, self.start, self.last_end, self.name = "binhex_pending", "binhex", start, end, ""
            return
        if line.startswith(":"):
            body = line[1:].partition(":")[0].rstrip()
            if len(body) >= BINHEX_MIN_HEADERLESS and BINHEX_DATA.fullmatch(body):
                self._open("binhex", "binhex", start, end, "")
                self._binhex(line[1:], end)

    def finish(self, end: int) -> None:
        if self.state == "yenc":
            self._close(end)  # no =yend: decoders read to the end
        elif self.state in ("uu", "b64", "binhex"):
            self._close(self.last_end)
        self.state = "idle"


def _scan(chunks: Iterable[str], *, stop_at_first: bool = False) -> _Scanner:
    scanner = _Scanner()
    carry = ""
    offset = 0  # offset of carry[0] in the whole text
    for chunk in chunks:
        data = carry + chunk
        position = _scan_lines(scanner, data, offset, final=False)
        carry, offset = data[position:], offset + position
        if stop_at_first and scanner.opened:
            return scanner
    position = _scan_lines(scanner, carry, offset, final=True)
    scanner.finish(offset + len(carry))
    return scanner


def _scan_lines(scanner: _Scanner, data: str, offset: int, *, final: bool) -> int:
    """Feed the complete lines of ``data``; return where the incomplete last line starts."""
    position = 0
    while position < len(data):
        if scanner.idle:
            trigger = TRIGGER.search(data, position)
            if trigger is None:
                break
            position = trigger.start()
        eol = EOL.search(data, position)
        if eol is None or (eol.group() == "\r" and eol.end() == len(data) and not final):
            if not final:
                return position  # the line (or its CRLF) continues in the next chunk
            scanner.feed(data[position:], offset + position, offset + len(data))
            return len(data)
        scanner.feed(data[position:eol.start()], offset + position, offset + eol.end())
        position = eol.end()
    if final or scanner.idle:
        # Lines without a trigger are never part of a block; keep only an incomplete tail.
        last = max(data.rfind("\n"), data.rfind("\r"))
        return len(data) if final else max(position, last + 1)
    return position


def find_blocks(text: str) -> list[EncodedBlock]:
    """Every encoded file in ``text``, in order."""
    chunks = (text[i:i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS))
    return _scan(chunks).blocks


def first_in_file(path: Path) -> EncodedBlock | None:
    """The first encoded file in the file at ``path`` (bytes read as Latin-1), as soon as it is certain."""

    def chunks() -> Iterator[str]:
        with path.open("rb") as handle:
            while block := handle.read(CHUNK_CHARS):
                yield block.decode("latin-1")

    scanner = _scan(chunks(), stop_at_first=True)
    return scanner.opened[0] if scanner.opened else None


def remove_blocks(text: str, blocks: list[EncodedBlock], replacement: Callable[[EncodedBlock], str]) -> str:
    """``text`` with each block replaced by ``replacement(block)``."""
    pieces: list[str] = []
    position = 0
    for block in blocks:
        pieces.append(text[position:block.start])
        pieces.append(replacement(block))
        position = block.end
    pieces.append(text[position:])
    return "".join(pieces)


def removal_note(block: EncodedBlock) -> str:
    """The line a removed block leaves in text that is delivered (a mail body, a document's text)."""
    return f"[符号化ファイルを削除しました / encoded file removed: {block.name or block.kind}]\n"
