"""End to end in a REAL n8n, offline, against the gateway + sandbox on 127.0.0.1.

    .venv/bin/python integrations/n8n/e2e/run_e2e.py --n8n-dir <install dir from install-n8n.sh>

1. `npm pack` the built node package and load it through N8N_CUSTOM_EXTENSIONS
   (unpacked outside the repository, so `n8n-workflow` resolves to n8n's own
   copy, as in a real installation).
2. `n8n import:credentials` + `n8n import:workflow`, then `n8n execute --id` a
   workflow Manual -> NemoVideo Generate (wait, download) -> Write File; the file
   must be a decodable MP4.
3. `n8n start`: activate a workflow with the NemoVideo Trigger (the gateway must
   get the subscription), finish a video (an execution must run with it),
   deactivate (the subscription must be gone).
4. The template from `workflows/` (HTTP Request with webhook_url =
   $execution.resumeUrl -> Wait -> download) runs in that n8n and writes an MP4.

Every process listens on 127.0.0.1 on a free port and is stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx

HERE = Path(__file__).resolve().parent
PKG = HERE.parent
ROOT = PKG.parents[1]
sys.path.insert(0, str(ROOT))

from tests.processes import Proc, create_key, free_port, gateway, sandbox  # noqa: E402

TEMPLATE = PKG / "workflows" / "nemovideo-generate-and-wait-for-webhook.json"
CRED_ID = "nemoVideoCred001"
HEADER_CRED_ID = "nemoGatewayKey01"  # the id the template refers to
TRIGGER_WEBHOOK_ID = "5c0ffee0-0000-4000-8000-00000000e2e1"


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    start = time.monotonic()
    print(f"--- {name}", flush=True)
    yield
    print(f"--- {name}: ok ({time.monotonic() - start:.1f} s)", flush=True)


def check_mp4(path: Path) -> str:
    assert path.is_file() and path.stat().st_size > 1000, f"no MP4 at {path}"
    with av.open(str(path)) as container:
        assert "mp4" in container.format.name, container.format.name
        stream = container.streams.video[0]
        frame = next(container.decode(stream))
        return (
            f"{path.name}: {path.stat().st_size} bytes, {stream.codec_context.name} "
            f"{frame.width}x{frame.height}, {float(container.duration or 0) / 1e6:.1f} s"
        )


def wait_until(what: str, probe: Any, timeout: float, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class N8n:
    """The n8n CLI and server of one throwaway user folder."""

    def __init__(self, install: Path, tmp: Path, extensions: Path) -> None:
        self.bin = install / "node_modules" / "n8n" / "bin" / "n8n"
        assert self.bin.exists(), f"no n8n in {install}"
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.out = tmp / "out"
        self.out.mkdir()
        self.log_path = tmp / "n8n.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.http: httpx.Client | None = None
        self.env = {
            **os.environ,
            "N8N_USER_FOLDER": str(tmp / "n8n-user"),
            "N8N_ENCRYPTION_KEY": "e2e-" + uuid.uuid4().hex,
            "N8N_CUSTOM_EXTENSIONS": str(extensions),
            # the default expression engine needs a native module on Node >= 22
            "N8N_EXPRESSION_ENGINE": "legacy",
            "DB_TYPE": "sqlite",
            "DB_SQLITE_POOL_SIZE": "2",
            "N8N_RESTRICT_FILE_ACCESS_TO": str(self.out),
            "N8N_DEFAULT_BINARY_DATA_MODE": "filesystem",
            "N8N_PORT": str(self.port),
            "N8N_LISTEN_ADDRESS": "127.0.0.1",
            "N8N_HOST": "127.0.0.1",
            "N8N_PROTOCOL": "http",
            "WEBHOOK_URL": f"{self.url}/",
            "N8N_SECURE_COOKIE": "false",
            "N8N_DIAGNOSTICS_ENABLED": "false",
            "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
            "N8N_TEMPLATES_ENABLED": "false",
            "N8N_PERSONALIZATION_ENABLED": "false",
            "N8N_HIRING_BANNER_ENABLED": "false",
            "N8N_RUNNERS_ENABLED": "false",
            "N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS": "false",
            "N8N_LOG_LEVEL": "info",
            "N8N_LOG_OUTPUT": "console",
            "NODE_OPTIONS": "--max-old-space-size=2048",
        }

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["node", str(self.bin), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def cli(self, *args: str, timeout: float = 180) -> str:
        result = self.run(*args, timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(
                f"n8n {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
            )
        return result.stdout

    def import_json(self, kind: str, data: Any) -> None:
        path = self.tmp / f"{kind}-{uuid.uuid4().hex[:8]}.json"
        path.write_text(json.dumps(data))
        self.cli(f"import:{kind}", f"--input={path}")

    def start(self) -> None:
        self.log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            ["node", str(self.bin), "start"],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"n8n start exited {self.proc.returncode}:\n{self.tail()}")
            try:  # /healthz answers before the REST controllers are mounted
                return httpx.get(f"{self.url}/rest/settings", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until("n8n to be ready", ready, 120)
        # A fresh instance: set up the owner, whose cookie then drives the REST API.
        self.http = httpx.Client(base_url=f"{self.url}/rest", headers={"browser-id": "e2e"}, timeout=30)
        owner = {
            "email": "e2e@example.com",
            "firstName": "E2E",
            "lastName": "Test",
            "password": "E2e-password-1",
        }

        def set_up_owner() -> httpx.Response | None:
            # /rest/settings can answer before the owner controller is mounted
            # on a slow machine: "Cannot POST /rest/owner/setup" (404) means
            # "not yet", anything else is the answer.
            assert self.http is not None
            answer = self.http.post("/owner/setup", json=owner)
            return None if answer.status_code == 404 else answer

        answer = wait_until("n8n's owner setup route", set_up_owner, 120)
        assert answer.status_code == 200, answer.text

    def rest(self, method: str, path: str, **kwargs: Any) -> Any:
        assert self.http is not None
        answer = self.http.request(method, path, **kwargs)
        assert answer.status_code == 200, f"{method} {path}: {answer.status_code} {answer.text[:2000]}"
        return answer.json().get("data")

    def executions(self, workflow_id: str) -> list[dict[str, Any]]:
        data = self.rest("GET", "/executions", params={"filter": json.dumps({"workflowId": workflow_id})})
        return data["results"]

    def stop(self) -> None:
        if self.http is not None:
            self.http.close()
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def tail(self, n: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path.exists() else ""


def pack_extension(tmp: Path) -> Path:
    """`npm pack` the package (what npm would publish) and unpack it outside the repository."""
    out = subprocess.run(
        ["npm", "pack", "--silent", "--pack-destination", str(tmp)],
        cwd=PKG,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip().splitlines()[-1]
    extensions = tmp / "extensions"
    with tarfile.open(tmp / out) as tar:
        tar.extractall(extensions, filter="data")
    package = extensions / "n8n-nodes-nemovideo"
    (extensions / "package").rename(package)
    files = sorted(str(p.relative_to(package)) for p in package.rglob("*") if p.is_file())
    assert "dist/nodes/NemoVideo/NemoVideo.node.js" in files, files
    assert "dist/icons/nemovideo.svg" in files, files
    assert not any(f.startswith(("test/", "e2e/", "node_modules/")) for f in files), files
    return extensions


def node(name: str, type_: str, position: list[int], parameters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "name": name,
        "type": type_,
        "typeVersion": extra.pop("typeVersion", 1),
        "position": position,
        "parameters": parameters,
        **extra,
    }


def chain(*names: str) -> dict[str, Any]:
    return {a: {"main": [[{"node": b, "type": "main", "index": 0}]]} for a, b in zip(names, names[1:])}


NEMO_CREDS = {"nemoVideoApi": {"id": CRED_ID, "name": "NemoVideo Gateway"}}


def generate_workflow(out: Path) -> dict[str, Any]:
    return {
        "id": "e2eGenerate00001",
        "name": "e2e: generate and write",
        "active": False,
        "settings": {"executionOrder": "v1"},
        "nodes": [
            node("Manual", "n8n-nodes-base.manualTrigger", [0, 0], {}),
            node(
                "Generate",
                "CUSTOM.nemoVideo",
                [220, 0],
                {
                    "resource": "video",
                    "operation": "generate",
                    "prompt": "A 5 second clip of a lighthouse at night, title 'n8n e2e'",
                    "waitForCompletion": True,
                    "maxWaitSeconds": 240,
                    "download": True,
                    "binaryPropertyName": "data",
                    "additionalFields": {"durationSeconds": 5, "aspectRatio": "16:9", "metadata": '{"via": "n8n"}'},
                },
                credentials=NEMO_CREDS,
            ),
            node(
                "Write File",
                "n8n-nodes-base.readWriteFile",
                [440, 0],
                {"operation": "write", "fileName": str(out / "generate.mp4"), "dataPropertyName": "data", "options": {}},
            ),
        ],
        "connections": chain("Manual", "Generate", "Write File"),
    }


def agent_workflow() -> dict[str, Any]:
    """Generate -> Upload (the MP4 as multipart) -> Edit (wait) -> Send Message -> Credits."""
    generated = "$('Generate').item.json"
    return {
        "id": "e2eAgent00000001",
        "name": "e2e: upload, edit, message, credits",
        "active": False,
        "settings": {"executionOrder": "v1"},
        "nodes": [
            node("Manual", "n8n-nodes-base.manualTrigger", [0, 0], {}),
            node(
                "Generate",
                "CUSTOM.nemoVideo",
                [200, 0],
                {
                    "resource": "video",
                    "operation": "generate",
                    "prompt": "A 4 second clip of a city at dawn",
                    "maxWaitSeconds": 240,
                    "additionalFields": {"durationSeconds": 4},
                },
                credentials=NEMO_CREDS,
            ),
            node(
                "Upload",
                "CUSTOM.nemoVideo",
                [400, 0],
                {"resource": "upload", "operation": "create", "source": "binary", "binaryPropertyName": "data"},
                credentials=NEMO_CREDS,
            ),
            node(
                "Edit",
                "CUSTOM.nemoVideo",
                [600, 0],
                {
                    "resource": "video",
                    "operation": "edit",
                    "videoId": f"={{{{ {generated}.id }}}}",
                    "instruction": "Add lo-fi music at 35%",
                    "maxWaitSeconds": 240,
                    "download": False,
                },
                credentials=NEMO_CREDS,
            ),
            node(
                "Message",
                "CUSTOM.nemoVideo",
                [800, 0],
                {
                    "resource": "session",
                    "operation": "sendMessage",
                    "sessionId": f"={{{{ {generated}.session_id }}}}",
                    "text": "Make the title a little bigger",
                    "maxWaitSeconds": 240,
                },
                credentials=NEMO_CREDS,
            ),
            node(
                "Credits",
                "CUSTOM.nemoVideo",
                [1000, 0],
                {"resource": "credit", "operation": "get"},
                credentials=NEMO_CREDS,
            ),
        ],
        "connections": chain("Manual", "Generate", "Upload", "Edit", "Message", "Credits"),
    }


def error_workflow() -> dict[str, Any]:
    return {
        "id": "e2eErrors0000001",
        "name": "e2e: a gateway error",
        "active": False,
        "settings": {"executionOrder": "v1"},
        "nodes": [
            node("Manual", "n8n-nodes-base.manualTrigger", [0, 0], {}),
            node(
                "Get",
                "CUSTOM.nemoVideo",
                [200, 0],
                {"resource": "video", "operation": "get", "videoId": "vid_does_not_exist"},
                credentials=NEMO_CREDS,
            ),
        ],
        "connections": chain("Manual", "Get"),
    }


def first_json(text: str) -> Any:
    """The first JSON document in a CLI's output (log lines may come before and after)."""
    return json.JSONDecoder().raw_decode(text[text.index("{") :])[0]


