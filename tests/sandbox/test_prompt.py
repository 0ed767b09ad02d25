"""Parsing of generation and edit requests, applying edits, building drafts."""

from __future__ import annotations

import copy

import pytest

from gateway.draft import is_ready, summarize
from gateway.sandbox.prompt import (
    AddMusic,
    AddTitle,
    ChangeTitleText,
    RemoveMusic,
    RemoveTitle,
    ScaleMusicVolume,
    SetDuration,
    SetMusicVolume,
    TrimEnd,
    TrimStart,
    VideoSpec,
    apply_edits,
    build_draft,
    frame_size,
    mood_label,
    parse_edit,
    parse_prompt,
)

# ---------------------------------------------------------------------------
# parse_prompt
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("generate a 30-second video of a sunset", 30),
        ("a 30 second clip of waves", 30),
        ("make a 15s video of a cat", 15),
        ("make a 15 sec video of a cat", 15),
        ("create a 15-sec teaser", 15),
        ("a 1 minute video about coffee", 60),
        ("a 1-minute video about coffee", 60),
        ("a one-minute explainer", 60),
        ("a two minute video of a landscape", 120),
        ("video of the ocean, 10 seconds", 10),
        ("a 20 secs clip", 20),
        ("a 2.5 second loop", 2),  # rounds half to even, then clamps to 2..120
        ("a 1 second flash", 2),  # clamped up
        ("a 5 minute documentary", 120),  # clamped down
        ("a video of a dog", 10),  # default
        ("生成一个30秒的视频", 30),
        ("a thirty second video of rain", 30),
        ("make a second video about dogs", 10),  # "a second" is not one second
        ("a video with a title in the first 3 seconds", 10),  # a time inside the video
        ("a clip with a title from 2s to 5s", 10),
        ("a video of 5 slides", 10),
        ("a 60fps video", 10),
    ],
)
def test_prompt_duration(text: str, seconds: int) -> None:
    assert parse_prompt(text).duration_seconds == seconds


@pytest.mark.parametrize(
    ("text", "ratio"),
    [
        ("a 16:9 video of a beach", "16:9"),
        ("a 9:16 video of a beach", "9:16"),
        ("a 1:1 video of a beach", "1:1"),
        ("a vertical video of a beach", "9:16"),
        ("a video of a beach in portrait mode", "9:16"),
        ("a beach video for TikTok", "9:16"),
        ("a beach video for Instagram Reels", "9:16"),
        ("a beach video for YouTube Shorts", "9:16"),
        ("a square video of a beach", "1:1"),
        ("a video of a beach in landscape", "16:9"),
        ("a widescreen video of a beach", "16:9"),
        ("a video of a beach", "16:9"),  # default
        ("a video of Times Square at night", "16:9"),  # "square" in a name
        ("a video of a beautiful landscape", "16:9"),
        ("a portrait of an old sailor", "16:9"),  # portrait as subject, not format
        ("a vertical 16:9 clip", "9:16"),  # the first mention wins
    ],
)
def test_prompt_aspect(text: str, ratio: str) -> None:
    assert parse_prompt(text).aspect_ratio == ratio


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ('a video of a city with the title "Urban Dreams"', "Urban Dreams"),
        ("a video titled 'Hello'", "Hello"),
        ("a clip called \u201cMorning Run\u201d", "Morning Run"),
        ("a video named 'Let's Go' about hiking", "Let's Go"),
        ("a video with a title card saying 'Launch Day'", "Launch Day"),
        ("a video with the title: 'Colon'", "Colon"),
        ("a video of a city", None),
        ("a video titled Hello", None),  # only quoted titles in prompts
        ("a 'quoted' thing with no title word", None),
    ],
)
def test_prompt_title(text: str, title: str | None) -> None:
    assert parse_prompt(text).title == title


