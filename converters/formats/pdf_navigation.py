"""Places in the rebuilt PDF and the ways to reach them: destinations, the actions that may stay,
named destinations, the outline (bookmarks) and the page labels.

A destination names a page of the new document (an input page that is not in the page tree, or
a page number of another file, is no destination here). Of actions only GoTo to such a
destination, the page-turning Named actions and - on links and bookmarks - a URI to http, https or
mailto are written, each as a fresh dictionary with only its own keys (a chained /Next action is
never carried over). The outline is rebuilt item by item without recursion (a chain of a million
items, or one that loops, costs no stack), keeping the title, colour, style and where it goes.
"""

from __future__ import annotations

import decimal
import itertools
from collections.abc import Iterator

import pikepdf
from pikepdf import Array, Dictionary, Name

from converters.formats.pdf_active import SAFE_NAMED_ACTIONS, name_of, safe_uri
from converters.formats.pdf_copy import RESERVED_NAMES, Copier, Drop
from converters.formats.pdf_schema import DATA, names, shape

FIT_TYPES = frozenset({"/XYZ", "/Fit", "/FitH", "/FitV", "/FitR", "/FitB", "/FitBH", "/FitBV"})
MAX_ITEMS = 100_000  # bookmarks or named destinations: more is no document anyone reads
MAX_OUTLINE_DEPTH = 32
NUMBER = (int, float, decimal.Decimal)
PAGE_LABEL = shape("page label", types=("PageLabel",), data=("Type", "P", "St"), S=names("D", "R", "r", "A", "a"))



def _tree_leaves(tree: object, leaf_key: str) -> Iterator[list[tuple[object, object]]]:
    """The (key, value) pairs of each node of a name tree ("/Names") or number tree ("/Nums"), read
    through its /Kids in document order, each node once (a loop or a shared kid is met once)."""
    stack, seen = [tree], set()
    while stack:
        node = stack.pop()
        if not isinstance(node, Dictionary) or (node.is_indirect and node.objgen in seen):
            continue
        if node.is_indirect:
            seen.add(node.objgen)
        kids = node.get("/Kids")
        stack.extend(reversed(list(kids)) if isinstance(kids, Array) else [])
        pairs = node.get(leaf_key)
        items = list(pairs) if isinstance(pairs, Array) else []
        yield list(zip(items[0::2], items[1::2], strict=False))