def node_outputs(raw: str) -> dict[str, list[dict[str, Any]]]:
    """The first output item's json of every node, from `n8n execute --rawOutput`."""
    run = first_json(raw)
    run_data = run["data"]["resultData"]["runData"]
    return {name: [item["json"] for item in runs[-1]["data"]["main"][0]] for name, runs in run_data.items()}


def trigger_workflow() -> dict[str, Any]:
    return {
        "id": "e2eTrigger000001",
        "name": "e2e: NemoVideo trigger",
        "active": False,
        "settings": {"executionOrder": "v1"},
        "nodes": [
            node(
                "NemoVideo Trigger",
                "CUSTOM.nemoVideoTrigger",
                [0, 0],
                {"events": ["video.completed", "video.failed"]},
                credentials=NEMO_CREDS,
                webhookId=TRIGGER_WEBHOOK_ID,
            ),
            node("Done", "n8n-nodes-base.noOp", [220, 0], {}),
        ],
        "connections": chain("NemoVideo Trigger", "Done"),
    }


def template_workflow(gateway_url: str, out: Path) -> dict[str, Any]:
    """The template as a user imports it, with their settings filled in and a Write File after it."""
    workflow = json.loads(TEMPLATE.read_text())
    workflow["id"] = "e2eTemplate00001"
    settings = next(n for n in workflow["nodes"] if n["name"] == "Settings")
    for assignment in settings["parameters"]["assignments"]["assignments"]:
        if assignment["name"] == "gateway_url":
            assignment["value"] = gateway_url
        if assignment["name"] == "duration_seconds":
            assignment["value"] = 5
    workflow["nodes"].append(
        node(
            "Write File",
            "n8n-nodes-base.readWriteFile",
            [1320, -100],
            {"operation": "write", "fileName": str(out / "template.mp4"), "dataPropertyName": "data", "options": {}},
        )
    )
    workflow["connections"]["Download MP4"] = {"main": [[{"node": "Write File", "type": "main", "index": 0}]]}
    return workflow


