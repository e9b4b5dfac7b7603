"""Rules every XML part of a rebuilt package goes through, whatever its kind: only elements the
published schemas define for their namespace and namespace-qualified attributes they define
(``element_names``, generated from ECMA-376 and Microsoft's extension schemas), no comments or
processing instructions, no element that embeds or runs something (OLE objects, ActiveX
controls, sub-documents, macro bindings, mail-merge data sources), no reference to a
relationship that was not kept, and no link attribute leading anywhere but the web, mail or a
place in the document."""

from __future__ import annotations

import re
from collections.abc import Callable

from lxml import etree

from converters.formats.ooxml.element_names import ATTRIBUTES, ELEMENTS
from converters.formats.ooxml.namespaces import MC_NS, allowed_namespace
from converters.formats.ooxml.relationships import safe_link

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
A_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
S_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
P_NS = "http://schemas.openxmlformats.org/presentationml/2006/main"
O_NS = "urn:schemas-microsoft-com:office:office"
V_NS = "urn:schemas-microsoft-com:vml"
XL_VML_NS = "urn:schemas-microsoft-com:office:excel"
WNE_NS = "http://schemas.microsoft.com/office/word/2006/wordml"
XML_NS = "http://www.w3.org/XML/1998/namespace"
EP_NS = "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"
SL_NS = "http://schemas.openxmlformats.org/schemaLibrary/2006/main"
PLACEHOLDER = "[埋め込みオブジェクトを削除しました / embedded object removed]"

# (namespace, local name) -> finding code: elements removed with everything inside them
ACTIVE_ELEMENTS: dict[tuple[str, str], str] = {
    (W_NS, "object"): "embedded_object_removed", (W_NS, "control"): "activex_removed",
    (W_NS, "subDoc"): "external_link_removed", (W_NS, "altChunk"): "embedded_object_removed",
    (W_NS, "fldData"): "field_removed", (W_NS, "entryMacro"): "vba_macro_removed",
    (W_NS, "exitMacro"): "vba_macro_removed", (W_NS, "mailMerge"): "data_connection_removed",
    (W_NS, "attachedTemplate"): "remote_template_removed", (W_NS, "docVars"): "document_variables_removed",
    (O_NS, "OLEObject"): "embedded_object_removed",
    (S_NS, "oleObjects"): "embedded_object_removed", (S_NS, "controls"): "activex_removed",
    (S_NS, "webPublishItems"): "external_link_removed", (S_NS, "externalReferences"): "external_link_removed",
    (S_NS, "customProperties"): "part_removed", (S_NS, "webPublishObjects"): "external_link_removed",
    (S_NS, "functionGroups"): "excel4_macro_removed",
    # what those containers hold, wherever it stands (a part is read by name, not by where the schema puts it)
    (S_NS, "oleObject"): "embedded_object_removed", (S_NS, "control"): "activex_removed",
    (S_NS, "externalReference"): "external_link_removed", (S_NS, "webPublishItem"): "external_link_removed",
    (S_NS, "webPublishObject"): "external_link_removed",
    (P_NS, "control"): "activex_removed", (P_NS, "controls"): "activex_removed",
    (P_NS, "oleObj"): "embedded_object_removed",
    (A_NS, "videoFile"): "embedded_media_removed", (A_NS, "audioFile"): "embedded_media_removed",
    (A_NS, "quickTimeFile"): "embedded_media_removed", (A_NS, "wavAudioFile"): "embedded_media_removed",
    (A_NS, "audioCd"): "embedded_media_removed",
    (W_NS, "saveThroughXslt"): "external_link_removed", (W_NS, "frameset"): "external_link_removed",
    # Word's XML schema library: where to load a schema and its manifest from (a path, share or URL)
    (SL_NS, "schemaLibrary"): "external_link_removed", (SL_NS, "schema"): "external_link_removed",
    ("http://schemas.microsoft.com/office/word/2012/wordprocessingDrawing", "webVideoPr"): "embedded_media_removed",
    ("http://schemas.microsoft.com/office/powerpoint/2010/main", "media"): "embedded_media_removed",
}
WHOLE_NAMESPACES: dict[str, str] = {WNE_NS: "vba_macro_removed"}  # Word's toolbars, key maps, macro data
LINK_ATTRIBUTES = frozenset({"href", "src", "althref", "url"})
# PowerPoint click actions that stay in the presentation (everything else runs or opens something)
SAFE_ACTIONS = ("ppaction://hlinksldjump", "ppaction://hlinkshowjump", "ppaction://customshow",
                "ppaction://noaction")
