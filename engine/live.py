"""The live session under the window, Qt-free: one source at a time, its state, and who runs what.

``LiveSession`` opens sources off the caller's thread, owns the pipeline, the presenter (compose +
scale for display), the live recorder and the procedure record, runs the state machine (opening,
playing, paused, seeking, ended, reconnecting, failed, stopped) and publishes state, frames and
results to listeners. The window is a view over it (app/bridge.py carries these callbacks to the
GUI thread); ``main.py bench`` measures the same topology.

The whole live topology is wired in one place, ``wire``:

    capture thread   read → stamp → fit the model input → latest-frame slot (late frames dropped)
                     → presenter: newest result drawn on this frame, scaled for display → on_frame
    engine thread    slot → segment → ConvCRF → regions → image area → tracker → Result
                     → presenter.set_result, procedure record, live recorder (exact frame + its own
                       overlay, capture time stamp) → on_result
    recorder thread  encode + write the recording (engine/live_recorder.py)
    opener thread    stop the old pipeline, open the source, build and start the new one
    caller's thread  (the GUI) controls: play, pause, seek, step, settings, record, snapshot
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.capture import CaptureStatus
from engine.config import Config
from engine.errors import LGPSError, RecorderError
from engine.live_recorder import LiveRecorder, save_snapshot, timestamped
from engine.pipeline import FrameProcessor, Pipeline
from engine.presenter import Compositor, Shown, scale_for_display
from engine.procedure import ProcedureRecord, settings_of
from engine.results import Frame, Result, SourceInfo
from engine.sources import CameraFormat, FrameSource, open_source

log = logging.getLogger(__name__)

OPENING, PLAYING, PAUSED, SEEKING = "opening", "playing", "paused", "seeking"
ENDED, RECONNECTING, FAILED, STOPPED, IDLE = "ended", "reconnecting", "failed", "stopped", "idle"

TRANSITIONS: dict[str, frozenset[str]] = {
    IDLE: frozenset({OPENING, STOPPED}),
    OPENING: frozenset({OPENING, PLAYING, PAUSED, SEEKING, FAILED, STOPPED}),
    PLAYING: frozenset({OPENING, PAUSED, SEEKING, ENDED, RECONNECTING, FAILED, STOPPED}),
    PAUSED: frozenset({OPENING, PLAYING, SEEKING, ENDED, RECONNECTING, FAILED, STOPPED}),
    SEEKING: frozenset({OPENING, PLAYING, PAUSED, SEEKING, ENDED, FAILED, STOPPED}),
    ENDED: frozenset({OPENING, STOPPED}),  # a file that ended plays again by being reopened
    RECONNECTING: frozenset({OPENING, PLAYING, PAUSED, RECONNECTING, FAILED, STOPPED}),
    FAILED: frozenset({OPENING, STOPPED}),
    STOPPED: frozenset({OPENING}),
}
_FROM_CAPTURE = {"playing": PLAYING, "paused": PAUSED, "ended": ENDED, "reconnecting": RECONNECTING,
                 "error": FAILED, "stopped": STOPPED}


@dataclass(frozen=True)
class LiveState:
    """What the session is doing, and why (the message a banner shows)."""

    state: str
    message: str = ""
    position: int = -1


class LiveStateMachine:
    """The session's states and the only moves between them (TRANSITIONS); refuses the rest.

    A refused move is logged and ignored: a late status from a pipeline being replaced must not
    flip a fresh session's state.
    """

    def __init__(self) -> None:
        self.current = LiveState(IDLE)
        self._seek_target: int | None = None
        self._seek_from = -1
        self._resume_to = PLAYING

    @property
    def state(self) -> str:
        return self.current.state

    def go(self, state: str, message: str = "", position: int = -1) -> bool:
        if state not in TRANSITIONS[self.current.state] and state != self.current.state:
            log.debug("refused state change %s -> %s (%s)", self.current.state, state, message)
            return False
        self.current = LiveState(state, message, position)
        return True

    def seeking(self, target: int, paused: bool, from_index: int = -1) -> bool:
        """A seek from `from_index` to `target` started; it ends (back to playing or paused) on the
        first frame shown at or after the target that is not one already in flight from before."""
        self._seek_target, self._seek_from, self._resume_to = target, from_index, PAUSED if paused else PLAYING
        return self.go(SEEKING, f"seeking to frame {target}", target)

    def frame_shown(self, index: int) -> bool:
        """A frame reached the display; True when that ends a seek."""
        target = self._seek_target
        if self.state != SEEKING or target is None or index < target:
            return False
        if target < self._seek_from <= index:
            return False  # a backward seek: this frame was read before the seek took effect
        self._seek_target = None
        return self.go(self._resume_to, "", index)

    def from_capture(self, status: CaptureStatus) -> bool:
        """The capture thread's status as a session state (a seek in flight absorbs play/pause)."""
        if status.state == "looped":  # the seek went past the end of a looping file: it lands on frame 0
            if self.state == SEEKING:
                self._seek_target = 0
            return False
        state = _FROM_CAPTURE.get(status.state)
        if state is None:
            return False
        if self.state == SEEKING and state in (PLAYING, PAUSED):
            self._resume_to = state
            return False
        return self.go(state, status.message, status.position)


