"""A bare store-nothing SMTP relay for the service benchmark: aiosmtpd in, smtplib out over
one kept connection per thread, no spool, no fsync, no parsing, no audit. It is what any
gateway costs at the least (receive + send) on the same machine, so the benchmark can show
how close the real gateway comes to it. Prints "ready", runs until standard input closes.

    .venv/bin/python bench/smtp_relay.py LISTEN_PORT SINK_PORT
"""

from __future__ import annotations

import asyncio
import smtplib
import sys
import threading
from typing import Any

from aiosmtpd.controller import Controller


class Relay:
    def __init__(self, sink_port: int) -> None:
        self.sink_port = sink_port
        self.local = threading.local()

    def _send(self, sender: str, recipients: list[str], data: bytes) -> None:
        client = getattr(self.local, "client", None)
        if client is None:
            client = self.local.client = smtplib.SMTP("127.0.0.1", self.sink_port, timeout=60)
        client.sendmail(sender, recipients, data)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content
        await asyncio.get_running_loop().run_in_executor(None, self._send, envelope.mail_from,
                                                         list(envelope.rcpt_tos), data)
        return "250 OK"


def main() -> None:
    controller = Controller(Relay(int(sys.argv[2])), hostname="127.0.0.1", port=int(sys.argv[1]))
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