@pytest.mark.parametrize(
    ("text", "mood"),
    [
        ("a video of rain with lo-fi music", "lo-fi"),
        ("a video of rain with lofi music", "lo-fi"),
        ("a video of rain with lo fi bgm", "lo-fi"),
        ("a video with upbeat background music", "upbeat"),
        ("a video with calm music", "calm"),
        ("a trailer with an epic soundtrack", "epic"),
        ("a video with jazz music", "jazz"),
        ("a video with jazzy music", "jazz"),
        ("a video with ambient bgm", "ambient"),
        ("a video with cinematic music", "cinematic"),
        ("a video with music: upbeat", "upbeat"),
        ("a video with background music", "background"),  # music, no mood
        ("a video with cinematic camera movement", None),  # a mood word but no music
        ("a sunset with cinematic camera movement and calm music", "calm"),
        ("a cat playing piano with lo-fi music", "lo-fi"),
        ("a video of a dog", None),
    ],
)
def test_prompt_music(text: str, mood: str | None) -> None:
    assert parse_prompt(text).music_mood == mood


@pytest.mark.parametrize(
    ("text", "volume"),
    [
        ("a video with lo-fi music at 35%", 0.35),
        ("a video with lo-fi music", None),
        ("a video at 50% speed", None),  # no music asked: a percentage is not a volume
    ],
)
def test_prompt_music_volume(text: str, volume: float | None) -> None:
    assert parse_prompt(text).music_volume == volume


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        (
            "generate a 30-second video of a sunset over a city skyline with cinematic "
            "camera movement",
            "sunset over a city skyline",
        ),
        (
            "Generate a city timelapse, 10 seconds, 9:16, with calm background music",
            "city timelapse",
        ),
        (
            'Make a 15s vertical video of a cat playing piano with the title "Urban Dreams" '
            "and lo-fi music at 35%",
            "cat playing piano",
        ),
        (
            "please create a square 1 minute clip about coffee brewing, titled 'Hi'",
            "coffee brewing",
        ),
        ("a video of Times Square at night for TikTok", "Times Square at night"),
        ("make a new video of dogs", "dogs"),
        ("generate a 15-second video clip of a product showcase", "product showcase"),
        ("make a video", "generated clip"),
        ("hello there", "hello there"),
    ],
)
def test_prompt_subject(text: str, subject: str) -> None:
    assert parse_prompt(text).subject == subject


def test_prompt_subject_is_short() -> None:
    text = "generate a video of " + "a very long and winding description " * 5
    assert len(parse_prompt(text).subject) <= 40


def test_prompt_whole() -> None:
    spec = parse_prompt(
        "generate a 30-second vertical video of a city timelapse with lo-fi music "
        'and the title "Urban Dreams"'
    )
    assert spec == VideoSpec("city timelapse", 30, "9:16", "Urban Dreams", "lo-fi")


@pytest.mark.parametrize(
    ("mood", "label"),
    [
        ("lo-fi", "Lo-fi"),
        ("upbeat", "Upbeat"),
        ("hip-hop", "Hip-hop"),
        ("background", "Background music"),
    ],
)
def test_mood_label(mood: str, label: str) -> None:
    assert mood_label(mood) == label


@pytest.mark.parametrize(
    ("ratio", "size", "expected"),
    [
        ("16:9", None, (1280, 720)),
        ("9:16", None, (720, 1280)),
        ("1:1", None, (720, 720)),
        ("16:9", (1920, 1080), (1920, 1080)),
        ("9:16", (1920, 1080), (1080, 1920)),
        ("1:1", (1920, 1080), (1080, 1080)),
        ("16:9", (1080, 1920), (1920, 1080)),
    ],
)
def test_frame_size(ratio: str, size: tuple[int, int] | None, expected: tuple[int, int]) -> None:
    assert frame_size(ratio, size) == expected


