"""Schemathesis against a real gateway + sandbox, with no way off the machine.

    python -m tests.fuzz.harness [extra schemathesis run options]

The fuzzer writes URLs of its own into ``webhook_url``, ``media_urls`` and
upload ``url`` fields, and the gateway would call them. So the whole run (the
sandbox, the gateway and schemathesis) happens in a fresh network namespace
holding only a loopback interface: `unshare --net` as root, as CI runs. The
exit code is schemathesis' own; the last line prints the run's cost.

The CLI (not the pytest plugin) drives it: one command runs all four phases
(examples, coverage, fuzzing, stateful) with one seed and the settings in
``schemathesis.toml``, and its failure report ends with a `curl` line that
replays each case by hand.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

from tests.processes import ROOT

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "schemathesis.toml"
ISOLATED = "NEMO_FUZZ_ISOLATED"  # set inside the namespace, so the harness re-enters once


def isolated_command(args: list[str]) -> list[str]:
    """This harness again, inside a network namespace with loopback up."""
    unshare = shutil.which("unshare")
    ip = shutil.which("ip") or "/usr/sbin/ip"
    if unshare is None:
        raise SystemExit("unshare (util-linux) is needed to keep the fuzzer's URLs on this machine")
    inner = " ".join(["exec", sys.executable, "-m", "tests.fuzz.harness", *map(_quote, args)])
    # Root (as CI runs) makes the namespace directly; anyone else through a user namespace.
    user = [] if os.geteuid() == 0 else ["--map-root-user"]
    return [unshare, "--net", *user, "--", "sh", "-c", f"{ip} link set lo up && {inner}"]


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


def upload_one(url: str, key: str) -> str:
    """A real upload of this key, for the hooks to put in ``upload_ids``."""
    png = io.BytesIO()
    Image.new("RGB", (8, 8), "teal").save(png, format="PNG")
    answer = httpx.post(
        f"{url}/v1/uploads",
        headers={"Authorization": f"Bearer {key}"},
        files={"file": ("still.png", png.getvalue(), "image/png")},
    )
    answer.raise_for_status()
    return str(answer.json()["id"])


def run(extra: list[str]) -> int:
    # Imported here: the outer process only re-executes itself.
    from tests.e2e.conftest import start_stack, stop_stack

    others = sorted(name for _, name in socket.if_nameindex() if name != "lo")
    if others:  # never fuzz with a way out: the URLs in the requests are random
        raise SystemExit(f"not isolated: interfaces {others} besides lo")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="nemo-fuzz-") as tmp:
        stack = start_stack(Path(tmp), 200)
        try:
            env = {
                **os.environ,
                "GATEWAY_URL": stack.gateway.url,
                "GATEWAY_KEY": stack.key,
                "GATEWAY_UPLOAD_ID": upload_one(stack.gateway.url, stack.key),
            }
            schemathesis = Path(sys.executable).with_name("schemathesis")
            command = [str(schemathesis), "--config-file", str(CONFIG), "--no-color", "run"]
            command += [str(ROOT / "openapi.yaml"), *extra]
            code = subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
        finally:
            stop_stack(stack)
    print(f"::: schemathesis took {time.monotonic() - started:.0f} s (exit {code})", flush=True)
    return code


def main(argv: list[str]) -> int:
    if os.environ.get(ISOLATED) != "1":
        env = {**os.environ, ISOLATED: "1"}
        return subprocess.run(isolated_command(argv), cwd=ROOT, env=env, check=False).returncode
    return run(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
