"""Every attack of ``reference_attacks`` through the converter and the independent inspector: the
document comes out (these are ordinary documents with one hostile detail), without the detail by
this package's own reading, and the inspector finds it clean; each attack is seen in its input by
the same reading (the test could fail)."""

from __future__ import annotations

from pathlib import Path

import pytest

from converters.inspect.outputs import inspect_file
from tests.conftest import run_engine
from tests.converters.adversarial.bases import Base, make_excel, make_slides, make_word
from tests.converters.adversarial.reference_attacks import ReferenceAttack, outside_holdings, reference_attacks

ATTACKS = {attack.name: attack for attack in reference_attacks()}


@pytest.fixture(scope="module")
def bases() -> dict[str, Base]:
    return {base.name: base for base in (make_word(), make_excel(), make_slides())}


def test_the_bases_hold_none_of_it(bases: dict[str, Base]) -> None:
    for base in bases.values():
        assert outside_holdings(base.package.to_bytes()) == [], base.name


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_reference_attack(bases: dict[str, Base], tmp_path: Path, name: str) -> None:
    attack: ReferenceAttack = ATTACKS[name]
    base = bases[attack.base]
    package = base.package.copy()
    attack.build(package)
    data = package.to_bytes()
    assert outside_holdings(data), "the attack is not in its own input"
    source = tmp_path / f"{name}.{attack.base.rsplit('.', 1)[1]}"
    source.write_bytes(data)
    report = run_engine(source, tmp_path / "out")
    assert report.outcome == "sanitized", report.reason
    output = tmp_path / "out" / report.outputs[0].path
    assert outside_holdings(output.read_bytes()) == []
    verdict = inspect_file(output, tmp_path / "inspect")
    assert verdict.clean, verdict
