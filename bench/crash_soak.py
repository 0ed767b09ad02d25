"""Crash soak: kill -9 the gateway at seeded random moments over hundreds of videos.

python bench/crash_soak.py [--videos 240] [--kills 40] [--seed 14] [--write]
python bench/crash_soak.py --quick

The long version of ``tests/e2e/test_crash_soak.py`` (``tests/soak.py`` does
the work): the sandbox (speed 200) and ``nemo-gateway serve`` as real
processes, client threads making generations, edits, videos with a
``webhook_url`` and keyed POSTs (some with ``Prefer: wait``), a killer thread
``kill -9``ing the gateway and restarting it. Then: every video terminal, each
message posted once, credits charged once and recorded as the upstream
charged them, one ``webhook-id`` per event, no idempotency key stuck.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

import benchlib as bl

from tests import soak

HEADING = "## Crash soak: kill -9 at random moments"


def report(result: soak.Result) -> str:
    o, f = result.options, result.figures
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(result.statuses.items()))
    errors = ", ".join(f"{k} {v}" for k, v in sorted(result.errors.items())) or "none"
    verdict = "all kept" if not result.problems else f"{len(result.problems)} broken"
    rows = [
        ("videos", f"{len(result.made)} ({f['edits']} edits, {f['keyed_posts']} keyed POSTs)"),
        ("kill -9 of the gateway", f"{result.kills} (seed {o.seed})"),
        ("final statuses", statuses),
        ("errors", errors),
        ("turns lost to a kill (generation_lost)", str(result.errors.get("generation_lost", 0))),
        ("messages posted (upstream)", str(f["messages_posted"])),
        (
            "credits charged upstream / recorded",
            f"{f['credits_charged_upstream']} / {f['credits_recorded']}",
        ),
        ("webhooks received", str(f["webhooks_received"])),
        ("promises", verdict),
        ("wall time", f"{result.seconds:.0f} s"),
    ]
    table = "| figure | value |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
    broken = "".join(f"\n- {p}" for p in result.problems[:20])
    return (
        f"{HEADING}\n\n"
        "Sandbox at speed 200, gateway protocol waits /100, client threads "
        f"{o.threads}; checks as in `tests/soak.py` (terminal, posted once, charged once and "
        "recorded equal, one webhook-id per event, no key stuck).\n\n"
        f"{table}\n{broken}\n\n" + bl.footer()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=240)
    parser.add_argument("--kills", type=int, default=40)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=1800)
    bl.add_output_flags(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.videos, args.kills, args.threads, args.timeout = 8, 2, 4, 100
    opts = soak.Options(
        videos=args.videos,
        kills=args.kills,
        seed=args.seed,
        threads=args.threads,
        timeout=args.timeout,
    )
    with tempfile.TemporaryDirectory(prefix="crash-soak-") as tmp:
        result = soak.run(Path(tmp), opts)
    figures = {
        "statuses": dict(result.statuses),
        "errors": dict(result.errors),
        "kills": result.kills,
        "problems": result.problems,
        **result.figures,
    }
    bl.publish(HEADING, report(result), args, figures)
    return 0 if not result.problems else 1


if __name__ == "__main__":
    sys.exit(main())