# ---------------------------------------------------------------------------
# parse_edit
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ops"),
    [
        # titles
        ("put the title 'Urban Dreams' in the first 3 s", [AddTitle("Urban Dreams", 0, 3000)]),
        ('add a title "X"', [AddTitle("X")]),
        ("add title X from 2s to 5s", [AddTitle("X", 2000, 5000)]),
        ("add a title 'Hi' for 5 seconds", [AddTitle("Hi", 0, 5000)]),
        ("add the title 'Bye' at the end", [AddTitle("Bye", -3000)]),
        ("put the title 'Bye' in the last 4 seconds", [AddTitle("Bye", -4000)]),
        ("show the text 'Sale' at 2s", [AddTitle("Sale", 2000)]),
        ("set the title 'Jazz Night'", [AddTitle("Jazz Night")]),  # music words in quotes
        ("add a title", [AddTitle(None)]),
        ("change the title to 'Y'", [ChangeTitleText("Y")]),
        ("replace the title with \u201cNew Dawn\u201d", [ChangeTitleText("New Dawn")]),
        ("rename the title to Sunset Vibes", [ChangeTitleText("Sunset Vibes")]),
        ("change the title text to Big News", [ChangeTitleText("Big News")]),
        ("set the title to 'Z'", [ChangeTitleText("Z")]),
        ("change the title to 'Y' from 1s to 4s", [AddTitle("Y", 1000, 4000)]),
        ("remove the title", [RemoveTitle()]),
        ("delete the text", [RemoveTitle()]),
        ("get rid of the caption", [RemoveTitle()]),
        ("no title please", [RemoveTitle()]),
        # music
        ("add lo-fi music at 35%", [AddMusic("lo-fi", 0.35)]),
        ("add upbeat background music", [AddMusic("upbeat")]),
        ("add some jazz", [AddMusic("jazz")]),
        ("add background music", [AddMusic("background")]),
        ("change the music to calm", [AddMusic("calm")]),
        ("use an epic soundtrack at 60 percent", [AddMusic("epic", 0.6)]),
        ("set the music volume to 20%", [SetMusicVolume(0.2)]),
        ("lower the volume to 10%", [SetMusicVolume(0.1)]),
        ("music volume 0.5", [SetMusicVolume(0.5)]),
        ("turn the music down", [ScaleMusicVolume(0.5)]),
        ("make the music louder", [ScaleMusicVolume(1.5)]),
        ("remove the music", [RemoveMusic()]),
        ("mute the bgm", [RemoveMusic()]),
        ("no music", [RemoveMusic()]),
        ("delete the soundtrack", [RemoveMusic()]),
        # duration
        ("trim to 8 seconds", [SetDuration(8)]),
        ("make it 15 seconds long", [SetDuration(15)]),
        ("make the video 1 minute", [SetDuration(60)]),
        ("extend it to 20s", [SetDuration(20)]),
        ("shorten it to 1 second", [SetDuration(2)]),  # clamped
        ("cut the last 2 seconds", [TrimEnd(2)]),
        ("remove the last 1.5 s", [TrimEnd(1.5)]),
        ("trim 3 seconds off the end", [TrimEnd(3)]),
        ("shorten it by 3 seconds", [TrimEnd(3)]),
        ("cut the first 2 seconds", [TrimStart(2)]),
        ("trim 1 second from the beginning", [TrimStart(1)]),
        # several at once, the verb carries over
        (
            "add a title 'Jazz Night' and lo-fi music at 35%, then trim to 8 seconds",
            [AddTitle("Jazz Night"), AddMusic("lo-fi", 0.35), SetDuration(8)],
        ),
        ("delete the text and the music", [RemoveTitle(), RemoveMusic()]),
        ("remove the music; add a title 'A'", [RemoveMusic(), AddTitle("A")]),
        # not edits
        ("what is this?", []),
        ("hello", []),
        ("make the text bigger", []),
        ("looks great, thanks", []),
        ("", []),
    ],
)
def test_parse_edit(text: str, ops: list) -> None:
    assert parse_edit(text) == ops


# ---------------------------------------------------------------------------
# apply_edits
# ---------------------------------------------------------------------------


def _draft(d: int = 10000, *, music: bool = True, title: bool = True) -> dict:
    tracks = [{"tt": 0, "n": "Video", "sg": [{"s": 0, "e": d, "lb": "city timelapse"}]}]
    if music:
        tracks.append({"tt": 1, "n": "BGM", "sg": [{"s": 0, "e": d, "lb": "Lo-fi", "v": 0.35}]})
    if title:
        tracks.append({"tt": 7, "n": "Title", "sg": [{"s": 0, "e": 3000, "tx": "Urban Dreams"}]})
    return {"d": d, "m": {"ratio": "16:9", "w": 1280, "h": 720, "fps": 24}, "t": tracks}


def _segs(draft: dict, tt: int) -> list[dict]:
    return [s for t in draft["t"] if t["tt"] == tt for s in t["sg"]]


