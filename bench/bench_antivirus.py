"""Antivirus benchmark (issue 13 item 8): what scanning with clamd adds to the CPU a mail costs in
``gateway serve``, and to its throughput, as same-run ratios.

The same mails as bench/bench_service.py (30 KB HTML; with ``--attachment`` each also carries a
20 KB CSV, one more file to scan) go over 4 parallel SMTP connections into ``gateway serve`` in its
own process, once without an engine and once with ``[antivirus] engines = "clamd"``, alternating
(``--pairs`` times), each run with a fresh data directory, into an aiosmtpd sink in its own
process. clamd is started by this benchmark with the tests' signature database
(tests/gateway/antivirus/daemons.py: EICAR, a marker, clam.exe by hash), on a socket in a temporary
directory. CPU per mail is read from /proc: the gateway's whole process tree (workers, sandboxed
zygotes and their reaped children) and, in the runs that scan, clamd's (it works for the gateway).

    .venv/bin/python -m bench.bench_antivirus [--mails 300] [--pairs 3] [--connections 4] [--attachment]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_service import Sink, cpu_by_role, mail, send, start_gateway
from gateway.config import AntivirusSettings
from gateway.pipeline.scan import MalwareStage
from tests.gateway.antivirus.daemons import Clamd, start_clamd, stop

CSV = ("番号,件名,金額,担当\r\n" + "".join(f"{n},令和8年度 事業費 {n},{n * 1000},総務課\r\n" for n in range(1, 600)))


def with_attachment(raw: bytes, index: int) -> bytes:
    """The benchmark mail as multipart/mixed: its HTML body, and a CSV attachment (~20 KB)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith((b"content-type",
                                                                                   b"content-transfer-encoding"))]
    boundary = f"bench-{index}-boundary"
    table = base64.encodebytes(CSV.encode()).decode().replace("\n", "\r\n")
    return (b"\r\n".join(lines) + f"\r\nContent-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n"
            f"--{boundary}\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            .encode() + body + f"\r\n--{boundary}\r\nContent-Type: text/csv; charset=UTF-8; name=\"一覧.csv\"\r\n"
            "Content-Disposition: attachment; filename*=UTF-8''%E4%B8%80%E8%A6%A7.csv\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{table}--{boundary}--\r\n".encode())


def write_config(folder: Path, clamd_socket: Path | None) -> Path:
    config = folder / ("gateway-clamd.toml" if clamd_socket else "gateway-none.toml")
    engines = (f'engines = "clamd"\nclamd = "unix:{clamd_socket}"\nclamd_stream_max_mb = 1\n'
               "max_signature_age_hours = 0\n") if clamd_socket else 'engines = ""\n'
    config.write_text(f"[antivirus]\n{engines}", encoding="utf-8")
    return config


def cpu_seconds(pid: int) -> float:
    return sum(cpu_by_role(pid).values())


def run(mails: list[bytes], config: Path, clamd_pid: int | None, connections: int, workers: int) -> dict[str, float]:
    """One run: every mail through a fresh ``gateway serve``; throughput and CPU ms per mail."""
    sink = Sink()
    with tempfile.TemporaryDirectory() as data:
        gateway, port = start_gateway(Path(data), sink.port, workers, config=config, quiet=True)
        try:
            before_gateway = cpu_seconds(gateway.pid)
            before_clamd = cpu_seconds(clamd_pid) if clamd_pid else 0.0
            started = time.monotonic()
            send(port, mails, None, connections)
            finished = sink.wait_all(len(mails), 900)
            gateway_ms = 1000 * (cpu_seconds(gateway.pid) - before_gateway) / len(mails)
            clamd_ms = 1000 * (cpu_seconds(clamd_pid) - before_clamd) / len(mails) if clamd_pid else 0.0
        finally:
            gateway.terminate()
            gateway.wait(timeout=120)
    sink.stop()
    return {"per_s": len(mails) / (finished - started), "gateway_ms": gateway_ms, "clamd_ms": clamd_ms,
            "total_ms": gateway_ms + clamd_ms}


