"""The latest-frame slot and the capture thread: drop, never queue; pause, seek, step, loop, pace."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from engine.capture import CaptureThread, LatestFrameSlot
from engine.results import Frame
from engine.sources import open_source

from conftest import wait_until, write_clip


def _frame(i: int) -> Frame:
    return Frame(i, time.monotonic(), np.zeros((2, 2, 3), np.uint8))


def test_slot_keeps_only_the_newest_and_counts_drops():
    slot = LatestFrameSlot()
    for i in range(5):
        slot.put(_frame(i))
    assert slot.take(0.1).index == 4
    assert slot.dropped == 4
    assert slot.take(0.01) is None


def test_slot_wakes_a_waiting_consumer():
    slot = LatestFrameSlot()
    got = []
    consumer = threading.Thread(target=lambda: got.append(slot.take(5.0)))
    consumer.start()
    time.sleep(0.05)
    slot.put(_frame(7))
    consumer.join(5)
    assert got and got[0].index == 7


def test_slow_consumer_drops_instead_of_queueing(real_clip, real_frames):
    """A consumer 4x slower than the source sees fresh frames; the rest are dropped, not queued."""
    slot = LatestFrameSlot()
    capture = CaptureThread(open_source(str(real_clip)), slot, realtime=True)
    capture.start()
    seen, lags = [], []
    deadline = time.monotonic() + 10
    while capture.is_alive() and time.monotonic() < deadline:
        frame = slot.take(0.5)
        if frame is None:
            continue
        lags.append(capture.position - frame.index)  # frames read since this one, right after taking it
        seen.append(frame.index)
        time.sleep(0.16)  # 4 frame intervals at 25 fps
    capture.stop()
    capture.join(5)
    leftover = slot.take(0.0)
    assert seen == sorted(seen) and len(seen) < 20
    assert slot.dropped > 0
    assert slot.dropped + len(seen) + (leftover is not None) == capture.frames_read == len(real_frames)
    # the newest frame, never one behind a queue: the consumer slept 4 frame intervals before each take,
    # so a queue would hand over frames 3-4 behind, more with each take; at most the frames published
    # between taking and reading the position are newer
    assert max(lags) <= 2


def test_unpaced_file_replay_waits_for_the_consumer(numbered_clip):
    """realtime=False means as fast as the engine takes frames: none decoded just to be dropped."""
    slot = LatestFrameSlot()
    capture = CaptureThread(open_source(str(numbered_clip)), slot, realtime=False)
    capture.start()
    taken = []
    while capture.is_alive() or taken[-1:] != [39]:
        frame = slot.take(0.5)
        if frame is not None:
            taken.append(frame.index)
            time.sleep(0.005)
        elif not capture.is_alive():
            break
    capture.join(5)
    assert taken == list(range(40)) and slot.dropped == 0


def _collect(capture: CaptureThread) -> list[int]:
    got: list[int] = []
    capture.frame_listeners.append(lambda f: got.append(f.index))
    return got


@pytest.fixture
def numbered_clip(tmp_path):
    frames = [np.full((48, 64, 3), 5 * i, np.uint8) for i in range(40)]
    return write_clip(frames, tmp_path / "n.mp4", gop=10)


def test_pause_stops_frames_and_seek_and_step_land_exactly(numbered_clip):
    capture = CaptureThread(open_source(str(numbered_clip)), LatestFrameSlot(), realtime=True)
    got = _collect(capture)
    capture.start()
    time.sleep(0.3)
    capture.pause()
    wait_until(lambda: capture.holding)  # a frame in flight when the pause came has arrived
    count = len(got)
    time.sleep(0.3)
    assert len(got) == count  # paused: no frame advance
    capture.seek(25)
    wait_until(lambda: got[-1] == 25)
    capture.step(1)
    wait_until(lambda: got[-1] == 26)
    capture.step(-3)
    wait_until(lambda: got[-1] == 23)
    assert capture.paused
    capture.stop()
    capture.join(5)
    assert not capture.is_alive()


@pytest.mark.parametrize("speed", [1.0, 2.0])
def test_realtime_pacing_never_runs_ahead_of_the_clip(numbered_clip, speed):
    """A real replay: no frame comes before its time (a loaded machine can only make frames late)."""
    capture = CaptureThread(open_source(str(numbered_clip)), LatestFrameSlot(), realtime=True, speed=speed)
    stamps: list[tuple[float, float]] = []
    capture.frame_listeners.append(lambda f: stamps.append((f.capture_time, f.pts_s)))
    capture.start()
    capture.join(30)
    assert capture.status.state == "ended" and len(stamps) == 40
    t0, p0 = stamps[0]
    assert stamps[-1][1] - p0 == pytest.approx(39 / 25, abs=1e-3)
    # due at t0 + (p - p0) / speed; 0.1 s for the first stamp's own delay on a loaded machine (unpaced,
    # the 40 frames would all come within a few ms)
    for t, p in stamps:
        assert t - t0 >= (p - p0) / speed - 0.1


class _FakeClock:
    """time.monotonic and the capture thread's condition wait, without waiting: pacing by numbers."""

    def __init__(self) -> None:
        self.now, self.waits = 100.0, []

    def monotonic(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.waits.append(round(seconds, 6))
        self.now += seconds

    def __enter__(self) -> _FakeClock:
        return self

    def __exit__(self, *exc) -> None:
        return None


@pytest.mark.parametrize("speed", [0.5, 1.0, 2.0, 4.0])
def test_pacing_waits_each_frame_out_to_its_time_at_the_speed(numbered_clip, monkeypatch, speed):
    import engine.capture as capture_module

    clock = _FakeClock()
    monkeypatch.setattr(capture_module, "time", SimpleNamespace(monotonic=clock.monotonic))  # this module only
    capture = CaptureThread(open_source(str(numbered_clip)), LatestFrameSlot(), realtime=True, speed=speed)
    capture._lock = clock  # the wait the pacing does
    try:
        _pace_by_numbers(capture, clock, speed)
    finally:
        capture.source.close()


def _pace_by_numbers(capture: CaptureThread, clock: _FakeClock, speed: float) -> None:
    capture._pace(0.0)  # the first frame anchors the clock
    clock.now += 0.005  # decoding took 5 ms
    capture._pace(0.04)
    assert clock.waits == [round(0.04 / speed - 0.005, 6)]
    clock.now += 0.5  # a frame late by far: no wait, and the late time does not move the anchor
    capture._pace(0.08)
    assert len(clock.waits) == 1
    capture._pace(30.0)  # a jump ahead (more than 1 s away at any speed): re-anchored, no stall
    assert len(clock.waits) == 1
    capture._pace(30.04)  # paced from the new anchor
    assert clock.waits[1:] == [round(0.04 / speed, 6)]


def test_loop_restarts_at_the_beginning(numbered_clip):
    capture = CaptureThread(open_source(str(numbered_clip)), LatestFrameSlot(), realtime=True, speed=4.0, loop=True)
    got = _collect(capture)
    capture.start()
    wait_until(lambda: len(got) > 90)
    capture.stop()
    capture.join(5)
    assert got[:40] == list(range(40)) and got[40:80] == list(range(40))


def test_a_looping_source_opened_past_its_end_plays_from_the_start(numbered_clip):
    """What the window's Retry does after the last frame: reopen one past it. It must wrap, not end."""
    capture = CaptureThread(open_source(str(numbered_clip)), LatestFrameSlot(), realtime=True, speed=4.0, loop=True)
    got = _collect(capture)
    capture.seek(40)  # the clip has 40 frames: 0..39
    capture.start()
    wait_until(lambda: len(got) > 10)
    capture.stop()
    capture.join(5)
    assert got[:10] == list(range(10)) and capture.status.state != "ended"



@pytest.mark.slow
def test_stream_that_drops_out_is_reopened_with_backoff():
    from mjpeg_server import MjpegServer

    server = MjpegServer().start()
    states: list[str] = []
    delays: list[float] = []
    capture = CaptureThread(open_source(server.url), LatestFrameSlot(), reconnect_initial_s=0.2, reconnect_max_s=0.8)
    capture.status_listeners.append(lambda s: states.append(s.state))
    capture.status_listeners.append(
        lambda s: delays.append(float(s.message.split("retrying in ")[1].split(" s")[0]))
        if s.state == "reconnecting" else None)
    got = _collect(capture)
    capture.start()
    try:
        wait_until(lambda: len(got) > 5, 10)
        server.stop()
        wait_until(lambda: len(delays) >= 5, 30)  # five failed tries: the delay doubles up to its ceiling
        assert capture.is_alive()  # reported, not raised
        assert delays[:5] == [0.2, 0.4, 0.8, 0.8, 0.8]
        before = len(got)
        server.start()
        wait_until(lambda: len(got) > before + 5, 20)
        assert states[-1] == "playing"
    finally:
        capture.stop()
        capture.join(10)
        server.stop()
    assert not capture.is_alive()


class _BrokenSeek:
    """A real file source whose seek fails with a non-source error (a decoder or library bug)."""

    def __init__(self, source):
        self._source = source
        self.info = source.info
        self.corrupt_frames = 0
        self.ended_early = False

    def read(self):
        return self._source.read()

    def seek(self, index):
        raise ValueError("decoder state lost")

    def close(self):
        self._source.close()


def test_any_capture_failure_is_an_error_status_not_a_quiet_stop(numbered_clip):
    states = []
    capture = CaptureThread(_BrokenSeek(open_source(str(numbered_clip))), LatestFrameSlot(), realtime=True)
    capture.status_listeners.append(lambda s: states.append((s.state, s.message)))
    capture.start()
    capture.seek(10)
    capture.join(10)
    assert not capture.is_alive()
    assert states[-1][0] == "error" and "ValueError: decoder state lost" in states[-1][1]


def test_a_failing_frame_listener_is_reported_as_an_error(numbered_clip):
    states = []
    capture = CaptureThread(open_source(str(numbered_clip)), LatestFrameSlot(), realtime=True, speed=4.0)

    def broken(frame):
        if frame.index == 3:
            raise RuntimeError("display sink broke")

    capture.frame_listeners.append(broken)
    capture.status_listeners.append(lambda s: states.append((s.state, s.message)))
    capture.start()
    capture.join(10)
    assert states[-1][0] == "error" and "display sink broke" in states[-1][1]


@pytest.mark.slow
def test_paused_live_stream_keeps_draining_and_shows_nothing_stale():
    from mjpeg_server import MjpegServer

    server = MjpegServer().start()
    capture = CaptureThread(open_source(server.url), LatestFrameSlot())
    got = _collect(capture)
    capture.start()
    try:
        wait_until(lambda: len(got) > 3, 10)
        capture.pause()
        published = len(got)
        wait_until(lambda: capture.frames_drained >= 10, 10)  # the device is still read while paused...
        assert len(got) <= published + 1  # ...and nothing of it is shown (at most the frame in flight)
        capture.resume()
        wait_until(lambda: len(got) > published + 3, 10)
    finally:
        capture.stop()
        capture.join(10)
        server.stop()


def test_a_paused_seek_past_the_end_of_a_looping_source_shows_frame_0(numbered_clip):
    """A seek that finds no frame (a container that overstates its length) lands on frame 0, even paused."""
    capture = CaptureThread(open_source(str(numbered_clip)), LatestFrameSlot(), realtime=True, loop=True)
    got = _collect(capture)
    states: list[str] = []
    capture.status_listeners.append(lambda s: states.append(s.state))
    capture.start()
    try:
        wait_until(lambda: len(got) > 2)
        capture.pause()
        wait_until(lambda: capture.holding)
        before = len(got)
        capture.seek(1000)  # the clip has 40 frames
        wait_until(lambda: len(got) > before)
        wait_until(lambda: capture.holding)
        assert got[before:] == [0] and "looped" in states and capture.status.state == "paused"
    finally:
        capture.stop()
        capture.join(5)


class _NoFrames(_BrokenSeek):
    """A real file's info, but a stream that yields nothing (a file whose every packet is lost)."""

    def read(self):
        return None

    def seek(self, index):
        self.seeks.append(index)


def test_a_looping_source_with_no_frames_ends_after_one_wrap(numbered_clip):
    """A seek past frame 0 may wrap once to look for frames; finding none, the source ends (no busy loop)."""
    source = _NoFrames(open_source(str(numbered_clip)))
    source.seeks = []
    capture = CaptureThread(source, LatestFrameSlot(), realtime=True, loop=True)
    capture.seek(20)
    capture.start()
    capture.join(10)
    assert not capture.is_alive() and capture.status.state == "ended"
    assert source.seeks[0] == 20 and source.seeks.count(0) <= 2 and len(source.seeks) <= 3
