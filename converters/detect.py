"""Type detection by content: libmagic plus structural probes (ZIP members, OLE streams,
signatures at fixed offsets). The file name's extension is only compared, never trusted."""

from __future__ import annotations

import re
import struct
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import magic
import olefile

from converters.errors import ConverterError, CorruptFile
from converters.formats.encoded_blocks import first_in_file
from converters.formats.zip_damage import zip_damage
from converters.names import split_extension
from converters.ooxml_package import OOXML_GENERIC, ooxml_package_type

# Types whose content is dangerous whatever the converter: (mime, block code, plain reason).
EXECUTABLE = "application/x-dosexec"
BLOCKED_KINDS: dict[str, tuple[str, str]] = {
    EXECUTABLE: ("executable", "Windows executable program"),
    "application/x-executable": ("executable", "Linux executable program"),
    "application/x-sharedlib": ("executable", "Linux shared library"),
    "application/x-pie-executable": ("executable", "Linux executable program"),
    "application/x-mach-binary": ("executable", "macOS executable program"),
    "application/x-msi": ("installer", "Windows installer package (MSI)"),
    "application/vnd.ms-cab-compressed": ("installer", "Windows cabinet archive"),
    "application/x-ms-shortcut": ("shortcut", "Windows shortcut (LNK) that can launch programs"),
    "application/x-iso9660-image": ("disk_image", "disk image (ISO)"),
    "application/x-raw-disk-image": ("disk_image", "disk image (IMG)"),
    "application/x-vhd": ("disk_image", "virtual hard disk (VHD)"),
    "application/x-vhdx": ("disk_image", "virtual hard disk (VHDX)"),
    "application/x-apple-diskimage": ("disk_image", "disk image (DMG)"),
    "application/onenote": ("onenote", "OneNote notebook, a common malware carrier"),
    "application/vnd.ms-htmlhelp": ("chm", "compiled HTML help (CHM) that can run scripts"),
    "application/java-archive": ("java_archive", "Java archive that can run code"),
    "application/java-vm": ("java_archive", "Java class file"),
    "application/vnd.android.package-archive": ("executable", "Android application package"),
    "application/x-shellscript": ("script", "shell script"),
    "image/svg+xml": ("svg", "SVG image, which can carry scripts (accepted only with --method rasterize)"),
    "application/x-rar": ("unsupported_archive", "RAR archive (not supported; cannot be inspected)"),
    "application/vnd.ms-outlook": ("unsupported_type", "Outlook message file (not supported yet)"),
    "message/rfc822": ("mail_message", "a saved mail message, whose encoded attachments a mail program "
                       "would open; mail crosses through the gateway's mail channel"),
    "application/mbox": ("mail_message", "a mailbox file, whose encoded attachments a mail program "
                         "would open; mail crosses through the gateway's mail channel"),
    "text/x-uuencode": ("encoded_attachment", "text carrying a uuencoded file"),
    "text/x-yenc": ("encoded_attachment", "text carrying a yEnc-encoded file"),
    "application/mac-binhex40": ("encoded_attachment", "text carrying a BinHex-encoded file"),
}

SCRIPT_EXTENSIONS = frozenset(
    "js jse vbs vbe wsf wsh wsc ps1 psm1 psd1 bat cmd hta scr reg pif com cpl msc "
    "inf sct scf url lnk vb jar application gadget msh msh1 msh2 mshxml appref-ms "
    "settingcontent-ms library-ms search-ms iqy slk xll wll ade adp".split()
)

_OOXML = "application/vnd.openxmlformats-officedocument"

