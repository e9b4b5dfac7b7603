"""HTML to readable plain text: no script, style, comments, hidden elements or form controls.

Links become ``text (URL)`` with the URL defanged (``hxxps://example[.]com``) by default,
because mail clients on the LGWAN side re-link plain URLs; images become ``[画像: alt]``.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

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


def defang_url(url: str) -> str:
    """``https://www.example.com/a`` -> ``hxxps://www[.]example[.]com/a``."""
    match = URL_SCHEME.match(url)
    if not match:
        return url.replace(".", "[.]") if "://" in url else url
    scheme = match.group(1).lower().replace("t", "x")
    rest = url[match.end():]
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.replace('.', '[.]')}{slash}{path}"


class _TextExtractor(HTMLParser):
    def __init__(self, defang: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.defang = defang
        self.parts: list[str] = []
        self.stack: list[tuple[str, bool, str | None]] = []  # (tag, hidden, href)
        self.hidden_depth = 0
        self.link_text: list[str] | None = None

    def _open(self, tag: str, hidden: bool, href: str | None) -> None:
        self.stack.append((tag, hidden, href))
        if hidden:
            self.hidden_depth += 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        hidden = (tag in SKIPPED or "hidden" in attributes
                  or bool(HIDDEN_STYLE.search(attributes.get("style", "")))
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

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        while self.stack:
            open_tag, hidden, href = self.stack.pop()
            if hidden:
                self.hidden_depth -= 1
            if open_tag == "a" and not self.hidden_depth:
                self._close_link(href)
            if open_tag == tag:
                break
        if not self.hidden_depth and tag in BLOCK:
            self.parts.append("\n")

    def _close_link(self, href: str | None) -> None:
        text = "".join(self.link_text or []).strip()
        self.link_text = None
        if href and not href.startswith(("#", "javascript:", "data:", "vbscript:")):
            shown = defang_url(href) if self.defang else href
            if shown.rstrip("/") != text.rstrip("/") and defang_url(text) != shown:
                self.parts.append(f" ({shown})")

    def _emit(self, text: str) -> None:
        self.parts.append(text)
        if self.link_text is not None:
            self.link_text.append(text)

    def handle_data(self, data: str) -> None:
        if self.hidden_depth:
            return
        inside_pre = any(tag == "pre" for tag, _, _ in self.stack)
        self._emit(data if inside_pre else re.sub(r"\s+", " ", data))

    def text(self) -> str:
        raw = "".join(self.parts)
        lines = [line.strip(" ") for line in raw.split("\n")]
        collapsed = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
        return collapsed.strip() + "\n"


def html_to_text(html: str, *, defang: bool = True) -> str:
    parser = _TextExtractor(defang)
    parser.feed(html)
    parser.close()
    return parser.text()
