"""The window's live recorder: real time stamps, and a stop that can neither block nor hang."""

from __future__ import annotations

import threading

import av
import numpy as np
import pytest

pytest.importorskip("PyQt6", reason="the window's recorder is a Qt object")
pytestmark = pytest.mark.gui

from app.recording import QUEUE_FRAMES, ClipRecorder  # noqa: E402
from engine.config import RecorderConfig  # noqa: E402


def test_live_recording_keeps_the_capture_clock(qtbot, tmp_path):
    path = tmp_path / "live.mp4"
    recorder = ClipRecorder(path, 64, 48, 25.0, RecorderConfig())
    times = [100.0, 100.04, 100.08, 100.32, 100.36, 101.0]  # the engine skipped frames, then a stall
    for i, t in enumerate(times):
        recorder.feed(np.full((48, 64, 3), 30 * i, np.uint8), t)
    with qtbot.waitSignal(recorder.finished, timeout=20000):
        recorder.stop()
    with av.open(str(path)) as container:
        shown = [float(f.pts * f.time_base) for f in container.decode(video=0)]
    assert np.diff(shown) == pytest.approx(np.diff(times), abs=1e-3)


def test_stop_returns_at_once_with_a_full_queue_and_a_stuck_writer(qtbot, tmp_path):
    recorder = ClipRecorder(tmp_path / "stuck.mp4", 64, 48, 25.0, RecorderConfig())
    release = threading.Event()
    real_write = recorder._recorder.write

    def stuck(image, time_s=None):
        release.wait(30)
        real_write(image, time_s)

    recorder._recorder.write = stuck
    for i in range(QUEUE_FRAMES + 10):
        recorder.feed(np.zeros((48, 64, 3), np.uint8), 100.0 + i / 25)
    assert recorder.dropped >= 9  # the queue is full: frames are dropped and counted, never blocking
    recorder.stop()  # must not block on the full queue (this line used to hang)
    assert recorder.wait(timeout=0.3) is False  # the writer is still stuck: the caller is not
    with qtbot.waitSignal(recorder.finished, timeout=30000):
        release.set()
    assert recorder.wait(timeout=5)
