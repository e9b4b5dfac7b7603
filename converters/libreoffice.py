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


def convert_with_libreoffice(src: Path, target: str, work: Path, *, suffix: str) -> Path:
    """Convert ``src`` (copied under a name ending ``suffix``, so LibreOffice picks the right
    import filter) to ``target`` (a key of FILTERS); return the converted file inside ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    source = work / f"input{suffix}"
    shutil.copyfile(src, source)
    outdir = work / "converted"
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        command = [soffice(), "--headless", "--norestore", "--nolockcheck", "--nodefault", "--nologo",
                   f"-env:UserInstallation=file://{prepare_profile(Path(profile))}",
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
