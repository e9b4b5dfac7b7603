"""The fuzz targets: what each one runs, which seeds it starts from, how its inputs are mutated
and which modules atheris instruments for coverage."""

from __future__ import annotations

import hashlib
import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from tests.fuzz.mutate_formats import fix_png_crcs, fix_tar_checksums, regzip, tokens
from tests.fuzz.mutate_mime import MimeMutator
from tests.fuzz.mutate_xml import XmlMutator
from tests.fuzz.mutate_zip import ZipMutator

OOXML_EXT = (".docx", ".docm", ".xlsx", ".xlsm", ".pptx", ".pptm", ".dotx", ".xltx", ".potx", ".ppsx")
IMAGE_EXT = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp")
ARCHIVE_EXT = (".zip", ".7z", ".tar", ".gz", ".bz2", ".xz", ".tgz")
TEXT_EXT = (".txt", ".csv", ".html", ".htm")
LEGACY_NAMES = ("doc-legacy.doc", "xls-macro.xls", "rtf-object.rtf", "docx-password.docx",
                "xlsx-default-password.xlsx", "small.rtf")
COMMON = ("converters", "zipfile", "email", "defusedxml", "olefile")


@dataclass(frozen=True)
class Target:
    name: str
    kind: str  # engine | detect | inspect | mail
    select: Callable[[str], bool]
    default_name: str
    structure_weight: float  # share of mutations done by the structure-aware layer
    max_len: int
    instrument: tuple[str, ...]
    words: tuple[bytes, ...] = ()


def _ooxml(name: str) -> bool:
    return name.endswith(OOXML_EXT) and name not in LEGACY_NAMES and "bomb" not in name


PDF_WORDS = (b"obj", b"endobj", b"stream", b"endstream", b"xref", b"trailer", b"startxref", b"%%EOF", b"/JS",
             b"/JavaScript", b"/OpenAction", b"/Launch", b"/URI", b"/EmbeddedFile", b"/ObjStm", b"/Filter",
             b"/FlateDecode", b"/Length", b"/Encrypt", b"/Kids", b"/Count", b"<<", b">>", b"[", b"]", b" R ")
XML_WORDS = (b"<w:instrText>", b"</w:instrText>", b"DDEAUTO", b"INCLUDETEXT", b"<f>", b"</f>", b"r:id=",
             b"TargetMode=\"External\"", b"xlink:href=", b"table:formula=", b"&#x", b"<!DOCTYPE", b"mc:Choice",
             b"vbaProject", b"http://purl.oclc.org/ooxml/")
MIME_WORDS = (b"Content-Type: ", b"multipart/mixed", b"boundary=", b"\r\n--", b"--\r\n", b"charset=",
              b"Content-Transfer-Encoding: base64", b"quoted-printable", b"=?ISO-2022-JP?B?", b"?=",
              b"message/rfc822", b"filename*0*=", b"application/ms-tnef", b"\x1b$B", b"\x1b(B")
IMAGE_WORDS = (b"IHDR", b"IDAT", b"IEND", b"PLTE", b"tEXt", b"iCCP", b"acTL", b"\xff\xd8", b"\xff\xe1", b"Exif",
               b"\xff\xc0", b"\xff\xda", b"GIF89a", b"NETSCAPE2.0", b"II*\x00", b"MM\x00*", b"RIFF", b"VP8X")

TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("detect", "detect", lambda n: True, "input.bin", 0.5, 128 * 1024,
           (*COMMON, "magic"), PDF_WORDS[:6] + MIME_WORDS[:4]),
    Target("pdf", "engine", lambda n: n.endswith(".pdf") and not n.startswith("exe-"), "input.pdf", 0.5,
           96 * 1024, COMMON, PDF_WORDS),
    Target("image", "engine", lambda n: n.endswith(IMAGE_EXT), "input.png", 0.3, 96 * 1024,
           (*COMMON, "PIL"), IMAGE_WORDS),
    Target("text", "engine", lambda n: n.endswith(TEXT_EXT) or n.startswith("txt-"), "input.txt", 0.3, 64 * 1024,
           (*COMMON, "html", "csv", "codecs", "encodings"), (b"\x1b$B", b"\x1b(B", b"\x82\xa0", b"<script", b"=")),
    Target("archive", "engine", lambda n: n.endswith(ARCHIVE_EXT) and "bomb" not in n, "input.zip", 0.7,
           128 * 1024, (*COMMON, "tarfile", "gzip", "bz2", "lzma", "py7zr"), (b"PK\x03\x04", b"ustar", b"\x1f\x8b")),
    Target("ooxml", "engine", _ooxml, "input.docx", 0.8, 128 * 1024, COMMON, XML_WORDS),
    Target("odf", "engine", lambda n: n.endswith((".odt", ".ods", ".odp", ".odg")), "input.odt", 0.8, 96 * 1024,
           COMMON, XML_WORDS),
    Target("legacy", "engine", lambda n: n in LEGACY_NAMES, "input.doc", 0.4, 96 * 1024,
           (*COMMON, "msoffcrypto", "oletools"), (b"\\object", b"\\objdata", b"EncryptionInfo", b"\xd0\xcf\x11\xe0")),
    Target("inspect", "inspect", lambda n: True, "output.bin", 0.6, 128 * 1024, (*COMMON, "PIL"),
           PDF_WORDS + XML_WORDS),
    Target("mail", "mail", lambda n: n.endswith(".eml"), "input.eml", 0.8, 256 * 1024,
           (*COMMON, "tnefparse", "html", "quopri", "base64"), MIME_WORDS),
)}


