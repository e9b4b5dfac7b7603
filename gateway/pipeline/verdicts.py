"""Validation of the inspector's verdicts (they come from a sandboxed process: untrusted)."""

from __future__ import annotations

import json
from typing import Any

from converters.base import Output
from gateway.errors import ReportInvalid

# the inspector's content type that confirms each declared output type
_SAME_FAMILY = {
    # libmagic calls text with commas on every line text/csv; the text rules run either way, and
    # formula cells are judged by the output's name (.txt opens in a text editor)
    "text/plain": {"text/plain", "text/csv", "inode/x-empty"},
    "text/csv": {"text/csv", "text/plain"},
    "image/bmp": {"image/bmp", "image/x-ms-bmp"},
}


def types_agree(declared: str, found: str) -> bool:
    """An Office package must be exactly the declared kind, as the inspector read it from the main
    part's content type: a template is a template, a slide show a slide show; a macro-enabled or
    unidentified package confirms nothing."""
    return found in _SAME_FAMILY.get(declared, {declared})


def parse_verdicts(raw: bytes, outputs: list[Output]) -> dict[str, list[str]]:
    """Problems per output path; an output is clean only when the inspector positively said so
    and found the type the converter declared."""
    try:
        verdicts: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ReportInvalid("inspector report is not valid JSON") from exc
    if not isinstance(verdicts, list) or len(verdicts) != len(outputs):
        raise ReportInvalid("inspector report does not cover every output")
    result: dict[str, list[str]] = {}
    for output, verdict in zip(outputs, verdicts, strict=True):
        if not isinstance(verdict, dict):
            result[output.path] = ["unreadable verdict"]
            continue
        problems = verdict.get("problems")
        found = verdict.get("type")
        if not isinstance(problems, list) or not all(isinstance(p, str) for p in problems):
            result[output.path] = ["unreadable verdict"]
        elif problems or verdict.get("clean") is not True:
            result[output.path] = [p[:200] for p in problems[:20]] or ["not confirmed clean"]
        elif not isinstance(found, str) or not types_agree(output.type, found):
            result[output.path] = [f"content is {str(found)[:80]}, not {output.type}"]
        else:
            result[output.path] = []
    return result
