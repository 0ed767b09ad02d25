"""The quick start's main job: the gateway with its embedded sandbox upstream
makes a real MP4 from a prompt, through the public API only.

Starts `nemo-gateway serve --sandbox` on a free loopback port, creates an API
key, runs `nemo-gateway generate`, prints what the MP4 holds, and stops.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import httpx

PROMPT = (
    "Generate a 10-second vertical video of a city skyline at sunset with the title "
    '"Urban Dreams" and lo-fi music'
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gateway exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit("gateway did not become ready")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/demo.mp4")
    parser.add_argument("--prompt", default=PROMPT)
    parser.add_argument("--speed", default="20", help="sandbox speed factor")
    args = parser.parse_args()
    exe = [sys.executable, "-m", "gateway.cli"]
    data_dir = Path(tempfile.mkdtemp(prefix="nemo-demo-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, GATEWAY_DATA_DIR=str(data_dir))
    print(f"starting the gateway with the sandbox upstream on {url} ...", flush=True)
    server = subprocess.Popen(
        [*exe, "serve", "--sandbox", "--sandbox-speed", args.speed, "--port", str(port)],
        env=env,
    )
    try:
        wait_ready(url, server)
        made = subprocess.run(
            [*exe, "keys", "create", "--name", "demo"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        key = made.stdout.strip().splitlines()[-1]
        print(f'prompt: "{args.prompt}"', flush=True)
        subprocess.run(
            [*exe, "generate", args.prompt, "--out", args.out, "--url", url],
            env=dict(env, NEMO_GATEWAY_API_KEY=key),
            check=True,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)
    describe(Path(args.out))
    return 0


def describe(path: Path) -> None:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio
        print(
            f"{path}: {container.duration / 1e6:.1f} s, {video.codec_context.name} "
            f"{video.codec_context.width}x{video.codec_context.height}, "
            f"audio: {audio[0].codec_context.name if audio else 'none'} -- open it in any player"
        )


if __name__ == "__main__":
    sys.exit(main())
