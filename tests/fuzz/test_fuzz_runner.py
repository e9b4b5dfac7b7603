"""The runner's bookkeeping: hangs are caught with where the code stood, failures are saved once
per input and counted per key, and the oracle sees through the engine's catch-all."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.fuzz.oracle import Failure, run_case
from tests.fuzz.runner import Recorder, Watchdog
from tests.fuzz.seeds import minimal_docx


def test_watchdog_records_a_hang_with_the_stack(tmp_path: Path) -> None:
    recorder = Recorder("t", tmp_path / "crashes", tmp_path / "stats.json", time.monotonic())
    watchdog = Watchdog(0.2, 60.0, recorder)
    watchdog.start()
    watchdog.arm(b"slow input", "slow.txt", "seed.txt", ("bytes",))
    time.sleep(0.6)  # the "input" runs past the budget
    watchdog.disarm()
    [(key, entry)] = recorder.failures.items()
    assert key.startswith("hang@") and entry["kind"] == "hang"
    assert "test_watchdog_records_a_hang_with_the_stack" in entry["first"]["library_frame"]
    assert Path(entry["first"]["saved"]).read_bytes() == b"slow input"


def test_recorder_counts_each_key_and_saves_few_inputs(tmp_path: Path) -> None:
    recorder = Recorder("t", tmp_path / "crashes", tmp_path / "stats.json", time.monotonic())
    failure = Failure("crashed", "zlib.error@converters/x.py:f", "zlib.error")
    for index in range(6):
        recorder.failure(failure, bytes([index]), "x.bin", "seed.zip", ())
    recorder.write(force=True)  # as the runner does when it ends
    stats = json.loads((tmp_path / "stats.json").read_text(encoding="utf-8"))
    entry = stats["failures"]["zlib.error@converters/x.py:f"]
    assert entry["count"] == 6 and len(entry["inputs"]) == 3
    assert len((tmp_path / "crashes" / "t" / "failures.jsonl").read_text(encoding="utf-8").splitlines()) == 3


def test_oracle_sees_the_exception_behind_converter_crashed() -> None:
    """A damaged deflate stream in [Content_Types].xml: the engine blocks it as converter_crashed
    (until detection guards zipfile) - the oracle must report it with its frame, not as a pass.
    Once fixed, the outcome is a specific block and the oracle reports nothing."""
    import io
    import zipfile

    package = bytearray(minimal_docx())
    with zipfile.ZipFile(io.BytesIO(bytes(package))) as archive:
        info = archive.getinfo("[Content_Types].xml")
    start = info.header_offset + 30 + len(info.filename.encode())
    package[start:start + 8] = b"\xff" * 8  # damage the compressed data, keep sizes and headers
    check = run_case("engine", bytes(package), "damaged.docx")
    if check.outcome == "blocked:converter_crashed":
        assert check.failures and check.failures[0].frame.startswith("converters/")
    else:
        assert check.outcome.startswith("blocked:") and not check.failures
