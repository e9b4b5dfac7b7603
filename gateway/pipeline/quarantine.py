"""Originals stay in the quarantine (``DATA_DIR/quarantine``, 0600, named by content hash) for
``[serve] quarantine_days``, never forwarded; the supervisor purges them after that."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path


def keep_original(quarantine: Path, source: Path) -> None:
    """A hard link to the spooled file where possible (no copy), a copy otherwise."""
    with source.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    target = quarantine / digest
    if target.exists():
        return
    try:
        os.link(source, target)
    except FileExistsError:
        return
    except OSError:
        shutil.copyfile(source, target)
    target.chmod(0o600)
