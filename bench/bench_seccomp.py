"""The system-call filter's cost: the same 30 KB HTML mail through `gateway mail`'s path (split in
a forked sandboxed child, message built) with the filter on and off, interleaved rounds, same run.

    .venv/bin/python bench/bench_seccomp.py [--messages 60] [--rounds 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

from bench_mail import html_mail  # this directory is on the path when run as a script

from gateway.config import SandboxSettings, Settings
from gateway.pipeline.mail import MailSanitizer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mail.eml"
        path.write_bytes(html_mail())
        sanitizers = {on: MailSanitizer(dataclasses.replace(Settings(), sandbox=SandboxSettings(seccomp=on)))
                      for on in (True, False)}
        rates: dict[bool, list[float]] = {True: [], False: []}
        try:
            for sanitizer in sanitizers.values():  # zygotes started, caches warm
                for _ in range(10):
                    sanitizer.process(path)
            for _ in range(args.rounds):
                for on, sanitizer in sanitizers.items():
                    started = time.perf_counter()
                    for _ in range(args.messages):
                        sanitizer.process(path)
                    rates[on].append(args.messages / (time.perf_counter() - started))
        finally:
            for sanitizer in sanitizers.values():
                sanitizer.close()
    with_filter, without = statistics.median(rates[True]), statistics.median(rates[False])
    print(f"| 30 KB HTML mail, one at a time | {with_filter:.1f} msg/s with the filter | {without:.1f} msg/s "
          f"without | {with_filter / without:.3f}× |")


if __name__ == "__main__":
    main()
