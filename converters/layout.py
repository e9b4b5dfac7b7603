"""Where the outputs of one input land: within each folder, names unique regardless of letter
case, and a file never sharing its name with a folder.

Files are written as ``<stem>.<extension>`` (the converter picks the extension), folders come
from two places: the folders of an archive's member names (``docs/``), which are merged as
Windows would merge them, and nested archives, each of which gets a fresh folder named after it
(``a.txt.zip`` → ``a.txt``). A clash is resolved the way a case clash is, with a counter:
``a (2).txt`` or ``a.txt (2)``, deterministic for a given archive, nothing lost.
"""

from __future__ import annotations

from collections.abc import Callable

from converters.names import EXTENSION, stem_of


class Layout:
    def __init__(self) -> None:
        self.stems: dict[str, set[str]] = {}  # folder -> stems given (case-folded)
        self.files: dict[str, set[str]] = {}  # folder -> names of files written there (case-folded)
        self.folders: dict[str, dict[str, str]] = {}  # folder -> case-folded name -> the sub-folder's name
        self.counters: dict[tuple[str, str], int] = {}  # (kind:folder, wanted name) -> the last counter used

    def folder(self, path: str) -> str:
        """The folder that ``path`` (made of safe components) stands for, each component merged
        with a folder of the same name (any case) or, if a file holds that name, renamed."""
        placed = ""
        for component in filter(None, path.split("/")):
            name = self._sub_folder(placed, component)
            placed = f"{placed}/{name}" if placed else name
        return placed

    def _sub_folder(self, parent: str, component: str) -> str:
        known = self.folders.setdefault(parent, {})
        name = known.get(component.casefold())
        if name is None:
            files = self.files.get(parent, set())
            name = self._free(f"folder:{parent}", component, lambda candidate: candidate.casefold() not in files)
            known[component.casefold()] = known[name.casefold()] = name
        return name

    def stem(self, folder: str, name: str, *, makes_folder: bool) -> str:
        """A stem for ``name`` in ``folder`` that no other input there has, whose file cannot be
        named like a folder already there (``a`` when an ``a.txt`` folder exists becomes
        ``a (2)``); with ``makes_folder`` (an archive whose members go into a folder of that
        name) also not the name of any file or folder there."""
        stems = self.stems.setdefault(folder, set())
        known = self.folders.setdefault(folder, {})
        files = self.files.get(folder, set())

        def free(candidate: str) -> bool:
            key = candidate.casefold()
            if key in stems:
                return False
            if makes_folder:
                return key not in known and key not in files
            return not any(other.startswith(key + ".") and EXTENSION.fullmatch(other[len(key) + 1:])
                           for other in known)

        chosen = self._free(f"stem:{folder}", stem_of(name), free)
        stems.add(chosen.casefold())
        if makes_folder:
            known[chosen.casefold()] = chosen
        return chosen

    def wrote(self, folder: str, relative: str) -> None:
        """Record a file written at ``folder/relative`` (a converter's output)."""
        self.files.setdefault(folder, set()).add(relative.split("/", 1)[0].casefold())

    def _free(self, space: str, wanted: str, free: Callable[[str], bool]) -> str:
        """``wanted``, or the first free ``wanted (N)``; the count goes on from the last one
        given in the same ``space`` (what is taken only grows), so a thousand members of one name cost
        a thousand tries, not half a million."""
        key = (space, wanted.casefold())
        candidate, counter = wanted, self.counters.get(key, 1)
        if counter > 1 or not free(candidate):
            counter += 1
            candidate = f"{wanted} ({counter})"
            while not free(candidate):
                counter += 1
                candidate = f"{wanted} ({counter})"
        self.counters[key] = max(counter, 1)
        return candidate