class Navigation:
    def __init__(self, copier: Copier, pages: dict[tuple[int, int], pikepdf.Object]) -> None:
        self.copier = copier
        self.pages = pages  # input page -> the new page

    def destination(self, value: object) -> pikepdf.Object | None:
        """An explicit destination on a page of this document, a named one, or None."""
        if isinstance(value, Name):
            return Name(str(value))
        if isinstance(value, pikepdf.String):
            return pikepdf.String(bytes(value))
        if isinstance(value, Dictionary) and "/D" in value:  # a named destination's value
            value = value.get("/D")
        if not isinstance(value, Array) or len(value) < 2 or len(value) > 6:
            return None
        page = value[0]
        if not (isinstance(page, Dictionary) and page.is_indirect and page.objgen in self.pages):
            return None
        if name_of(value[1]) not in FIT_TYPES:
            return None
        rest = list(value)[2:]
        if not all(v is None or (isinstance(v, NUMBER) and not isinstance(v, bool)) for v in rest):
            return None
        return Array([self.pages[page.objgen], Name(str(value[1])), *rest])

    def action(self, value: object, *, links: bool) -> Dictionary | None:
        """The action as it may stay (``links``: a URI to http, https or mailto too), or None."""
        if isinstance(value, Array) and not links:  # an /OpenAction may be a destination itself
            dest = self.destination(value)
            return None if dest is None else Dictionary(S=Name.GoTo, D=dest)
        if not isinstance(value, Dictionary):
            return None
        kind = name_of(value.get("/S"))
        if kind == "/GoTo":
            dest = self.destination(value.get("/D"))
            return None if dest is None else Dictionary(S=Name.GoTo, D=dest)
        if kind == "/Named" and name_of(value.get("/N")) in SAFE_NAMED_ACTIONS:
            return Dictionary(S=Name.Named, N=Name(name_of(value.get("/N"))))
        if kind == "/URI" and links and safe_uri(value.get("/URI")):
            return Dictionary(S=Name.URI, URI=pikepdf.String(bytes(value.get("/URI"))))  # type: ignore[arg-type]
        return None

    def named_destinations(self, tree: object) -> Dictionary | None:
        """The /Dests name tree, read through its /Kids (each node once), written as one leaf."""
        entries: dict[bytes, pikepdf.Object] = {}
        for pairs in _tree_leaves(tree, "/Names"):
            if len(entries) >= MAX_ITEMS:
                break
            for key, value in pairs:
                dest = self.destination(value)
                if isinstance(key, pikepdf.String) and dest is not None:
                    entries.setdefault(bytes(key), dest)
        if not entries:
            return None
        flat = Array()
        for name in sorted(entries):
            flat.extend([pikepdf.String(name), entries[name]])
        return Dictionary(Names=flat)

    def old_style_destinations(self, dests: object) -> Dictionary | None:
        """The catalog's /Dests dictionary (PDF 1.1): name -> destination."""
        if not isinstance(dests, Dictionary):
            return None
        made = Dictionary()
        for key, member in list(dests.items())[:MAX_ITEMS]:
            if key in RESERVED_NAMES:  # a destination named /Type or /JS: readers take the key for what it says
                self.copier.note("pdf_unknown_structure_removed", f"a destination named {key[:40]}")
                continue
            dest = self.destination(member)
            if dest is not None:
                made[key] = dest
        return made or None

    def page_labels(self, tree: object) -> Dictionary | None:
        """The page label number tree, read through its /Kids, written as one leaf."""
        labels: dict[int, object] = {}
        for pairs in _tree_leaves(tree, "/Nums"):
            if len(labels) >= MAX_ITEMS:
                break
            for key, value in pairs:
                label = self.copier.copy(value, PAGE_LABEL)
                if isinstance(key, int) and not isinstance(key, bool) and key >= 0 and not isinstance(label, Drop):
                    labels.setdefault(key, label)
        if not labels:
            return None
        return Dictionary(Nums=Array([item for key in sorted(labels) for item in (key, labels[key])]))

    def outline(self, root: object) -> pikepdf.Object | None:
        """The bookmarks, item by item; an item whose action does not stay keeps its title."""
        if not isinstance(root, Dictionary):
            return None
        target = self.copier.target
        made_root = target.make_indirect(Dictionary(Type=Name.Outlines))
        seen: set[tuple[int, int]] = set()
        work: list[tuple[Dictionary, pikepdf.Object, int]] = [(root, made_root, 0)]
        count = 0
        while work:
            source_parent, made_parent, depth = work.pop()
            children: list[pikepdf.Object] = []
            item = source_parent.get("/First")
            while isinstance(item, Dictionary) and count < MAX_ITEMS:
                if item.is_indirect:
                    if item.objgen in seen:
                        break  # a loop in the chain
                    seen.add(item.objgen)
                count += 1
                made = self._outline_item(item, made_parent)
                children.append(made)
                if depth + 1 < MAX_OUTLINE_DEPTH and isinstance(item.get("/First"), Dictionary):
                    work.append((item, made, depth + 1))
                item = item.get("/Next")
            _link_siblings(made_parent, children, source_parent.get("/Count"))
        return made_root if "/First" in made_root else None

    def _outline_item(self, item: Dictionary, parent: pikepdf.Object) -> pikepdf.Object:
        made = self.copier.target.make_indirect(Dictionary(Parent=parent))
        title = item.get("/Title")
        made["/Title"] = pikepdf.String(bytes(title)) if isinstance(title, pikepdf.String) else pikepdf.String("")
        for key in ("/C", "/F"):
            value = self.copier.copy(item.get(key), DATA) if key in item else None
            if value is not None and not isinstance(value, Drop):
                made[key] = value
        dest = self.destination(item.get("/Dest"))
        if dest is not None:
            made["/Dest"] = dest
        else:
            action = self.action(item.get("/A"), links=True)
            if action is not None:
                made["/A"] = action
        return made


def _link_siblings(parent: pikepdf.Object, children: list[pikepdf.Object], count: object) -> None:
    if not children:
        return
    parent["/First"], parent["/Last"] = children[0], children[-1]
    for before, after in itertools.pairwise(children):
        before["/Next"], after["/Prev"] = after, before
    closed = isinstance(count, int) and count < 0  # a closed item keeps its children folded
    parent["/Count"] = -len(children) if closed else len(children)