# Extensions that the same content legitimately carries (first one is used for output names).
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "application/pdf": ("pdf",),
    "image/jpeg": ("jpg", "jpeg", "jpe", "jfif"),
    "image/png": ("png",),
    "image/gif": ("gif",),
    "image/bmp": ("bmp", "dib"),
    "image/tiff": ("tif", "tiff"),
    "image/webp": ("webp",),
    "text/plain": ("txt", "text", "log", "md", "csv", "tsv", "json", "xml", "ini", "cfg"),
    "text/csv": ("csv", "tsv", "txt"),
    "text/html": ("html", "htm", "xhtml", "mht", "mhtml", "txt"),
    "text/rtf": ("rtf", "doc"),
    "application/vnd.oasis.opendocument.text": ("odt",),
    "application/vnd.oasis.opendocument.spreadsheet": ("ods",),
    "application/vnd.oasis.opendocument.presentation": ("odp",),
    "application/vnd.oasis.opendocument.graphics": ("odg",),
    "application/vnd.oasis.opendocument.text-template": ("ott",),
    "application/vnd.oasis.opendocument.spreadsheet-template": ("ots",),
    "application/vnd.oasis.opendocument.presentation-template": ("otp",),
    "application/msword": ("doc", "dot"),
    "application/vnd.ms-excel": ("xls", "xlt", "xla"),
    "application/vnd.ms-powerpoint": ("ppt", "pps", "pot"),
    "application/zip": ("zip",),
    "application/x-7z-compressed": ("7z",),
    "application/x-tar": ("tar",),
    "application/gzip": ("gz", "tgz"),
    "application/x-bzip2": ("bz2", "tbz2", "tbz"),
    "application/x-xz": ("xz", "txz"),
    f"{_OOXML}.wordprocessingml.document": ("docx", "docm"),
    f"{_OOXML}.wordprocessingml.template": ("dotx", "dotm"),
    "application/vnd.ms-word.document.macroEnabled.12": ("docm",),
    "application/vnd.ms-word.template.macroEnabled.12": ("dotm",),
    f"{_OOXML}.spreadsheetml.sheet": ("xlsx", "xlsm"),
    f"{_OOXML}.spreadsheetml.template": ("xltx", "xltm"),
    "application/vnd.ms-excel.sheet.macroEnabled.12": ("xlsm",),
    "application/vnd.ms-excel.template.macroEnabled.12": ("xltm",),
    "application/vnd.ms-excel.addin.macroEnabled.12": ("xlam",),
    "application/vnd.ms-excel.sheet.binary.macroEnabled.12": ("xlsb",),
    f"{_OOXML}.presentationml.presentation": ("pptx", "pptm"),
    f"{_OOXML}.presentationml.slideshow": ("ppsx", "ppsm"),
    f"{_OOXML}.presentationml.template": ("potx", "potm"),
    "application/vnd.ms-powerpoint.presentation.macroEnabled.12": ("pptm",),
    "application/vnd.ms-powerpoint.slideshow.macroEnabled.12": ("ppsm",),
    "application/vnd.ms-powerpoint.template.macroEnabled.12": ("potm",),
}


@dataclass(frozen=True)
class Detection:
    type: str
    blocked_code: str | None = None
    blocked_reason: str | None = None


@lru_cache(maxsize=1)
def _magic() -> magic.Magic:
    return magic.Magic(mime=True)


def _read_at(path: Path, offset: int, size: int) -> bytes:
    with path.open("rb") as handle:
        if offset < 0:
            length = handle.seek(0, 2)
            offset = max(0, length + offset)
        handle.seek(offset)
        return handle.read(size)


