"""The inspector judges formula cells where a spreadsheet would open the file: by its name."""

from __future__ import annotations

from pathlib import Path

from converters.inspect import inspect_file

LINES = '日付,金額\r\n2026-11-30,"=HYPERLINK(""https://example.com"",""x"")"\r\n@SUM(1+1),-2+3\r\n'


def test_formula_cells_are_a_problem_in_a_csv_but_not_in_a_txt(tmp_path: Path) -> None:
    (tmp_path / "table.csv").write_text(LINES, encoding="utf-8")
    (tmp_path / "notes.txt").write_text(LINES, encoding="utf-8")
    assert "csv_formula_cell" in inspect_file(tmp_path / "table.csv", tmp_path).problems
    assert inspect_file(tmp_path / "notes.txt", tmp_path).clean
