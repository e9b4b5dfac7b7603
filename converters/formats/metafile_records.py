"""What a metafile rewrite hands back, and the words the report uses for the records it leaves out."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

# kinds of records left out (the report's words; stable enough for tests, not for machines)
ABORT_PROC = "SETABORTPROC escapes"
ESCAPE = "escapes"
COMMENT = "comments"
EMF_PLUS = "EMF+ records (comments)"
COLOUR_SPACE = "colour profiles and colour spaces"
OPENGL = "OpenGL records"
FONT_MAPPING = "font mapping records"
MALFORMED = "records shorter than their contents"
NOT_KEPT = "record types not kept"

MAX_RECORDS = 2_000_000


class Unkept(Exception):
    """A record that is left out; ``kind`` says what it was (None: nothing the report needs to
    name, such as a reference to an object that was itself left out)."""

    def __init__(self, kind: str | None) -> None:
        super().__init__(kind or "")
        self.kind = kind


@dataclass
class Rewritten:
    """A metafile written anew: its bytes, how many records of each kind were left out and how
    many bytes followed its end record."""

    data: bytes = b""
    removed: Counter[str] = field(default_factory=Counter)
    trailing: int = 0

    def summary(self) -> str:
        """``comments x3, escapes x1`` - what was left out, for a finding's detail."""
        return ", ".join(f"{kind} x{count}" for kind, count in sorted(self.removed.items()))

    def findings(self, last: str) -> tuple[tuple[str, str], ...]:
        """The (code, detail) pairs the rewrite reports; ``last``: what ends the metafile, for the detail."""
        notes: list[tuple[str, str]] = []
        if self.removed:
            notes.append(("metafile_records_removed", self.summary()))
        if self.trailing:
            notes.append(("image_trailing_data_removed", f"{self.trailing} bytes after the metafile's {last}"))
        return tuple(notes)