# elements that show a picture: without their picture they stay as an empty frame
PICTURE_REFERENCES = frozenset({"blip", "imagedata", "fill", "stroke", "fillRef"})
# the HTML-like text formatting a legacy VML text box holds (Excel writes <div> in comment shapes)
VML_TEXT_ELEMENTS = frozenset({"div", "font", "span", "p", "br", "b", "i", "u"})
HLINK_ELEMENTS = frozenset({"hlinkClick", "hlinkHover", "hlinkMouseOver"})
# the only elements whose r:id may name a link outside the package (a kept web or mail hyperlink
# relationship): a picture, sound, font, header, chart data or pivot source naming it instead is
# fetched from that address when the document opens (LibreOffice loads an a:blip r:link that names
# a hyperlink relationship), so such a reference goes as if its relationship had not been kept
LINK_OWNERS = frozenset({f"{{{W_NS}}}hyperlink", f"{{{S_NS}}}hyperlink",
                         *(f"{{{A_NS}}}{local}" for local in HLINK_ELEMENTS)})
Note = Callable[[str, str], None]


def remove_element(element: etree._Element) -> None:
    parent = element.getparent()
    if parent is not None:
        _keep_tail(element)
        parent.remove(element)


def _keep_tail(element: etree._Element) -> None:
    """lxml moves text after an element with it; keep it where it was."""
    if element.tail and element.tail.strip():
        previous = element.getprevious()
        parent = element.getparent()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        elif parent is not None:
            parent.text = (parent.text or "") + element.tail
    element.tail = None


def unwrap_element(element: etree._Element) -> None:
    """Replace an element by its children (a link's text stays as text)."""
    parent = element.getparent()
    if parent is None:
        return
    index = parent.index(element)
    for offset, child in enumerate(list(element)):
        parent.insert(index + offset, child)
    remove_element(element)


_ACTIVE_TAGS = {f"{{{ns}}}{local}": code for (ns, local), code in ACTIVE_ELEMENTS.items()}
_HLINK_TAGS = sorted(f"{{{A_NS}}}{local}" for local in HLINK_ELEMENTS)
_ACTIVE_ITER = [*_ACTIVE_TAGS, *(f"{{{ns}}}*" for ns in WHOLE_NAMESPACES), f"{{{XL_VML_NS}}}*"]
# the schemas' names less those that embed or run something (removed with their own finding first)
KNOWN_ELEMENTS = frozenset(f"{{{ns}}}{local}" for ns, names in ELEMENTS.items() if ns not in WHOLE_NAMESPACES
                           for local in names if (ns, local) not in ACTIVE_ELEMENTS)
# o:gfxdata: a whole DrawingML package, zipped and base64-encoded in a VML shape's attribute (Word
# draws the VML shape without it); nothing in it would be rebuilt, so it is not kept
EMBEDDED_ATTRIBUTES = frozenset({f"{{{O_NS}}}gfxdata"})
KNOWN_ATTRIBUTES = frozenset(f"{{{ns}}}{local}" for ns, names in ATTRIBUTES.items() if ns not in WHOLE_NAMESPACES
                             for local in names) - EMBEDDED_ATTRIBUTES
_CHOICE = f"{{{MC_NS}}}Choice"
_DECLARATION = re.compile(rb"""xmlns(?::[^\s=]+)?\s*=\s*["']([^"']*)["']""")
_RELATIONSHIP_PREFIX = re.compile(rb"xmlns:([^\s=]+)\s*=\s*[\"']" + re.escape(R_NS.encode()) + rb"[\"']")
_HYPERLINK_BASE = f"{{{EP_NS}}}HyperlinkBase"
# attributes naming a relationship: any in the relationships namespace, and VML's o:relid
_RELID = f"{{{O_NS}}}relid"
_XPATH_RELATIONSHIP_ATTRIBUTES = etree.XPath(
    f"//@*[namespace-uri() = '{R_NS}' or (namespace-uri() = '{O_NS}' and local-name() = 'relid')]")


def _namespace(name: str) -> str:
    return name[1:name.index("}")] if name.startswith("{") else ""


