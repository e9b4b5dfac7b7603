"""Independent check of LibreOffice's own metafiles (SVM, ``VCLMTF``) in OpenDocument outputs: the
header and exactly its count of actions to the last byte, each action of a type that draws or sets
drawing state (its own table, not the converter's), long enough for its type, with the counts
inside (points, characters, advances) within it; no comments (EMF+ rides in them), no EPS, no
wallpaper, no action type not named here; bitmaps only as whole DIBs after a file header; a
transparency group's own metafile checked the same way, at most ``MAX_DEPTH`` deep. Shares no code
with the converters."""

from __future__ import annotations

import struct

from converters.inspect.metafile import dib_problem
from converters.inspect.ooxml import PAYLOAD

MAX_ACTIONS = 2_000_000
MAX_DEPTH = 8
# action type -> smallest payload (after type, version and length) an action of it may have
SVM_SIZES = {
    100: 12, 101: 8, 102: 16, 103: 16, 104: 24, 105: 16, 106: 32, 107: 32, 108: 32, 109: 2, 110: 2, 111: 2,
    112: 14, 113: 18, 114: 18, 115: 20, 116: 62, 117: 70, 118: 86, 119: 62, 120: 70, 121: 86, 122: 62,
    123: 70, 124: 90, 125: 24, 126: 10, 128: 11, 129: 16, 130: 10, 131: 8, 132: 5, 133: 5, 134: 4, 135: 5,
    136: 2, 137: 33, 138: 40, 139: 2, 140: 0, 141: 2, 142: 4, 144: 9, 145: 5, 146: 16, 147: 32, 148: 8,
    149: 4, 150: 2, 151: 5,
}
SVM_FORBIDDEN = {512: "comment (EMF+ or other data)", 143: "EPS (PostScript)", 127: "wallpaper"}
POLYGON_FIRST = {109, 110, 142, 126, 148, 111}  # actions that begin with a polygon (set)
TEXTS = {112: 8, 113: 8, 114: 8, 115: 16}  # text actions: offset of the string
BITMAPS = range(116, 125)


class Unreadable(Exception):
    pass


def polygon_end(data: bytes, at: int, end: int, many: bool) -> int:
    """Where a polygon (or, ``many``, a set of them) starting at ``at`` ends; beyond ``end``: unreadable."""
    polygons = 1
    if many:
        if at + 2 > end:
            raise Unreadable
        polygons, at = int.from_bytes(data[at:at + 2], "little"), at + 2
    for _ in range(polygons):
        if at + 2 > end:
            raise Unreadable
        at += 2 + 8 * int.from_bytes(data[at:at + 2], "little")
    if at > end:
        raise Unreadable
    return at


def action_problems(kind: int, payload: bytes, unicode: bool, depth: int) -> list[str]:
    size = len(payload)
    if kind in POLYGON_FIRST:
        try:
            polygon_end(payload, 0, size, kind in (111, 142, 126, 148))
        except Unreadable:
            return ["SVM point count beyond its action"]
    if kind in TEXTS:
        at = TEXTS[kind]
        if unicode:
            length = 2 * int.from_bytes(payload[at:at + 4], "little") + 4
        else:
            length = int.from_bytes(payload[at:at + 2], "little") + 2
        if at + length > size:
            return ["SVM text beyond its action"]
        if kind == 113:
            advances = int.from_bytes(payload[at + length + 4:at + length + 8], "little", signed=True)
            if at + length + 8 + 4 * max(advances, 0) > size:
                return ["SVM text advances beyond their action"]
    if kind in BITMAPS:
        if payload[:2] != b"BM":
            return ["SVM bitmap without its file header"]
        found = dib_problem(payload[14:], None, 0)
        if found:
            return [f"SVM {found}"]
    if kind == 147:
        try:
            problems, end = walk(payload, 0, depth + 1)
        except Unreadable:
            return ["SVM transparency group unreadable"]
        return problems + (["SVM transparency group beyond its action"] if end + 16 > size else [])
    return []


def walk(data: bytes, start: int, depth: int) -> tuple[list[str], int]:
    """Problems of the metafile at ``start`` and where its last action ends."""
    if depth > MAX_DEPTH:
        return ["SVM transparency groups nested too deep"], start
    if data[start:start + 6] != b"VCLMTF" or start + 16 > len(data):
        raise Unreadable
    header_length = int.from_bytes(data[start + 8:start + 12], "little")
    offset = start + 12 + header_length
    if header_length < 4 or offset > len(data):
        raise Unreadable
    remaining = int.from_bytes(data[offset - 4:offset], "little")
    if remaining > MAX_ACTIONS:
        raise Unreadable
    problems: dict[str, None] = {}
    unicode = False
    for _ in range(remaining):
        if offset + 8 > len(data):
            raise Unreadable
        kind, _version, length = struct.unpack_from("<HHI", data, offset)
        payload = data[offset + 8:offset + 8 + length]
        offset += 8 + length
        if len(payload) < length:
            raise Unreadable
        if kind in SVM_FORBIDDEN:
            problems[f"SVM {SVM_FORBIDDEN[kind]}"] = None
        elif kind not in SVM_SIZES:
            problems[f"SVM action {kind} not allowed"] = None
        elif length < SVM_SIZES[kind]:
            problems[f"SVM action {kind} shorter than its type"] = None
        else:
            problems.update(dict.fromkeys(action_problems(kind, payload, unicode, depth)))
            if kind == 138:  # font: compat, family and style names, size, then the character set
                at = 6
                for _name in range(2):
                    at += 2 + int.from_bytes(payload[at:at + 2], "little")
                unicode = payload[at + 8:at + 10] == b"\xff\xff"
    return list(problems), offset


def svm_problems(data: bytes) -> list[str]:
    """A StarView metafile: its header, then exactly its count of allowed actions to the last byte."""
    if len(data) < 16:
        return ["SVM metafile too short"]
    header_length = int.from_bytes(data[8:12], "little")
    if header_length < 4 or 12 + header_length > len(data):
        return ["SVM header unreadable"]
    try:
        problems, end = walk(data, 0, 0)
    except Unreadable:
        return ["SVM actions unreadable"]
    if end != len(data):
        problems.append("data after the SVM metafile")
    if PAYLOAD.search(data):
        problems.append("executable, document or markup inside an image")
    return problems
