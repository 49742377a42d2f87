"""The Qt-free live session: its state machine, and a real session on the generated demo clip.

None of this needs ../shared or Qt: the demo clip is generated, the model is the shipped one (or a
freshly exported untrained one).
"""

from __future__ import annotations

import threading

import pytest

from engine.capture import CaptureStatus
from engine.errors import ModelError, SourceError
from engine.live import (
    ENDED,
    FAILED,
    IDLE,
    OPENING,
    PAUSED,
    PLAYING,
    RECONNECTING,
    SEEKING,
    STOPPED,
    LiveSession,
    LiveStateMachine,
)

from conftest import count_frames_pyav, wait_until

# -- the state machine alone ------------------------------------------------------------------------


def test_the_usual_life_of_a_replayed_file():
    m = LiveStateMachine()
    assert m.state == IDLE
    assert m.go(OPENING) and m.go(PLAYING) and m.go(PAUSED)
    assert m.seeking(40, paused=True) and m.state == SEEKING
    assert not m.frame_shown(39) and m.state == SEEKING  # not there yet
    assert m.frame_shown(40) and m.state == PAUSED  # the seek ends where it started: paused
    assert m.go(PLAYING) and m.go(ENDED)
    assert not m.go(PLAYING) and m.state == ENDED  # an ended file plays again only by reopening
    assert m.go(OPENING) and m.go(PLAYING)


def test_capture_statuses_map_to_states_and_a_seek_absorbs_play_pause():
    m = LiveStateMachine()
    m.go(OPENING)
    m.go(PLAYING)
    assert m.from_capture(CaptureStatus("reconnecting", "dropped out")) and m.state == RECONNECTING
    assert m.from_capture(CaptureStatus("playing", "reconnected")) and m.state == PLAYING
    m.seeking(10, paused=False)
    assert not m.from_capture(CaptureStatus("paused")) and m.state == SEEKING  # remembered, not applied
    assert m.frame_shown(10) and m.state == PAUSED
    assert m.from_capture(CaptureStatus("error", "ValueError: boom")) and m.state == FAILED
    assert m.current.message == "ValueError: boom"
    assert not m.from_capture(CaptureStatus("playing")) and m.state == FAILED  # a failure stays until reopened


def test_refused_moves_leave_the_state_alone():
    m = LiveStateMachine()
    assert not m.go(PLAYING) and m.state == IDLE  # nothing plays before it was opened
    m.go(OPENING)
    m.go(FAILED)
    assert not m.go(PAUSED) and m.state == FAILED
    assert m.go(STOPPED) and not m.go(PLAYING) and m.go(OPENING)


# -- a real session on the demo clip ---------------------------------------------------------------


class Events:
    """Everything a LiveSession reports, collected thread-safely."""

    def __init__(self, live: LiveSession):
        self.lock = threading.Lock()
        self.states, self.frames, self.results, self.opened, self.failed, self.recordings = [], [], [], [], [], []
        live.on_state = lambda s: self._add(self.states, s)
        live.on_frame = lambda f: self._add(self.frames, f)
        live.on_result = lambda r: self._add(self.results, r)
        live.on_opened = lambda i: self._add(self.opened, i)
        live.on_failed = lambda e: self._add(self.failed, e)
        live.on_recording = lambda event, text: self._add(self.recordings, (event, text))

    def _add(self, bucket: list, item) -> None:
        with self.lock:
            bucket.append(item)

    def state_names(self) -> list[str]:
        with self.lock:
            return [s.state for s in self.states]


@pytest.fixture
def live(config, tmp_path):
    session = LiveSession(config.replace("recorder", folder=str(tmp_path / "rec")), display_size=lambda: (640, 360))
    yield session
    session.stop()


def test_a_demo_session_plays_pauses_seeks_and_ends(live):
    events = Events(live)
    live.open("demo")
    # the opener thread reports PLAYING and the source after starting the pipeline: frames may come first
    wait_until(lambda: len(events.frames) > 5 and events.results and events.opened and len(events.states) >= 2)
    assert events.state_names()[:2] == [OPENING, PLAYING] and events.opened[0].kind == "file"
    shown = events.frames[-1]
    assert shown.display.shape[2] == 4 and shown.display.shape[1] <= 640  # scaled for the display
    live.toggle_play()
    wait_until(lambda: live.state.state == PAUSED)
    live.seek(150)
    wait_until(lambda: live.state.state == PAUSED and events.frames[-1].frame.index == 150)
    assert SEEKING in events.state_names()
    live.toggle_play()
    wait_until(lambda: live.state.state == ENDED, 60)  # the 200-frame clip runs out (no loop)
    live.toggle_play()  # an ended file is reopened from the start
    wait_until(lambda: live.state.state == PLAYING and events.frames[-1].frame.index < 50, 30)
    assert events.state_names().count(OPENING) == 2


