"""The spool's queue discipline: arrival order, one worker per job, and jobs whose worker died."""

from __future__ import annotations

import time
from pathlib import Path

from gateway.spool import Spool


def test_jobs_are_claimed_in_arrival_order_and_only_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    ids = [spool.accept({"sender": "a@example.jp"}, f"mail {n}".encode()) for n in range(5)]
    first = spool.claim("incoming", "active")
    second = spool.claim("incoming", "active")
    assert first is not None and second is not None
    assert [first.id, second.id] == ids[:2]
    assert first.message.read_bytes() == b"mail 0"
    spool.remove(first)
    spool.remove(second)
    assert sorted(p.name for p in spool.queue("incoming").iterdir()) == ids[2:]


def test_a_job_held_by_a_live_worker_stays_and_an_orphan_goes_back(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    held_id = spool.accept({}, b"held")
    orphan_id = spool.accept({}, b"orphan")
    held = spool.claim("incoming", "active")
    orphan = spool.claim("incoming", "active")
    assert held is not None and orphan is not None and (held.id, orphan.id) == (held_id, orphan_id)
    orphan.release()  # what the kernel does when the worker holding it dies
    assert spool.release_orphans() == 1
    assert [p.name for p in spool.queue("incoming").iterdir()] == [orphan_id]
    assert [p.name for p in spool.queue("active").iterdir()] == [held_id]
    assert spool.claim("incoming", "active") is not None


def test_a_job_locked_elsewhere_is_not_claimed(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.accept({}, b"one")
    other = Spool(tmp_path)  # another worker process's view of the same spool
    taken = other.claim("incoming", "active")
    assert taken is not None
    assert spool.claim("incoming", "active") is None
    assert spool.release_orphans() == 0


def _defer(spool: Spool, message: bytes, next_attempt: float) -> str:
    job = spool.claim("incoming", "active") if spool.accept({}, message) else None
    assert job is not None
    spool.move(job, "deferred", {"attempts": 1, "next_attempt": next_attempt})
    return job.id


def test_deferred_jobs_are_claimed_when_due_and_the_next_due_time_is_told(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    now = time.time()
    later = _defer(spool, b"later", now + 600)
    soon = _defer(spool, b"soon", now + 300)
    assert spool.claim_due("sending") == (None, now + 300)  # nothing due; look again in 300 s
    due = _defer(spool, b"due", now - 1)
    job, _ = spool.claim_due("sending")
    assert job is not None and job.id == due and job.message.read_bytes() == b"due"
    assert sorted(p.name for p in spool.queue("deferred").iterdir()) == sorted([later, soon])
