"""The durable queues between intake, pipeline and delivery (Postfix's lesson: nothing is
acknowledged before it is on disk, and every move is a rename).

Each job is a directory holding ``message.eml`` and ``envelope.json``. It is written under
``tmp/``, fsynced, then renamed into a queue directory and that directory fsynced; a queue
change is a rename. Uploads wait in ``uploads`` and are worked on in ``working``.
Mail: ``incoming`` (accepted, not yet sanitised) → ``active`` (being
sanitised) → ``outbox`` (sanitised, to deliver) → ``sending`` → gone once delivered;
``deferred`` (delivery failed, retried later) and ``corrupt`` (failed too often: kept, audited,
never dropped). Jobs left in ``active`` or ``sending`` by a crash go back to their queue at start.
``hold`` keeps jobs an operator took out of every worker's reach (``gateway queue hold``, with a
note of the queue they came from); operators change queues only through the methods at the end of
``Spool``, which take the job's flock as a worker does, so a job a worker holds is never touched.

A job keeps one directory (one id, in one queue at a time) from intake to delivery: the pipeline
writes the message to deliver (``outgoing.eml``, ``outgoing.json``) into it and renames it into
``outbox``. The audit records a state change causes travel with it: they are written durably into
the job (``audit.json``) before the rename that makes the change, appended to the audit log after
it, and the file removed; whatever a crash leaves in such a file is written at the next start
(``gateway/audit/records.py``). A delivered job leaves a marker in ``delivered`` holding its
``delivered`` record until the job is gone and the record written; then the marker goes too.
A job with nothing left to deliver but records to write passes through ``done``.
"""

from gateway.spool.basics import (
    BUSY_QUEUES,
    HELD_FROM,
    INTENTS,
    LISTED_QUEUES,
    OUTGOING,
    OUTGOING_ENVELOPE,
    QUEUES,
    WORKING_QUEUES,
    JobBusy,
    NoSuchJob,
    Queue,
    QueuedJob,
    SpoolJob,
    fsync_dir,
    held_from,
    job_time,
    new_job_id,
    write_durably,
)
from gateway.spool.operator import Spool

__all__ = ["BUSY_QUEUES", "HELD_FROM", "INTENTS", "LISTED_QUEUES", "OUTGOING", "OUTGOING_ENVELOPE", "QUEUES",
           "WORKING_QUEUES", "JobBusy", "NoSuchJob", "Queue", "QueuedJob", "Spool", "SpoolJob", "fsync_dir",
           "held_from", "job_time", "new_job_id", "write_durably"]
