"""The recorder: real H.264 round trips, crash safety, atomic export, and a full disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from engine.config import RecorderConfig
from engine.errors import RecorderError
from engine.recorder import Recorder

from conftest import ROOT, count_frames_opencv, count_frames_pyav


@pytest.mark.parametrize(("width", "height", "fps"), [(574, 500, 25.0), (384, 288, 29.97), (320, 240, 50.0)])
def test_round_trip_keeps_count_size_fps_codec(tmp_path, real_frames, width, height, fps):
    path = tmp_path / "clip.mp4"
    with Recorder(path, width, height, fps) as recorder:
        for image in real_frames[:30]:
            recorder.write(cv2.resize(image, (width, height)))
    assert count_frames_pyav(path) == 30
    assert count_frames_opencv(path) == 30
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", width, height)
        assert float(stream.average_rate) == pytest.approx(fps, rel=1e-3)


def test_odd_size_is_padded_to_even(tmp_path):
    path = tmp_path / "odd.mp4"
    with Recorder(path, 101, 51, 25) as recorder:
        for _ in range(5):
            recorder.write(np.full((51, 101, 3), 200, np.uint8))
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (102, 52)


def test_wrong_frame_size_is_refused(tmp_path):
    with Recorder(tmp_path / "x.mp4", 64, 48, 25) as recorder, pytest.raises(RecorderError, match="differs"):
        recorder.write(np.zeros((10, 10, 3), np.uint8))


def test_atomic_export_appears_only_when_finished(tmp_path):
    final = tmp_path / "export.mp4"
    recorder = Recorder(final, 64, 48, 25, atomic=True)
    recorder.write(np.zeros((48, 64, 3), np.uint8))
    assert not final.exists()
    recorder.abort()
    assert not final.exists() and not list(tmp_path.iterdir())
    with Recorder(final, 64, 48, 25, atomic=True) as recorder:
        recorder.write(np.zeros((48, 64, 3), np.uint8))
    assert final.exists() and count_frames_pyav(final) == 1


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full to simulate a full disk")
def test_full_disk_is_a_clear_error():
    with pytest.raises(RecorderError, match="disk full|No space"):
        recorder = Recorder("/dev/full", 64, 48, 25, RecorderConfig())
        for _ in range(200):
            recorder.write(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8))
        recorder.close()


_WRITER = """
import sys, numpy as np
sys.path.insert(0, {root!r})
from engine.recorder import Recorder
rng = np.random.default_rng(0)
rec = Recorder(sys.argv[1], 320, 240, 25.0)
i = 0
while True:
    rec.write(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))
    i += 1
    if i % 25 == 0:
        print(i, flush=True)
"""


@pytest.mark.slow
def test_recording_killed_mid_way_still_plays(tmp_path):
    path = tmp_path / "killed.mp4"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER.format(root=str(ROOT)), str(path)],
                            stdout=subprocess.PIPE, text=True)
    written = 0
    deadline = time.monotonic() + 60
    while written < 100 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        written = int(line) if line.strip() else written
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert written >= 100
    playable = count_frames_pyav(path)
    # Fragments close at each keyframe (one per second = 25 frames); at most the last second is lost.
    assert playable >= written - 25 - 25
    assert count_frames_opencv(path) == playable


def test_recorded_colours_are_the_frames_colours(tmp_path, real_frames):
    """The recorder's own BGR->YUV conversion (OpenCV's, 6x cheaper than swscale at 1080p) keeps colours:
    the decoded luma is the BT.601 formula's of the input, codec noise only, no shift."""
    path = tmp_path / "colours.mp4"
    frames = real_frames[:10]
    with Recorder(path, frames[0].shape[1], frames[0].shape[0], 25, RecorderConfig(crf=10)) as recorder:
        for image in frames:
            recorder.write(image)
    with av.open(str(path)) as container:
        planes = [f.to_ndarray(format="yuv420p") for f in container.decode(video=0)]
    assert len(planes) == len(frames)
    for image, yuv in zip(frames, planes, strict=True):
        b, g, r = (image[..., c].astype(float) for c in range(3))
        expected = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255  # BT.601, limited range
        diff = yuv[: image.shape[0]].astype(float) - expected
        assert np.abs(diff).mean() < 2.0
        assert abs(diff.mean()) < 0.5
