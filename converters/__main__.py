"""``python -m converters``: the sandbox child's entry points.

    python -m converters convert --input FILE --name NAME --out DIR [--method M] [--limits JSON]
    python -m converters inspect --scratch DIR --root DIR --list FILE

Each prints one JSON document on standard output and nothing else (library chatter is sent to
standard error). Exit 0 when the JSON was written, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from converters.base import METHODS, Limits
from converters.engine import Engine
from converters.frames import FrameWriter
from converters.inspect import inspect_file


def _json_channel() -> Any:
    """Keep the real stdout for our JSON and point fd 1 at stderr for everything else."""
    saved = os.dup(1)
    os.dup2(2, 1)
    return os.fdopen(saved, "w", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m converters")
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser("convert")
    convert.add_argument("--input", required=True, type=Path)
    convert.add_argument("--name", required=True)
    convert.add_argument("--out", required=True, type=Path)
    convert.add_argument("--method", default="rebuild", choices=sorted(METHODS))
    convert.add_argument("--limits", default="{}")
    convert.add_argument("--frames-fd", type=int, help="write rasterised pages to this descriptor")
    inspect = commands.add_parser("inspect")
    inspect.add_argument("--scratch", required=True, type=Path)
    inspect.add_argument("--root", required=True, type=Path, help="directory the listed paths are relative to")
    inspect.add_argument("--list", required=True, type=Path, help="JSON list of relative paths")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    channel = _json_channel()
    if args.command == "convert":
        limits = Limits.from_dict(json.loads(args.limits))
        frames = None
        if args.frames_fd is not None:
            frames = FrameWriter(os.fdopen(args.frames_fd, "wb", buffering=1024 * 1024))
        engine = Engine(args.out, args.method, limits, frames)
        result: Any = engine.process(args.input, args.name).to_dict()
        if frames is not None:
            frames.stream.close()
    else:
        args.scratch.mkdir(parents=True, exist_ok=True)
        paths = json.loads(args.list.read_text(encoding="utf-8"))
        result = [inspect_file(args.root / path, args.scratch).to_dict() for path in paths]
    json.dump(result, channel, ensure_ascii=False)
    channel.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
