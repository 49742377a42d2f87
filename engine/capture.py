"""The capture thread and the single latest-frame slot between capture and engine.

The slot holds one frame: a new frame overwrites an unconsumed one, which is counted as dropped.
So latency cannot grow when the engine is slower than the source, and nothing is ever queued.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import SourceError
from engine.results import Frame, SourceInfo
from engine.sources import FrameSource


class LatestFrameSlot:
    """One frame hand-off with overwrite semantics, guarded by a condition variable."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self.dropped = 0
        self._closed = False

    def put(self, frame: Frame) -> None:
        with self._cond:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._cond.notify_all()

    def take(self, timeout: float | None = None) -> Frame | None:
        """The newest frame, waiting up to `timeout` seconds; None on timeout or when closed."""
        with self._cond:
            if self._frame is None and not self._closed:
                self._cond.wait(timeout)
            frame, self._frame = self._frame, None
            self._cond.notify_all()
            return frame

    def wait_until_taken(self, timeout: float) -> bool:
        """Block until the consumer has taken the waiting frame (or the slot closes)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._frame is None or self._closed, timeout)

    def clear(self) -> None:
        """Forget a waiting frame without counting it (after a seek, the old frame is obsolete)."""
        with self._cond:
            self._frame = None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaptureStatus:
    """What the capture side is doing, for status bars and banners."""

    state: str  # "playing" | "paused" | "ended" | "reconnecting" | "error" | "stopped" | "looped"
    # ("looped": a seek landed past the real end of a looping file, which goes on from frame 0)
    message: str = ""
    position: int = -1  # index of the last frame read


FrameListener = Callable[[Frame], None]
StatusListener = Callable[[CaptureStatus], None]


class CaptureThread(threading.Thread):
    """Reads a source, stamps frames, paces replay, and reconnects live sources with back-off."""

    def __init__(
        self,
        source: FrameSource,
        slot: LatestFrameSlot,
        *,
        realtime: bool = True,
        speed: float = 1.0,
        loop: bool = False,
        reconnect_initial_s: float = 0.5,
        reconnect_max_s: float = 8.0,
        reopen: Callable[[], FrameSource] | None = None,
        prepare: Callable[[np.ndarray], Any] | None = None,
    ):
        super().__init__(name="lgps-capture", daemon=True)
        self.source, self.slot = source, slot
        self.realtime, self.speed, self.loop = realtime, speed, loop
        self._backoff = (reconnect_initial_s, reconnect_max_s)
        self._reopen = reopen
        self._prepare = prepare  # per-frame work done here rather than on the engine thread
        self._lock = threading.Condition()
        self._stop_flag = False
        self._paused = False
        self._seek_to: int | None = None
        self._steps = 0
        self._clock: tuple[float, float] | None = None  # (wall time, pts) anchor for pacing
        self.frame_listeners: list[FrameListener] = []
        self.status_listeners: list[StatusListener] = []
        self.frames_read = 0
        self._read_at_seek: int | None = None  # frames_read when a seek past frame 0 took effect
        self.frames_drained = 0  # live frames read and dropped while paused
        self.holding = False  # True while paused with nothing in flight (a still picture)
        self.position = -1
        self.status = CaptureStatus("playing")

    @property
    def info(self) -> SourceInfo:
        return self.source.info

    # -- controls, callable from any thread -------------------------------------------------
    def pause(self) -> None:
        self._control(paused=True)

    def resume(self) -> None:
        self._control(paused=False)

    def seek(self, index: int) -> None:
        """Jump to frame `index` (files and folders); shows that frame even while paused."""
        if self.source.info.is_live:
            return
        self._control(seek_to=max(0, index))

    def step(self, count: int = 1) -> None:
        """While paused: show the next (count > 0) or previous (count < 0) frame."""
        if count < 0:
            self.seek(max(0, self.position + count))
        else:
            self._control(steps=count)

    def set_speed(self, speed: float) -> None:
        self._control(speed=min(4.0, max(0.25, speed)))

    def set_loop(self, loop: bool) -> None:
        self.loop = loop

    @property
    def paused(self) -> bool:
        return self._paused

    def stop(self) -> None:
        with self._lock:
            self._stop_flag = True
            self._lock.notify_all()

    def _control(self, **changes) -> None:
        with self._lock:
            if "paused" in changes:
                self._paused = changes["paused"]
            if "seek_to" in changes:
                self._seek_to = changes["seek_to"]
            if "steps" in changes:
                self._steps += changes["steps"]
            if "speed" in changes:
                self.speed = changes["speed"]
            self._clock = None  # re-anchor pacing after any change
            self._lock.notify_all()
        if "paused" in changes:
            self._set_status("paused" if self._paused else "playing")

    # -- the thread ---------------------------------------------------------------------------
    def run(self) -> None:
        try:
            while not self._stop_flag:
                if not self._wait_until_runnable():
                    break
                item = self.source.read()
                if item is None:
                    if not self._at_end():
                        break
                    continue
                if self._paused and self.source.info.is_live:
                    self.frames_drained += 1  # paused live: keep draining the device so "resume" shows now,
                    continue  # not the seconds-old frames its buffer would hold
                self._publish(*item)
        except SourceError as exc:
            self._set_status("error", str(exc))
        except Exception as exc:  # a seek, resize or listener bug: report it, never end as a quiet "stopped"
            log.exception("capture failed at frame %d", self.position)
            self._set_status("error", f"capture failed at frame {self.position}: {type(exc).__name__}: {exc}")
        finally:
            self.slot.close()
            self.source.close()
            if self.status.state not in ("ended", "error"):
                self._set_status("stopped")

    def _wait_until_runnable(self) -> bool:
        """Block while paused (unless a seek or step is pending); apply a pending seek."""
        with self._lock:
            live = self.source.info.is_live  # a paused camera or stream is still read (and dropped)
            while (self._paused and not live and self._seek_to is None and self._steps == 0
                   and not self._stop_flag):
                self.holding = True  # paused and waiting: no frame is in flight any more
                self._lock.wait(0.2)
            self.holding = False
            if self._stop_flag:
                return False
            seek_to, self._seek_to = self._seek_to, None
            if self._paused and self._steps > 0 and seek_to is None:
                self._steps -= 1
        if seek_to is not None:
            self.source.seek(seek_to)
            self.slot.clear()
            self._read_at_seek = self.frames_read if seek_to > 0 else None
        return True

    def _at_end(self) -> bool:
        """Handle the end of the source; False means the thread should finish."""
        if self.source.info.is_live:
            return self._reconnect()
        # a seek past frame 0 that found no frame: past the real end (a Retry after the last frame, a
        # container that overstates its frame count), not an empty source
        overshot = self._read_at_seek == self.frames_read
        # loop when there is something to loop to: frames were read, or frames exist before the seek
        if self.loop and (self.frames_read > 0 or overshot):
            self.source.seek(0)
            self._clock = None
            if overshot:  # on from frame 0 as a seek: it shows even while paused, and (a seek to 0 arms
                # no wrap) a source that turns out empty then ends
                with self._lock:
                    if self._seek_to is None:
                        self._seek_to = 0
                self._set_status("looped", "past the end of the file: from the start")
                self._set_status("paused" if self._paused else "playing")
            return True
        message = "input ended early (truncated file)" if self.source.ended_early else "end of source"
        self._set_status("ended", message)
        return False

    def _reconnect(self) -> bool:
        delay, ceiling = self._backoff
        while not self._stop_flag:
            name = self.source.info.name
            self._set_status("reconnecting", f"{name} dropped out; retrying in {delay:.1f} s")
            with self._lock:
                self._lock.wait(delay)
            if self._stop_flag:
                return False
            try:
                if self._reopen is not None:
                    self.source.close()
                    self.source = self._reopen()
                else:
                    self.source.reopen()
                self._set_status("paused" if self._paused else "playing", "reconnected")
                return True
            except SourceError:
                delay = min(ceiling, delay * 2)
        return False

    def _publish(self, index: int, pts: float, image) -> None:
        if not self.realtime and not self.source.info.is_live:
            # As fast as the engine goes, not faster: decoding frames only to drop them would
            # steal a core from inference. The next frame still decodes while the engine works.
            while not self.slot.wait_until_taken(0.2) and not self._stop_flag:
                pass
        self._pace(pts)
        capture_time = time.monotonic()
        prepared = self._prepare(image) if self._prepare else None
        frame = Frame(index=index, capture_time=capture_time, image=image, pts_s=pts, prepared=prepared)
        self.frames_read += 1
        self.position = index
        self.slot.put(frame)
        for listener in list(self.frame_listeners):
            listener(frame)

    def _pace(self, pts: float) -> None:
        """Replay files at their own frame rate (times the speed factor)."""
        if not self.realtime or self.source.info.is_live:
            return
        now = time.monotonic()
        if self._clock is None or self._paused:
            self._clock = (now, pts)
            return
        wall0, pts0 = self._clock
        due = wall0 + (pts - pts0) / self.speed
        if due - now > 1.0 or pts < pts0:  # a jump (seek, loop): re-anchor rather than stall
            self._clock = (now, pts)
        elif due > now:
            with self._lock:
                self._lock.wait(due - now)  # wakes early on stop or a control change

    def _set_status(self, state: str, message: str = "") -> None:
        self.status = CaptureStatus(state, message, self.position)
        for listener in list(self.status_listeners):
            listener(self.status)
