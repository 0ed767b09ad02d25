"""Frame-by-frame H.264/AAC encoding of a render job with PyAV (FFmpeg's libx264 and aac)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from gateway.sandbox.picture import Picture, Planes
from gateway.sandbox.render_job import Job
from gateway.sandbox.sound import SAMPLE_RATE, Voice, mix

X264_THREADS = 2  # fixed: the thread count is part of what makes the bytes reproducible
_AUDIO_BLOCK = 1024  # AAC frame size


def encode(job: Job, path: Path) -> None:
    # faststart moves the index to the front so browsers can play while downloading
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as box:
        video = _video_stream(box, job)
        audio = box.add_stream("aac", rate=SAMPLE_RATE, layout="mono") if job.voices else None
        picture, planes = Picture(job.width, job.height), Planes.empty(job.width, job.height)
        packed = np.empty((job.height * 3 // 2, job.width), np.uint8)
        sent, total = 0, round(job.duration_ms * SAMPLE_RATE / 1000)
        for i in range(job.frames):
            t_ms = i * 1000 / job.fps
            picture.draw(job.look_at(t_ms), t_ms / 1000, planes)
            planes.pack(packed)
            for caption in job.captions:
                if caption.visible(t_ms):
                    caption.apply(packed)
            frame = av.VideoFrame.from_ndarray(packed, format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, job.fps)
            box.mux(video.encode(frame))
            if audio is not None:  # keep audio in step with video so the muxer interleaves
                target = min(total, (i + 1) * SAMPLE_RATE // job.fps)
                sent = _send_audio(box, audio, job.voices, sent, target, final=False)
        box.mux(video.encode(None))
        if audio is not None:
            _send_audio(box, audio, job.voices, sent, total, final=True)
            box.mux(audio.encode(None))


def _video_stream(box: Any, job: Job) -> Any:
    video = box.add_stream("libx264", rate=job.fps)
    video.width, video.height, video.pix_fmt = job.width, job.height, "yuv420p"
    ctx = video.codec_context
    ctx.thread_count = X264_THREADS
    ctx.gop_size = 2 * job.fps  # a keyframe every 2 s keeps seeking snappy
    ctx.color_primaries = ctx.color_trc = ctx.colorspace = 1  # BT.709, as the planes are built
    ctx.color_range = 1  # limited ("tv") range
    video.options = {"preset": "ultrafast", "crf": "26"}
    return video


def _send_audio(
    box: Any, audio: Any, voices: list[Voice], sent: int, target: int, final: bool
) -> int:
    while target - sent >= _AUDIO_BLOCK or (final and target > sent):
        count = min(_AUDIO_BLOCK, target - sent)
        frame = av.AudioFrame.from_ndarray(
            mix(voices, sent, count)[None, :], format="fltp", layout="mono"
        )
        frame.sample_rate, frame.pts, frame.time_base = SAMPLE_RATE, sent, Fraction(1, SAMPLE_RATE)
        box.mux(audio.encode(frame))
        sent += count
    return sent
