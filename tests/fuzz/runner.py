"""Run one fuzz target under atheris (libFuzzer, coverage-guided, in-process).

    .venv/bin/python -m tests.fuzz.runner --target ooxml --seeds SAMPLES_DIR --crash-dir /tmp/gateway-fuzz \\
        --stats stats.json (--runs N | --seconds S) [--seed 1] [--time-budget 5]

Every input goes through the oracle (tests/fuzz/oracle.py); failures do not stop the run: each is
counted under its distinct key, the first inputs of each key are saved under
``CRASH_DIR/TARGET/<sha256[:12]>-TARGET.bin`` with a line in ``CRASH_DIR/TARGET/failures.jsonl``
(kind, key, exception, frames, input hash, the seed it was mutated from and the last mutation
operations), and a line ``FUZZ FAILURE ...`` goes to stderr. The statistics file is rewritten as the
run goes and once more at the end, when the runner leaves with status 0 after ``--runs`` inputs or
``--seconds``. A per-input watchdog records an input that runs past ``--time-budget`` as a hang (with
the stack at that moment) and ends the process after ``--hard-budget``; libFuzzer's own -timeout
is the last resort when the interpreter is stuck inside C code.

LibreOffice is never started (tests/fuzz/oracle.py ``without_libreoffice``): legacy Office and RTF
are fuzzed up to the point where they would be handed to it."""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import logging
import os
import pkgutil
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import atheris

SAVED_PER_KEY = 3
DISTINCT_LIMIT = 1_000_000


def _import_converters() -> None:
    import converters

    for module in pkgutil.walk_packages(converters.__path__, "converters."):
        if module.name not in ("converters.__main__",):
            importlib.import_module(module.name)


class Recorder:
    def __init__(self, target: str, crash_dir: Path, stats: Path, started: float) -> None:
        self.target = target
        self.dir = crash_dir / target
        self.dir.mkdir(parents=True, exist_ok=True)
        self.stats = stats
        self.started = started
        self.runs = 0
        self.distinct: set[bytes] = set()
        self.outcomes: Counter[str] = Counter()
        self.failures: dict[str, dict[str, Any]] = {}
        self.slowest = 0.0
        self.lock = threading.Lock()
        self.last_write = 0.0
        self.mutator_errors = 0

    def failure(self, failure: Any, data: bytes, name: str, origin: str, ops: tuple[str, ...]) -> None:
        digest = hashlib.sha256(data).hexdigest()
        with self.lock:
            entry = self.failures.setdefault(failure.key, {"kind": failure.kind, "count": 0, "inputs": []})
            entry["count"] += 1
            if len(entry["inputs"]) >= SAVED_PER_KEY or any(i["sha256"] == digest for i in entry["inputs"]):
                return
            path = self.dir / f"{digest[:12]}-{self.target}.bin"
            path.write_bytes(data)
            record = {"target": self.target, **failure.to_dict(), "sha256": digest, "saved": str(path),
                      "name": name, "size": len(data), "mutated_from": origin or "(unknown)", "operations": list(ops)}
            entry["inputs"].append({"sha256": digest, "saved": str(path)})
            entry.setdefault("first", record)
            with (self.dir / "failures.jsonl").open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        print(f"FUZZ FAILURE target={self.target} kind={failure.kind} key={failure.key} sha256={digest} "
              f"saved={path} from={origin or '?'} ops={','.join(ops)}", file=sys.stderr, flush=True)
        self.write(force=True)

    def write(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_write < 1.0:
            return
        self.last_write = now
        with self.lock:
            data = {"target": self.target, "runs": self.runs, "distinct_inputs": len(self.distinct),
                    "seconds": round(now - self.started, 2), "outcomes": dict(self.outcomes.most_common(40)),
                    "failures": self.failures, "slowest_seconds": round(self.slowest, 3),
                    "mutator_errors": self.mutator_errors}
            temporary = self.stats.with_suffix(".tmp")
            temporary.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
            os.replace(temporary, self.stats)


class Watchdog(threading.Thread):
    """Notices an input running past the budget and records where the main thread was."""

    def __init__(self, soft: float, hard: float, recorder: Recorder) -> None:
        super().__init__(daemon=True)
        self.soft, self.hard, self.recorder = soft, hard, recorder
        self.started: float | None = None
        self.context: tuple[bytes, str, str, tuple[str, ...]] = (b"", "", "", ())
        self.fired = False
        self.main = threading.main_thread().ident

    def arm(self, data: bytes, name: str, origin: str, ops: tuple[str, ...]) -> None:
        self.context, self.fired, self.started = (data, name, origin, ops), False, time.monotonic()

    def disarm(self) -> None:
        self.started = None

    def run(self) -> None:
        from tests.fuzz.oracle import Failure, locate, stack_frames

        while True:
            time.sleep(0.05)
            started = self.started
            if started is None:
                continue
            elapsed = time.monotonic() - started
            if elapsed > self.soft and not self.fired:
                self.fired = True
                frames = stack_frames(sys._current_frames().get(self.main or 0))
                ours, library = locate(frames)
                where = ours.rsplit(":", 1)[0] if ours else library.rsplit(":", 1)[0]
                self.recorder.failure(Failure("hang", f"hang@{where}", "hang", f"still running after {self.soft} s",
                                              ours, library), *self.context)
            if elapsed > self.hard:
                self.recorder.write(force=True)
                print(f"FUZZ HARD TIMEOUT target={self.recorder.target} after {self.hard} s", file=sys.stderr,
                      flush=True)
                os._exit(3)


def _seeds(target: Any, samples: Path | None) -> dict[str, bytes]:
    from tests.fuzz.seeds import handmade, sample_files

    pool = {**sample_files(samples), **handmade()}
    if target.kind == "inspect":
        return _engine_outputs(pool)
    return {name: data for name, data in pool.items() if target.select(name)}


def _engine_outputs(pool: dict[str, bytes]) -> dict[str, bytes]:
    """What the converters write (the inspector's real input), from every seed that passes;
    named ``INDEX-NAME`` (the runner gives the inspector ``NAME``: its suffix matters)."""
    from converters.base import Limits
    from tests.fuzz.oracle import TracingEngine, walk

    outputs: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="fuzz-outputs-") as scratch:
        for index, (name, data) in enumerate(sorted(pool.items())):
            if name.endswith((".eml", ".doc", ".xls", ".rtf")):
                continue
            work = Path(scratch) / str(index)
            (work / "out").mkdir(parents=True)
            (work / name).write_bytes(data)
            report = TracingEngine(work / "out", Limits()).process(work / name, name)
            for member in walk(report):
                for output in member.outputs:
                    path = work / "out" / output.path
                    if path.is_file() and path.stat().st_size <= 128 * 1024:
                        outputs[f"{index}-{path.name}"] = path.read_bytes()
    return outputs


