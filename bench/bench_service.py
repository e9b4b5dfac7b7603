"""Service benchmark: end-to-end mail throughput (SMTP in -> text-ified -> SMTP out to a sink)
against a bare aiosmtpd sink receiving the same mails in the same run, and delivery latency
(p50/p99) when mails arrive at a steady rate.

A third figure, a bare relay (bench/smtp_relay.py: receive and send, nothing else), shows the
least any gateway costs on the same cores.

The gateway runs as operators run it (``gateway serve`` in its own process, with its README
defaults), the sink in another process (bench/smtp_sink.py); the sender uses the same number of
parallel SMTP connections for the baseline and for the gateway, as an internet-side MTA does.

    .venv/bin/python bench/bench_service.py [--mails 400] [--rate 50] [--connections 4] [--workers 2]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

LINE = "<p>令和8年度の事業について、<a href=\"https://www.example.jp/a\">詳細</a>をご確認ください ①㈱。</p>\n"
BENCH = Path(__file__).resolve().parent
GATEWAY = Path(sys.executable).with_name("gateway")


def mail(index: int) -> bytes:
    html = "<html><body>" + LINE * (30_000 // len(LINE.encode())) + "</body></html>"
    body = base64.encodebytes(html.encode()).decode()
    return (f"From: news@example.jp\r\nTo: soumu@city.example.lg.jp\r\nSubject: bench {index}\r\n"
            f"Message-ID: <bench-{index}@example.jp>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + body.replace("\n", "\r\n")).encode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Sink:
    """bench/smtp_sink.py in its own process; ``arrived`` maps Message-ID to arrival time."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrived: dict[str, float] = {}
        self.process = subprocess.Popen([sys.executable, str(BENCH / "smtp_sink.py"), str(self.port)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit("the sink did not start")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            message_id, _, moment = line.strip().rpartition(" ")
            self.arrived[message_id] = float(moment)

    def wait_all(self, count: int, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while len(self.arrived) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        if len(self.arrived) < count:
            raise SystemExit(f"only {len(self.arrived)} of {count} mails arrived")
        return max(self.arrived.values())

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def _processes() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, name, CPU seconds of the process and of its reaped children)."""
    found = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                text = handle.read()
        except OSError:
            continue
        name, fields = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        found[int(entry)] = (int(fields[1]), name, sum(int(value) for value in fields[11:15]) / tick)
    return found


def cpu_by_role(root: int) -> dict[str, float]:
    """CPU seconds so far of ``root`` and everything below it, by role: a process counts for its
    nearest ancestor named gw-* (the service's workers name themselves so), else for the main
    process (SMTP intake and supervision)."""
    processes = _processes()
    roles: dict[str, float] = {}
    for pid in processes:
        role, current = None, pid
        while current in processes and current != root:
            if role is None and processes[current][1].startswith("gw-"):
                role = processes[current][1][3:].rstrip("-0123456789")
            current = processes[current][0]
        if current == root:
            role = role or "main (SMTP intake)"
            roles[role] = roles.get(role, 0.0) + processes[pid][2]
    return roles


def cpu_snapshot(parties: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each party (a process tree; the gateway's by role) and of this
    process (the sender)."""
    found = {"sender": time.process_time()}
    for label, root in parties.items():
        roles = cpu_by_role(root)
        if label == "gateway":
            found.update({f"gateway: {role}": value for role, value in roles.items()})
        else:
            found[label] = sum(roles.values())
    return found


def cpu_ms_per_mail(before: dict[str, float], after: dict[str, float], mails: int) -> dict[str, float]:
    return {label: 1000 * (after[label] - before.get(label, 0.0)) / mails for label in after}


def send(port: int, mails: list[bytes], rate: float | None, connections: int) -> dict[str, float]:
    """Send every mail over ``connections`` parallel SMTP sessions, paced at ``rate`` if given."""
    sent: dict[str, float] = {}
    start = time.monotonic()

    def session(first: int) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
            for index in range(first, len(mails), connections):
                if rate:
                    delay = start + index / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                sent[f"<bench-{index}@example.jp>"] = time.monotonic()
                client.sendmail("news@example.jp", ["soumu@city.example.lg.jp"], mails[index])

    threads = [threading.Thread(target=session, args=(first,)) for first in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent


def relay_baseline(mails: list[bytes], connections: int) -> tuple[float, dict[str, float]]:
    """The same mails through bench/smtp_relay.py (receive + send, nothing else) to a sink."""
    sink, port = Sink(), free_port()
    relay = subprocess.Popen([sys.executable, str(BENCH / "smtp_relay.py"), str(port), str(sink.port)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert relay.stdout is not None and relay.stdin is not None
    if relay.stdout.readline().strip() != "ready":
        raise SystemExit("the relay did not start")
    try:
        parties = {"relay": relay.pid, "sink": sink.process.pid}
        before, started = cpu_snapshot(parties), time.monotonic()
        send(port, mails, None, connections)
        rate = len(mails) / (sink.wait_all(len(mails), 120) - started)
        return rate, cpu_ms_per_mail(before, cpu_snapshot(parties), len(mails))
    finally:
        relay.stdin.close()
        relay.wait(timeout=30)
        sink.stop()


def start_gateway(data: Path, sink_port: int, workers: int, *, config: Path | None = None,
                  quiet: bool = False) -> tuple[subprocess.Popen[bytes], int]:
    """``gateway serve`` in its own process on a free port, delivering to the sink; back once it answers."""
    port = free_port()
    process = subprocess.Popen([str(GATEWAY), "serve", *(["--config", str(config)] if config else []),
                                "--data-dir", str(data), "--smtp-listen", f"127.0.0.1:{port}",
                                "--lgwan-smtp", f"127.0.0.1:{sink_port}", "--recipient-domains",
                                "city.example.lg.jp", "--workers", str(workers)],
                               stdout=subprocess.DEVNULL if quiet else None)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as probe:
                probe.noop()
            time.sleep(2)  # let the pipeline workers start their sandboxes
            return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the gateway did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mails", type=int, default=400)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    mails = [mail(index) for index in range(args.mails)]
    warm_up = Sink()  # the first run on a quiet machine is slower (caches, CPU clock): not the baseline
    send(warm_up.port, mails[:50], None, args.connections)
    warm_up.wait_all(min(50, len(mails)), 120)
    warm_up.stop()
    sink = Sink()
    before, started = cpu_snapshot({"sink": sink.process.pid}), time.monotonic()
    send(sink.port, mails, None, args.connections)
    baseline = len(mails) / (sink.wait_all(len(mails), 120) - started)
    cpu = {"bare sink": cpu_ms_per_mail(before, cpu_snapshot({"sink": sink.process.pid}), len(mails))}
    sink.stop()
    relayed, cpu["bare relay"] = relay_baseline(mails, args.connections)
    results: dict[str, Any] = {"mails": len(mails), "connections": args.connections, "baseline_per_s": baseline,
                               "bare_relay_per_s": relayed, "cpu_ms_per_mail": cpu}
    for label, rate in (("throughput", None), ("steady", args.rate)):
        sink = Sink()
        with tempfile.TemporaryDirectory() as data:
            gateway, port = start_gateway(Path(data), sink.port, args.workers)
            try:
                parties = {"gateway": gateway.pid, "sink": sink.process.pid}
                before, started = cpu_snapshot(parties), time.monotonic()
                sent = send(port, mails, rate, args.connections)
                accepted = time.monotonic()
                finished = sink.wait_all(len(mails), 900)
                if rate is None:
                    cpu["gateway"] = cpu_ms_per_mail(before, cpu_snapshot(parties), len(mails))
            finally:
                gateway.terminate()
                gateway.wait(timeout=120)
        sink.stop()
        latencies = sorted(sink.arrived[key] - sent[key] for key in sent)
        results[label] = {"per_s": len(mails) / (finished - started),
                          "accepted_per_s": len(mails) / (accepted - started), "p50_s": statistics.median(latencies),
                          "p99_s": latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]}
    ratio = results["throughput"]["per_s"] / baseline
    print("| measure | figure | goal |\n|---|---|---|")
    print(f"| end-to-end throughput, 30 KB HTML mails ({len(mails)}, {args.connections} connections) | "
          f"{results['throughput']['per_s']:.1f} mails/s = {ratio:.3f}× a bare aiosmtpd sink ({baseline:.0f} mails/s) "
          f"| ≥ 0.5× |")
    print(f"| the same through a bare relay (aiosmtpd in, smtplib out; no spool, parsing or audit) | "
          f"{relayed:.1f} mails/s = {relayed / baseline:.3f}× the sink; the gateway reaches "
          f"{results['throughput']['per_s'] / relayed:.2f}× of it | — |")
    print(f"| delivery latency, mails offered at {args.rate:.0f}/s | p50 {results['steady']['p50_s'] * 1000:.0f} ms, "
          f"p99 {results['steady']['p99_s'] * 1000:.0f} ms (delivered {results['steady']['per_s']:.1f}/s) | — |")
    print("\n| run | CPU ms per mail, by process (sender: this benchmark's threads) | total |\n|---|---|---|")
    for run, spent in cpu.items():
        shown = ", ".join(f"{label} {value:.2f}" for label, value in sorted(spent.items(), key=lambda item: -item[1])
                          if value >= 0.05)
        print(f"| {run} | {shown} | {sum(spent.values()):.2f} |")
    json.dump(results, sys.stdout)
    print()


if __name__ == "__main__":
    main()
