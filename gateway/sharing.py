"""What the service shares with one group, and nothing else: everything it writes is its owner's
alone (umask 077, gateway/startup.py), except the LGWAN side's pickup folders - delivered mail
(``DATA_DIR/lgwan/``) and disarmed uploads (``DATA_DIR/lgwan-files/``) - which ``[serve]
delivery_group`` may read, so that an LGWAN-side file server or mail pickup running as another
user can take them without reading originals, the spool or the audit log. Folders are group
readable with the setgid bit (new entries keep the group); files 0640."""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

SHARED_DIRECTORY_MODE = 0o2750
SHARED_FILE_MODE = 0o640


def group_id(name: str) -> int | None:
    """The group's id, None for no group; KeyError for a group this host does not have."""
    return grp.getgrnam(name).gr_gid if name else None


def share(path: Path, gid: int | None) -> None:
    """``path`` (a file or a folder) made readable by ``gid``; nothing when there is no group."""
    if gid is None:
        return
    os.chown(path, -1, gid, follow_symlinks=False)
    mode = os.lstat(path).st_mode
    if stat.S_ISDIR(mode):
        os.chmod(path, SHARED_DIRECTORY_MODE)
    elif stat.S_ISREG(mode):
        os.chmod(path, SHARED_FILE_MODE)


def share_tree(root: Path, gid: int | None) -> None:
    """``root`` and everything under it (symbolic links are left alone)."""
    if gid is None or not root.exists():
        return
    share(root, gid)
    for directory, folders, files in os.walk(root):
        for name in [*folders, *files]:
            entry = Path(directory) / name
            if not entry.is_symlink():
                share(entry, gid)


def share_deliveries(data_dir: Path, gid: int | None) -> None:
    """At start (after the data directory was made private): the group may pass through the data
    directory (0710: not list it) and read the two pickup folders and what is already in them."""
    if gid is None:
        return
    os.chown(data_dir, -1, gid)
    os.chmod(data_dir, 0o710)  # noqa: S103 (its group may pass, not list: the point of delivery_group)
    for folder in ("lgwan", "lgwan-files"):
        (data_dir / folder).mkdir(mode=0o700, exist_ok=True)
        share_tree(data_dir / folder, gid)