def _local_name(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def _attached(element: etree._Element, root: etree._Element) -> bool:
    """Still in the part (not inside something removed earlier)."""
    node: etree._Element | None = element
    while node is not None:
        if node is root:
            return True
        node = node.getparent()
    return False


def clean_markup(root: etree._Element, part: str, kept_ids: set[str], note: Note, raw: bytes = b"",
                 link_ids: frozenset[str] = frozenset()) -> None:
    """Apply the part-independent rules to ``root`` in place. ``kept_ids`` are the part's kept
    relationships, ``link_ids`` those of them that lead outside the package (web and mail
    hyperlinks): only a hyperlink element may name one. When the part's bytes (``raw``) declare
    only allowed namespaces and name no link attribute, lxml finds the few elements to act on by
    itself; otherwise one pass collects every element and attribute name first."""
    for node in list(root.iter(etree.Comment, etree.ProcessingInstruction)):
        remove_element(node)
    declared = [match.decode("utf-8", "replace") for match in _DECLARATION.findall(raw)]
    quick = bool(raw) and all(allowed_namespace(uri) and "&" not in uri for uri in declared)
    suspect: set[str] = set()
    lowered = raw.lower()
    if not quick or any(word in lowered for word in (b"href", b"src", b"url")):
        tags, attributes = _names(root)
        unknown = [tag for tag in tags if not allowed_namespace(_namespace(tag))]
        for element in list(root.iter(*unknown)) if unknown else []:  # (iter() without tags is everything)
            if element is not root and _attached(element, root):
                note("unknown_markup_removed", f"{part}: {_namespace(element.tag)[:80]}")
                remove_element(element)
        suspect = {name for name in attributes if not allowed_namespace(_namespace(name)) or (
            _local_name(name).lower() in LINK_ATTRIBUTES and _namespace(name) != R_NS)}
    vml = etree.QName(root).localname == "xml" and not etree.QName(root).namespace
    for element in list(root.iter("{}*")):  # an element in no namespace: nothing Office defines,
        if vml and etree.QName(element).localname in VML_TEXT_ELEMENTS:  # but a VML text box's text
            continue
        if element is not root and _attached(element, root):
            note("unknown_markup_removed", f"{part}: element without a namespace")
            remove_element(element)
    for data in list(root.iter(f"{{{XL_VML_NS}}}ClientData")):
        if data.get("ObjectType", "").strip().lower() != "note" and _attached(data, root):
            # a form control (button, check box, list, ...): it runs a macro or writes into cells,
            # and its properties part is not kept; the shape goes with it (a comment's note stays)
            shape = data.getparent()
            note("activex_removed", f"{part}: form control {data.get('ObjectType', '')[:20]}")
            remove_element(shape if shape is not None and shape is not root else data)
    for element in list(root.iter(*_ACTIVE_ITER)):
        if element is root or not _attached(element, root) or (
                _namespace(element.tag) == XL_VML_NS and not _local_name(element.tag).startswith("Fmla")):
            continue
        note(_active_code(element.tag), f"{part}: {_local_name(element.tag)}")
        _placeholder_for(element)
        remove_element(element)
    _keep_known(root, part, note)
    for base in root.iter(_HYPERLINK_BASE):
        if (base.text or "").strip():
            note("external_link_removed", f"{part}: HyperlinkBase {base.text.strip()[:80]}")
            base.text = None  # relative links would resolve against it
    if suspect:
        _clean_attributes(root, suspect, part, note)
    for command in list(root.iter(f"{{{P_NS}}}cmd")):
        if _attached(command, root) and command.get("type", "").strip().lower() != "call":
            # an animation step that sends an OLE verb (opens or runs an embedded object) or an
            # event; "call" only plays media on the slide
            note("active_link_removed", f"{part}: timing command {command.get('type', '')[:20]}")
            step = next(command.iterancestors(f"{{{P_NS}}}par"), None)
            remove_element(step if step is not None else command)
    for element in list(root.iter(*_HLINK_TAGS)):
        if _attached(element, root) and not _safe_action(element):
            note("active_link_removed", f"{part}: {element.get('action', '')[:60]}")
            remove_element(element)
    if not quick or _uses_relationship_attributes(raw) or b"relid" in raw:
        local_ids = kept_ids - link_ids
        dangling: dict[int, etree._Element] = {}
        for value in _XPATH_RELATIONSHIP_ATTRIBUTES(root):
            if not isinstance(value, etree._ElementUnicodeResult) or not value.strip():
                continue
            owner = value.getparent()
            if owner is None or value.strip() in (kept_ids if owner.tag in LINK_OWNERS else local_ids):
                continue
            if value.strip() in link_ids:
                note("external_link_removed", f"{part}: {_local_name(owner.tag)} names the outside link "
                                              f"{value.strip()[:40]} (only a hyperlink may)")
            dangling[id(owner)] = owner
        for element in dangling.values():
            if element is not root and _attached(element, root):
                _drop_reference(element, kept_ids if element.tag in LINK_OWNERS else local_ids)


def known_element(tag: str) -> bool:
    """Whether an element (``{namespace}local``, Transitional names) is one the schemas define and
    the rebuild writes out."""
    return tag in KNOWN_ELEMENTS


def _keep_known(root: etree._Element, part: str, note: Note) -> None:
    """Keep known good: an element its namespace's schema does not define goes with everything
    inside it - inside a markup-compatibility Choice the whole Choice goes, so that Office takes
    the next Choice or the Fallback, as an application that does not understand it does; a
    namespace-qualified attribute the schemas do not define goes too. (Elements in no namespace
    were judged above.)"""
    unknown_tags: set[str] = set()
    unknown_attributes: set[str] = set()
    for element in root.iter():
        tag = element.tag
        if not isinstance(tag, str):
            continue
        if tag not in KNOWN_ELEMENTS and tag.startswith("{"):
            unknown_tags.add(tag)
        for name in element.keys():
            if name.startswith("{") and name not in KNOWN_ATTRIBUTES:
                unknown_attributes.add(name)
    for element in list(root.iter(*unknown_tags)) if unknown_tags else []:
        if element is root or not _attached(element, root):
            continue
        choice = next(element.iterancestors(_CHOICE), None)
        where = " (in a markup-compatibility choice; the fallback stays)" if choice is not None else ""
        note("unknown_markup_removed", f"{part}: element {_local_name(element.tag)} of {_namespace(element.tag)[:80]}"
             f"{where}")
        remove_element(choice if choice is not None else element)
    if unknown_attributes:
        for element in root.iter():
            for name in unknown_attributes.intersection(element.keys()):
                if allowed_namespace(_namespace(name)):  # (others go silently below, as before)
                    note("unknown_markup_removed", f"{part}: attribute {_local_name(name)} of {_namespace(name)[:80]}")
                del element.attrib[name]


def _uses_relationship_attributes(raw: bytes) -> bool:
    """Whether an attribute in the relationships namespace appears in the part's bytes."""
    prefixes = _RELATIONSHIP_PREFIX.findall(raw)
    return any(re.search(rb"\s" + re.escape(prefix) + rb":[\w.-]+\s*=", raw) for prefix in prefixes)


def _names(root: etree._Element) -> tuple[set[str], set[str]]:
    """Every element and attribute name the part uses."""
    tags: set[str] = set()
    attributes: set[str] = set()
    for node in root.iter():
        if isinstance(node.tag, str):
            tags.add(node.tag)
            attributes.update(node.keys())
    return tags, attributes


def _active_code(tag: str) -> str:
    namespace = _namespace(tag)
    if namespace in WHOLE_NAMESPACES:
        return WHOLE_NAMESPACES[namespace]
    if namespace == XL_VML_NS:
        return "vba_macro_removed" if _local_name(tag) == "FmlaMacro" else "excel_external_formula_removed"
    return _ACTIVE_TAGS[tag]


def _clean_attributes(root: etree._Element, suspect: set[str], part: str, note: Note) -> None:
    for element in root.iter():
        for name in suspect.intersection(element.keys()):
            if not allowed_namespace(_namespace(name)):
                del element.attrib[name]
                continue
            value = element.attrib[name].strip()
            # a link may lead to the web or mail when clicked; a source (VML's src) is loaded when
            # the document opens, so no address at all stays there (a web beacon otherwise)
            fetched = _local_name(name).lower() == "src"
            if value and not value.startswith("#") and (fetched or not safe_link(value)):
                note("external_link_removed", f"{part}: {_local_name(name)}={value[:80]}")
                del element.attrib[name]


def _safe_action(element: etree._Element) -> bool:
    """The action's verb (what stands before its arguments) is one that stays in the show, exactly:
    ppaction://hlinksldjump/../program is no jump."""
    action = "".join(ch for ch in element.get("action", "") if ch > " ").lower()
    return not action or action.partition("?")[0] in SAFE_ACTIONS


def _drop_reference(element: etree._Element, kept_ids: set[str]) -> None:
    """An element naming a relationship that was not kept (its removal was reported with the
    relationship): a picture keeps its frame, a link its text, anything else goes."""
    local = etree.QName(element).localname
    if local in PICTURE_REFERENCES:
        for name in list(element.attrib):
            if (name.startswith(f"{{{R_NS}}}") or name == _RELID) and element.attrib[name].strip() not in kept_ids:
                del element.attrib[name]
    elif etree.QName(element).namespace == W_NS and local == "hyperlink":
        unwrap_element(element)
    else:
        _placeholder_for(element)
        remove_element(element)


def _placeholder_for(element: etree._Element) -> None:
    """An embedded object in Word leaves a visible note in its run."""
    run = element.getparent()
    if run is None:
        return
    if etree.QName(run).localname not in ("r",):
        run = run.getparent()
    if run is not None and isinstance(run.tag, str) and etree.QName(run).localname == "r" and (
            etree.QName(run).namespace == W_NS) and etree.QName(element).localname in ("object", "OLEObject",
                                                                                       "control", "pict"):
        text = etree.SubElement(run, f"{{{W_NS}}}t")
        text.text = PLACEHOLDER
        text.set(f"{{{XML_NS}}}space", "preserve")
