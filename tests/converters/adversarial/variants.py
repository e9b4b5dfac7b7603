"""What one adversarial input is: a construct written one way in one place of one base document."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tests.converters.adversarial.opc import Package


@dataclass(frozen=True)
class Variant:
    klass: str  # word-field, excel-formula, package, powerpoint
    construct: str  # what reaches outside or runs (DDEAUTO, WEBSERVICE, PE-as-image ...)
    variant: str  # how it is written (split-at-3, entity, strict ...)
    location: str  # where it stands (body, footnote, definedName, x14-dv ...)
    base: str  # the harmless base document it is planted in
    build: Callable[[Package], None]  # edits a copy of the base in place

    @property
    def id(self) -> str:
        return f"{self.klass}/{self.construct}/{self.variant}/{self.location}@{self.base}"

    @property
    def extension(self) -> str:
        return self.base.rsplit(".", 1)[-1]

    def make(self, base: Package) -> bytes:
        package = base.copy()
        self.build(package)
        return package.to_bytes()
