"""Rules every XML part of a rebuilt package goes through, whatever its kind: only elements and
attributes of the allowed namespace families, no comments or processing instructions, no
element that embeds or runs something (OLE objects, ActiveX controls, sub-documents, macro
bindings, mail-merge data sources), no reference to a relationship that was not kept, and no
link attribute leading anywhere but the web, mail or a place in the document."""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from converters.ooxml.namespaces import allowed_namespace
from converters.ooxml.relationships import safe_link

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
    (P_NS, "control"): "activex_removed", (P_NS, "controls"): "activex_removed",
    (P_NS, "oleObj"): "embedded_object_removed",
    (A_NS, "videoFile"): "embedded_media_removed", (A_NS, "audioFile"): "embedded_media_removed",
    (A_NS, "quickTimeFile"): "embedded_media_removed", (A_NS, "wavAudioFile"): "embedded_media_removed",
    (A_NS, "audioCd"): "embedded_media_removed",
}
WHOLE_NAMESPACES: dict[str, str] = {WNE_NS: "vba_macro_removed"}  # Word's toolbars, key maps, macro data
LINK_ATTRIBUTES = frozenset({"href", "src", "althref", "url"})
# PowerPoint click actions that stay in the presentation (everything else runs or opens something)
SAFE_ACTIONS = ("ppaction://hlinksldjump", "ppaction://hlinkshowjump", "ppaction://customshow",
                "ppaction://noaction")
# elements that show a picture: without their picture they stay as an empty frame
PICTURE_REFERENCES = frozenset({"blip", "imagedata", "fill", "stroke", "fillRef"})
HLINK_ELEMENTS = frozenset({"hlinkClick", "hlinkHover", "hlinkMouseOver"})
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


def clean_markup(root: etree._Element, part: str, kept_ids: set[str], note: Note) -> None:
    """Apply the part-independent rules to ``root`` in place (parents before their children; a
    removed element's subtree is not visited)."""
    for node in list(root.iter(etree.Comment, etree.ProcessingInstruction)):
        remove_element(node)
    stack = [root]
    while stack:
        element = stack.pop()
        stack.extend(reversed([child for child in _visit(element, part, kept_ids, note)
                               if isinstance(child.tag, str)]))


def _visit(element: etree._Element, part: str, kept_ids: set[str], note: Note) -> list[etree._Element]:
    """Apply the rules to one element; returns the elements to visit next (its children, or none
    when it was removed)."""
    qname = etree.QName(element)
    namespace = qname.namespace or ""
    key = (namespace, qname.localname)
    if not allowed_namespace(namespace):
        note("unknown_markup_removed", f"{part}: {namespace[:80]}")
        remove_element(element)
        return []
    if namespace in WHOLE_NAMESPACES or key in ACTIVE_ELEMENTS:
        note(WHOLE_NAMESPACES.get(namespace) or ACTIVE_ELEMENTS[key], f"{part}: {qname.localname}")
        _placeholder_for(element)
        remove_element(element)
        return []
    if namespace == XL_VML_NS and qname.localname.startswith("Fmla"):
        note("vba_macro_removed" if qname.localname == "FmlaMacro" else "excel_external_formula_removed",
             f"{part}: {qname.localname}")
        remove_element(element)
        return []
    if key == (EP_NS, "HyperlinkBase") and (element.text or "").strip():
        note("external_link_removed", f"{part}: HyperlinkBase {element.text.strip()[:80]}")
        element.text = None  # relative links would resolve against it
    _clean_attributes(element, part, note)
    if namespace == A_NS and qname.localname in HLINK_ELEMENTS and not _safe_action(element):
        note("active_link_removed", f"{part}: {element.get('action', '')[:60]}")
        remove_element(element)
        return []
    if _references_dropped(element, kept_ids):
        return _drop_reference(element, kept_ids)
    return list(element)


def _clean_attributes(element: etree._Element, part: str, note: Note) -> None:
    for name in list(element.attrib):
        attr = etree.QName(name)
        if not allowed_namespace(attr.namespace or ""):
            del element.attrib[name]
            continue
        if attr.localname.lower() in LINK_ATTRIBUTES and attr.namespace != R_NS:
            value = element.attrib[name].strip()
            if value and not value.startswith("#") and not safe_link(value):
                note("external_link_removed", f"{part}: {attr.localname}={value[:80]}")
                del element.attrib[name]


def _safe_action(element: etree._Element) -> bool:
    action = "".join(ch for ch in element.get("action", "") if ch > " ").lower()
    return not action or action.startswith(SAFE_ACTIONS)


def _references_dropped(element: etree._Element, kept_ids: set[str]) -> bool:
    return any(name.startswith(f"{{{R_NS}}}") and value.strip() and value.strip() not in kept_ids
               for name, value in element.attrib.items())


def _drop_reference(element: etree._Element, kept_ids: set[str]) -> list[etree._Element]:
    """An element naming a relationship that was not kept (its removal was reported with the
    relationship): a picture keeps its frame, a link its text, anything else goes. Returns the
    elements still to visit."""
    local = etree.QName(element).localname
    if local in PICTURE_REFERENCES:
        for name in list(element.attrib):
            if name.startswith(f"{{{R_NS}}}") and element.attrib[name].strip() not in kept_ids:
                del element.attrib[name]
        return list(element)
    if etree.QName(element).namespace == W_NS and local == "hyperlink":
        children = list(element)
        unwrap_element(element)
        return children
    _placeholder_for(element)
    remove_element(element)
    return []


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
