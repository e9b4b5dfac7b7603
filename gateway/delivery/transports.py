"""Delivery to the LGWAN side: a transport is a small class with one method.

- ``SmtpTransport``: SMTP to the LGWAN mail server, per-recipient results, one connection
  reused from message to message.
- ``DirectoryTransport``: writes each message atomically into a directory (a local LGWAN-side
  drop, the default when no LGWAN mail server is configured).
"""

from __future__ import annotations

import os
import re
import smtplib
import time
from pathlib import Path

from gateway.sharing import share


class DeliveryError(Exception):
    """Temporary trouble: the message stays queued and is retried."""


class PermanentDeliveryError(Exception):
    """The LGWAN side refused every recipient for good."""


class SmtpTransport:
    """SMTP to the LGWAN mail server over one connection kept open between messages (as
    Postfix's connection cache does); a connection idle for a while is checked with NOOP first."""

    def __init__(self, host: str, port: int, timeout: float = 60, idle_check_seconds: float = 2.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.idle_check_seconds = idle_check_seconds
        self.client: smtplib.SMTP | None = None
        self.last_used = 0.0

    def _connection(self) -> smtplib.SMTP:
        if self.client is not None and time.monotonic() - self.last_used > self.idle_check_seconds:
            try:
                if self.client.noop()[0] != 250:
                    self.close()
            except (smtplib.SMTPException, OSError):
                self.close()
        if self.client is None:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            try:
                client.ehlo_or_helo_if_needed()
            except BaseException:
                client.close()
                raise
            self.client = client
        return self.client

    def deliver(self, job_id: str, sender: str, recipients: list[str], message: bytes) -> dict[str, str]:
        try:
            client = self._connection()
            refused = client.sendmail(sender, recipients, message)
            self.last_used = time.monotonic()
        except smtplib.SMTPRecipientsRefused as exc:
            self.last_used = time.monotonic()  # the session was reset and stays usable
            codes = {r: c for r, (c, _) in exc.recipients.items()}
            if all(code >= 500 for code in codes.values()):
                raise PermanentDeliveryError(f"all recipients refused: {codes}") from exc
            raise DeliveryError(f"recipients refused: {codes}") from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            self.last_used = time.monotonic()  # the session was reset and stays usable
            if exc.smtp_code >= 500:
                raise PermanentDeliveryError(f"refused by the LGWAN server: {exc.smtp_code}") from exc
            raise DeliveryError(f"{type(exc).__name__} {exc.smtp_code}") from exc
        except (UnicodeEncodeError, ValueError) as exc:  # an address the LGWAN server cannot take
            self.close()
            raise PermanentDeliveryError(f"unusable address: {type(exc).__name__}") from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self.close()
            raise DeliveryError(f"{type(exc).__name__}") from exc
        return {r: ("refused" if r in refused else "delivered") for r in recipients}

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


ENVELOPE_VALUE = re.compile(r"<?[!-~]{0,500}>?")


class DirectoryTransport:
    """Delivery into a folder (no LGWAN mail server set); ``group`` may read it (gateway/sharing.py)."""

    def __init__(self, directory: Path, group: int | None = None) -> None:
        self.directory, self.group = directory, group
        directory.mkdir(parents=True, exist_ok=True)
        share(directory, group)

    def deliver(self, job_id: str, sender: str, recipients: list[str], message: bytes) -> dict[str, str]:
        """Write ``<job id>.eml`` atomically, with the envelope on top as a mail server's final
        delivery writes it (Return-Path, then one Delivered-To per recipient)."""
        target = self.directory / f"{job_id}.eml"
        temporary = self.directory / f".{job_id}.tmp"
        envelope = "".join(f"{name}: {value}\r\n" for name, value in
                           [("Return-Path", f"<{sender}>"), *(("Delivered-To", r) for r in recipients)]
                           if ENVELOPE_VALUE.fullmatch(value))  # addresses were checked at intake; never a header break
        try:
            with temporary.open("wb") as handle:
                handle.write(envelope.encode("ascii", "replace"))
                handle.write(message)
                handle.flush()
                os.fsync(handle.fileno())
            share(temporary, self.group)  # before the rename: the pickup never sees it unreadable
            os.replace(temporary, target)
        except OSError as exc:
            raise DeliveryError(type(exc).__name__) from exc
        return dict.fromkeys(recipients, "delivered")

    def close(self) -> None:
        """Nothing is kept open between messages."""
