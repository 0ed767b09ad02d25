"""Schemathesis, every phase and every check, against the gateway + sandbox: no failure.

The run itself is ``tests/fuzz/harness.py`` (settings in ``schemathesis.toml``);
``make fuzz`` runs it alone with its report on the terminal.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.processes import ROOT

pytestmark = pytest.mark.slow


@pytest.mark.timeout(900)
@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux)")
def test_schemathesis_finds_nothing() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.harness"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    report = run.stdout + run.stderr
    print(report.splitlines()[-1] if report else "")  # the cost, shown with -s
    assert run.returncode == 0, report[-20000:]
