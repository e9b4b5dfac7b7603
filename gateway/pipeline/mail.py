"""``gateway mail``: internet mail in, a new text-only message with disarmed attachments out.

The message is split in the sandbox, in a child forked for it by the zygote (``Zygote``,
``converters/zygote.py``); each attachment is
disarmed like any file (``Sanitizer``); the outgoing message is built here, fresh, from
validated pieces: kept headers (control characters removed), the body text, a warning when
sender authentication failed, a notice (Japanese, then English) listing every attachment and
what happened to it, and the verified outputs. The original never crosses.

Malware (``gateway/pipeline/scan.py``): the whole message is scanned before it is split, the body
text once split, and each attachment before it is disarmed. An infected attachment is removed and
named in the notice; a hit in the body, or a hit in the message that no attachment explains (a
part that is not delivered, a header), stops the whole mail (``malware``): its recipients get a
notice instead. An engine that cannot scan defers the mail (``ScanDeferred``) or stops it, by
configuration.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

from converters.formats.charset import encode_iso2022jp
from converters.names import shortened
from gateway.config import Settings
from gateway.errors import GatewayError, ReportInvalid
from gateway.messages import reason_pair
from gateway.pipeline.jobs import JOB_CONTROL, JOB_FINAL, Job, create_job
from gateway.pipeline.mail_notice import build_notice, warning
from gateway.pipeline.sanitize import Sanitizer
from gateway.pipeline.scan import Check, count_malware, signatures_of
from gateway.sandbox.zygote import Zygote

CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")  # everything splitlines() breaks on
TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029]")  # the same but for newline and tab
ADDR_SPEC = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
MESSAGE_IDS = re.compile(r"^(<[!-;=?-~]+@[!-;=?-~]+>\s*)+$")
DATE = re.compile(r"^[ -~]{10,80}$")
MAX_BODY_BYTES = 16 * 1024 * 1024
AS_WRITTEN = SMTP.clone(refold_source="none")  # headers set raw (encoded words) are sent as they were written
MAX_ATTACHMENTS = 500  # files a split may hand over; parts beyond are counted in the notice
MAX_LISTED = 100  # parts removed by the splitter listed one by one
SPLIT_FILES = re.compile(r"body\.txt|att-[1-9][0-9]{0,3}")


def clean_header(value: object, limit: int = 2000) -> str:
    return CONTROL.sub(" ", str(value or ""))[:limit].strip()


def encoded_words(text: str, charset: str, *, exact: bool = False) -> list[str]:
    """RFC 2047 encoded words (B), each under 75 characters (a line each stays short enough to
    be kept as is): ISO-2022-JP, 12 characters a word, when asked for (with ``exact``, only if
    every character fits); UTF-8 otherwise, at most 45 bytes a word, cut between characters."""
    if charset == "iso-2022-jp" and not (exact and encode_iso2022jp(text)[1]):
        chunks = [text[i:i + 12] for i in range(0, len(text), 12)] or [""]
        return [f"=?ISO-2022-JP?B?{base64.b64encode(encode_iso2022jp(c)[0]).decode('ascii')}?=" for c in chunks]
    words, chunk = [], ""
    for character in text:
        if len((chunk + character).encode("utf-8")) > 45:
            words.append(chunk)
            chunk = ""
        chunk += character
    return [f"=?UTF-8?B?{base64.b64encode(c.encode('utf-8')).decode('ascii')}?=" for c in [*words, chunk]]


def clean_text(text: str) -> str:
    """Body text with "\n" line ends (CRLF and lone CR too) and no other control characters."""
    return TEXT_CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))


@dataclass
class MailResult:
    summary: dict[str, Any]
    message: EmailMessage | None
    data: bytes  # the message as sent (empty when rejected)


class MailSanitizer:
    def __init__(self, settings: Settings, sanitizer: Sanitizer | None = None) -> None:
        self.settings = settings
        self.sanitizer = sanitizer or Sanitizer(settings)
        self.zygote = Zygote(self.sanitizer.sandbox)

    def close(self) -> None:
        self.zygote.close()
        self.sanitizer.close()

    def process(self, src: Path) -> MailResult:
        raw = src.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        reference = f"GW-{digest[:12].upper()}"
        scanned = self.sanitizer.malware.check(raw, "message", count=False)  # raises ScanDeferred: the mail waits
        if scanned.blocked and not scanned.infected:  # unscannable under "block": not delivered unscanned
            return self._stopped(src, digest, scanned)
        try:
            answer = self.zygote.run("mail-split", raw, {"defang": self.settings.mail.defang_links}, SPLIT_FILES)
            split = self._parse(answer.report)
        except GatewayError as exc:
            return self._rejected(src, digest, exc.reason, exc.code)
        if split.get("rejected"):
            return self._rejected(src, digest, str(split.get("reason", "not a mail"))[:300], "not_a_mail")
        body = self._body(answer.files, split)
        body_check = self.sanitizer.malware.check(answer.files["body.txt"], "message body")
        if body_check.blocked:
            return self._stopped(src, digest, body_check)
        split["findings"].extend(scanned.findings)
        job = create_job(self.sanitizer.sandbox, self.settings.work_dir) if split["attachments"] else None
        try:
            attachments, files = self._attachments(answer.files, job, split)
            removed = signatures_of(attachments)
            unexplained = tuple(name for name in scanned.signatures if name not in removed)
            if unexplained:  # the message holds malware no removed attachment accounts for
                count_malware()
                return self._stopped(src, digest, Check(True, scanned.blocked, scanned.reason, unexplained,
                                                        scanned.findings))
            if self.settings.mail.attachments == "text" and files and job is not None:
                body += self._texts_of(job, files)
                files = []
            message = self._build(split, body, attachments, files, reference)
            try:
                data = message.as_bytes(policy=AS_WRITTEN)
            except (ValueError, IndexError, UnicodeError, TypeError) as exc:  # the email package's folding
                return self._rejected(src, digest, f"the message headers could not be rebuilt ({type(exc).__name__})",
                                      "headers_unbuildable")
        finally:
            if job is not None:
                job.remove()
        headers = split["headers"]
        summary = {
            "input": str(src), "sha256": digest, "size": len(raw),
            "message_id": clean_header(headers.get("message-id")), "outcome": "delivered",
            "subject": clean_header(headers.get("subject")), "from": clean_header(headers.get("from")),
            "attachments": attachments, "findings": split["findings"], "reason": None, "reference": reference,
            "scanned": scanned.scanned, "signatures": sorted(removed),
        }
        return MailResult(summary, message, data)

    def _stopped(self, src: Path, digest: str, check: Check) -> MailResult:
        """The whole mail stopped by the malware stage (a hit in it, or a scan that could not be
        done under "block"); the reason in both languages, for the notice its recipients get."""
        code = check.blocked or "scan_unavailable"
        reason = f"{reason_pair(code)[0]} / {check.reason}"
        result = self._rejected(src, digest, reason[:500], code, list(check.findings))
        result.summary["scanned"], result.summary["signatures"] = check.scanned, list(check.signatures)
        return result

    def _rejected(self, src: Path, digest: str, reason: str, code: str,
                  findings: list[dict[str, str]] | None = None) -> MailResult:
        return MailResult({"input": str(src), "sha256": digest, "message_id": "", "outcome": "rejected",
                           "subject": "", "from": "", "attachments": [], "findings": findings or [], "reason": reason,
                           "reason_code": code, "scanned": self.sanitizer.malware.configured, "signatures": []},
                          None, b"")

    @staticmethod
    def _parse(data: object) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ReportInvalid("mail splitter report has an unexpected shape")
        if data.get("rejected"):
            return data
        headers = data.get("headers")
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise ReportInvalid("mail splitter report has malformed headers")
        for key in ("attachments", "dropped", "findings", "authentication_results"):
            if not isinstance(data.get(key), list):
                raise ReportInvalid(f"mail splitter report field {key} is not a list")
        omitted = data.get("omitted", [])
        if not isinstance(omitted, list) or not all(isinstance(o, dict) for o in omitted):
            raise ReportInvalid("mail splitter report field omitted is not a list of parts")
        data["omitted"] = [{"content_type": clean_header(o.get("content_type"), 100)} for o in omitted[:50]]
        if not all(isinstance(f, dict) and isinstance(f.get("code"), str) and isinstance(f.get("detail", ""), str)
                   for f in data["findings"]):
            raise ReportInvalid("mail splitter report has a malformed finding")
        data["findings"] = [{"code": clean_header(f["code"], 64), "detail": clean_header(f.get("detail"), 300)}
                            for f in data["findings"][:200]]
        return data

    @staticmethod
    def _body(files: dict[str, bytes], split: dict[str, Any]) -> str:
        body = files.get("body.txt")
        if split.get("body_file") != "body.txt" or body is None:
            raise ReportInvalid("mail splitter named an unexpected body file")
        if len(body) > MAX_BODY_BYTES:
            raise ReportInvalid("mail splitter wrote an oversized body")
        return clean_text(body.decode("utf-8", "replace"))

    def _attachments(self, parts: dict[str, bytes], job: Job | None,
                     split: dict[str, Any]) -> tuple[list[dict[str, Any]], list[tuple[str, Path, str]]]:
        reports: list[dict[str, Any]] = []
        files: list[tuple[str, Path, str]] = []
        budget = self.settings.mail.max_attachments_mb * 1024 * 1024  # the outgoing mail is built in memory
        for index, item in enumerate(split["attachments"][:MAX_ATTACHMENTS], start=1):
            data = parts.get(f"att-{index}")
            if not isinstance(item, dict) or item.get("file") != f"att-{index}" or data is None or job is None:
                raise ReportInvalid("mail splitter listed a malformed attachment")
            name = shortened(clean_header(item.get("name"), 4000), 255) or f"attachment-{index}"
            if self.settings.mail.attachments == "remove":
                reports.append({"input": name, "outcome": "blocked", "reason_code": "removed_by_policy",
                                "reason": "添付ファイルは受け付けない設定です / attachments are not accepted here",
                                "outputs": [], "findings": [], "verified": False,
                                "size": len(data), "type": clean_header(item.get("content_type"))})
                continue
            if len(data) > self.settings.limits.max_input_bytes:
                raise ReportInvalid("a mail attachment is larger than the input limit")
            staged = job.dir("final") / "attachments" / str(index) / "original"
            staged.parent.mkdir(parents=True)
            staged.touch(mode=0o600)  # an original: this process's alone, whatever the umask
            staged.write_bytes(data)
            result = self.sanitizer.sanitize(staged, job.dir("final") / "delivered" / str(index), display_name=name)
            size = sum(Path(output["path"]).stat().st_size for output in result["outputs"])
            if size > budget:
                result = {**result, "outcome": "blocked", "outputs": [], "reason_code": "attachments_too_large",
                          "reason": "添付ファイルの合計が上限を超えるため削除しました / removed: the attachments "
                                    "together exceed the size limit for one mail"}
            budget -= size if result["outputs"] else 0
            for output in result["outputs"]:
                files.append((Path(output["path"]).name, Path(output["path"]), output["type"]))
                output["path"] = Path(output["path"]).name  # as attached to the outgoing message
            reports.append(result)
        for item in split["dropped"][:MAX_LISTED]:
            if isinstance(item, dict):
                reports.append({"input": shortened(clean_header(item.get("name"), 4000), 255), "outcome": "blocked",
                                "type": clean_header(item.get("content_type"), 100),
                                "reason": clean_header(item.get("reason"), 300),
                                "reason_code": clean_header(item.get("reason_code"), 64), "outputs": [],
                                "findings": [], "verified": False, "size": 0})
        unlisted = max(0, len(split["attachments"]) - MAX_ATTACHMENTS) + max(0, len(split["dropped"]) - MAX_LISTED)
        if unlisted:  # never silently: the rest is counted in the notice
            reports.append({"input": f"(ほか {unlisted} 個の部分 / {unlisted} more parts)", "outcome": "blocked",
                            "type": "multipart/mixed", "reason_code": "too_many_parts", "outputs": [], "findings": [],
                            "reason": "1 通のメールで扱える部分の数を超えたため届けられません / more parts than one "
                                      "mail may carry: not delivered", "verified": False, "size": 0})
        return reports, files

    def _build(self, split: dict[str, Any], body: str, attachments: list[dict[str, Any]],
               files: list[tuple[str, Path, str]], reference: str) -> EmailMessage:
        headers = {k: clean_header(v) for k, v in split["headers"].items()}
        found = split.get("addresses")
        addresses: dict[str, Any] = found if isinstance(found, dict) else {}
        message = EmailMessage(policy=SMTP)
        for name, label in (("from", "From"), ("to", "To"), ("cc", "Cc"), ("reply-to", "Reply-To")):
            self._set_addresses(message, label, addresses.get(name), split)
        for name, label, pattern in (("date", "Date", DATE), ("message-id", "Message-ID", MESSAGE_IDS),
                                     ("in-reply-to", "In-Reply-To", MESSAGE_IDS),
                                     ("references", "References", MESSAGE_IDS)):
            value = headers.get(name, "")
            if value and pattern.match(value):
                message[label] = value
            elif value:
                split["findings"].append({"code": "mail_header_dropped", "detail": f"{label}: not well-formed"})
        tag = self.settings.mail.subject_tag
        subject = headers.get("subject", "")
        message["Subject"] = f"{tag} {subject}".strip() if tag and not subject.startswith(tag) else subject
        for value in self._trusted_authentication_results(split):
            message["Authentication-Results"] = value
        actions = ["text"]
        if split.get("html_converted"):
            actions.append("html-to-text")
        outcomes = {a["outcome"] for a in attachments}
        actions += [f"attachments-{word}" for outcome, word in (("sanitized", "rebuilt"), ("passed", "checked"),
                                                                 ("blocked", "removed")) if outcome in outcomes]
        message["X-Sanitized"] = " ".join(actions)
        notice = build_notice(attachments, reference, as_text=self.settings.mail.attachments == "text",
                              omitted=split.get("omitted"))
        trusted = self._trusted_authentication_results(split)
        text = warning(trusted, headers, addresses, split["findings"]) + body.rstrip() + "\n\n" + notice
        if self.settings.mail.charset == "iso-2022-jp":
            encoded, replaced = encode_iso2022jp(text.replace("\r\n", "\n").replace("\n", "\r\n"))
            if replaced:
                split["findings"].append({"code": "iso2022jp_characters_replaced", "detail": f"{replaced} characters"})
            message.set_content(encoded, maintype="text", subtype="plain", cte="7bit",
                                params={"charset": "ISO-2022-JP"})
            subject = str(message["Subject"])
            del message["Subject"]
            message.set_raw("Subject", "\r\n ".join(encoded_words(subject, "iso-2022-jp")))
        else:
            message.set_content(text, charset="utf-8", cte="base64")
        for filename, path, mime in files:
            maintype, _, subtype = mime.partition("/")
            message.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=filename)
            parts = message.get_payload()
            part = parts[-1] if isinstance(parts, list) else None
            if not filename.isascii() and isinstance(part, EmailMessage):
                # the name also as Outlook writes it, for mail clients that ignore RFC 2231
                words = "\r\n ".join(encoded_words(filename, self.settings.mail.charset, exact=True))
                del part["Content-Type"]
                part.set_raw("Content-Type", f'{maintype}/{subtype};\r\n name="{words}"')
        return message

    def _texts_of(self, job: Job, files: list[tuple[str, Path, str]]) -> str:
        """The ``text`` policy: each disarmed attachment's text, extracted in the sandbox."""
        final = job.dir("final")
        listing = job.dir("control") / "texts.json"
        listing.write_text(json.dumps([str(path.relative_to(final)) for _, path, _ in files]), encoding="utf-8")
        listing.chmod(0o644)
        argv = self.sanitizer.sandbox.python_argv(
            "extract-text", f"--root={job.inside('final', JOB_FINAL)}",
            f"--list={job.inside('control', JOB_CONTROL)}/texts.json",
            *([] if self.settings.mail.defang_links else ["--no-defang"]))
        try:
            texts = json.loads(self.sanitizer.sandbox.run(argv, job.inspect_binds(), uid=job.uid).stdout)
        except (GatewayError, UnicodeDecodeError, ValueError, RecursionError):
            texts = None
        if not isinstance(texts, list) or len(texts) != len(files):
            texts = ["(本文を取り出せませんでした / text could not be extracted)"] * len(files)
        sections = []
        for (name, _, _), text in zip(files, texts, strict=True):
            body = clean_text(str(text))
            sections.append(f"\n\n===== 添付ファイルの本文 / attachment text: {name} =====\n{body.strip()}")
        return "".join(sections)

    @staticmethod
    def _set_addresses(message: EmailMessage, name: str, pairs: Any, split: dict[str, Any]) -> None:
        """Addresses as the splitter parsed them from the raw header (so an encoded display name can
        never add an address); only plain ASCII addr-specs are kept."""
        addresses = []
        for pair in pairs if isinstance(pairs, list) else []:
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
                continue
            display, address = clean_header(pair[0], 200), pair[1]
            if not ADDR_SPEC.match(address):
                split["findings"].append({"code": "mail_address_dropped", "detail": f"{name}: {address[:80]!r}"})
                continue
            username, _, domain = address.rpartition("@")
            try:
                addresses.append(Address(display_name=display, username=username, domain=domain))
            except (ValueError, IndexError):
                continue
        if addresses:
            message[name] = addresses

    def _trusted_authentication_results(self, split: dict[str, Any]) -> list[str]:
        """Only what the internet-side MTA wrote: the topmost header, or those of the configured
        authserv-ids; a sender can add any number of forged ones below."""
        values = [clean_header(v) for v in split["authentication_results"] if isinstance(v, str)]
        values = [v for v in values if v.isascii()]
        trusted = self.settings.mail.trusted_authserv_ids
        if trusted:
            ids = {t.strip().lower() for t in trusted.split(",") if t.strip()}
            return [v for v in values if v.split(";", 1)[0].strip().lower() in ids][:5]
        return values[:1]



def write_message(data: bytes, target: Path) -> None:
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, target)
