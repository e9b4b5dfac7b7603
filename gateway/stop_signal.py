"""The service's stop flag, shared by the main process and its worker processes."""

from __future__ import annotations

import multiprocessing
import time

SPAWN = multiprocessing.get_context("spawn")
STOP_POLL_SECONDS = 0.05


class StopSignal:
    """The service's stop flag, shared with the worker processes through shared memory without
    a lock (a multiprocessing.Event's condition is corrupted when a waiting worker is killed,
    and then ``set`` hangs)."""

    def __init__(self) -> None:
        self.flag = SPAWN.RawValue("b", 0)

    def is_set(self) -> bool:
        return bool(self.flag.value)

    def set(self) -> None:
        self.flag.value = 1

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.flag.value and (remaining := deadline - time.monotonic()) > 0:
            time.sleep(min(remaining, STOP_POLL_SECONDS))
        return self.is_set()
