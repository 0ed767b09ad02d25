"""The seeded crash soak in CI: 60 videos, the gateway kill -9'd at random moments.

Generations, edits, videos with a webhook_url and keyed POSTs; every promise
listed in ``tests/soak.py`` must hold. ``bench/crash_soak.py`` runs the long
version (200+ videos) by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import soak


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_seeded_crash_soak_keeps_every_promise(tmp_path: Path) -> None:
    result = soak.run(tmp_path, soak.Options(videos=60, kills=10, seed=14, timeout=420))
    assert result.kills == 10
    assert len(result.made) == 60 and all(m.video_id for m in result.made)
    assert result.figures["edits"] > 0 and result.figures["keyed_posts"] > 0
    assert result.problems == [], "\n".join(result.problems)
