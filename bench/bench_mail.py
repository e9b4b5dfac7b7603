"""Mail benchmark: messages/s through `gateway mail`'s path (sandboxed split, attachments disarmed
in their own sandboxes, fresh message built) against plain ``email.message_from_bytes`` +
``get_body`` on the same messages in the same run.

    .venv/bin/python bench/bench_mail.py [--messages 40]
"""

from __future__ import annotations

import argparse
import base64
import email
import email.policy
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import docx

from gateway.config import Settings
from gateway.pipeline.mail import MailSanitizer

HTML_LINE = "<p>令和8年度の事業について、<a href=\"https://www.example.jp/a\">詳細</a>をご確認ください ①㈱。</p>\n"


def html_mail() -> bytes:
    html = "<html><body>" + HTML_LINE * (30_000 // len(HTML_LINE.encode())) + "</body></html>"
    encoded = base64.encodebytes(html.encode()).decode()
    return ("From: news@example.jp\nTo: soumu@city.example.lg.jp\nSubject: =?UTF-8?B?44GK55+l44KJ44Gb?=\n"
            "Message-ID: <bench@example.jp>\nMIME-Version: 1.0\nContent-Type: text/html; charset=UTF-8\n"
            f"Content-Transfer-Encoding: base64\n\n{encoded}").encode()


def docx_mail() -> bytes:
    document = docx.Document()
    for index in range(1200):
        document.add_paragraph(f"令和8年度 予算要求書 第{index}項 ①㈱ The quick brown fox jumps over the dog {index}")
    buffer = io.BytesIO()
    document.save(buffer)
    attachment = base64.encodebytes(buffer.getvalue()).decode()
    return ("From: a@example.jp\nTo: soumu@city.example.lg.jp\nSubject: docx\nMessage-ID: <d@example.jp>\n"
            "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\n"
            "Content-Type: text/plain; charset=UTF-8\n\n添付します。\n--b\n"
            "Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document\n"
            "Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"report.docx\"\n\n"
            f"{attachment}--b--\n").encode()


def baseline(raw: bytes, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        message = email.message_from_bytes(raw, policy=email.policy.default)
        body = message.get_body(("plain", "html"))
        assert body is not None and body.get_content()
    return count / (time.perf_counter() - started)


def gateway(sanitizer: MailSanitizer, path: Path, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        result = sanitizer.process(path)
        assert result.message is not None and result.summary["outcome"] == "delivered"
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=40)
    args = parser.parse_args()
    figures = {}
    sanitizer = MailSanitizer(Settings())
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for label, raw in (("html_30kb", html_mail()), ("docx_attachment", docx_mail())):
                path = Path(tmp) / f"{label}.eml"
                path.write_bytes(raw)
                base = baseline(raw, args.messages)
                ours = gateway(sanitizer, path, args.messages)
                figures[label] = {"bytes": len(raw), "baseline_per_s": base, "gateway_per_s": ours,
                                  "ratio": ours / base}
    finally:
        sanitizer.close()
    print("| measure | gateway | baseline (email.message_from_bytes + get_body) | ratio |\n|---|---|---|---|")
    for label, title in (("html_30kb", "30 KB HTML mail, no attachment"),
                         ("docx_attachment", "mail with a docx attachment")):
        f = figures[label]
        print(f"| {title} ({f['bytes'] // 1024} KB) | {f['gateway_per_s']:.1f} msg/s | {f['baseline_per_s']:.0f} msg/s "
              f"| {f['ratio']:.4f}× |")
    json.dump(figures, sys.stdout)
    print()


if __name__ == "__main__":
    main()