def _signature_type(head: bytes, path: Path) -> str | None:
    """Signatures libmagic misses or names inconsistently."""
    if head.startswith(b"MZ"):
        return EXECUTABLE
    if head.startswith(b"\x7fELF"):
        return "application/x-executable"
    if head[:4] in (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe",
                    b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe"):
        # 0xCAFEBABE is both a fat Mach-O and a Java class; both are blocked.
        return "application/x-mach-binary"
    if head.startswith(b"L\x00\x00\x00\x01\x14\x02\x00"):
        return "application/x-ms-shortcut"
    if head.startswith(b"\xe4\x52\x5c\x7b\x8c\xd8\xa7\x4d\xae\xb1\x53\x78\xd0\x29\x96\xd3"):
        return "application/onenote"
    if head.startswith(b"ITSF"):
        return "application/vnd.ms-htmlhelp"
    if head.startswith(b"MSCF"):
        return "application/vnd.ms-cab-compressed"
    if head.startswith(b"vhdxfile"):
        return "application/x-vhdx"
    if head.startswith(b"Rar!\x1a\x07"):
        return "application/x-rar"
    for offset in (0x8001, 0x8801, 0x9001):
        if _read_at(path, offset, 5) == b"CD001":
            return "application/x-iso9660-image"
    tail = _read_at(path, -512, 512)
    if tail.startswith(b"conectix"):
        return "application/x-vhd"
    if tail.startswith(b"koly"):
        return "application/x-apple-diskimage"
    if head.startswith(b"conectix"):
        return "application/x-vhd"
    return None


ODF_DECLARED = re.compile(r"application/vnd\.oasis\.opendocument\.[a-z0-9.+-]{1,60}")


def _zip_type(path: Path) -> Detection:
    """What a ZIP container holds, from its member names and package files; damage found on the
    way (zipfile cannot read the directory, a package file or ``mimetype``) blocks it with the
    reason it deserves."""
    try:
        with zip_damage("the ZIP archive"), zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if any(name.lower() == "[content_types].xml" for name in names):
                return _package_type(archive)
            if "mimetype" in names:
                declared = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
                if declared.startswith("application/vnd.oasis.opendocument"):
                    if ODF_DECLARED.fullmatch(declared) is None:
                        return Detection("application/zip", "corrupt_file",
                                         "the OpenDocument package's mimetype entry is damaged")
                    return Detection(declared)
                if declared == "application/epub+zip":
                    return Detection(declared)
    except ConverterError as exc:
        return Detection("application/zip", exc.code, exc.reason)
    if "AndroidManifest.xml" in names or "classes.dex" in names:
        return Detection("application/vnd.android.package-archive")
    if "META-INF/MANIFEST.MF" in names or any(n.endswith(".class") for n in names):
        return Detection("application/java-archive")
    return Detection("application/zip")


def _package_type(archive: zipfile.ZipFile) -> Detection:
    try:
        with zip_damage("the document package"):
            return Detection(ooxml_package_type(archive))
    except ConverterError as exc:
        return Detection(OOXML_GENERIC, exc.code, exc.reason)
    except ValueError:
        return Detection(OOXML_GENERIC)


def _check_ole_header(path: Path) -> None:
    """The compound file header's sector sizes (MS-CFB 2.2): 512 or 4096-byte sectors and 64-byte
    mini sectors are all there is. olefile believes any shift and allocates a sector of 2**shift
    bytes (a header saying 41 asked for 2 TB)."""
    with path.open("rb") as handle:
        header = handle.read(512)
    if len(header) < 512:
        raise CorruptFile("the Office (OLE) file is cut short (no complete header)")
    sector_shift, mini_shift = struct.unpack_from("<HH", header, 30)
    if sector_shift not in (9, 12) or mini_shift != 6:
        raise CorruptFile("the Office (OLE) file's header declares impossible sector sizes")


def _ole_type(path: Path) -> str:
    """The kind of an OLE compound file by its streams; CorruptFile when olefile cannot read it."""
    _check_ole_header(path)
    try:
        with olefile.OleFileIO(str(path)) as ole:
            streams = {"/".join(entry).lower() for entry in ole.listdir(streams=True, storages=True)}
            root_clsid = (ole.root.clsid or "").upper() if ole.root is not None else ""
    except (OSError, ValueError, IndexError, KeyError, struct.error) as exc:  # what olefile raises on damage
        raise CorruptFile("the Office (OLE) file is damaged or cut short") from exc
    except RecursionError as exc:  # olefile walks the storage tree recursively; a damaged one loops
        raise CorruptFile("the Office (OLE) file's directory is damaged (its storages nest without end)") from exc
    if root_clsid in ("000C1084-0000-0000-C000-000000000046", "000C1086-0000-0000-C000-000000000046"):
        return "application/x-msi"
    if "encryptedpackage" in streams and "encryptioninfo" in streams:
        return "application/x-ooxml-encrypted"
    if "worddocument" in streams:
        return "application/msword"
    if "workbook" in streams or "book" in streams:
        return "application/vnd.ms-excel"
    if "powerpoint document" in streams:
        return "application/vnd.ms-powerpoint"
    if any(s.startswith("__substg1.0_") for s in streams):
        return "application/vnd.ms-outlook"
    return "application/x-ole-storage"


MAIL_HEADER = re.compile(rb"^(from |received:|return-path:|from:|to:|subject:|date:|message-id:|"
                         rb"mime-version:|content-type:|delivered-to:|x-[a-z0-9-]+:)", re.IGNORECASE)
ENCODED_TYPES = {"uuencode": "text/x-uuencode", "uuencode-base64": "text/x-uuencode", "yenc": "text/x-yenc",
                 "binhex": "application/mac-binhex40"}


def _looks_like_mail(head: bytes) -> bool:
    """Two or more header lines before the first blank line, one of them a mail header."""
    block = head[:8192].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].split(b"\n")
    headers = [line for line in block if MAIL_HEADER.match(line)]
    return len(headers) >= 2 and len(headers) * 2 >= len([ln for ln in block if not ln[:1].isspace()])


