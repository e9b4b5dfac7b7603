"""The service's own short mails (Japanese, then English; UTF-8, base64, CRLF, so every mail
server takes them): a mail stopped because it could not be made safe, and a mail that could
not be delivered in time. They carry only the gateway's words and envelope data, never content
of the mail they are about."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

from gateway.messages import reason_pair
from gateway.pipeline.mail import clean_header


def _message(sender: str, recipients: list[str], subject: str, text: str) -> bytes:
    notice = EmailMessage(policy=SMTP)
    notice["From"] = sender
    notice["To"] = ", ".join(recipients[:50])
    notice["Subject"] = subject
    notice.set_content(text, charset="utf-8", cte="base64")
    return notice.as_bytes()


def rejected_notice(job_id: str, envelope: dict[str, Any], reason: str, digest: str, postmaster: str,
                    quarantine_days: int, reason_code: str = "") -> tuple[str, list[str], bytes] | None:
    """(sender, recipients, message) telling the mail's recipients and the postmaster that it was
    stopped, why in the catalogue's Japanese and English (gateway/messages.py) with the
    converter's own note; None when there is nobody to tell."""
    recipients = [str(r) for r in envelope.get("recipients", [])]
    if postmaster and postmaster not in recipients:
        recipients.append(postmaster)
    domain = recipients[0].rpartition("@")[2] if recipients else ""
    sender = postmaster or (f"postmaster@{domain}" if domain else "")
    if not recipients or not sender:
        return None
    why_ja, why_en = reason_pair(reason_code, clean_header(reason, 300))
    text = ("インターネットから届いたメールを無害化できなかったため、配送しませんでした。\n"
            "A mail from the internet could not be made safe and was not delivered.\n\n"
            f"差出人 / sender (envelope): {clean_header(envelope.get('sender', ''), 200)}\n"
            f"理由: {why_ja}\nReason: {why_en}\n"
            f"詳細 / detail: {clean_header(reason, 300)}\n参照 / reference: GW-{digest[:12].upper()} ({job_id})\n"
            f"原本は {quarantine_days} 日間隔離保管されます。必要な場合は管理者にご相談ください。\n"
            f"The original is kept in quarantine for {quarantine_days} days; ask the administrator.\n")
    return sender, recipients, _message(sender, recipients,
                                        "[gateway] 無害化できないメールを止めました / a mail was stopped", text)


def undeliverable_notice(job_id: str, envelope: dict[str, Any], problem: str, postmaster: str) -> bytes:
    """The postmaster's notice about a message that could not be delivered before its maximum age."""
    text = (f"ゲートウェイから LGWAN 側へ配送できないメールがあります。\n"
            f"A message could not be delivered to the LGWAN side.\n\nID: {job_id}\n"
            f"Recipients: {', '.join(envelope.get('recipients', []))}\nLast problem: {problem[:300]}\n"
            f"The message is kept in the spool's corrupt queue.\n")
    return _message(postmaster, [postmaster], f"[gateway] 配送できませんでした / undeliverable: {job_id}", text)
