"""Every documented render-status shape, read from its fixture bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from gateway.upstream import NemoClient, TokenProvider, envelope
from gateway.upstream.models import RenderJob, epoch_seconds
from tests.upstream.helpers import FAKE_TOKEN, Recorder, run
from tests.upstream.shapes import load, status

JSON = {"content-type": "application/json"}
GIVEN = "render_given"  # the id the gateway submitted under
STATIC = "https://static1.nemovideo.ai/render-result/render_xxx.mp4"
CREATED, COMPLETED = 1773423613.616, 1773423641.222

# (fixture, id, status, progress, url, created_at, completed_at, finished, needs_fallback)
SHAPES = [
    ("render_shape1_taskid.json", "render_xxx", "completed", 1.0,
     "https://cdn.example.com/renders/xxx/output.mp4", None, None, True, False),
    ("render_shape1_numeric_taskid.json", "5529798706024415232", "processing", 0.4,
     None, None, None, False, False),
    ("render_shape1_cancelled.json", "render_xxx", "failed", 0.2, None, None, None, True, False),
    ("render_shape2_completed.json", "render_xxx", "completed", 1.0, STATIC, CREATED, COMPLETED,
     True, False),
    ("render_shape2_completed_no_url.json", "render_xxx", "completed", 1.0, None, CREATED,
     COMPLETED, True, True),
    ("render_shape2_failed.json", "render_xxx", "failed", 0.4, None, CREATED, None, True, False),
    ("render_shape2_encoding.json", "render_xxx", "encoding", 0.8, None, CREATED, None, False,
     False),
    ("render_shape2_iso_times.json", "8d5f4c1e-2b7a-4c0e-9f3d-6a1b2c3d4e5f", "completed", 1.0,
     STATIC, CREATED, COMPLETED, True, False),
    ("render_shape3_top_level.json", GIVEN, "completed", None, STATIC, None, None, True, False),
    ("render_sandbox_both_levels.json", "render_1", "completed", 1.0,
     "http://127.0.0.1:8900/media/renders/render_1.mp4", 1763700000.25, 1763700042.75, True,
     False),
    ("envelope_success_render_submit.json", "render_xxx", "pending", 0.05, None, None, None,
     False, False),
]  # fmt: skip


def read(name: str) -> RenderJob:
    """As the client reads an answer: the envelope check, then the job."""
    return RenderJob.from_payload(envelope.check(status(name), JSON, load(name)), GIVEN)


@pytest.mark.parametrize(
    ("name", "id_", "state", "progress", "url", "created", "completed", "finished", "fallback"),
    SHAPES,
)
def test_render_status_shapes(
    name, id_, state, progress, url, created, completed, finished, fallback
):
    job = read(name)
    assert (job.id, job.status, job.output_url) == (id_, state, url)
    assert job.progress == pytest.approx(progress)
    assert job.created_at == pytest.approx(created)
    assert job.completed_at == pytest.approx(completed)
    assert (job.finished, job.needs_fallback) == (finished, fallback)


def test_render_status_through_the_client():
    answer = load("render_shape2_completed.json")
    recorder = Recorder(lambda request: httpx.Response(200, content=answer, headers=JSON))
    tokens = TokenProvider("https://nemo.test", token=FAKE_TOKEN)
    client = NemoClient("https://nemo.test", tokens, transport=recorder.transport())
    job = run(client.render_status("render_xxx"))
    assert (job.status, job.output_url, job.completed_at) == ("completed", STATIC, COMPLETED)
    assert recorder.paths() == ["/api/render/proxy/lambda/render_xxx"]


@pytest.mark.parametrize(
    ("payload", "url"),
    [
        ({"status": "completed", "output": {"url": "https://a/x.mp4"}}, "https://a/x.mp4"),
        ({"status": "completed", "outputUrl": "https://a/x.mp4"}, "https://a/x.mp4"),
        ({"status": "completed", "output_url": "https://a/x.mp4"}, "https://a/x.mp4"),
        ({"status": "completed", "url": "https://a/x.mp4"}, "https://a/x.mp4"),
        ({"status": "completed", "download_url": "https://a/x.mp4"}, "https://a/x.mp4"),
        ({"status": "completed", "downloadUrl": "https://a/x.mp4"}, "https://a/x.mp4"),
        ({"data": {"status": "completed", "output": {"downloadUrl": "https://a/x.mp4"}}},
         "https://a/x.mp4"),
        ({"data": {"status": "completed", "url": "https://a/x.mp4"}}, "https://a/x.mp4"),
        ({"status": "completed", "output": "https://a/x.mp4"}, "https://a/x.mp4"),
        ({"status": "completed", "output": {"format": "mp4", "url": ""}}, None),
        ({"status": "completed", "output": "mp4"}, None),
    ],
)  # fmt: skip
def test_url_is_found_wherever_it_is(payload, url):
    job = RenderJob.from_payload(payload, GIVEN)
    assert job.output_url == url
    assert job.needs_fallback is (url is None)


@pytest.mark.parametrize(
    ("word", "state", "finished"),
    [
        ("pending", "pending", False),
        ("PROCESSING", "processing", False),
        ("encoding", "encoding", False),
        ("Uploading", "uploading", False),
        ("postprocessing", "postprocessing", False),
        ("succeeded", "completed", True),
        ("cancelled", "failed", True),
        ("canceled", "failed", True),
        ("error", "failed", True),
        (None, "pending", False),
    ],
)
def test_only_completed_and_failed_are_terminal(word, state, finished):
    job = RenderJob.from_payload({"status": word} if word else {}, GIVEN)
    assert (job.status, job.finished) == (state, finished)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (1773423613, 1773423613.0),
        (1773423613.5, 1773423613.5),
        (1773423613616, CREATED),
        ("1773423613616", CREATED),
        ("1773423613", 1773423613.0),
        ("2026-03-13T17:40:13.616Z", CREATED),
        ("2026-03-13T17:40:13.616+00:00", CREATED),
        ("2026-03-13T18:40:13.616+01:00", CREATED),
        ("2026-03-13T17:40:13.616", CREATED),  # no zone: UTC
        ("soon", None),
        ("", None),
        (0, None),
        (True, None),
        (None, None),
        ([], None),
    ],
)
def test_epoch_seconds(value, seconds):
    assert epoch_seconds(value) == pytest.approx(seconds)


def test_iso_times_agree_with_datetime():
    moment = datetime(2026, 3, 13, 18, 40, 13, 616000, tzinfo=timezone(timedelta(hours=1)))
    assert epoch_seconds(moment.isoformat()) == pytest.approx(moment.astimezone(UTC).timestamp())


@pytest.mark.parametrize(
    ("raw", "id_"),
    [
        ({"taskId": 5529798706024415232}, "5529798706024415232"),
        ({"data": {"id": "x" * 300}}, "x" * 300),
        ({"id": "0042"}, "0042"),
        ({"renderId": "8d5f4c1e-2b7a-4c0e-9f3d-6a1b2c3d4e5f"},
         "8d5f4c1e-2b7a-4c0e-9f3d-6a1b2c3d4e5f"),
        ({"id": True}, GIVEN),
        ({}, GIVEN),
    ],
)  # fmt: skip
def test_ids_are_opaque_strings(raw, id_):
    assert RenderJob.from_payload(raw, GIVEN).id == id_


def test_failure_reason_is_kept():
    job = RenderJob.from_payload({"data": {"status": "failed", "errorMessage": "codec"}}, GIVEN)
    assert (job.status, job.error) == ("failed", "codec")
