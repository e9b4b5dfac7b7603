"""The message catalogue: every reason code and finding code docs/CONTRACT.md lists has a
Japanese and an English sentence (a code added to the contract without one fails here)."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.messages import FINDINGS, REASONS, finding_text, reason_text

CONTRACT = Path(__file__).resolve().parents[2] / "docs/CONTRACT.md"


def _section(title: str) -> str:
    text = CONTRACT.read_text(encoding="utf-8")
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def contract_reason_codes() -> set[str]:
    """The first cell of every table row under "Reason codes"."""
    return {m.group(1) for line in _section("Reason codes").splitlines()
            if (m := re.match(r"\|\s*`([a-z0-9_]+)`\s*\|", line))}


def contract_finding_codes() -> set[str]:
    """Every code in the "codes" column of the table under "Finding codes" (not the codes a
    parenthesised note names, such as the reason code a finding can turn into)."""
    codes: set[str] = set()
    for line in _section("Finding codes").splitlines():
        cells = line.split("|")
        if len(cells) > 3 and not set(cells[1].strip()) <= {"-"} and cells[1].strip() != "family":
            listed = cells[2]
            while re.search(r"\([^()]*\)", listed):
                listed = re.sub(r"\([^()]*\)", "", listed)
            codes.update(re.findall(r"`([a-z0-9_]+)`", listed))
    return codes


def test_the_contract_lists_codes_this_test_can_read() -> None:
    reasons, findings = contract_reason_codes(), contract_finding_codes()
    assert {"executable", "corrupt_file", "verification_failed", "not_a_mail"} <= reasons and len(reasons) > 30
    assert {"vba_macro_removed", "pdf_javascript_removed", "archive_member_removed"} <= findings
    assert len(findings) > 50


def test_every_reason_code_has_a_japanese_and_an_english_sentence() -> None:
    missing = sorted(contract_reason_codes() - set(REASONS))
    assert missing == []
    for code in contract_reason_codes():
        japanese, english = REASONS[code]
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", japanese), code
        assert english.isascii() and english.endswith("."), code


def test_every_finding_code_has_a_japanese_and_an_english_sentence() -> None:
    missing = sorted(contract_finding_codes() - set(FINDINGS))
    assert missing == []
    for code in contract_finding_codes():
        japanese, english = FINDINGS[code]
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", japanese), code
        assert english.isascii() and english.endswith("."), code


def test_unknown_codes_keep_the_code_visible() -> None:
    assert reason_text("executable") == REASONS["executable"][0]
    assert reason_text("executable", "en") == REASONS["executable"][1]
    assert reason_text("brand_new_code").endswith("(brand_new_code)")
    assert finding_text("brand_new_finding", "en").endswith("(brand_new_finding)")
