"""Errors of the antivirus package. Each carries a stable ``code``.

Scans do not raise for engine problems (they return an ``unavailable`` result); these are raised
by the calls that ask an engine about itself (version, options, ping) and by unreadable input.

Tree::

    AntivirusError          antivirus_error
    ├── EngineUnavailable   scan_unavailable
    ├── EngineProtocolError scan_unavailable   (an answer the client cannot read)
    └── ScanSourceError     scan_source_unreadable
"""

from __future__ import annotations


class AntivirusError(Exception):
    code = "antivirus_error"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EngineUnavailable(AntivirusError):
    """The engine cannot be reached, timed out, or closed the connection."""

    code = "scan_unavailable"


class EngineProtocolError(EngineUnavailable):
    """The engine answered something this client does not understand."""


class ScanSourceError(AntivirusError):
    """The file (or object) to scan cannot be opened or read."""

    code = "scan_source_unreadable"