def subscriptions(api: httpx.Client) -> list[dict[str, Any]]:
    answer = api.get("/v1/webhooks")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return body if isinstance(body, list) else body["data"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n8n-dir", type=Path, required=True)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="n8n-e2e-"))
    procs: list[Proc] = []
    n8n: N8n | None = None
    ok = False
    try:
        with step("gateway + sandbox on 127.0.0.1"):
            sb = sandbox(tmp, 200).start()
            procs.append(sb)
            token = httpx.post(f"{sb.url}/_sandbox/tokens", json={"credits": 100000}).json()["data"]["token"]
            key = create_key(tmp / "gateway-data", "n8n")
            gw = gateway(tmp, sb.url, 0, time_scale=200, NEMO_TOKEN=token).start()
            procs.append(gw)
            api = httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {key}"}, timeout=90)
            assert api.get("/v1/me").status_code == 200

        with step("npm pack the node package, unpack as a custom extension"):
            extensions = pack_extension(tmp)

        n8n = N8n(args.n8n_dir, tmp, extensions)
        with step("n8n import:credentials + import:workflow"):
            n8n.import_json(
                "credentials",
                [
                    {
                        "id": CRED_ID,
                        "name": "NemoVideo Gateway",
                        "type": "nemoVideoApi",
                        "data": {"baseUrl": gw.url, "apiKey": key},
                    },
                    {
                        "id": HEADER_CRED_ID,
                        "name": "NemoVideo Gateway key",
                        "type": "httpHeaderAuth",
                        "data": {"name": "Authorization", "value": f"Bearer {key}"},
                    },
                ],
            )
            n8n.import_json(
                "workflow",
                [
                    generate_workflow(n8n.out),
                    agent_workflow(),
                    error_workflow(),
                    trigger_workflow(),
                    template_workflow(gw.url, n8n.out),
                ],
            )

        with step("n8n execute: Manual -> NemoVideo Generate (wait) -> Write File"):
            raw = n8n.cli("execute", "--id=e2eGenerate00001", "--rawOutput", timeout=300)
            print("   ", check_mp4(n8n.out / "generate.mp4"))
            assert '"succeeded"' in raw, raw[-2000:]

        with step("n8n execute: Generate -> Upload (binary) -> Edit (wait) -> Send Message -> Credits"):
            outputs = node_outputs(n8n.cli("execute", "--id=e2eAgent00000001", "--rawOutput", timeout=400))
            generated, upload = outputs["Generate"][0], outputs["Upload"][0]
            edit, message, credits = outputs["Edit"][0], outputs["Message"][0], outputs["Credits"][0]
            assert upload["object"] == "upload" and upload["format"] == "mp4", upload
            assert upload["size_bytes"] == generated["output"]["size_bytes"], (upload, generated["output"])
            assert edit["status"] == "succeeded" and edit["parent_id"] == generated["id"], edit
            assert message["status"] == "succeeded" and message["session_id"] == generated["session_id"], message
            assert credits["object"] == "credits" and credits["available"] > 0, credits
            print(f"    upload {upload['id']} ({upload['size_bytes']} bytes), edit {edit['id']} changes {edit['changes']}")
            print(f"    message {message['id']} ({message['route']}): {str(message['reply'])[:80]!r}; credits {credits}")

        with step("n8n execute: a gateway error shows as a NodeApiError with the problem's detail"):
            result = n8n.run("execute", "--id=e2eErrors0000001", "--rawOutput", timeout=120)
            assert result.returncode != 0, "the execution should have failed"
            error = first_json(result.stdout)["data"]["resultData"]["error"]
            assert error["name"] == "NodeApiError" and error["httpCode"] == "404", error
            assert "(code: not_found)" in error["description"], error
            print(f"    {error['httpCode']} {error['message']!r}: {error['description']!r}")

        with step("n8n start"):
            n8n.start()

        has_webhooks = "/v1/webhooks:" in api.get("/openapi.yaml").text
        if not has_webhooks:
            print(
                "--- SKIPPED trigger round trip: the gateway has no /v1/webhooks yet "
                "(webhook subscriptions, issue 5)",
                flush=True,
            )
        else:
            hook_url = f"{n8n.url}/webhook/{TRIGGER_WEBHOOK_ID}/webhook"
            with step("activate the trigger workflow: the gateway gets the subscription"):
                workflow = n8n.rest("GET", "/workflows/e2eTrigger000001")
                n8n.rest("POST", "/workflows/e2eTrigger000001/activate", json={"versionId": workflow["versionId"]})
                mine = [s for s in subscriptions(api) if s["url"] == hook_url]
                assert len(mine) == 1, subscriptions(api)
                assert sorted(mine[0]["events"]) == ["video.completed", "video.failed"], mine[0]
                print(f"    subscription {mine[0]['id']} -> {hook_url}")

            with step("a finished video starts an execution (signature verified)"):
                video = api.post(
                    "/v1/videos",
                    json={"prompt": "trigger round trip", "duration_seconds": 4},
                    headers={"Prefer": "wait=60"},
                ).json()
                assert video["status"] == "succeeded", video

                def ran() -> list[dict[str, Any]]:
                    return [e for e in n8n.executions("e2eTrigger000001") if e.get("status") == "success"]

                done = wait_until("the trigger's execution", ran, 90)
                detail = n8n.rest("GET", f"/executions/{done[0]['id']}")
                assert video["id"] in json.dumps(detail), "the execution did not carry the video"
                print(f"    execution {done[0]['id']} ran with {video['id']}")

            with step("a forged delivery is refused"):
                forged = httpx.post(
                    hook_url,
                    content=json.dumps({"type": "video.completed", "data": {"id": "vid_forged"}}),
                    headers={
                        "content-type": "application/json",
                        "webhook-id": "msg_forged",
                        "webhook-timestamp": str(int(time.time())),
                        "webhook-signature": "v1,Zm9yZ2Vk",
                    },
                )
                assert forged.status_code == 401, (forged.status_code, forged.text)

            with step("deactivate: the subscription is removed"):
                n8n.rest("POST", "/workflows/e2eTrigger000001/deactivate")
                assert not [s for s in subscriptions(api) if s["url"] == hook_url], subscriptions(api)
                assert api.get(f"/v1/webhooks/{mine[0]['id']}").status_code == 404

        with step("template workflow: Create (webhook_url = resumeUrl) -> Wait -> Download"):
            workflow = n8n.rest("GET", "/workflows/e2eTemplate00001")
            trigger = next(n["name"] for n in workflow["nodes"] if n["type"].endswith("manualTrigger"))
            n8n.rest(  # what the editor's "Execute workflow" button sends
                "POST",
                "/workflows/e2eTemplate00001/run",
                json={"workflowData": workflow, "triggerToStartFrom": {"name": trigger}},
            )
            target = n8n.out / "template.mp4"

            def written() -> bool:
                for execution in n8n.executions("e2eTemplate00001"):
                    if execution.get("status") in {"error", "crashed", "canceled"}:
                        raise AssertionError(f"template execution {execution}")
                return target.exists() and target.stat().st_size > 0

            wait_until("the template's MP4", written, 120)
            time.sleep(0.5)  # let the write finish
            print("   ", check_mp4(target))
            made = [v for v in api.get("/v1/videos").json()["data"] if (v.get("metadata") or {}).get("n8n_execution")]
            assert len(made) == 1, made
            assert "/webhook-waiting/" in made[0]["webhook_url"], made[0]["webhook_url"]
            print(f"    {made[0]['id']}: {made[0]['duration_seconds']} s {made[0]['aspect_ratio']}, webhook_url {made[0]['webhook_url']}")
        ok = True
    finally:
        if n8n is not None:
            n8n.stop()
            if not ok:
                print(f"--- n8n log (tail):\n{n8n.tail()}", file=sys.stderr)
        for proc in reversed(procs):
            proc.stop()
        if not ok:
            for log in ("gateway.log", "sandbox.log"):
                path = tmp / log
                if path.exists():
                    print(f"--- {log} (tail):\n{path.read_text(errors='replace')[-3000:]}", file=sys.stderr)
        if args.keep or not ok:
            print(f"--- files kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
