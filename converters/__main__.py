"""``python -m converters``: the sandbox child's entry points.

    python -m converters convert --input FILE --name NAME --out DIR [--method M] [--limits JSON]
    python -m converters convert --out DIR --job-from-stdin [--warm-office]   (a spare: started
        ahead of need, it reads {"input", "name", "method", "limits"} as one JSON line)
    python -m converters inspect --scratch DIR --root DIR --list FILE
    python -m converters mail-split --input FILE --out DIR [--no-defang]
    python -m converters extract-text --root DIR --list FILE
    python -m converters zygote [--own-pid-namespace] [--preload mail|files]   (a child per job; zygote.py)

Each prints one JSON document on standard output and nothing else (library chatter is sent to
standard error). Exit 0 when the JSON was written, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from converters.base import METHODS, Limits
from converters.engine import Engine
from converters.formats.libreoffice import WarmOffice
from converters.inspect.outputs import inspect_file
from converters.protocol import FrameWriter

WARM_START_SECONDS = 30


def _json_channel() -> Any:
    """Keep the real stdout for our JSON and point fd 1 at stderr for everything else."""
    saved = os.dup(1)
    os.dup2(2, 1)
    return os.fdopen(saved, "w", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m converters")
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser("convert")
    convert.add_argument("--input", type=Path)
    convert.add_argument("--name")
    convert.add_argument("--job-from-stdin", action="store_true", help="wait for the job on stdin")
    convert.add_argument("--warm-office", action="store_true", help="start LibreOffice before the job")
    convert.add_argument("--out", required=True, type=Path)
    convert.add_argument("--method", default="rebuild", choices=sorted(METHODS))
    convert.add_argument("--limits", default="{}")
    convert.add_argument("--frames-fd", type=int, help="write rasterised pages to this descriptor")
    inspect = commands.add_parser("inspect")
    inspect.add_argument("--scratch", required=True, type=Path)
    inspect.add_argument("--root", required=True, type=Path, help="directory the listed paths are relative to")
    inspect.add_argument("--list", required=True, help="JSON list of relative paths: a file, or - to wait for it "
                         "on stdin (the inspector is started while the conversion runs)")
    mail = commands.add_parser("mail-split")
    mail.add_argument("--input", required=True, type=Path)
    mail.add_argument("--out", required=True, type=Path)
    mail.add_argument("--no-defang", action="store_true", help="keep link URLs as they are")
    text = commands.add_parser("extract-text")
    text.add_argument("--root", required=True, type=Path)
    text.add_argument("--list", required=True, type=Path)
    text.add_argument("--no-defang", action="store_true", help="keep web addresses as they are")
    zygote = commands.add_parser("zygote")
    zygote.add_argument("--own-pid-namespace", action="store_true", help="only in the sandbox: clear leftovers "
                        "with kill(-1)")
    zygote.add_argument("--preload", choices=("mail", "files"), default="mail")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.command == "zygote":
        from converters.zygote import serve

        return serve(args.own_pid_namespace, args.preload)
    channel = _json_channel()
    if args.command == "convert":
        warm = None
        if args.warm_office:
            warm = WarmOffice(Path(tempfile.mkdtemp(prefix="lo-warm-")))
            warm.wait_ready(WARM_START_SECONDS)
        if args.job_from_stdin:
            job = json.loads(sys.stdin.readline())
            args.input, args.name = Path(job["input"]), str(job["name"])
            args.method, args.limits = job["method"], json.dumps(job["limits"])
        if args.input is None or args.name is None or args.method not in METHODS:
            parser.error("convert needs --input and --name (or --job-from-stdin)")
        limits = Limits.from_dict(json.loads(args.limits))
        frames = None
        if args.frames_fd is not None:
            frames = FrameWriter(os.fdopen(args.frames_fd, "wb", buffering=1024 * 1024))
        engine = Engine(args.out, args.method, limits, frames, warm)
        result: Any = engine.process(args.input, args.name).to_dict()
        if frames is not None:
            frames.stream.close()
    elif args.command == "mail-split":
        from converters.mail.split import split_mail

        result = split_mail(args.input.read_bytes(), args.out, defang=not args.no_defang)
    elif args.command == "extract-text":
        from converters.formats.extract_text import extract_text

        paths = json.loads(args.list.read_text(encoding="utf-8"))
        result = [extract_text(args.root / path, defang=not args.no_defang) for path in paths]
    else:
        args.scratch.mkdir(parents=True, exist_ok=True)
        if args.list == "-":
            import pikepdf  # noqa: F401  (loaded while the conversion still runs)
            from PIL import Image  # noqa: F401

            paths = json.loads(sys.stdin.readline() or "[]")
        else:
            paths = json.loads(Path(args.list).read_text(encoding="utf-8"))
        result = [inspect_file(args.root / path, args.scratch).to_dict() for path in paths]
    json.dump(result, channel, ensure_ascii=False)
    channel.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
