"""Adversarial inputs for the Office (OOXML) disarm path, judged from outside the converter.

Every variant (tests/converters/adversarial: Word fields, Excel formulas, package-level and
PowerPoint attacks, each written the ways an attacker writes them and planted in every place
the format allows) goes through the converter and the inspector as the gateway runs them; the
outcome must be ``blocked``, or the delivered document must hold none of the construct by an
independent reading (defusedxml, joined field instructions, tokenised formulas, relationships
walked from the root, media bytes) and by oletools (msodde, olevba, oleobj). Harmless base
documents must still come out usable, with their text, also when LibreOffice reopens them. A
sample goes through the real ``gateway sanitize`` command (sandbox included) as well.

A routine run takes a deterministic covering sample (every construct written every way, every way
in every location: about 670 of 1,535 variants); ADVERSARIAL_FULL=1 runs the whole matrix, and
``python -m tests.converters.adversarial.run`` prints its work list (what gets through)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.converters.adversarial.bases import Base, all_bases
from tests.converters.adversarial.judge import Reading, judge
from tests.converters.adversarial.run import (
    CLASS_ORDER,
    Result,
    all_variants,
    disarm,
    gateway_sample,
    run_gateway,
    run_in_process,
    select,
)

FULL = os.environ.get("ADVERSARIAL_FULL") == "1"
BUDGET = int(os.environ.get("ADVERSARIAL_BUDGET", "0"))  # a cap for quick runs (0: the whole covering sample)
USABLE = ("passed", "sanitized")


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("adversarial")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def bases(work: Path) -> dict[str, Base]:
    return all_bases(work / "bases")


@pytest.fixture(scope="module")
def selection() -> list[int]:
    variants = all_variants()
    return list(range(len(variants))) if FULL else select(variants, BUDGET)


@pytest.fixture(scope="module")
def results(bases: dict[str, Base], work: Path, selection: list[int]) -> list[Result]:
    return run_in_process(bases, work / "runs", workers=2, only=selection)


def _missing(expected: tuple[str, ...], runs: list[str]) -> list[str]:
    """Expected texts not in the document (runs joined: applications split text into runs freely)."""
    flat = "".join("".join(runs).split())
    return [text for text in expected if "".join(text.split()) not in flat]


def _report(failures: list[Result]) -> str:
    return "\n".join(["class | construct | variant | location | base | outcome | what the output still holds",
                      *(r.line() for r in failures)])


def test_the_sample_covers_every_construct_way_and_place(selection: list[int]) -> None:
    variants = all_variants()
    chosen = [variants[i] for i in selection]
    for attribute in ("construct", "location", "base"):
        assert {getattr(v, attribute) for v in chosen} == {getattr(v, attribute) for v in variants}, attribute
    kinds = {v.variant.split("-at-")[0] for v in variants}
    assert {v.variant.split("-at-")[0] for v in chosen} == kinds


def test_every_variant_carries_its_construct_as_the_judge_reads_it(results: list[Result]) -> None:
    """The judge must see the attack in the input, or a clean output would prove nothing."""
    blind = [r.id for r in results if r.outcome == "generator-error" or not r.input_holdings]
    assert not blind, blind


@pytest.mark.parametrize("klass", CLASS_ORDER)
def test_variants_are_blocked_or_come_out_without_the_construct(results: list[Result], klass: str) -> None:
    mine = [r for r in results if r.klass == klass]
    assert mine, f"no {klass} variant ran"
    failures = [r for r in mine if r.got_through]
    assert not failures, f"{len(failures)} of {len(mine)} {klass} variants get through:\n{_report(failures)}"


@pytest.fixture(scope="module")
def disarmed_bases(bases: dict[str, Base], work: Path) -> dict[str, tuple[str, str | None, list[str], list[Path]]]:
    out = {}
    for name, base in bases.items():
        source = work / "harmless" / name
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_bytes(base.package.to_bytes())
        outcome, code, _, problems, outputs = disarm(source, name, work / "harmless-out" / name)
        out[name] = (outcome, code, problems, outputs)
    return out


def test_the_judge_finds_nothing_in_the_harmless_bases(bases: dict[str, Base], work: Path) -> None:
    """No false alarms: the bases (local fields, https links, charts, tables, pictures) hold nothing."""
    for name, base in bases.items():
        path = work / "judge-bases" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base.package.to_bytes())
        holdings, texts = judge(path)
        assert holdings == [], (name, [str(h) for h in holdings])
        assert _missing(base.texts, texts) == [], name


def test_harmless_bases_stay_usable(bases: dict[str, Base],
                                    disarmed_bases: dict[str, tuple[str, str | None, list[str], list[Path]]]) -> None:
    unusable = []
    for name, base in bases.items():
        outcome, code, problems, outputs = disarmed_bases[name]
        if outcome not in USABLE or len(outputs) != 1:
            unusable.append(f"{name}: {outcome} {code} {problems[:3]}")
            continue
        reading = Reading(outputs[0])
        missing = _missing(base.texts, reading.texts)
        held = [str(h) for h in reading.holdings]
        if missing or held:
            unusable.append(f"{name}: text lost {missing}, holds {held[:3]}")
    assert not unusable, "\n".join(unusable)


def test_libreoffice_reopens_the_disarmed_bases_with_their_text(
        bases: dict[str, Base], disarmed_bases: dict[str, tuple[str, str | None, list[str], list[Path]]],
        work: Path) -> None:
    outputs = {name: entry[3][0] for name, entry in disarmed_bases.items() if entry[0] in USABLE and entry[3]}
    assert outputs, "no base came out usable"
    folder = work / "reopen"
    folder.mkdir()
    copies = []
    for number, (name, path) in enumerate(sorted(outputs.items())):
        copy = folder / f"{number}{path.suffix}"
        shutil.copyfile(path, copy)
        copies.append((name, copy))
    profile = (work / "lo-reopen-profile").as_uri()
    subprocess.run(["soffice", "--headless", "--norestore", f"-env:UserInstallation={profile}", "--convert-to", "pdf",
                    "--outdir", str(folder / "pdf"), *(str(c) for _, c in copies)],
                   check=True, capture_output=True, timeout=300)
    lost = []
    for name, copy in copies:
        pdf = folder / "pdf" / f"{copy.stem}.pdf"
        if not pdf.exists():
            lost.append(f"{name}: LibreOffice could not open it")
            continue
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                              timeout=60).stdout.decode("utf-8", "replace")
        missing = _missing(bases[name].texts, [text])
        if missing:
            lost.append(f"{name}: {missing}")
    assert not lost, "\n".join(lost)
    assert set(outputs) == set(bases), f"not usable: {sorted(set(bases) - set(outputs))}"


def test_gateway_sanitize_on_a_sample(bases: dict[str, Base], results: list[Result], selection: list[int],
                                      work: Path) -> None:
    """The real command (sandbox, inspector, naming) on a batch: one variant per construct and per
    location of the sample, and the harmless bases: nothing gets through, what was blocked in process
    is blocked there too, and the bases stay usable."""
    variants = all_variants()
    ran = {r.id: r for r in results}
    sample = [i for i in gateway_sample([variants[i] for i in selection])]
    picked = [variants[selection[i]] for i in sample]
    folder = work / "gateway-in"
    folder.mkdir()
    files: dict[str, str] = {}
    packages = {name: base.package for name, base in bases.items()}
    for number, variant in enumerate(picked):
        path = folder / f"a{number:04d}.{variant.extension}"
        path.write_bytes(variant.make(packages[variant.base]))
        files[str(path)] = variant.id
    for name, base in bases.items():
        path = folder / f"base-{name}"
        path.write_bytes(base.package.to_bytes())
        files[str(path)] = f"base:{name}"
    lines = run_gateway([Path(p) for p in files], work / "gateway-out")
    problems = []
    for name, label in files.items():
        line = lines[name]
        outcome = str(line["outcome"])
        outputs = [Path(str(o["path"])) for o in line["outputs"]]  # type: ignore[attr-defined]
        if label.startswith("base:"):
            if outcome not in USABLE:
                problems.append(f"{label}: {outcome} {line['reason_code']}")
            continue
        if outcome != "blocked":
            held = [str(h) for o in outputs for h in judge(o)[0]]
            if held:
                problems.append(f"{label}: {outcome}, holds {held[:3]}")
        # the gateway may block more (its inspector always runs), never less
        if ran[label].outcome == "blocked" and outcome != "blocked":
            problems.append(f"{label}: gateway {outcome} but blocked in process ({ran[label].reason_code})")
    assert not problems, "\n".join(problems)
