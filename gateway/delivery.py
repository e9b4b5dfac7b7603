"""Delivery to the LGWAN side: a transport is a small class with one method.

- ``SmtpTransport``: SMTP to the LGWAN mail server, per-recipient results.
- ``DirectoryTransport``: writes each message atomically into a directory (a local LGWAN-side
  drop, the default when no LGWAN mail server is configured).
"""

from __future__ import annotations

import os
import smtplib
from pathlib import Path


class DeliveryError(Exception):
    """Temporary trouble: the message stays queued and is retried."""


class PermanentDeliveryError(Exception):
    """The LGWAN side refused every recipient for good."""


class SmtpTransport:
    def __init__(self, host: str, port: int, timeout: float = 60) -> None:
        self.host, self.port, self.timeout = host, port, timeout

    def deliver(self, job_id: str, sender: str, recipients: list[str], message: bytes) -> dict[str, str]:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as client:
                client.ehlo_or_helo_if_needed()
                refused = client.sendmail(sender, recipients, message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {r: c for r, (c, _) in exc.recipients.items()}
            if all(code >= 500 for code in codes.values()):
                raise PermanentDeliveryError(f"all recipients refused: {codes}") from exc
            raise DeliveryError(f"recipients refused: {codes}") from exc
        except (UnicodeEncodeError, ValueError) as exc:  # an address the LGWAN server cannot take
            raise PermanentDeliveryError(f"unusable address: {type(exc).__name__}") from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}") from exc
        return {r: ("refused" if r in refused else "delivered") for r in recipients}


class DirectoryTransport:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def deliver(self, job_id: str, sender: str, recipients: list[str], message: bytes) -> dict[str, str]:
        target = self.directory / f"{job_id}.eml"
        temporary = self.directory / f".{job_id}.tmp"
        try:
            with temporary.open("wb") as handle:
                handle.write(message)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except OSError as exc:
            raise DeliveryError(type(exc).__name__) from exc
        return dict.fromkeys(recipients, "delivered")