class Lineage:
    """Which seed each input descends from, and the last operations that made it (bounded)."""

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self.known: OrderedDict[bytes, tuple[str, tuple[str, ...]]] = OrderedDict()

    @staticmethod
    def digest(data: bytes) -> bytes:
        return hashlib.sha1(data, usedforsecurity=False).digest()

    def seed(self, data: bytes, name: str) -> None:
        self.known[self.digest(data)] = (name, ())

    def of(self, data: bytes) -> tuple[str, tuple[str, ...]]:
        return self.known.get(self.digest(data), ("", ()))

    def derive(self, parent: bytes, child: bytes, ops: list[str]) -> None:
        origin, history = self.of(parent)
        key = self.digest(child)
        if key not in self.known:
            self.known[key] = (origin, (*history, *ops)[-8:])
            if len(self.known) > self.limit:
                self.known.popitem(last=False)


class SmartMutator:
    """One to three operations per input: structure-aware ones chosen by what the bytes are
    (ZIP, gzip, tar, PNG, PDF/RTF tokens, XML, mail), else libFuzzer's byte mutations."""

    def __init__(self, target: Target, byte_mutate: Callable[[bytes, int], bytes], lineage: Lineage) -> None:
        self.target = target
        self.byte_mutate = byte_mutate
        self.lineage = lineage
        self.xml = XmlMutator()
        self.zip = ZipMutator(self.xml)
        self.mime = MimeMutator()
        self.errors = 0

    def structured(self, data: bytes, rng: random.Random, max_size: int) -> tuple[bytes, str]:
        head = data[:8]
        if self.target.kind == "mail" or (self.target.kind == "detect" and b"\nContent-Type:" in data[:4096]
                                          and rng.random() < 0.5):
            return self.mime(data, rng), self.mime.last_op
        if head.startswith(b"PK\x03\x04") or (b"PK\x05\x06" in data[-4096:] and rng.random() < 0.3):
            return self.zip(data, rng), self.zip.last_op
        if head.startswith(b"\x1f\x8b"):
            return regzip(data, rng, lambda d: self._bytes(d, max_size)), "gzip.inner"
        if data[257:262] == b"ustar":
            return fix_tar_checksums(self._bytes(data, max_size)), "tar.fixed"
        if head.startswith(b"\x89PNG"):
            return fix_png_crcs(self._bytes(data, max_size)), "png.fixed"
        if head.startswith((b"%PDF", b"{\\rtf")) or b"%PDF-" in data[:1024]:
            return tokens(data, rng), "tokens"
        if data.lstrip()[:1] == b"<":
            return self.xml(data, rng), self.xml.last_op
        return self._bytes(data, max_size), "bytes"

    def _bytes(self, data: bytes, max_size: int) -> bytes:
        return self.byte_mutate(data, max_size)

    def __call__(self, data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)  # noqa: S311 - fuzzing, not security
        result, ops = data, []
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            try:
                if rng.random() < self.target.structure_weight:
                    result, op = self.structured(result, rng, max_size)
                else:
                    result, op = self._bytes(result, max_size), "bytes"
            except Exception:  # a mutator bug must not stop the campaign; counted in the statistics
                self.errors += 1
                result, op = self._bytes(result, max_size), "bytes(mutator error)"
            ops.append(op)
        if len(result) > max_size:
            result, ops = self.byte_mutate(data, max_size), ["bytes(too long)"]
        self.lineage.derive(data, result, ops)
        return result