def _dictionary(words: tuple[bytes, ...], path: Path) -> Path:
    lines = []
    for index, word in enumerate(words):
        escaped = "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\x{b:02x}" for b in word)
        lines.append(f'w{index}="{escaped}"')
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.runner")
    parser.add_argument("--target", required=True)
    parser.add_argument("--seeds", type=Path, help="directory of generated samples (samples/make_samples.py)")
    parser.add_argument("--crash-dir", type=Path, default=Path("/tmp/gateway-fuzz"))
    parser.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--work", type=Path, help="corpus and scratch directory (default: a new temporary one)")
    parser.add_argument("--runs", type=int, default=0, help="stop after this many inputs")
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-budget", type=float, default=5.0, help="seconds per input before it is a hang")
    parser.add_argument("--hard-budget", type=float, default=60.0, help="seconds per input before the run ends")
    args, extra = parser.parse_known_args(argv)

    from tests.fuzz.targets import TARGETS, Lineage, SmartMutator

    target = TARGETS[args.target]
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    with atheris.instrument_imports(include=list(target.instrument)):
        for module in target.instrument:
            if module != "converters":
                try:
                    importlib.import_module(module)
                except ImportError:
                    pass
        _import_converters()
    from converters.base import Limits
    from tests.fuzz import oracle

    oracle.without_libreoffice().__enter__()  # for the whole process, which ends with os._exit
    work = args.work or Path(tempfile.mkdtemp(prefix=f"gateway-fuzz-{target.name}-"))
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    scratch = work / "scratch"
    scratch.mkdir(exist_ok=True)
    lineage = Lineage()
    for name, data in _seeds(target, args.seeds).items():
        (corpus / name).write_bytes(data)
        lineage.seed(data, name)
    recorder = Recorder(target.name, args.crash_dir, args.stats, time.monotonic())
    watchdog = Watchdog(args.time_budget, args.hard_budget, recorder)
    watchdog.start()
    # atheris.Mutate is looked up at each call: the module's attribute is only usable once Fuzz() runs
    mutator = SmartMutator(target, lambda data, size: atheris.Mutate(data, size), lineage)
    limits = Limits()
    deadline = time.monotonic() + args.seconds if args.seconds else None

    def one(data: bytes) -> None:
        origin, ops = lineage.of(data)
        name = origin.split("-", 1)[1] if target.kind == "inspect" and "-" in origin else origin
        name = name or target.default_name
        case = Path(tempfile.mkdtemp(dir=scratch))
        started = time.monotonic()
        watchdog.arm(data, name, origin, ops)
        try:
            check = oracle.run_case(target.kind, data, name, case, limits)
        finally:
            watchdog.disarm()
            shutil.rmtree(case, ignore_errors=True)
        elapsed = time.monotonic() - started
        recorder.runs += 1
        if len(recorder.distinct) < DISTINCT_LIMIT:
            recorder.distinct.add(lineage.digest(data))
        recorder.slowest = max(recorder.slowest, elapsed)
        recorder.outcomes[check.outcome] += 1
        recorder.mutator_errors = mutator.errors
        for failure in check.failures:
            recorder.failure(failure, data, name, origin, ops)
        recorder.write()
        if (args.runs and recorder.runs >= args.runs) or (deadline is not None and time.monotonic() >= deadline):
            recorder.write(force=True)
            sys.stderr.flush()
            os._exit(0)

    dictionary = _dictionary(target.words, work / "words.dict") if target.words else None
    fuzzer_args = [sys.argv[0], f"-seed={args.seed}", f"-max_len={target.max_len}", "-len_control=0",
                   f"-timeout={int(args.hard_budget) + 30}", "-rss_limit_mb=3072",
                   f"-artifact_prefix={recorder.dir}/", "-print_final_stats=1", *extra]
    if dictionary is not None:
        fuzzer_args.append(f"-dict={dictionary}")
    atheris.Setup([*fuzzer_args, str(corpus)], one, custom_mutator=lambda d, size, seed: mutator(d, size, seed))
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
