"""The benchmarks still run: each one in --quick mode (tiny sizes, seconds).

No figure is asserted (benchmarks are not timed tests); a quick run must
complete and must not touch docs/benchmarks.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "benchmarks.md"
SCRIPTS = [
    "webhook_fanout.py",
    "accept_rate.py",
    "mirror_bytes.py",
    "inflight.py",
    "notify_latency.py",
    "upload_rss.py",
    "sqlite_writers.py",
    "turn_endings.py",
    "crash_soak.py",
    "burst.py",
]


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_quick_run_completes(script: str) -> None:
    before = DOC.read_bytes() if DOC.exists() else None
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--quick", "--write"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "Command: `python bench/" in done.stdout  # the report was built
    after = DOC.read_bytes() if DOC.exists() else None
    assert after == before, "a --quick run must not write docs/benchmarks.md"
