"""The live recorder (Qt-free): real time stamps, and a stop that can neither block nor hang."""

from __future__ import annotations

import sys
import threading

import av
import numpy as np
import pytest

from engine.config import RecorderConfig
from engine.live_recorder import QUEUE_FRAMES, LiveRecorder

from conftest import wait_until


def test_live_recording_keeps_the_capture_clock(tmp_path):
    path = tmp_path / "live.mp4"
    done = []
    recorder = LiveRecorder(path, 64, 48, 25.0, RecorderConfig(), on_finished=lambda p, n: done.append((p, n)))
    times = [100.0, 100.04, 100.08, 100.32, 100.36, 101.0]  # the engine skipped frames, then a stall
    for i, t in enumerate(times):
        recorder.feed(np.full((48, 64, 3), 30 * i, np.uint8), t)
    recorder.stop()
    assert recorder.wait(20)
    assert done == [(str(path), 6)]
    with av.open(str(path)) as container:
        shown = [float(f.pts * f.time_base) for f in container.decode(video=0)]
    assert np.diff(shown) == pytest.approx(np.diff(times), abs=1e-3)


def test_stop_returns_at_once_with_a_full_queue_and_a_stuck_writer(tmp_path):
    done = []
    recorder = LiveRecorder(tmp_path / "stuck.mp4", 64, 48, 25.0, RecorderConfig(),
                            on_finished=lambda p, n: done.append(n))
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
    release.set()
    wait_until(lambda: bool(done), 30)
    assert recorder.wait(timeout=5) and done[0] == recorder.frames_fed


def test_a_failing_write_reports_once_and_keeps_what_was_written(tmp_path):
    failures = []
    recorder = LiveRecorder(tmp_path / "r.mp4", 64, 48, 25.0, RecorderConfig(), on_failed=failures.append)

    def broken(image, time_s=None):
        from engine.errors import RecorderError

        raise RecorderError("recording stopped: disk full")

    recorder._recorder.write = broken
    recorder.feed(np.zeros((48, 64, 3), np.uint8), 1.0)
    recorder.feed(np.zeros((48, 64, 3), np.uint8), 1.04)
    recorder.stop()
    assert recorder.wait(10)
    assert failures == ["recording stopped: disk full"]


def test_the_writers_queue_is_bounded_in_bytes_too():
    """VGA keeps the frame count, 1080p gets 41 frames (0.7 s at 60 fps), 4K 10 (0.33 s at 30 fps)."""
    from engine.live_recorder import QUEUE_BYTES, QUEUE_FRAMES, queue_frames

    assert queue_frames(640, 480) == QUEUE_FRAMES
    assert queue_frames(1920, 1080) == 41
    assert queue_frames(3840, 2160) == QUEUE_BYTES // (3840 * 2160 * 3) == 10
    assert queue_frames(16000, 16000) == 4


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_the_writer_thread_is_served_after_capture_and_engine(tmp_path):
    """threads.encoder_niceness lowers the writer thread's priority, and no other thread's."""
    import os

    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    if own > 12:
        pytest.skip(f"the tests already run at nice {own}: no room to lower a thread by 7")
    recorder = LiveRecorder(tmp_path / "nice.mp4", 64, 48, 25.0, RecorderConfig(), encoder_niceness=7)
    writer = recorder._thread.native_id
    expected = own + 7
    wait_until(lambda: os.getpriority(os.PRIO_PROCESS, writer) == expected, 10)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own
    recorder.feed(np.zeros((48, 64, 3), np.uint8), 1.0)
    recorder.stop()
    assert recorder.wait(20) and recorder.frames_written == 1