@dataclass
class SourceSession:
    """One open source: its pipeline, presenter and procedure record (replaced on every open)."""

    pipeline: Pipeline
    spec: str | None  # None when a FrameSource object was handed in directly (tests)
    compositor: Compositor
    record: ProcedureRecord
    generation: int
    sink: Callable[[Any, float], None] | None = None  # the live recorder's feed (engine thread)
    last_shown: Shown | None = field(default=None, repr=False)
    # the display's order: a redraw (GUI thread) and a new frame (capture thread) must not cross,
    # or an older frame could be offered after a newer one and stay on a paused screen
    shown_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def info(self) -> SourceInfo:
        return self.pipeline.source.info

    @property
    def capture(self):
        return self.pipeline.capture


def wire(session: SourceSession, display_size: Callable[[], tuple[int, int]],
         on_frame: Callable[[SourceSession, Shown], None],
         on_result: Callable[[SourceSession, Result], None],
         on_status: Callable[[SourceSession, CaptureStatus], None]) -> None:
    """The live topology in one function (the module docstring draws it)."""
    pipeline, compositor, record = session.pipeline, session.compositor, session.record

    def present(frame: Frame) -> None:  # capture thread
        try:
            shown = compositor.compose_for_display(frame, display_size())
        except Exception:  # a drawing bug must not freeze the picture: show the raw frame, say so in the log
            log.exception("overlay failed on frame %d", frame.index)
            shown = Shown(frame, scale_for_display(frame.image, display_size()))
        with session.shown_lock:
            session.last_shown = shown
            on_frame(session, shown)

    def analysed(result: Result) -> None:  # engine thread
        compositor.set_result(result)
        record.add(result)
        sink = session.sink
        if sink is not None and not result.frame.reanalysis:  # exact (frame, its own result) pairs
            sink(compositor.compose_exact(result), result.frame.capture_time)
        on_result(session, result)

    pipeline.add_frame_listener(present)
    pipeline.add_result_listener(analysed)
    pipeline.add_status_listener(lambda status: on_status(session, status))