ALL_OPS = [
    AddTitle("A", 1000, 2000),
    ChangeTitleText("B"),
    RemoveTitle(),
    AddMusic("jazz", 0.5),
    SetMusicVolume(0.1),
    ScaleMusicVolume(0.5),
    RemoveMusic(),
    SetDuration(5),
    SetDuration(20),
    TrimEnd(2),
    TrimStart(2),
]


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda op: repr(op))
def test_apply_edits_never_mutates(op) -> None:
    draft = _draft()
    before = copy.deepcopy(draft)
    out = apply_edits(draft, [op])
    assert draft == before
    assert out is not draft
    assert all(a is not b for a, b in zip(out["t"], draft["t"], strict=False))


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda op: repr(op))
def test_apply_edits_keeps_segments_inside(op) -> None:
    out = apply_edits(_draft(), [op])
    assert is_ready(out)
    for track in out["t"]:
        assert track["sg"], "no empty tracks"
        for seg in track["sg"]:
            assert 0 <= seg["s"] < seg["e"] <= out["d"]


def test_add_title_replaces_existing() -> None:
    out = apply_edits(_draft(), [AddTitle("Urban Dreams 2", 0, 3000)])
    assert _segs(out, 7) == [{"s": 0, "e": 3000, "tx": "Urban Dreams 2"}]


def test_add_title_to_draft_without_one() -> None:
    out = apply_edits(_draft(title=False), [AddTitle("Hello")])
    assert _segs(out, 7) == [{"s": 0, "e": 3000, "tx": "Hello"}]
    assert [t["tt"] for t in out["t"]] == [0, 1, 7]


def test_add_title_without_text_uses_video_label() -> None:
    out = apply_edits(_draft(title=False), [AddTitle(None)])
    assert _segs(out, 7)[0]["tx"] == "City Timelapse"


@pytest.mark.parametrize(
    ("op", "span"),
    [
        (AddTitle("x"), (0, 3000)),
        (AddTitle("x", 2000, 5000), (2000, 5000)),
        (AddTitle("x", 0, 30000), (0, 10000)),  # clipped to the video
        (AddTitle("x", -3000), (7000, 10000)),  # last 3 s
        (AddTitle("x", 2000), (2000, 5000)),  # start only: 3 s long
        (AddTitle("x", 9000), (9000, 10000)),  # clipped at the end
        (AddTitle("x", 15000), (7000, 10000)),  # past the end: moved inside
    ],
)
def test_add_title_span(op: AddTitle, span: tuple[int, int]) -> None:
    seg = _segs(apply_edits(_draft(title=False), [op]), 7)[0]
    assert (seg["s"], seg["e"]) == span


def test_short_video_gets_short_default_title() -> None:
    out = apply_edits(_draft(2000, title=False), [AddTitle("x")])
    assert _segs(out, 7)[0]["e"] == 2000


def test_change_title_keeps_timing() -> None:
    draft = apply_edits(_draft(), [AddTitle("A", 1000, 4000)])
    out = apply_edits(draft, [ChangeTitleText("B")])
    assert _segs(out, 7) == [{"s": 1000, "e": 4000, "tx": "B"}]


def test_change_title_without_title_adds_one() -> None:
    out = apply_edits(_draft(title=False), [ChangeTitleText("B")])
    assert _segs(out, 7) == [{"s": 0, "e": 3000, "tx": "B"}]


def test_remove_title() -> None:
    out = apply_edits(_draft(), [RemoveTitle()])
    assert [t["tt"] for t in out["t"]] == [0, 1]


def test_remove_title_when_none_is_a_no_op() -> None:
    draft = _draft(title=False)
    assert apply_edits(draft, [RemoveTitle()]) == draft


@pytest.mark.parametrize(
    ("ops", "volume"),
    [
        ([AddMusic("jazz", 0.5)], 0.5),
        ([AddMusic("jazz")], 0.35),  # keeps the current volume
        ([SetMusicVolume(0.2)], 0.2),
        ([SetMusicVolume(1.7)], 1.0),
        ([ScaleMusicVolume(0.5)], 0.175),
        ([ScaleMusicVolume(5)], 1.0),
        ([SetMusicVolume(0.2), ScaleMusicVolume(1.5)], 0.3),
    ],
)
def test_music_volume(ops: list, volume: float) -> None:
    seg = _segs(apply_edits(_draft(), ops), 1)[0]
    assert seg["v"] == pytest.approx(volume)