def test_a_looping_file_opened_past_its_end_plays_from_the_start(config, tmp_path):
    """Retry after a file's last frame asks for the frame after it: a looping file starts again, and the
    session says playing (not stuck seeking a frame that never comes)."""
    live = LiveSession(config.replace("capture", loop=True), display_size=lambda: (640, 360))
    try:
        events = Events(live)
        live.open("demo", start_at=10_000)
        wait_until(lambda: len(events.frames) > 3 and live.state.state == PLAYING)
        assert events.frames[0].frame.index == 0 and SEEKING not in events.state_names()
    finally:
        live.stop()


def test_a_seek_past_the_end_of_a_looping_file_lands_on_frame_0(config):
    """A seek the file cannot serve (its container overstates its length) must not leave the session seeking."""
    live = LiveSession(config.replace("capture", loop=True), display_size=lambda: (640, 360))
    try:
        events = Events(live)
        live.open("demo")
        wait_until(lambda: len(events.frames) > 3 and live.state.state == PLAYING)
        live.seek(10_000)
        wait_until(lambda: SEEKING in events.state_names())
        wait_until(lambda: live.state.state == PLAYING)
        assert live.state.position < 50  # it went on from the start
    finally:
        live.stop()


def test_a_setting_changed_while_paused_redoes_the_still_frame(live):
    events = Events(live)
    live.open("demo", start_at=20, paused=True)
    wait_until(lambda: any(r.frame.index == 20 for r in events.results))
    before = len(events.results)
    live.apply_setting("postprocess", "threshold", 0.95)
    wait_until(lambda: len(events.results) > before)
    redo = events.results[-1]
    assert redo.frame.index == 20 and redo.frame.reanalysis
    assert live.current.record.frames == 1  # a re-analysis is not another frame of the procedure


def test_recording_holds_exactly_the_analysed_frames(live, tmp_path):
    events = Events(live)
    live.open("demo")
    wait_until(lambda: len(events.results) > 2)
    recorder = live.start_recording(tmp_path / "rec.mp4")
    wait_until(lambda: recorder.frames_fed >= 20)
    live.stop_recording()
    assert recorder.wait(60)  # the writer runs at nice 19: on a loaded machine finishing can take a while
    wait_until(lambda: events.recordings)
    assert events.recordings[0][0] == "finished"
    assert count_frames_pyav(tmp_path / "rec.mp4") == recorder.frames_written == recorder.frames_fed


def test_failures_name_their_cause(config, tmp_path):
    live = LiveSession(config)
    events = Events(live)
    live.open(str(tmp_path / "missing.mp4"))
    wait_until(lambda: events.failed)
    assert isinstance(events.failed[0], SourceError) and live.state.state == FAILED
    live.stop()
    broken = LiveSession(config.replace("segmenter", model=str(tmp_path / "no_model.tflite")))
    events = Events(broken)
    broken.open("demo")
    wait_until(lambda: events.failed)
    assert isinstance(events.failed[0], ModelError) and "model file not found" in str(events.failed[0])
    broken.stop()


def test_a_replaced_source_never_reports_into_the_new_one(live):
    events = Events(live)
    live.open("demo")
    wait_until(lambda: len(events.frames) > 3)
    first = live.current
    live.open("demo", start_at=100)
    wait_until(lambda: live.current is not None and live.current is not first and len(events.frames) > 0)
    wait_until(lambda: events.frames[-1].frame.index >= 100)
    wait_until(lambda: events.frames[-1].frame.index >= 110)
    with events.lock:
        indices = [f.frame.index for f in events.frames]
    start = next(i for i, index in enumerate(indices) if index >= 100)
    assert all(index >= 100 for index in indices[start:])  # once the new source shows, no old frame slips in
    live.stop()
    assert live.state.state == STOPPED and not first.pipeline.running


def test_rapid_reopens_leave_exactly_one_pipeline_running(live, monkeypatch):
    import engine.live

    built = []

    class Counted(engine.live.Pipeline):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(engine.live, "Pipeline", Counted)
    events = Events(live)
    for start in (0, 40, 80, 120, 160):
        live.open("demo", start_at=start)
    wait_until(lambda: live.current is not None and live.state.state in (PLAYING, SEEKING) and events.frames)
    wait_until(lambda: events.frames[-1].frame.index >= 160)
    running = [p for p in built if p.running]
    assert running == [live.current.pipeline]  # stale opens never started, or were stopped
    assert all(not p.capture.is_alive() for p in built if p is not live.current.pipeline)