class LiveSession:
    """The window's engine. Listeners (any thread calls them; app/bridge.py moves them to the GUI):

    ``on_state(LiveState)``, ``on_frame(Shown)``, ``on_result(Result)``, ``on_opened(SourceInfo)``,
    ``on_failed(LGPSError)``, ``on_recording(event, text)`` with event "finished" or "failed".
    """

    def __init__(self, config: Config, display_size: Callable[[], tuple[int, int]] = lambda: (960, 540)):
        self.config = config
        self.display_size = display_size
        self.machine = LiveStateMachine()
        self.processor: FrameProcessor | None = None  # the model loads once and is reused
        self.current: SourceSession | None = None
        self.recorder: LiveRecorder | None = None
        self.show_overlay = True
        self.readout: str | None = None
        self.on_state: Callable[[LiveState], None] = lambda s: None
        self.on_frame: Callable[[Shown], None] = lambda s: None
        self.on_result: Callable[[Result], None] = lambda r: None
        self.on_opened: Callable[[SourceInfo], None] = lambda i: None
        self.on_failed: Callable[[LGPSError], None] = lambda e: None
        self.on_recording: Callable[[str, str], None] = lambda event, text: None
        self.spec: str | FrameSource | None = None
        self._generations = itertools.count(1)
        self._wanted = 0  # the newest open request; older ones are closed when they arrive
        self._threads: list[threading.Thread] = []
        self._serial = threading.Lock()  # one opener at a time: they share the processor's interpreter
        self._lock = threading.RLock()  # current, the newest request and the state machine change together
        self._closing = threading.Event()
        self.finished_records: list[ProcedureRecord] = []  # records of sources closed, for the caller to write

    # -- state ---------------------------------------------------------------------------------
    @property
    def state(self) -> LiveState:
        return self.machine.current

    def _go(self, state: str, message: str = "", position: int = -1) -> None:
        with self._lock:
            changed = self.machine.go(state, message, position)
            current = self.machine.current
        if changed:
            self.on_state(current)

    # -- opening -------------------------------------------------------------------------------
    def open(self, source: str | FrameSource, *, start_at: int = 0, paused: bool = False) -> int:
        """Replace the current source; returns the request's number. Never blocks the caller."""
        self.stop_recording()
        with self._lock:  # the newest request, the session it replaces and the state change: one step
            if self._closing.is_set():
                return 0
            old, self.current = self.current, None
            carry = None
            if old is not None:
                if source == self.spec:
                    carry = old.record  # the same file reopened (after its end): one procedure, one record
                else:
                    self.finished_records.append(old.record)
            self.spec = source
            generation = self._wanted = next(self._generations)
            self.machine.go(OPENING, f"opening {source if isinstance(source, str) else source.info.name}")
            state = self.machine.current
        self.on_state(state)
        thread = threading.Thread(target=self._open_worker, args=(generation, source, self.config, old,
                                                                   start_at, paused, carry),
                                  name=f"lgps-open-{generation}", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return generation

    def _open_worker(self, generation: int, source, config: Config, old: SourceSession | None,
                     start_at: int, paused: bool, carry: ProcedureRecord | None) -> None:
        with self._serial:  # one opener at a time: the previous one has published or given up
            if old is not None:
                old.pipeline.stop()
            frames = None
            try:
                if self.processor is None:
                    self.processor = FrameProcessor(config)
                self.processor.reset()
                self.processor.stats.reset()
                frames = (open_source(source, CameraFormat.of(config.capture), config.threads.decoder)
                          if isinstance(source, str) else source)
                pipeline = Pipeline(config, frames, processor=self.processor, draw=False)
                info = frames.info
                if start_at and info.frame_count and start_at >= info.frame_count and pipeline.capture.loop:
                    start_at = 0  # past the end of a looping file (Retry after its last frame): from the start
                record = carry or ProcedureRecord(source if isinstance(source, str) else info.name, info.fps,
                                                  str(config.segmenter.model), settings_of(config))
                compositor = Compositor(lambda: pipeline.settings.current.overlay)
                compositor.show_overlay, compositor.readout = self.show_overlay, self.readout
                session = SourceSession(pipeline, source if isinstance(source, str) else None, compositor,
                                        record, generation)
                wire(session, self.display_size, self._frame_from, self._result_from, self._status_from)
                if paused:
                    pipeline.capture.pause()
                if start_at or paused:
                    pipeline.capture.seek(start_at)  # while paused this shows that one frame
                with self._lock:  # publish only if still wanted: a newer open or stop() may have come
                    if generation != self._wanted or self._closing.is_set():
                        frames.close()
                        if carry is not None:
                            self.finished_records.append(carry)
                        return
                    self.current = session
                    if start_at:
                        self.machine.seeking(start_at, paused)
                    else:
                        self.machine.go(PAUSED if paused else PLAYING, "", start_at)
                    state = self.machine.current
                    pipeline.start()
            except Exception as exc:  # a broken file must give a banner, not a dead window
                if frames is not None and frames is not source:
                    frames.close()
                if carry is not None:
                    self.finished_records.append(carry)
                error = exc if isinstance(exc, LGPSError) else LGPSError(f"{type(exc).__name__}: {exc}")
                if not isinstance(exc, LGPSError):
                    log.exception("opening %s failed", source)
                self._opened_failed(generation, error)
                return
            self.on_state(state)
            self.on_opened(info)

    def _opened_failed(self, generation: int, error: LGPSError) -> None:
        with self._lock:
            if generation != self._wanted:
                return
            self.machine.go(FAILED, str(error))
            state = self.machine.current
        self.on_state(state)
        self.on_failed(error)

    # -- what the pipeline threads report --------------------------------------------------------
    def _frame_from(self, session: SourceSession, shown: Shown) -> None:
        with self._lock:
            if session is not self.current:
                return  # a replaced pipeline never paints into the new one
            ended_seek = self.machine.frame_shown(shown.frame.index)
            state = self.machine.current
        if ended_seek:
            self.on_state(state)
        self.on_frame(shown)

    def _result_from(self, session: SourceSession, result: Result) -> None:
        if session is self.current:
            self.on_result(result)

    def _status_from(self, session: SourceSession, status: CaptureStatus) -> None:
        with self._lock:
            if session is not self.current:
                return
            changed = self.machine.from_capture(status)
            state = self.machine.current
        if changed:
            self.on_state(state)

    # -- replay ----------------------------------------------------------------------------------
    def _replayable(self) -> SourceSession | None:
        session = self.current
        return session if session is not None and not session.info.is_live else None

    def toggle_play(self) -> None:
        session = self.current
        if session is None:
            if isinstance(self.spec, str):
                self.open(self.spec)
            return
        capture = session.capture
        # ended: play again from the start (the capture thread may still be finishing after it said so)
        if not capture.is_alive() or self.state.state == ENDED:
            self.open(self.spec, start_at=0)
        elif capture.paused:
            capture.resume()
        else:
            capture.pause()

    def step(self, count: int) -> None:
        session = self._replayable()
        if session is None:
            return
        capture = session.capture
        current = session.last_shown.frame.index if session.last_shown else 0
        if not capture.is_alive():
            self.open(self.spec, start_at=max(0, current + count), paused=True)
            return
        if not capture.paused:
            capture.pause()
        capture.step(count)

    def seek(self, index: int) -> None:
        session = self._replayable()
        if session is None:
            return
        capture = session.capture
        if not capture.is_alive():
            self.open(self.spec, start_at=index, paused=True)
            return
        shown = session.last_shown
        with self._lock:
            changed = self.machine.seeking(index, capture.paused, shown.frame.index if shown else -1)
            state = self.machine.current
        if changed:
            self.on_state(state)
        capture.seek(index)

    # -- settings --------------------------------------------------------------------------------
    def apply_setting(self, section: str, key: str, value: object) -> Config:
        """Change one setting (validated like config.yaml; raises ConfigError); a still frame is redone."""
        self.config = self.config.replace(section, **{key: value})
        session = self.current
        if session is None:
            return self.config
        session.pipeline.settings.update(section, **{key: value})
        capture = session.capture
        if section == "capture":
            capture.set_speed(self.config.capture.speed) if key == "speed" else capture.set_loop(bool(value))
        elif (capture.paused or not capture.is_alive()) and session.last_shown is not None:
            if section in ("postprocess", "crf", "tracking"):
                session.pipeline.reanalyse(session.last_shown.frame)
            self.redraw()
        return self.config

    def set_overlay(self, show: bool | None = None, readout: str | None | object = ...) -> None:
        """The user's overlay toggle and the corner readout; both apply to the next composed frame."""
        if show is not None:
            self.show_overlay = show
        if readout is not ...:
            self.readout = readout  # type: ignore[assignment]
        session = self.current
        if session is not None:
            session.compositor.show_overlay, session.compositor.readout = self.show_overlay, self.readout

    def redraw(self) -> None:
        """Compose the frame on display again (a setting or result changed while paused)."""
        session = self.current
        if session is None:
            return
        with session.shown_lock:  # always the newest frame, and offered before any later one
            if session.last_shown is None:
                return
            shown = session.compositor.compose_for_display(session.last_shown.frame, self.display_size())
            session.last_shown = shown
            self.on_frame(shown)

    # -- recording and snapshots -------------------------------------------------------------------
    def start_recording(self, path: str | Path | None = None) -> LiveRecorder:
        """Record what is analysed from now on (raises RecorderError when the file cannot be made)."""
        session = self.current
        if session is None:
            raise RecorderError("nothing to record: open a source first")
        info = session.info
        target = Path(path) if path else timestamped(self.config.recorder.folder, "lgps", ".mp4")
        recorder = LiveRecorder(target, info.width, info.height, info.fps, self.config.recorder,
                                encoder_threads=self.config.threads.encoder,
                                encoder_niceness=self.config.threads.encoder_niceness,
                                on_finished=lambda p, n: self._recording_done(recorder, "finished", p, n),
                                on_failed=lambda message: self._recording_done(recorder, "failed", message))
        self.recorder = recorder
        session.sink = recorder.feed
        return recorder

    def _recording_done(self, recorder: LiveRecorder, event: str, *args: Any) -> None:
        if event == "failed" and recorder is self.recorder:
            self.stop_recording()
        text = (f"Recording saved: {args[0]} ({args[1]} frames)" if event == "finished" else
                f"{args[0]}. What was recorded is kept in {recorder.path}. Free disk space or choose another folder.")
        self.on_recording(event, text)

    def stop_recording(self, wait: bool = False) -> LiveRecorder | None:
        """Stop feeding and finish the file on the writer thread (`wait`: at most 10 s)."""
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return None
        current = self.current  # read once: open() on another thread may replace it meanwhile
        if current is not None:
            current.sink = None
        recorder.stop()
        if wait:
            recorder.wait()
        return recorder

    def snapshot(self, folder: str | Path) -> Path:
        """The latest result's own frame: annotated, raw and mask PNGs (raises on failure)."""
        session = self.current
        result = session.compositor.result if session is not None else None
        if result is None:
            raise LGPSError("no analysed frame yet")
        annotated = session.compositor.compose_exact(result)
        return save_snapshot(folder, result.frame.index, annotated, result.frame.image, result.frame_mask())

    # -- the end -----------------------------------------------------------------------------------
    def stop(self, timeout: float = 10.0) -> None:
        """Stop everything this session started (recording, pipeline, openers)."""
        self.stop_recording(wait=True)
        with self._lock:
            self._closing.set()
            session, self.current = self.current, None
        if session is not None:
            self.finished_records.append(session.record)
            session.pipeline.stop()
        for thread in self._threads:
            thread.join(timeout)
        self._go(STOPPED)
