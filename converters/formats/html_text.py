"""HTML to readable plain text: no script, style, comments, hidden elements or form controls.

Links become ``text (URL)`` with the URL defanged (``hxxps://example[.]com``) by default,
because mail clients on the LGWAN side re-link plain URLs; images become ``[画像: alt]``. Only web
links (http, https, ftp), mailto and targets without a scheme are shown: a ``file:`` link, a UNC
path (``\\\\host\\share``), ``ms-msdt:``, ``search-ms:`` or any other scheme a click would hand
to a program is replaced by a note naming only its scheme, whatever the defang setting
(``javascript:``, ``vbscript:`` and ``data:`` leave nothing). ``neutralise_paths`` does the same for
text: a ``file:`` URL or a UNC path written as text is one Outlook makes clickable.

Parsed by libxml2's HTML parser (lxml, in recovery mode, no network, no entity loading) with a
callback target: each tag and text run arrives as an event, no tree is built.

What comes out is decoded text, so character references are already characters: control
characters are removed from it (``&#x1B;`` is an escape character once decoded), and a ``<`` that
would open a tag again (``&lt;script&gt;``, or an ``href`` shown as written) is written as the
full-width ``＜`` (``neutralise_markup``), so no browser, mail client or type detector reads
the text as markup.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from lxml import etree

from converters.formats.link_rules import link_safe

SKIPPED = frozenset({"script", "style", "noscript", "template", "head", "title", "select",
                     "textarea", "button", "object", "embed", "applet", "iframe", "frame",
                     "frameset", "svg", "math", "canvas", "audio", "video", "map"})
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                  "param", "source", "track", "wbr"})
BLOCK = frozenset({"p", "div", "section", "article", "header", "footer", "main", "aside", "nav",
                   "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "dt", "dd", "table",
                   "tr", "blockquote", "pre", "form", "fieldset", "address", "figure", "hr",
                   "center", "caption"})
HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d])",
                          re.IGNORECASE)
URL_SCHEME = re.compile(r"^(https?|ftp)(://)", re.IGNORECASE)
ANY_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
SHOWN_SCHEMES = frozenset({"http", "https", "ftp", "mailto"})
SILENT_SCHEMES = frozenset({"javascript", "vbscript", "data"})
INVISIBLE = re.compile(r"[\s\x00-\x1f\x7f\u200b-\u200f\u2028-\u202e\u2060\ufeff]")  # browsers skip them in a scheme
# text a mail client turns into a link to a file or share: "file:" before a slash or backslash, and
# a UNC path ("\\\\host\\share"), written as "file[:]" and with full-width backslashes
FILE_URL = re.compile(r"(?i)\bfile:(?=[/\\])")
UNC_PATH = re.compile(r"(?<![\\\w])\\\\(?=[^\\\s])")


def neutralise_paths(text: str) -> str:
    """``text`` with no ``file:`` URL or UNC path a mail client would turn into a link."""
    return UNC_PATH.sub("\uff3c\uff3c", FILE_URL.sub("file[:]", text))


def link_target(href: str, defang: bool) -> str | None:
    """What is shown of a link's target: a web link (defanged when asked), a mail address, a
    target without a scheme (made harmless as text), a note naming any other scheme, or None."""
    target = href.strip()
    if not target or target.startswith("#"):
        return None
    scheme_text = INVISIBLE.sub("", target)
    if scheme_text.startswith(("\\\\", "//", "\\/", "/\\")):
        return "[リンク先を削除 / link removed: UNC]"
    found = ANY_SCHEME.match(scheme_text)
    scheme = found.group(1).lower() if found else ""
    if scheme in SILENT_SCHEMES:
        return None
    if (scheme and scheme not in SHOWN_SCHEMES) or not link_safe(scheme_text):
        return f"[リンク先を削除 / link removed: {scheme[:20]}]"
    if found and target[:len(found.group(0))].lower() != found.group(0).lower():  # "ht\ttp:" is read as http:
        return f"[リンク先を削除 / link removed: {scheme}]"
    return neutralise_paths(defang_url(target) if defang and scheme != "mailto" else target)


def defang_url(url: str) -> str:
    """``https://www.example.com/a`` -> ``hxxps://www[.]example[.]com/a``."""
    match = URL_SCHEME.match(url)
    if not match:
        return url.replace(".", "[.]") if "://" in url else url
    scheme = match.group(1).lower().replace("t", "x")
    rest = url[match.end():]
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.replace('.', '[.]')}{slash}{path}"


# a web address as plain text, which mail clients make a link of: with its scheme, or from "www."
PLAIN_URL = re.compile(r"(?i)\b(?:(?:https?|ftp)://|www\.)[^\s<>\"'\u3000-\u303f\uff08\uff09]+")


def defang_text(text: str) -> str:
    """``text`` with every web address in it defanged as a link's target is: ``hxxps://www[.]example[.]jp``,
    ``www[.]example[.]jp`` (what follows the host is kept; Japanese after a URL stays as it was)."""

    def defang(match: re.Match[str]) -> str:
        found = match.group(0)
        if "://" in found:
            return defang_url(found)
        host, slash, path = found.partition("/")
        return f"{host.replace('.', '[.]')}{slash}{path}"

    return PLAIN_URL.sub(defang, text)


