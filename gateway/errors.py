"""Errors of the gateway service. Each carries a stable ``code``.

Tree::

    GatewayError                    gateway_error
    ├── ConfigError                 config_invalid
    ├── SandboxUnavailable          sandbox_unavailable
    ├── AuditKeyMismatch            audit_key_mismatch
    ├── AuditUnavailable            audit_unavailable
    └── SandboxFailure              sandbox_failure
        ├── SandboxTimeout          timeout
        ├── SandboxResourceLimit    resource_limit
        ├── SandboxCrash            converter_crashed
        └── ReportInvalid           converter_report_invalid
"""

from __future__ import annotations


class GatewayError(Exception):
    code = "gateway_error"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConfigError(GatewayError):
    code = "config_invalid"


class AuditKeyMismatch(GatewayError):
    """This node's audit key is not the one the (shared) audit log was started with."""

    code = "audit_key_mismatch"


class AuditUnavailable(GatewayError):
    """The shared audit database cannot be reached (or refused the connection)."""

    code = "audit_unavailable"


class SandboxUnavailable(GatewayError):
    code = "sandbox_unavailable"


class SandboxFailure(GatewayError):
    code = "sandbox_failure"


class SandboxTimeout(SandboxFailure):
    code = "timeout"


class SandboxResourceLimit(SandboxFailure):
    code = "resource_limit"


class SandboxCrash(SandboxFailure):
    code = "converter_crashed"


class ReportInvalid(SandboxFailure):
    code = "converter_report_invalid"
