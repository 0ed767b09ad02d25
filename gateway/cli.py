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
    p.add_argument("--initial-credits", type=int, default=10_000, help="credits per anonymous user")
    p.add_argument(
        "--heartbeat-seconds", type=float, default=15.0, help="simulated s between keep-alives"
    )
    p.add_argument("--tokens-per-ip", type=int, default=10, help="new anonymous client ids per IP")
    p.add_argument("--web-url", default="https://nemovideo.com", help="base of claim links")
    _add_dialect(p, "--dialect")
    p.set_defaults(func=_run_sandbox)


def _add_dialect(p: argparse.ArgumentParser, flag: str) -> None:
    from gateway.sandbox.dialects import DIALECTS  # a small module, no Flask

    p.add_argument(
        flag,
        default="default",
        choices=list(DIALECTS),
        help="which documented shape of the protocol the sandbox answers in",
    )


def _run_sandbox(args: argparse.Namespace) -> int:
    from gateway.sandbox.server import serve

    serve(
        host=args.host,
        port=args.port,
        speed=args.speed,
        data_dir=args.data_dir,
        silent_edit_share=args.silent_edit_share,
        max_upload_bytes=args.max_upload_mb * 1024 * 1024,
        initial_credits=args.initial_credits,
        heartbeat_seconds=args.heartbeat_seconds,
        tokens_per_ip=args.tokens_per_ip,
        web_url=args.web_url,
        dialect=args.dialect,
    )
    return 0


def _add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the gateway: web API and worker in one process")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--data-dir", default=None, help="default: $GATEWAY_DATA_DIR or ./data")
    p.add_argument("--sandbox", action="store_true", help="start the embedded sandbox upstream")
    p.add_argument("--sandbox-speed", type=float, default=10.0)
    _add_dialect(p, "--sandbox-dialect")
    p.add_argument(
        "--sandbox-initial-credits",
        type=int,
        default=10_000,
        help="credits per anonymous user of the embedded sandbox",
    )
    p.add_argument(
        "--backlog",
        type=int,
        default=None,
        help="listen queue length (default: $GATEWAY_BACKLOG or 4096; capped by "
        "net.core.somaxconn)",
    )
    p.add_argument("--threads", type=int, default=None, help="request threads (default 32)")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    from gateway import commands, server

    _logging(args.verbose)
    config = commands.load_config(args.data_dir)
    sandbox = None
    if args.sandbox:
        sandbox = commands.SandboxOptions(
            args.sandbox_speed, args.sandbox_dialect, args.sandbox_initial_credits
        )
    listen = server.Listen(
        args.host,
        args.port,
        backlog=args.backlog or server.Listen.backlog,
        threads=args.threads or server.Listen.threads,
        verbose=args.verbose,
    )
    commands.serve(config, listen, sandbox=sandbox)
    return 0


def _add_worker(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worker", help="run the background worker alone")
    p.add_argument("--data-dir", default=None)
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=_run_worker)


def _run_worker(args: argparse.Namespace) -> int:
    from gateway import commands

    _logging(args.verbose)
    commands.run_worker(commands.load_config(args.data_dir))
    return 0


def _add_keys(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("keys", help="manage API keys")
    keys = p.add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="create a key; prints it as the last line")
    create.add_argument("--name", required=True)
    create.add_argument("--data-dir", default=None)
    create.set_defaults(func=_run_keys_create)


def _run_keys_create(args: argparse.Namespace) -> int:
    from gateway import commands

    print(commands.create_api_key(commands.load_config(args.data_dir), args.name))
    return 0


def _add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="make a video through a running gateway")
    p.add_argument("prompt")
    p.add_argument("--out", default="video.mp4")
    p.add_argument("--url", default=os.environ.get("NEMO_GATEWAY_URL", "http://127.0.0.1:8080"))
    p.add_argument("--duration", type=int, default=None)
    p.add_argument("--aspect-ratio", default=None, choices=["16:9", "9:16", "1:1"])
    p.add_argument("--resolution", default=None, choices=["720p", "1080p"])
    p.add_argument("--timeout", type=float, default=900.0)
    p.set_defaults(func=_run_generate)


def _run_generate(args: argparse.Namespace) -> int:
    from gateway.client_cli import generate

    key = os.environ.get("NEMO_GATEWAY_API_KEY")
    if not key:
        print("set NEMO_GATEWAY_API_KEY to an API key (nemo-gateway keys create)", file=sys.stderr)
        return 2
    return generate(args, key)


def _logging(verbose: bool) -> None:
    import logging

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # Access lines would carry signed content links (their query is a credential).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_sandbox,
    _add_serve,
    _add_worker,
    _add_keys,
    _add_generate,
]


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
