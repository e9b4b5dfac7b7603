"""Image contract: re-encoded without metadata or trailing data; bombs and corrupt files blocked."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from converters.base import Limits
from converters.inspect.outputs import inspect_file
from tests.conftest import run_engine


@pytest.mark.parametrize(("sample", "out_type", "frames"), [
    ("png-clean.png", "image/png", 1),
    ("bmp-clean.bmp", "image/bmp", 1),
    ("gif-animated.gif", "image/gif", 3),
    ("tiff-multipage.tif", "image/tiff", 2),
    ("webp-clean.webp", "image/png", 1),
])
def test_clean_images_pass_with_their_frames(samples: Path, tmp_path: Path, sample: str, out_type: str,
                                             frames: int) -> None:
    report = run_engine(samples / sample, tmp_path)
    assert report.outcome == "passed", report.reason
    [output] = report.outputs
    assert output.type == out_type
    with Image.open(tmp_path / output.path) as image:
        assert getattr(image, "n_frames", 1) == frames
    assert inspect_file(tmp_path / output.path, tmp_path).clean


def test_jpeg_exif_and_gps_are_removed_and_orientation_applied(samples: Path, tmp_path: Path) -> None:
    with Image.open(samples / "jpeg-exif.jpg") as original:
        assert original.getexif().get(0x0112) == 6 and original.size == (320, 200)
    report = run_engine(samples / "jpeg-exif.jpg", tmp_path)
    assert "image_metadata_removed" in {f.code for f in report.findings}
    with Image.open(tmp_path / report.outputs[0].path) as image:
        assert len(image.getexif()) == 0
        assert "exif" not in image.info
        assert image.size == (200, 320)  # turned upright before EXIF was dropped


@pytest.mark.parametrize("sample", ["png-trailing-zip.png", "jpeg-trailing-script.jpg"])
def test_polyglot_trailing_data_is_removed(samples: Path, tmp_path: Path, sample: str) -> None:
    assert not inspect_file(samples / sample, tmp_path).clean
    report = run_engine(samples / sample, tmp_path / "out")
    assert report.outcome == "sanitized"
    assert "image_trailing_data_removed" in {f.code for f in report.findings}
    data = (tmp_path / "out" / report.outputs[0].path).read_bytes()
    assert b"payload.js" not in data and b"<script>" not in data
    assert inspect_file(tmp_path / "out" / report.outputs[0].path, tmp_path).clean


def test_png_text_chunk_with_markup_is_dropped(samples: Path, tmp_path: Path) -> None:
    report = run_engine(samples / "png-text-chunk.png", tmp_path)
    assert b"<script>" not in (tmp_path / report.outputs[0].path).read_bytes()


def test_decompression_bomb_is_blocked_before_decoding(samples: Path, tmp_path: Path) -> None:
    report = run_engine(samples / "png-bomb.png", tmp_path)
    assert (report.outcome, report.reason_code) == ("blocked", "decompression_bomb")
    small = run_engine(samples / "png-clean.png", tmp_path / "small", limits=Limits(max_image_pixels=1000))
    assert small.reason_code == "decompression_bomb"


def test_a_later_frame_larger_than_allowed_is_blocked_before_it_is_decoded(tmp_path: Path) -> None:
    """The first frame is small (it passes the check at open), the second declares a canvas
    of 157 million pixels, under Pillow's own refusal at twice the limit (found by fuzzing)."""
    source = Path(__file__).resolve().parents[2] / "fuzz" / "regressions" / "66897bf96f4f-image.bin"
    report = run_engine(source, tmp_path, name="animated.gif")
    assert (report.outcome, report.reason_code) == ("blocked", "decompression_bomb")
    assert "frame 2" in (report.reason or "")


@pytest.mark.parametrize("regression", ["0da2863fdd30-image.bin", "0bcf88a09085-image.bin"])
def test_a_gif_frame_placed_past_a_16_bit_canvas_is_corrupt_not_a_crash(tmp_path: Path, regression: str) -> None:
    """Pillow grows the canvas for a frame placed beyond it, past what a GIF can hold (65535):
    writing it raised OverflowError (converter_crashed). Found by this session's final campaign."""
    source = Path(__file__).resolve().parents[2] / "fuzz" / "regressions" / regression
    report = run_engine(source, tmp_path, name="animated.gif")
    assert (report.outcome, report.reason_code) == ("blocked", "corrupt_file")
    assert "what a GIF can hold" in (report.reason or "")


@pytest.mark.parametrize("regression", ["8bb7f33ee930-image.bin", "d36ced1d7511-image.bin"])
def test_identical_gif_frames_whose_delays_overflow_are_corrupt_not_a_crash(tmp_path: Path, regression: str) -> None:
    """Two identical frames each with the longest delay a GIF holds: Pillow joins them and adds the
    delays, past 16 bits (OverflowError, converter_crashed). Found by the sixth session's campaign."""
    source = Path(__file__).resolve().parents[2] / "fuzz" / "regressions" / regression
    report = run_engine(source, tmp_path, name="animated.gif")
    assert (report.outcome, report.reason_code) == ("blocked", "corrupt_file")
    assert "frame delays" in (report.reason or "")


def test_an_animated_png_frame_delay_past_what_its_field_holds_is_shortened(tmp_path: Path) -> None:
    """An APNG frame may last 65535 s; Pillow writes delays in milliseconds over 1000, 16 bits each."""
    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "blue")]
    source = tmp_path / "slow.png"
    frames[0].save(source, "PNG", save_all=True, append_images=frames[1:], duration=[70_000, 500], loop=0)
    report = run_engine(source, tmp_path / "out", name="slow.png")
    assert report.outcome in ("passed", "sanitized"), report.reason
    with Image.open(tmp_path / "out" / report.outputs[0].path) as written:
        assert isinstance(written, PngImagePlugin.PngImageFile)
        delays = []
        for index in range(written.n_frames):
            written.seek(index)
            delays.append(written.info["duration"])
    assert delays == [65_535, 500]


def test_corrupt_image_is_blocked(samples: Path, tmp_path: Path) -> None:
    report = run_engine(samples / "png-corrupt.png", tmp_path)
    assert (report.outcome, report.reason_code, report.outputs) == ("blocked", "corrupt_file", [])


def test_svg_is_blocked(samples: Path, tmp_path: Path) -> None:
    report = run_engine(samples / "svg-script.svg", tmp_path)
    assert (report.outcome, report.reason_code) == ("blocked", "svg")


@pytest.mark.parametrize(("sample", "problem"), [
    ("png-icc-payload.png", "png chunk 'iCCP'"),
    ("jpeg-comment.jpg", "jpeg segment 0xFE"),
    ("tiff-photoshop.tif", "tiff tag 34377"),
])
def test_metadata_payloads_do_not_survive(samples: Path, tmp_path: Path, sample: str, problem: str) -> None:
    assert problem in inspect_file(samples / sample, tmp_path).problems  # the inspector sees the payload
    report = run_engine(samples / sample, tmp_path / "out")
    output = tmp_path / "out" / report.outputs[0].path
    assert b"MZ-PAYLOAD" not in output.read_bytes() and b"<script>" not in output.read_bytes()
    assert inspect_file(output, tmp_path).clean
