"""The ``nemo-gateway`` command line: one sub-command per process kind.

Each sub-command imports its implementation lazily so ``nemo-gateway sandbox``
does not pay for the gateway's imports and vice versa.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence


def _add_sandbox(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sandbox", help="run the NemoVideo-compatible sandbox upstream")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090)
    p.add_argument(
        "--speed", type=float, default=1.0, help="time factor: 1 is real time, 100 is 100x faster"
    )
    p.add_argument("--data-dir", default=os.environ.get("SANDBOX_DATA_DIR", "data/sandbox"))
    p.add_argument(
        "--silent-edit-share", type=float, default=0.3, help="share of edits with no text reply"
    )
    p.add_argument("--max-upload-mb", type=int, default=500)
    p.set_defaults(func=_run_sandbox)


def _run_sandbox(args: argparse.Namespace) -> int:
    from gateway.sandbox.server import serve

    serve(
        host=args.host,
        port=args.port,
        speed=args.speed,
        data_dir=args.data_dir,
        silent_edit_share=args.silent_edit_share,
        max_upload_bytes=args.max_upload_mb * 1024 * 1024,
    )
    return 0


_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_sandbox]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nemo-gateway", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
