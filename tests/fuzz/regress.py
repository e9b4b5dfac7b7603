"""Turn fuzzing failures into regression inputs under tests/fuzz/regressions/.

    .venv/bin/python -m tests.fuzz.regress /tmp/gateway-fuzz [--max-bytes 20000] [--seconds 60]

For each distinct failure key in CRASH_DIR/*/failures.jsonl that the manifest does not hold yet,
the smallest saved input is shrunk (chunks removed while the same key still reproduces), saved as
``<sha256[:12]>-<target>.bin`` and added to manifest.json with ``"status": "open"`` and the outcome
expected once the bug is fixed (a first guess from the failure's kind and exception, to be checked
by whoever adds it). Inputs that stay larger than --max-bytes are skipped and listed."""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fuzz.oracle import run_case
from tests.fuzz.targets import TARGETS

HERE = Path(__file__).resolve().parent / "regressions"
MANIFEST = HERE / "manifest.json"


def load_manifest() -> list[dict[str, Any]]:
    if not MANIFEST.exists():
        return []
    entries: list[dict[str, Any]] = json.loads(MANIFEST.read_text(encoding="utf-8"))["entries"]
    return entries


def save_manifest(entries: list[dict[str, Any]]) -> None:
    MANIFEST.write_text(json.dumps({"entries": entries}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def reproduces(target: str, data: bytes, name: str, key: str) -> bool:
    return any(f.key == key for f in run_case(TARGETS[target].kind, data, name).failures)


def shrink(data: bytes, still_fails: Callable[[bytes], bool], seconds: float) -> bytes:
    """Remove chunks, halving their size, while the failure still reproduces."""
    deadline = time.monotonic() + seconds
    chunk = max(1, len(data) // 2)
    while chunk >= 1 and time.monotonic() < deadline:
        at, progressed = 0, False
        while at < len(data) and time.monotonic() < deadline:
            candidate = data[:at] + data[at + chunk:]
            if candidate and still_fails(candidate):
                data, progressed = candidate, True
            else:
                at += chunk
        if not progressed:
            chunk //= 2
    return data


def expected_for(record: dict[str, Any]) -> list[str]:
    """The outcome a fixed converter should give (issue 15: a specific outcome for damaged input)."""
    kind, exception, target = record["kind"], record.get("exception", ""), record["target"]
    if target == "mail":
        if "RecursionError" in exception:
            return ["delivered:mail_structure_truncated"]
        return ["delivered", "delivered:*", "rejected"]
    if target == "inspect":
        return ["*"]
    if target == "detect":
        return ["*"]
    if kind in ("inspector_flagged", "inspector_crashed"):
        return ["blocked:*", "passed", "sanitized"]
    if "DecompressionBomb" in exception:
        return ["blocked:decompression_bomb"]
    if "NotImplementedError" in exception:
        return ["blocked:unsupported_compression", "blocked:corrupt_file", "blocked:encrypted_archive"]
    return ["blocked:corrupt_file"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("crash_dir", type=Path)
    parser.add_argument("--max-bytes", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=60.0, help="shrinking time per input")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    entries = load_manifest()
    known = {e["key"] for e in entries}
    best: dict[str, dict[str, Any]] = {}
    for path in sorted(args.crash_dir.glob("*/failures.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["key"] in known or record["kind"] == "hang" or not Path(record["saved"]).exists():
                continue
            if record["key"] not in best or record["size"] < best[record["key"]]["size"]:
                best[record["key"]] = record
    HERE.mkdir(exist_ok=True)
    for key, record in sorted(best.items()):
        data = Path(record["saved"]).read_bytes()
        target, name = record["target"], record["name"]
        if not reproduces(target, data, name, key):
            print(f"does not reproduce in-process, left out: {key} ({record['saved']})")
            continue
        data = shrink(data, lambda d: reproduces(target, d, name, key), args.seconds)  # noqa: B023
        if len(data) > args.max_bytes:
            print(f"still {len(data)} bytes after shrinking, left out: {key} ({record['saved']})")
            continue
        digest = hashlib.sha256(data).hexdigest()
        file = f"{digest[:12]}-{target}.bin"
        (HERE / file).write_bytes(data)
        entries.append({"file": file, "sha256": digest, "target": target, "name": name, "kind": record["kind"],
                        "key": key, "exception": record.get("exception", ""), "frame": record.get("frame", ""),
                        "library_frame": record.get("library_frame", ""), "message": record.get("message", "")[:200],
                        "mutated_from": record.get("mutated_from", ""), "operations": record.get("operations", []),
                        "expected": expected_for(record), "status": "open"})
        print(f"added {file} ({len(data)} bytes): {key}")
        save_manifest(entries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
