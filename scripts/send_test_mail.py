"""Send a test mail to the gateway, as the internet-side mail server would (no swaks needed).

    .venv/bin/python scripts/send_test_mail.py [--server 127.0.0.1:2525] [--to soumu@city.example.lg.jp]
        [--attach FILE]...            a Japanese text mail with these files attached
    .venv/bin/python scripts/send_test_mail.py --eml FILE.eml [--to ...]   an existing message as it is

Prints the server's answer (``250 ... queued as <id>``; the id is the one in ``gateway audit list``).
"""

from __future__ import annotations

import argparse
import mimetypes
import smtplib
import sys
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from pathlib import Path

BODY = "テスト送信です。添付ファイルをご確認ください。\n株式会社サンプル ①㈱ 髙橋\n"


def compose(sender: str, recipient: str, subject: str, attachments: list[Path]) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"], message["To"], message["Subject"] = sender, recipient, subject
    message["Date"], message["Message-ID"] = formatdate(localtime=True), make_msgid(domain="example.jp")
    message.set_content(BODY, charset="utf-8")
    for path in attachments:
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        maintype, _, subtype = kind.partition("/")
        message.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
    return message.as_bytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default="127.0.0.1:2525", metavar="HOST:PORT")
    parser.add_argument("--from", dest="sender", default="sender@example.jp")
    parser.add_argument("--to", default="soumu@city.example.lg.jp")
    parser.add_argument("--subject", default="テスト送信 ①㈱")
    parser.add_argument("--attach", action="append", default=[], type=Path, metavar="FILE")
    parser.add_argument("--eml", type=Path, metavar="FILE", help="send this message instead of composing one")
    args = parser.parse_args()
    if args.eml is not None:
        raw = args.eml.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # SMTP wants CRLF
    else:
        raw = compose(args.sender, args.to, args.subject, args.attach)
    host, _, port = args.server.rpartition(":")
    with smtplib.SMTP(host.strip("[]"), int(port), timeout=60) as client:
        client.ehlo("internet-mta.example.jp")
        for step, (code, text) in (("MAIL FROM", client.mail(args.sender)), ("RCPT TO", client.rcpt(args.to))):
            if code != 250:
                print(f"refused at {step}: {code} {text.decode(errors='replace')}", file=sys.stderr)
                return 1
        code, text = client.data(raw)
    answer = f"{code} {text.decode(errors='replace')}"
    if code != 250:
        print(f"refused: {answer}", file=sys.stderr)
        return 1
    print(f"sent to {args.to} via {args.server}: {answer}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
