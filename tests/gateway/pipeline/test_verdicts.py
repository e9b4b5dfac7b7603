"""The inspector's verdict confirms an output only as exactly the type the converter declared."""

from __future__ import annotations

import json

import pytest

from converters.base import Output
from gateway.pipeline.verdicts import parse_verdicts

_DOC = "application/vnd.openxmlformats-officedocument"


def verdict(found: str) -> bytes:
    return json.dumps([{"path": "x", "type": found, "clean": True, "problems": []}]).encode()


@pytest.mark.parametrize(("declared", "found", "agrees"), [
    (f"{_DOC}.wordprocessingml.template", f"{_DOC}.wordprocessingml.template", True),
    (f"{_DOC}.presentationml.slideshow", f"{_DOC}.presentationml.slideshow", True),
    # the old check let any unidentified package confirm an Office output
    (f"{_DOC}.wordprocessingml.document", "application/vnd.openxmlformats-package", False),
    (f"{_DOC}.wordprocessingml.template", f"{_DOC}.wordprocessingml.document", False),
    (f"{_DOC}.spreadsheetml.template", "application/vnd.ms-excel.template.macroEnabled.12", False),
    ("text/plain", "inode/x-empty", True),
])
def test_office_outputs_must_be_exactly_the_declared_kind(declared: str, found: str, agrees: bool) -> None:
    problems = parse_verdicts(verdict(found), [Output("out", declared)])["out"]
    assert (problems == []) is agrees


def test_a_text_output_libmagic_calls_csv_is_text() -> None:
    """Found by fuzzing: HTML turned into text with a comma on every line was blocked."""
    from gateway.pipeline.verdicts import types_agree

    assert types_agree("text/plain", "text/csv")
    assert not types_agree("text/plain", "application/zip")
