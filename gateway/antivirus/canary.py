"""The EICAR anti-virus test file, used to prove that an engine really scans.

Every antivirus product reports EICAR as a test signature. An ICAP server that lets it through is
not scanning (c-icap's virus_scan answers 204 for everything when its engine failed to load), so
its status is "not available". The string is assembled at run time so that this source file itself
is not flagged by a scanner reading the repository.
"""

from __future__ import annotations

_HEAD = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$"
_TAIL = "EICAR-STANDARD-ANTIVIRUS-" + "TEST-FILE!$H+H*"


def eicar() -> bytes:
    """The 68-byte EICAR test file."""
    return (_HEAD + _TAIL).encode("ascii")