def test_add_music_to_draft_without_music() -> None:
    out = apply_edits(_draft(music=False), [AddMusic("lo-fi")])
    assert _segs(out, 1) == [{"s": 0, "e": 10000, "lb": "Lo-fi", "v": 0.8}]
    assert [t["tt"] for t in out["t"]] == [0, 1, 7]  # inserted before the title
    assert "BGM: Lo-fi (0-10s, 80%)" in summarize(out)


def test_add_music_replaces_music() -> None:
    out = apply_edits(_draft(), [AddMusic("upbeat", 0.6)])
    assert _segs(out, 1) == [{"s": 0, "e": 10000, "lb": "Upbeat", "v": 0.6}]


def test_volume_without_music_is_a_no_op() -> None:
    draft = _draft(music=False)
    assert apply_edits(draft, [SetMusicVolume(0.2)]) == draft


def test_remove_music() -> None:
    out = apply_edits(_draft(), [RemoveMusic()])
    assert [t["tt"] for t in out["t"]] == [0, 7]


def test_trim_clips_and_drops_segments() -> None:
    draft = _draft()
    draft["t"][2]["sg"].append({"s": 8000, "e": 10000, "tx": "The End"})
    out = apply_edits(draft, [SetDuration(5)])
    assert out["d"] == 5000
    assert _segs(out, 0) == [{"s": 0, "e": 5000, "lb": "city timelapse"}]
    assert _segs(out, 1)[0]["e"] == 5000
    assert _segs(out, 7) == [{"s": 0, "e": 3000, "tx": "Urban Dreams"}]  # "The End" is gone


def test_trim_below_title_clips_it() -> None:
    out = apply_edits(_draft(), [SetDuration(2)])
    assert _segs(out, 7) == [{"s": 0, "e": 2000, "tx": "Urban Dreams"}]


def test_extend_stretches_video_and_full_music() -> None:
    draft = _draft()
    draft["t"].append({"tt": 1, "n": "SFX", "sg": [{"s": 1000, "e": 2000, "lb": "whoosh"}]})
    out = apply_edits(draft, [SetDuration(20)])
    assert out["d"] == 20000
    assert _segs(out, 0) == [{"s": 0, "e": 20000, "lb": "city timelapse"}]
    assert _segs(out, 1)[0]["e"] == 20000
    assert {"s": 1000, "e": 2000, "lb": "whoosh"} in _segs(out, 1)  # short sound unchanged
    assert _segs(out, 7)[0]["e"] == 3000  # the title keeps its span


def test_extend_scales_a_slideshow() -> None:
    draft = {
        "d": 6000,
        "t": [
            {
                "tt": 0,
                "sg": [
                    {"s": 0, "e": 3000, "lb": "a.jpg", "src": "m1"},
                    {"s": 3000, "e": 6000, "lb": "b.jpg", "src": "m2"},
                ],
            }
        ],
    }
    out = apply_edits(draft, [SetDuration(12)])
    assert [(s["s"], s["e"]) for s in _segs(out, 0)] == [(0, 6000), (6000, 12000)]


def test_trim_end_and_start() -> None:
    out = apply_edits(_draft(), [TrimEnd(2)])
    assert out["d"] == 8000
    out = apply_edits(_draft(), [TrimStart(2)])
    assert out["d"] == 8000
    assert _segs(out, 0) == [{"s": 0, "e": 8000, "lb": "city timelapse"}]
    assert _segs(out, 7) == [{"s": 0, "e": 1000, "tx": "Urban Dreams"}]


def test_trim_start_drops_what_is_cut_away() -> None:
    out = apply_edits(_draft(), [TrimStart(4)])
    assert _segs(out, 7) == []
    assert [t["tt"] for t in out["t"]] == [0, 1]


def test_trims_never_go_below_minimum() -> None:
    assert apply_edits(_draft(), [TrimEnd(30)])["d"] == 2000
    assert apply_edits(_draft(), [TrimStart(30)])["d"] == 2000


