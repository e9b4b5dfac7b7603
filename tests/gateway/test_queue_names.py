"""Queue names are declared once, in gateway/spool/ (``Queue``): no other module of the service
names a queue with a bare string where it hands one to the spool."""

from __future__ import annotations

import ast
from pathlib import Path

from gateway.spool import QUEUES, Queue

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
SPOOL_CALLS = {"queue", "claim", "claim_due", "commit", "move", "unheld", "jobs", "_move"}


def bare_queue_names(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SPOOL_CALLS:
            for argument in ast.walk(node):
                if isinstance(argument, ast.Constant) and argument.value in QUEUES:
                    found.append(f"{path.name}:{argument.lineno} {argument.value!r}")
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Tuple) and any(
                isinstance(e, ast.Name) and e.id in ("source", "working") for e in t.elts) for t in node.targets):
            found += [f"{path.name}:{c.lineno} {c.value!r}" for c in ast.walk(node.value)
                      if isinstance(c, ast.Constant) and c.value in QUEUES]
    return found


def test_no_module_but_the_spool_names_a_queue_with_a_bare_string() -> None:
    offenders = [hit for path in sorted(GATEWAY.rglob("*.py")) if "spool" not in path.relative_to(GATEWAY).parts
                 for hit in bare_queue_names(path)]
    assert offenders == []


def test_the_check_catches_a_bare_name(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('spool.claim("incoming", "active")\nrole, source, working = "x", "outbox", "sending"\n')
    assert len(bare_queue_names(sample)) == 4
    assert set(QUEUES) == {str(queue) for queue in Queue}