WHITESPACE = re.compile(r"\s+")
NO_ATTRIBUTES: Mapping[str, str] = MappingProxyType({})
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# "<" where a browser, libmagic or an XML reader would open a tag, end tag, comment, declaration
# or processing instruction: before "!" or "?", or before a letter ("ſ", "K", "ı" and "İ" match ASCII
# letters when a reader ignores case) after an optional "/", spaces allowed in between
TAG_OPEN = re.compile(r"<(?=\s*(?:[!?]|/?\s*[A-Za-z\u0130\u0131\u017f\u212a]))")
# kept as written: "<https://...>" and "<taro@example.jp>" (how plain text and mail quote addresses)
AUTOLINK = re.compile(r"(?:https?|ftp)://|mailto:|[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+>",
                      re.ASCII | re.IGNORECASE)
# ... unless the address begins with an element name that makes a document markup (<html@x.jp>)
MARKUP_NAME = re.compile(r"(?:html|head|body|script|style|iframe|frame|frameset|object|embed|applet|svg|"
                         r"math|meta|link|base|form|title|table|xml|img|a)(?![a-z0-9])", re.IGNORECASE)
FULLWIDTH_LESS_THAN = "\uff1c"


def neutralise_markup(text: str) -> tuple[str, int]:
    """``text`` with every ``<`` that could open markup written as ``＜``, and how many were."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        after = match.end()
        if AUTOLINK.match(text, after) and not MARKUP_NAME.match(text, after):
            return "<"
        count += 1
        return FULLWIDTH_LESS_THAN

    return TAG_OPEN.sub(replace, text), count


class _TextExtractor:
    """The parser's target: ``start``/``end``/``data`` events in, text out of ``close``."""

    def __init__(self, defang: bool) -> None:
        self.defang = defang
        self.parts: list[str] = []
        self.stack: list[tuple[str, bool, str | None]] = []  # (tag, hidden, href)
        self.hidden_depth = 0
        self.pre_depth = 0
        self.link_text: list[str] | None = None

    def _open(self, tag: str, hidden: bool, href: str | None) -> None:
        self.stack.append((tag, hidden, href))
        if hidden:
            self.hidden_depth += 1
        if tag == "pre":
            self.pre_depth += 1

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        tag = tag.lower() if isinstance(tag, str) else ""
        attributes = {str(name).lower(): value or "" for name, value in attrib.items()} if attrib else NO_ATTRIBUTES
        hidden = (tag in SKIPPED or "hidden" in attributes
                  or ("style" in attributes and bool(HIDDEN_STYLE.search(attributes["style"])))
                  or (attributes.get("aria-hidden") == "true" and tag != "img"))
        if tag in VOID:
            if self.hidden_depth or hidden:
                return
            if tag == "br":
                self.parts.append("\n")
            elif tag == "hr":
                self.parts.append("\n" + "-" * 20 + "\n")
            elif tag == "img":
                alt = attributes.get("alt", "").strip()
                self._emit(f"[画像: {alt}]" if alt else "[画像]")
            return
        href = attributes.get("href") if tag == "a" else None
        self._open(tag, hidden, href)
        if self.hidden_depth:
            return
        if tag in BLOCK or tag == "li":
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("・")
        if tag in ("td", "th"):
            self.parts.append("\t")
        if tag == "a":
            self.link_text = []

    def end(self, tag: str) -> None:
        tag = tag.lower() if isinstance(tag, str) else ""
        if tag in VOID:
            return
        while self.stack:
            open_tag, hidden, href = self.stack.pop()
            if hidden:
                self.hidden_depth -= 1
            if open_tag == "pre":
                self.pre_depth -= 1
            if open_tag == "a" and not self.hidden_depth:
                self._close_link(href)
            if open_tag == tag:
                break
        if not self.hidden_depth and tag in BLOCK:
            self.parts.append("\n")

    def _close_link(self, href: str | None) -> None:
        text = "".join(self.link_text or []).strip()
        self.link_text = None
        shown = link_target(href, self.defang) if href else None
        if shown is not None and shown.rstrip("/") != text.rstrip("/") and defang_url(text) != shown:
            self.parts.append(f" ({shown})")

    def _emit(self, text: str) -> None:
        self.parts.append(text)
        if self.link_text is not None:
            self.link_text.append(text)

    def data(self, data: str) -> None:
        if self.hidden_depth:
            return
        self._emit(data if self.pre_depth else WHITESPACE.sub(" ", data))

    def comment(self, text: str) -> None:
        """Comments are never shown."""

    def close(self) -> str:
        while self.stack:  # elements left open at the end
            self.end(self.stack[-1][0])
        raw = "".join(self.parts)
        lines = [line.strip(" ") for line in raw.split("\n")]
        collapsed = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
        return collapsed.strip() + "\n"


def html_to_text(html: str, *, defang: bool = True) -> str:
    """Readable text of ``html`` (see the module docstring); malformed markup is recovered."""
    cleaned = CONTROL.sub("", html)
    if not cleaned.strip():
        return "\n"
    parser = etree.HTMLParser(target=_TextExtractor(defang), recover=True, no_network=True, remove_comments=True,
                              remove_pis=True, huge_tree=False, default_doctype=False)
    parser.feed(cleaned)
    text: str = parser.close()
    return neutralise_markup(CONTROL.sub("", text))[0]  # after decoding: &#x1B; is a control character now