def direct_cost(clamd: Clamd, data: bytes, repeat: int = 300) -> tuple[float, float, float]:
    """What one scan of ``data`` costs, measured without the service around it (far less noisy):
    wall ms, CPU ms of this process (MalwareStage.check, as a worker calls it) and of clamd."""
    stage = MalwareStage(AntivirusSettings(engines="clamd", clamd=f"unix:{clamd.socket_path}",
                                           max_signature_age_hours=0))
    stage.check(data)
    wall, mine, theirs = time.monotonic(), time.process_time(), cpu_seconds(clamd.proc.pid)
    for _ in range(repeat):
        if stage.check(data).blocked:
            raise SystemExit("the benchmark's own mail was found infected")
    return (1000 * (time.monotonic() - wall) / repeat, 1000 * (time.process_time() - mine) / repeat,
            1000 * (cpu_seconds(clamd.proc.pid) - theirs) / repeat)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mails", type=int, default=300)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--attachment", action="store_true", help="each mail also carries a 20 KB CSV")
    args = parser.parse_args()
    mails = [with_attachment(mail(n), n) if args.attachment else mail(n) for n in range(args.mails)]
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        clamd = start_clamd(base / "clamd")
        try:
            configs = {"none": write_config(base, None), "clamd": write_config(base, clamd.socket_path)}
            run(mails[:50], configs["clamd"], clamd.proc.pid, args.connections, args.workers)  # warm-up, not counted
            pairs: list[dict[str, dict[str, float]]] = []
            for _ in range(args.pairs):
                pair = {"none": run(mails, configs["none"], None, args.connections, args.workers),
                        "clamd": run(mails, configs["clamd"], clamd.proc.pid, args.connections, args.workers)}
                pairs.append(pair)
                print(json.dumps(pair), file=sys.stderr, flush=True)
            html = base64.b64decode(mail(0).partition(b"\r\n\r\n")[2])
            direct = {"whole mail": direct_cost(clamd, mails[0]), "its HTML, decoded": direct_cost(clamd, html),
                      "the CSV attachment": direct_cost(clamd, CSV.encode())}
        finally:
            stop(clamd.proc)
    kind = "30 KB HTML + 20 KB CSV attachment" if args.attachment else "30 KB HTML"
    print("| pair | no engine: mails/s, CPU ms/mail | clamd: mails/s, CPU ms/mail (gateway + clamd) | "
          "CPU ratio (goal ≤ 1.15) | gateway-only CPU ratio | throughput ratio |\n|---|---|---|---|---|---|")
    ratios: dict[str, list[float]] = {"cpu": [], "gateway": [], "rate": []}
    for number, pair in enumerate(pairs, 1):
        none, scanned = pair["none"], pair["clamd"]
        ratios["cpu"].append(scanned["total_ms"] / none["total_ms"])
        ratios["gateway"].append(scanned["gateway_ms"] / none["gateway_ms"])
        ratios["rate"].append(scanned["per_s"] / none["per_s"])
        print(f"| {number} | {none['per_s']:.1f}, {none['total_ms']:.2f} | {scanned['per_s']:.1f}, "
              f"{scanned['total_ms']:.2f} ({scanned['gateway_ms']:.2f} + {scanned['clamd_ms']:.2f}) | "
              f"{ratios['cpu'][-1]:.3f} | {ratios['gateway'][-1]:.3f} | {ratios['rate'][-1]:.3f} |")
    summary: dict[str, Any] = {"mails": len(mails), "kind": kind, "pairs": len(pairs),
                               **{f"median_{key}_ratio": statistics.median(values) for key, values in ratios.items()}}
    print(f"| median ({kind}, {len(mails)} mails, {args.connections} connections) | | | "
          f"{summary['median_cpu_ratio']:.3f} | {summary['median_gateway_ratio']:.3f} | "
          f"{summary['median_rate_ratio']:.3f} |")
    print("\n| one scan, without the service (300 times) | wall ms | CPU ms, gateway side | CPU ms, clamd |"
          "\n|---|---|---|---|")
    for what, (wall, mine, theirs) in direct.items():
        print(f"| {what} | {wall:.2f} | {mine:.3f} | {theirs:.3f} |")
    summary["direct_ms"] = direct
    json.dump(summary, sys.stdout)
    print()


if __name__ == "__main__":
    main()
