"""Where an upload being disarmed stands: the uploads worker writes ``DATA_DIR/results/ID/progress.json``
(``{"stage": "scanning"|"disarming", "file": N, "files": M}``, N counting from 1) before the malware
scan of each file and before its disarming, and removes it once ``result.json`` is written; the
HTTP API and the console read it while the transfer is processing. It holds no content and no
names: only the stage and the counts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

Stage = Literal["scanning", "disarming"]
STAGES: tuple[Stage, ...] = ("scanning", "disarming")
PROGRESS_FILE = "progress.json"


def write_progress(folder: Path, stage: Stage, file: int, files: int) -> None:
    """Replace the note at once (a reader sees the old note or the new one, never half of one)."""
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f"{PROGRESS_FILE}.tmp"
    temporary.write_text(json.dumps({"stage": stage, "file": file, "files": files}), encoding="utf-8")
    os.replace(temporary, folder / PROGRESS_FILE)


def clear_progress(folder: Path) -> None:
    (folder / PROGRESS_FILE).unlink(missing_ok=True)
    (folder / f"{PROGRESS_FILE}.tmp").unlink(missing_ok=True)


def read_progress(folder: Path) -> dict[str, str | int] | None:
    """The note, checked: a known stage and 1 <= file <= files; None when there is none or it is not one."""
    try:
        note = json.loads((folder / PROGRESS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(note, dict) or note.get("stage") not in STAGES:
        return None
    file, files = note.get("file"), note.get("files")
    if not (isinstance(file, int) and isinstance(files, int) and not isinstance(file, bool)
            and not isinstance(files, bool) and 1 <= file <= files):
        return None
    return {"stage": str(note["stage"]), "file": file, "files": files}