def test_ops_apply_in_order() -> None:
    out = apply_edits(_draft(), [SetDuration(5), AddMusic("jazz", 0.4), SetDuration(8)])
    assert _segs(out, 1) == [{"s": 0, "e": 8000, "lb": "Jazz", "v": 0.4}]


def test_apply_edits_reads_liberally() -> None:
    draft = {"tracks": [{"tt": 0, "sg": [{"s": 0, "e": 6000, "lb": "x"}]}]}  # no "d", long key
    out = apply_edits(draft, [AddTitle("T")])
    assert out["d"] == 6000
    assert "tracks" not in out
    assert _segs(out, 7) == [{"s": 0, "e": 3000, "tx": "T"}]


def test_no_ops_gives_an_equal_copy() -> None:
    draft = _draft()
    out = apply_edits(draft, [])
    assert out == draft and out is not draft


# ---------------------------------------------------------------------------
# build_draft
# ---------------------------------------------------------------------------

SPEC = VideoSpec("city timelapse", 10, "16:9", "Urban Dreams", "lo-fi")


def test_build_raw() -> None:
    draft = build_draft(SPEC, width=1280, height=720, stage="raw", prompt="p")
    assert draft == {
        "d": 10000,
        "m": {"ratio": "16:9", "w": 1280, "h": 720, "fps": 24, "prompt": "p", "stage": "raw"},
        "t": [{"tt": 0, "n": "Video", "sg": [{"s": 0, "e": 10000, "lb": "city timelapse"}]}],
    }


def test_build_final() -> None:
    draft = build_draft(SPEC, width=1280, height=720, fps=30, stage="final", clip_id="clip_1")
    assert summarize(draft) == (
        "Timeline (3 tracks): 1. Video: city timelapse (0-10s) 2. BGM: Lo-fi (0-10s, 80%) "
        '3. Title: "Urban Dreams" (0-3s)'
    )
    assert draft["t"][0]["sg"][0]["src"] == "clip_1"
    assert draft["m"]["fps"] == 30


@pytest.mark.parametrize(
    ("spec", "types"),
    [
        (VideoSpec("x", 10, "16:9", None, None), [0]),
        (VideoSpec("x", 10, "16:9", "T", None), [0, 7]),
        (VideoSpec("x", 10, "16:9", None, "calm"), [0, 1]),
        (VideoSpec("x", 10, "16:9", "T", "calm"), [0, 1, 7]),
    ],
)
def test_build_final_tracks(spec: VideoSpec, types: list[int]) -> None:
    draft = build_draft(spec, width=1, height=1, stage="final")
    assert [t["tt"] for t in draft["t"]] == types
    assert [t["tt"] for t in build_draft(spec, width=1, height=1, stage="raw")["t"]] == [0]


def test_build_asked_volume_and_short_title() -> None:
    spec = VideoSpec("x", 2, "1:1", "T", "upbeat", 0.35)
    draft = build_draft(spec, width=720, height=720, stage="final")
    assert draft["t"][1]["sg"][0]["v"] == 0.35
    assert draft["t"][2]["sg"][0]["e"] == 2000


def test_build_slideshow_from_photos_and_uploaded_music() -> None:
    media = [
        {"id": "m1", "type": "image", "name": "a.jpg"},
        {"id": "m2", "type": "image", "name": "b.png"},
        {"id": "m3", "type": "audio", "name": "song.mp3"},
        {"id": "m4", "type": "image", "name": "c.jpg"},
    ]
    spec = VideoSpec("x", 9, "16:9", None, None)
    draft = build_draft(spec, width=1280, height=720, stage="final", media=media)
    assert draft["t"][0]["sg"] == [
        {"s": 0, "e": 3000, "lb": "a.jpg", "src": "m1"},
        {"s": 3000, "e": 6000, "lb": "b.png", "src": "m2"},
        {"s": 6000, "e": 9000, "lb": "c.jpg", "src": "m4"},
    ]
    assert draft["t"][1]["sg"] == [{"s": 0, "e": 9000, "lb": "song.mp3", "v": 0.8, "src": "m3"}]
    raw = build_draft(spec, width=1280, height=720, stage="raw", media=media)
    assert [t["tt"] for t in raw["t"]] == [0]
