"""Safe file and member names: nothing can escape the output directory or fool a Windows user."""

from __future__ import annotations

import re
import unicodedata

UNSAFE_CHARACTERS = re.compile(r'[\x00-\x1f\x7f<>:"|?*\\/]')  # "/" too: a component never holds a path
BIDI_AND_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$|clock\$)\s*(\..*)?$",
                              re.IGNORECASE)
MAX_COMPONENT_BYTES = 200
MAX_STEM_BYTES = MAX_COMPONENT_BYTES - 32  # room for " (12)" and an extension such as ".tar.gz"
COMPOUND_EXTENSIONS = (".tar.gz", ".tar.bz2", ".tar.xz")
EXTENSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,19}")  # settingcontent-ms is one
EDGES = re.compile(r"^[\s.]+|[\s.]+$")


def safe_component(component: str) -> str:
    """One path component made safe for every file system the output may land on; applying it
    twice gives the same name (``is_safe_relative_path`` relies on that). A name cut to length
    keeps its extension."""
    cleaned = unicodedata.normalize("NFC", component)
    cleaned = BIDI_AND_INVISIBLE.sub("", cleaned)
    cleaned = _trimmed(UNSAFE_CHARACTERS.sub("_", cleaned))  # no hidden (dot) files either
    if WINDOWS_RESERVED.match(cleaned):
        cleaned = "_" + cleaned
    cleaned = shortened(cleaned, MAX_COMPONENT_BYTES, utf8_bytes=True)
    return cleaned if cleaned not in ("", ".", "..") else "_"


def shortened(name: str, limit: int, *, utf8_bytes: bool = False) -> str:
    """``name`` in at most ``limit`` characters (or UTF-8 bytes), its extension kept (a cut must
    never turn "….js" into a name without one) and no white space or dot left at the cut."""
    def size(text: str) -> int:
        return len(text.encode("utf-8")) if utf8_bytes else len(text)

    if size(name) <= limit:
        return name
    stem, extension = split_extension(name)
    suffix = f".{extension}" if extension else ""
    room = max(1, limit - size(suffix))
    return _trimmed(_truncated(stem, room) if utf8_bytes else stem[:room]) + suffix


def _trimmed(text: str) -> str:
    """Without white space (any kind: U+3000 too) or dots at either end."""
    return EDGES.sub("", text)


def _truncated(text: str, limit: int) -> str:
    """At most ``limit`` UTF-8 bytes, cut on a character boundary."""
    encoded = text.encode("utf-8")
    return encoded[:limit].decode("utf-8", "ignore") if len(encoded) > limit else text


def safe_relative_path(name: str) -> str:
    """An archive member name as a relative path with no absolute, drive or ``..`` parts."""
    parts = [p for p in re.split(r"[/\\]+", name) if p not in ("", ".", "..")]
    if parts and re.match(r"^[A-Za-z]:$", parts[0]):
        parts = parts[1:]
    safe = [safe_component(part) for part in parts]
    return "/".join(safe) if safe else "_"


def is_safe_relative_path(path: str) -> bool:
    """True when ``path`` is already in the form ``safe_relative_path`` produces."""
    if not path or path.startswith("/") or "\\" in path:
        return False
    return all(part == safe_component(part) and part not in (".", "..") for part in path.split("/"))


def stem_of(name: str) -> str:
    """File name without its (compound) extension, made safe and short enough that an extension
    and a counter still fit in one component."""
    return _trimmed(_truncated(_stem(name), MAX_STEM_BYTES)) or "_"


def _stem(name: str) -> str:
    base = re.split(r"[/\\]", name)[-1]
    lowered = base.lower()
    for compound in COMPOUND_EXTENSIONS:
        if lowered.endswith(compound) and len(base) > len(compound):
            return safe_component(base[: -len(compound)])
    if lowered.endswith(".tgz") and len(base) > 4:
        return safe_component(base[:-4])
    return safe_component(split_extension(base)[0])


def split_extension(base: str) -> tuple[str, str]:
    """``(stem, extension)`` of a file name, trailing dots and spaces dropped as Windows drops
    them; the extension (lower case) only when what follows the last dot looks like one (letters,
    digits, hyphens), so ``_.._etc_passwd`` has none."""
    stem, dot, suffix = _trimmed(base).rpartition(".")
    if not dot or not stem.strip(".") or not EXTENSION.fullmatch(suffix):
        return base, ""
    return stem, suffix.lower()
