"""The inspector judges formula cells where a spreadsheet would open the file: by its name."""

from __future__ import annotations

from pathlib import Path

from converters.inspect.outputs import inspect_file

LINES = '日付,金額\r\n2026-11-30,"=HYPERLINK(""https://example.com"",""x"")"\r\n@SUM(1+1),-2+3\r\n'


def test_formula_cells_are_a_problem_in_a_csv_but_not_in_a_txt(tmp_path: Path) -> None:
    (tmp_path / "table.csv").write_text(LINES, encoding="utf-8")
    (tmp_path / "notes.txt").write_text(LINES, encoding="utf-8")
    assert "csv_formula_cell" in inspect_file(tmp_path / "table.csv", tmp_path).problems
    assert inspect_file(tmp_path / "notes.txt", tmp_path).clean


def test_a_damaged_tiff_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, "TIFF")
    data = bytearray(buffer.getvalue())
    width_tag = data.find(b"\x00\x01\x04\x00", 8)  # tag 256 (ImageWidth), little-endian, type LONG
    assert width_tag > 0
    data[width_tag:width_tag + 2] = b"\x99\x99"  # the image loses its width: "Missing dimensions"
    (tmp_path / "damaged.tif").write_bytes(bytes(data))
    verdict = inspect_file(tmp_path / "damaged.tif", tmp_path)
    assert not verdict.clean and any(p.startswith("image_unreadable") for p in verdict.problems)
