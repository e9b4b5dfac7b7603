"""Format-aware helpers for the formats without a mutator of their own: byte mutation followed by
a fix-up of the integrity checks (PNG chunk CRCs, tar header checksums, the gzip trailer) so the
damage reaches the decoder behind the check, and token mutation for text-based formats (PDF, RTF:
numbers such as object numbers, lengths and xref offsets set to interesting values, names and
control words swapped for others from a dictionary)."""

from __future__ import annotations

import gzip
import random
import re
import struct
import zlib
from collections.abc import Callable

ByteMutator = Callable[[bytes], bytes]

NUMBER = re.compile(rb"(?<![\w.])\d{1,10}(?![\w.])")
PDF_NAME = re.compile(rb"/[A-Za-z][A-Za-z0-9]*")
RTF_WORD = re.compile(rb"\\[a-z]{1,32}-?\d*")
PDF_NAMES = (b"/JS", b"/JavaScript", b"/OpenAction", b"/AA", b"/Launch", b"/URI", b"/EmbeddedFile", b"/XFA",
             b"/Filter", b"/FlateDecode", b"/ASCIIHexDecode", b"/LZWDecode", b"/JBIG2Decode", b"/DCTDecode",
             b"/ObjStm", b"/XRefStm", b"/Length", b"/Prev", b"/Encrypt", b"/Kids", b"/Parent", b"/Count",
             b"/Pages", b"/Page", b"/Type", b"/Names", b"/Outlines", b"/Annots", b"/Subtype", b"/Link",
             b"/GoToR", b"/SubmitForm", b"/RichMedia", b"/Catalog", b"/Root", b"/Size", b"/Index", b"/W")
RTF_WORDS = (b"\\object", b"\\objdata", b"\\objemb", b"\\objautlink", b"\\field", b"\\fldinst", b"\\*",
             b"\\bin999999", b"\\u-1", b"\\uc0", b"\\'81", b"\\ansicpg932", b"\\fcharset128", b"\\pict",
             b"\\datastore", b"\\objclass", b"\\result", b"\\bin", b"\\par", b"{", b"}", b"\\sn", b"\\sv")
INTERESTING = (b"0", b"1", b"-1", b"65535", b"65536", b"2147483647", b"2147483648", b"4294967295",
               b"4294967296", b"99999999999", b"00000000001")


def tokens(data: bytes, rng: random.Random) -> bytes:
    """Replace one number, PDF name or RTF control word."""
    choice = rng.randrange(3)
    regex, words = ((NUMBER, INTERESTING), (PDF_NAME, PDF_NAMES), (RTF_WORD, RTF_WORDS))[choice]
    found = []
    for match in regex.finditer(data):
        found.append(match)
        if len(found) >= 2000:
            break
    if not found:
        return data
    match = rng.choice(found)
    return data[:match.start()] + rng.choice(words) + data[match.end():]


def fix_png_crcs(data: bytes) -> bytes:
    """Recompute every chunk CRC after a mutation so the decoder, not the CRC check, meets it."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data
    out, at = bytearray(data), 8
    while at + 12 <= len(out):
        (length,) = struct.unpack_from(">I", out, at)
        end = at + 8 + length
        if end + 4 > len(out):
            break
        struct.pack_into(">I", out, end, zlib.crc32(bytes(out[at + 4:end])) & 0xFFFFFFFF)
        at = end + 4
    return bytes(out)


def fix_tar_checksums(data: bytes) -> bytes:
    """Recompute the header checksum of every block that looks like a tar header."""
    out = bytearray(data)
    for at in range(0, len(out) - 511, 512):
        block = out[at:at + 512]
        if block[257:262] != b"ustar":
            continue
        block[148:156] = b" " * 8
        out[at + 148:at + 156] = b"%06o\x00 " % (sum(block) & 0o777777)
    return bytes(out)


def regzip(data: bytes, rng: random.Random, inner: ByteMutator) -> bytes:
    """Mutate what a gzip stream holds and compress it again with a valid trailer."""
    try:
        payload = gzip.decompress(data)
    except (OSError, EOFError, zlib.error, ValueError):
        return inner(data)
    if len(payload) > 4_000_000:
        return inner(data)
    mutated = fix_tar_checksums(inner(payload)) if rng.random() < 0.7 else inner(payload)
    return gzip.compress(mutated, compresslevel=rng.choice((1, 6, 9)), mtime=0)
