"""LibreOffice headless, one document per soffice process, inside the converter's sandbox.

Each run gets a fresh profile in the sandbox's private /tmp with macros disabled at the highest
security level and link updates off; the sandbox has no network. The caller gets the converted
file or a ConverterError; soffice's own output is never trusted beyond that (the result is
re-parsed by the OOXML rebuild or the PDF rasteriser).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from converters.errors import ConverterError, CorruptFile

TIMEOUT_SECONDS = 180
PROFILE_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel"
 oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution"
 oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks"
 oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Content/Update"><prop oor:name="Link" oor:op="fuse">
<value>2</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Content/Update"><prop oor:name="Link" oor:op="fuse">
<value>2</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="UseLocking" oor:op="fuse">
<value>false</value></prop></item>
</oor:items>
"""
# target format -> LibreOffice filter
FILTERS = {
    "docx": "docx:MS Word 2007 XML",
    "xlsx": "xlsx:Calc MS Excel 2007 XML",
    "pptx": "pptx:Impress MS PowerPoint 2007 XML",
    "pdf": "pdf",
}


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        raise ConverterError("LibreOffice is not installed; this document cannot be converted",
                             code="converter_unavailable")
    return found


def prepare_profile(root: Path) -> Path:
    user = root / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(PROFILE_SETTINGS, encoding="utf-8")
    return root


class WarmOffice:
    """A LibreOffice started before its document is known, in the same sandbox as the job. The
    first conversion hands its command line to this instance (LibreOffice does that for a second
    start with the same profile), which converts that one document and exits: one document per
    process, without the start-up wait."""

    def __init__(self, root: Path) -> None:
        self.profile = prepare_profile(root)
        self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
            [soffice(), "--headless", "--invisible", "--norestore", "--nolockcheck", "--nodefault", "--nologo",
             f"-env:UserInstallation=file://{self.profile}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "HOME": str(root)}, start_new_session=True)

    def wait_ready(self, timeout: float) -> bool:
        """True once the instance listens on its pipe (in this sandbox's private /tmp)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            if any(Path(tempfile.gettempdir()).glob("OSL_PIPE_*SingleOfficeIPC_*")):
                return True
            time.sleep(0.05)
        return False

    def take(self) -> Path | None:
        """The profile to hand a conversion to, once; None when not available."""
        if self.process is None or self.process.poll() is not None:
            return None
        self.process = None
        return self.profile


def convert_with_libreoffice(src: Path, target: str, work: Path, *, suffix: str,
                             warm: WarmOffice | None = None) -> Path:
    """Convert ``src`` (copied under a name ending ``suffix``, so LibreOffice picks the right
    import filter) to ``target`` (a key of FILTERS); return the converted file inside ``work``.
    A warm instance, when given and unused, does the conversion; otherwise a fresh one starts."""
    work.mkdir(parents=True, exist_ok=True)
    source = work / f"input{suffix}"
    shutil.copyfile(src, source)
    outdir = work / "converted"
    warm_profile = warm.take() if warm is not None else None
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        chosen = warm_profile or prepare_profile(Path(profile))
        command = [soffice(), "--headless", "--norestore", "--nolockcheck", "--nodefault", "--nologo",
                   f"-env:UserInstallation=file://{chosen}",
                   "--convert-to", FILTERS[target], "--outdir", str(outdir), str(source)]
        try:
            subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=TIMEOUT_SECONDS, check=False, env={**os.environ, "HOME": profile},
                           start_new_session=True)
        except subprocess.TimeoutExpired as exc:
            raise ConverterError("LibreOffice took too long to open the document", code="timeout") from exc
    result = outdir / f"input.{target}"
    if not result.is_file() or result.stat().st_size == 0:
        raise CorruptFile("LibreOffice could not open the document (damaged or unsupported)")
    source.unlink(missing_ok=True)
    return result
