"""Service benchmark: end-to-end mail throughput (SMTP in -> text-ified -> SMTP out to a sink)
against a bare aiosmtpd sink receiving the same mails in the same run, and delivery latency
(p50/p99) when mails arrive at a steady rate.

    .venv/bin/python bench/bench_service.py [--mails 60] [--rate 50]
"""

from __future__ import annotations

import argparse
import base64
import json
import smtplib
import socket
import statistics
import sys
import tempfile
import threading
import time
from email import message_from_bytes
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from gateway.config import Settings
from gateway.service import ServeOptions, Service

LINE = "<p>令和8年度の事業について、<a href=\"https://www.example.jp/a\">詳細</a>をご確認ください ①㈱。</p>\n"


def mail(index: int) -> bytes:
    html = "<html><body>" + LINE * (30_000 // len(LINE.encode())) + "</body></html>"
    body = base64.encodebytes(html.encode()).decode()
    return (f"From: news@example.jp\r\nTo: soumu@city.example.lg.jp\r\nSubject: bench {index}\r\n"
            f"Message-ID: <bench-{index}@example.jp>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + body.replace("\n", "\r\n")).encode()


class Sink:
    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message_id = message_from_bytes(envelope.original_content or envelope.content)["Message-ID"]
        with self.lock:
            self.arrived[str(message_id)] = time.perf_counter()
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def send(port: int, mails: list[bytes], rate: float | None) -> dict[str, float]:
    sent: dict[str, float] = {}
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        start = time.perf_counter()
        for index, raw in enumerate(mails):
            if rate:
                delay = start + index / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            sent[f"<bench-{index}@example.jp>"] = time.perf_counter()
            client.sendmail("news@example.jp", ["soumu@city.example.lg.jp"], raw)
    return sent


def wait_all(sink: Sink, count: int, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while len(sink.arrived) < count and time.perf_counter() < deadline:
        time.sleep(0.05)
    if len(sink.arrived) < count:
        raise SystemExit(f"only {len(sink.arrived)} of {count} mails arrived")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mails", type=int, default=60)
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()
    mails = [mail(index) for index in range(args.mails)]
    bare, bare_port = Sink(), free_port()
    controller = Controller(bare, hostname="127.0.0.1", port=bare_port)
    controller.start()
    started = time.perf_counter()
    send(bare_port, mails, None)
    wait_all(bare, len(mails), 60)
    baseline = len(mails) / (time.perf_counter() - started)
    controller.stop()
    results: dict[str, Any] = {"mails": len(mails), "baseline_per_s": baseline}
    for label, rate in (("throughput", None), ("steady", args.rate)):
        sink, sink_port = Sink(), free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=sink_port)
        controller.start()
        with tempfile.TemporaryDirectory() as data:
            options = ServeOptions(data_dir=Path(data), smtp_port=free_port(), lgwan_smtp=("127.0.0.1", sink_port),
                                   recipient_domains=("city.example.lg.jp",), workers=2, min_free_bytes=1024)
            service = Service(Settings(), options)
            service.start()
            started = time.perf_counter()
            sent = send(options.smtp_port, mails, rate)
            wait_all(sink, len(mails), 900)
            elapsed = time.perf_counter() - started
            service.stop()
        controller.stop()
        latencies = sorted(sink.arrived[key] - sent[key] for key in sent)
        results[label] = {"per_s": len(mails) / elapsed, "p50_s": statistics.median(latencies),
                          "p99_s": latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]}
    ratio = results["throughput"]["per_s"] / baseline
    print("| measure | figure | goal |\n|---|---|---|")
    print(f"| end-to-end throughput, 30 KB HTML mails ({len(mails)}) | {results['throughput']['per_s']:.1f} mails/s = "
          f"{ratio:.3f}× a bare aiosmtpd sink ({baseline:.0f} mails/s) | ≥ 0.5× |")
    print(f"| delivery latency, mails offered at {args.rate:.0f}/s | p50 {results['steady']['p50_s']:.1f} s, "
          f"p99 {results['steady']['p99_s']:.1f} s (delivered {results['steady']['per_s']:.1f}/s) | — |")
    json.dump(results, sys.stdout)
    print()


if __name__ == "__main__":
    main()
