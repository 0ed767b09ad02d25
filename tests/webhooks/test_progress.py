import pytest

from gateway.webhooks.progress import (
    ProgressMark,
    ProgressThrottle,
    progress_due,
    should_emit,
    unknown_filter_values,
)


@pytest.mark.parametrize(
    ("filter", "event_type", "expected"),
    [
        (None, "video.completed", True),
        (None, "video.failed", True),
        (None, "video.canceled", True),
        (None, "video.progress", False),
        (None, "video.started", False),
        ([], "video.completed", True),
        (["completed"], "video.failed", True),
        (["progress"], "video.progress", True),
        (["progress"], "video.completed", False),
        (["start", "completed"], "video.started", True),
        (["start", "progress", "completed"], "video.unknown", False),
        (["bogus"], "video.completed", False),
    ],
)
def test_filter_semantics(filter: list[str] | None, event_type: str, expected: bool) -> None:
    assert should_emit(filter, event_type) is expected


def test_unknown_filter_values() -> None:
    assert unknown_filter_values(["completed", "logs", "progress", "x"]) == ["logs", "x"]


def test_first_progress_is_due() -> None:
    assert progress_due(None, 1, "script", now=0)


@pytest.mark.parametrize(
    ("progress", "stage", "now", "expected"),
    [
        (15, "render", 105, False),  # small step, same stage, too soon
        (15, "render", 110, True),  # interval elapsed
        (35, "render", 101, True),  # jump of 25 points
        (34, "render", 101, False),  # 24 points is not enough
        (11, "mirror", 100.5, True),  # stage changed
    ],
)
def test_progress_due(progress: float, stage: str, now: float, expected: bool) -> None:
    last = ProgressMark(at=100, progress=10, stage="render")
    assert progress_due(last, progress, stage, now) is expected


def test_throttle_needs_progress_in_filter() -> None:
    throttle = ProgressThrottle()
    assert not throttle.allow("vid_1", None, 5, "script", now=0)
    assert not throttle.allow("vid_1", ["completed"], 5, "script", now=0)
    assert throttle.allow("vid_1", ["progress"], 5, "script", now=0)


def test_throttle_sequence_per_video() -> None:
    throttle = ProgressThrottle(interval=10)
    wants = ["progress", "completed"]
    assert throttle.allow("vid_1", wants, 5, "script", now=0)
    assert not throttle.allow("vid_1", wants, 8, "script", now=3)
    assert throttle.allow("vid_2", wants, 8, "script", now=3)  # other video, own clock
    assert throttle.allow("vid_1", wants, 9, "script", now=10)  # measured from last sent
    assert not throttle.allow("vid_1", wants, 30, "script", now=12)
    assert throttle.allow("vid_1", wants, 34, "script", now=13)  # 25 points since last sent
    assert throttle.allow("vid_1", wants, 35, "render", now=14)
    throttle.forget("vid_1")
    assert throttle.allow("vid_1", wants, 36, "render", now=15)
