from __future__ import annotations

import sys
from pathlib import Path

import pytest

from converters.base import Limits, Method, Report
from converters.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "samples"))

import make_samples  # noqa: E402


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_samples.make_all(tmp_path_factory.mktemp("samples"))


def run_engine(src: Path, out: Path, method: Method = "rebuild", limits: Limits | None = None,
               name: str | None = None) -> Report:
    """Convert in-process (no sandbox): the converter contract tests."""
    out.mkdir(parents=True, exist_ok=True)
    return Engine(out, method, limits or Limits()).process(src, name or src.name)