def _text_refinement(head: bytes, mime: str, path: Path) -> str:
    lowered = head[:4096].lower()
    if lowered.startswith(b"#!"):
        return "application/x-shellscript"
    if mime in ("message/rfc822", "application/mbox") or _looks_like_mail(head):
        return "message/rfc822"
    encoded = first_in_file(path)  # anywhere in the file, any line end, with or without an end line
    if encoded is not None:
        return ENCODED_TYPES[encoded.kind]
    if b"<svg" in lowered and (b"<?xml" in lowered[:200] or lowered.lstrip().startswith(b"<svg")):
        return "image/svg+xml"
    html_markers = (b"<html", b"<!doctype html", b"<script", b"<body", b"<iframe", b"<head")
    if mime == "text/html" or any(marker in lowered for marker in html_markers):
        return "text/html"
    return mime


def detect(path: Path) -> Detection:
    """Detect the content type of ``path``; blocked kinds carry a code and a plain reason."""
    with path.open("rb") as handle:
        head = handle.read(65536)
    mime = _signature_type(head, path)
    if mime is None:
        mime = _magic().from_file(str(path))
        if mime == "application/octet-stream" and len(head) == 1 and (head.isalnum() or head in b"\n\r\t .,-"):
            mime = "text/plain"  # libmagic calls a file of one byte data, even "1" or a line end
        if mime in ("application/zip", "application/x-zip-compressed") or head.startswith(b"PK\x03\x04"):
            found = _zip_type(path)
            if found.blocked_code is not None:
                return found
            mime = found.type
        elif head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
            try:
                mime = _ole_type(path)
            except CorruptFile as exc:
                return Detection("application/x-ole-storage", exc.code, exc.reason)
        elif mime.startswith("text/") or mime in ("application/json", "application/xml", "message/rfc822",
                                                  "application/mbox"):
            mime = _text_refinement(head, mime if mime.startswith("text/") else "text/plain", path)
        elif mime == "application/x-gzip":
            mime = "application/gzip"
        elif mime == "application/x-ustar":  # libmagic's name for a tar whose header checksum fails
            mime = "application/x-tar"
        elif mime == "image/x-ms-bmp":
            mime = "image/bmp"
        elif mime == "inode/x-empty":
            mime = "text/plain"
    blocked = BLOCKED_KINDS.get(mime)
    if blocked is not None:
        return Detection(mime, blocked[0], blocked[1])
    return Detection(mime)


def extension_of(name: str) -> str:
    return split_extension(name.rsplit("/", 1)[-1])[1]


def extension_agrees(name: str, mime: str) -> bool:
    """True when the name's extension is one this content normally carries (or there is none)."""
    ext = extension_of(name)
    if not ext or mime not in EXTENSIONS:
        return True
    return ext in EXTENSIONS[mime]


def output_extension(mime: str) -> str:
    return EXTENSIONS.get(mime, ("bin",))[0]
