"""Shared types of the converter library: limits, findings, outputs, reports, the Converter ABC."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from converters.errors import DecompressionBomb, TooManyMembers
from converters.protocol import FrameWriter

Outcome = Literal["sanitized", "passed", "blocked"]
Method = Literal["rebuild", "rasterize"]
OUTCOMES: frozenset[str] = frozenset({"sanitized", "passed", "blocked"})
METHODS: frozenset[str] = frozenset({"rebuild", "rasterize"})

# Output type of a rasterised document: its pages went to the trusted side as pixels (see
# converters.protocol), which builds the PDF at the output's path in a directory of its own.
RASTER_FRAMES_TYPE = "application/x-gateway-raster-frames"


@dataclass(frozen=True)
class Limits:
    """Resource limits applied while parsing one input (and all its archive members)."""

    max_input_bytes: int = 512 * 1024 * 1024
    max_image_pixels: int = 100_000_000
    max_image_frames: int = 300
    max_pages: int = 1000
    raster_dpi: int = 150
    archive_max_depth: int = 4
    archive_max_members: int = 5000
    archive_max_total_bytes: int = 1024 * 1024 * 1024
    archive_max_ratio: int = 200
    archive_ratio_grace_bytes: int = 8 * 1024 * 1024
    text_max_bytes: int = 64 * 1024 * 1024

    def to_dict(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Limits:
        known = {k: int(v) for k, v in data.items() if k in cls.__dataclass_fields__}
        for key, value in known.items():
            if value <= 0:
                raise ValueError(f"limit {key} must be positive")
        return cls(**known)


@dataclass(frozen=True)
class Finding:
    code: str
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.detail}


@dataclass(frozen=True)
class Output:
    """A file written by a converter; ``path`` is relative to the job's output directory."""

    path: str
    type: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "type": self.type}


@dataclass
class Report:
    """What happened to one input (or one archive member)."""

    input: str
    type: str
    outcome: Outcome
    method: Method
    outputs: list[Output] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    reason: str | None = None
    reason_code: str | None = None
    members: list[Report] | None = None
    sha256: str = ""
    size: int = 0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "input": self.input,
            "sha256": self.sha256,
            "size": self.size,
            "type": self.type,
            "outcome": self.outcome,
            "method": self.method,
            "outputs": [o.to_dict() for o in self.outputs],
            "findings": [f.to_dict() for f in self.findings],
            "reason": self.reason,
            "reason_code": self.reason_code,
        }
        if self.members is not None:
            data["members"] = [m.to_dict() for m in self.members]
        return data


@dataclass(frozen=True)
class Conversion:
    """The result a converter returns on success (failures are raised as ConverterError)."""

    outcome: Outcome
    outputs: list[Output]
    findings: list[Finding] = field(default_factory=list)
    members: list[Report] | None = None


MemberProcessor = Callable[[Path, str, str, int], Report]
"""(extracted file, member name, output sub-directory relative to the job's output root, depth)"""


@dataclass
class Budget:
    """Expansion spent so far by one top-level input, across all nesting levels."""

    limits: Limits
    members: int = 0
    expanded_bytes: int = 0

    def add_member(self) -> None:
        self.members += 1
        if self.members > self.limits.archive_max_members:
            raise TooManyMembers(f"the archive holds more than {self.limits.archive_max_members} files")

    def add_bytes(self, count: int) -> None:
        self.expanded_bytes += count
        if self.expanded_bytes > self.limits.archive_max_total_bytes:
            raise DecompressionBomb("the archive expands to more than the allowed total size")


@dataclass(frozen=True)
class ConvertRequest:
    """Everything a converter needs besides the source file."""

    method: Method
    limits: Limits
    stem: str  # output file name without extension, already safe
    original_name: str  # the name the file arrived with (for messages and inner names)
    detected_type: str
    rel_dir: str = ""  # where this input's outputs go, relative to the job's output root
    depth: int = 0
    process_member: MemberProcessor | None = None  # set for archive recursion
    budget: Budget | None = None
    frames: FrameWriter | None = None  # where rasterised pages go (to the trusted side)
    warm_office: Any = None  # converters.formats.libreoffice.WarmOffice, started before the job arrived


class Converter(ABC):
    """One format family. ``convert`` writes only inside ``out_dir`` and raises ConverterError.
    Which detected types it handles is said once, in ``converters/registry.py``."""

    @abstractmethod
    def convert(self, src: Path, out_dir: Path, request: ConvertRequest) -> Conversion:
        """Disarm ``src`` into ``out_dir``."""
