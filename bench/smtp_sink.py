"""A bare aiosmtpd sink in its own process, for the service benchmark: prints "ready", then one
line "<Message-ID> <time.monotonic()>" per message received.

    .venv/bin/python bench/smtp_sink.py PORT
"""

from __future__ import annotations

import re
import sys
import threading
import time
from typing import Any

from aiosmtpd.controller import Controller

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


class Sink:
    def __init__(self) -> None:
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        found = MESSAGE_ID.search(envelope.original_content or envelope.content)
        with self.lock:
            sys.stdout.write(f"{found.group(1).decode() if found else '-'} {time.monotonic()}\n")
            sys.stdout.flush()
        return "250 OK"


def main() -> None:
    controller = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()  # until the benchmark closes our standard input
    controller.stop()


if __name__ == "__main__":
    main()
