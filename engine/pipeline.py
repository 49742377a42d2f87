"""The engine: segment → ConvCRF → temporal smoothing → post-process → overlay, timed per stage.

`FrameProcessor` runs the stages on one frame (used directly by the frame-exact export).
`Pipeline` wires a source to it live: capture thread → latest-frame slot → engine thread →
listeners. Settings change live through `LiveSettings`, read once per frame.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from engine.capture import CaptureStatus, CaptureThread, LatestFrameSlot
from engine.config import Config
from engine.convcrf import ConvCRF, effective_crf
from engine.image_area import ImageAreaTracker
from engine.overlay import draw_overlay, format_readout
from engine.postprocess import TemporalSmoother
from engine.regions import find_regions
from engine.results import Frame, Result
from engine.segmenter import Segmenter
from engine.sources import CameraFormat, FrameSource, open_source
from engine.stats import RateMeter, RollingStats, timed
from engine.thread_budget import apply_opencv_threads
from engine.tracking import PolypTracker, TrackerSettings

log = logging.getLogger(__name__)
ResultListener = Callable[[Result], None]
LIVE_READOUT: Any = object()  # FrameProcessor.process: draw the measured FPS and latency


class LiveSettings:
    """The one thread-safe settings object: the GUI writes, the engine reads once per frame."""

    def __init__(self, config: Config):
        self._config = config
        self._lock = threading.Lock()

    @property
    def current(self) -> Config:
        return self._config  # an immutable snapshot; replacing the reference is atomic

    def update(self, section: str, **changes: Any) -> Config:
        """Change keys of one section, validated like config.yaml (raises ConfigError)."""
        with self._lock:
            self._config = self._config.replace(section, **changes)
            return self._config


def tracker_settings(config: Config) -> TrackerSettings:
    """The tracker's alert rule from config; tracking off = every region is an alert at once."""
    t = config.tracking
    if not t.enabled:
        return TrackerSettings(hits=1, window=1, on=0.0, keep=0.0, max_misses=t.max_misses)
    return TrackerSettings(t.hits, t.window, t.on_confidence, t.keep_confidence, t.max_misses)


class FrameProcessor:
    """All per-frame stages, in order. Owns the interpreter: call from one thread only."""

    def __init__(self, config: Config, segmenter: Segmenter | None = None):
        seg = config.segmenter
        apply_opencv_threads(config.threads)
        self.segmenter = segmenter or Segmenter(seg.model, config.threads.inference, seg.input_mode)
        self._crf_config = effective_crf(config)
        self.crf = ConvCRF(self._crf_config)
        self.smoother = TemporalSmoother(config.postprocess.smoothing_alpha)
        self.tracker = PolypTracker(tracker_settings(config))
        self.image_area = ImageAreaTracker(config.postprocess.image_area_recheck)
        self.stats = RollingStats()
        self.fps_meter = RateMeter()

    def reset(self) -> None:
        """Forget temporal state (new source, seek)."""
        self.smoother.reset()
        self.tracker.reset()
        self.image_area.reset()

    def process(self, frame: Frame, config: Config, *, draw: bool = True, dropped: int = 0,
                readout: Any = LIVE_READOUT) -> Result:
        """Run every stage on one frame. ``readout``: the corner text; by default the live FPS/latency."""
        timings: dict[str, float] = {}
        start = time.perf_counter()
        with timed(timings, "segment"):
            out = self.segmenter.infer(frame.image, frame.prepared)
        prob = out.prob
        with timed(timings, "crf"):
            if config.crf.enabled and config.crf.iterations > 0:
                prob = self._crf_for(config).refine(prob, out.image, config.crf.iterations)
        post = config.postprocess
        with timed(timings, "postprocess"):
            self.smoother.alpha = post.smoothing_alpha if post.smoothing and not frame.reanalysis else 0.0
            prob = prob if frame.reanalysis else self.smoother.apply(prob, frame.index)
            # on the model grid, outlines at frame resolution around each region only (engine/regions.py)
            found = find_regions(prob, out.content, frame.image.shape, post.threshold, post.min_area_frac)
            regions = found
        area = None
        with timed(timings, "image_area"):
            if post.image_area:
                self.image_area.recheck_frames = post.image_area_recheck
                area = self.image_area.update(frame.image)
                regions = self.image_area.keep(regions)
        with timed(timings, "tracking"):
            settings = tracker_settings(config)
            if settings != self.tracker.settings:
                self.tracker.configure(settings)
            # a re-analysis shows the new settings' regions without adding to the tracks' history
            polyps = self.tracker.peek(regions) if frame.reanalysis else self.tracker.update(regions, frame.index)
        engine_fps = self.fps_meter.tick()
        annotated = None
        with timed(timings, "overlay"):
            if draw:
                if readout is LIVE_READOUT:
                    readout = self._readout(engine_fps, config)
                annotated = draw_overlay(frame.image, polyps, config.overlay, readout=readout, image_area=area)
        timings["total"] = (time.perf_counter() - start) * 1000.0
        result = Result(
            frame=frame, prob=prob, mask=None, polyps=polyps, timings_ms=timings,
            result_time=time.monotonic(), annotated=annotated, dropped_frames=dropped,
            engine_fps=engine_fps, image_area=area, regions=found, content=out.content,
        )
        for name, value in timings.items():
            self.stats.add(name, value)
        self.stats.add("latency", result.latency_ms)
        return result

    def _crf_for(self, config: Config) -> ConvCRF:
        """Rebuild the CRF only when its kernel parameters change (iterations are per call)."""
        current = effective_crf(config)
        wanted = replace(current, iterations=self._crf_config.iterations, enabled=True)
        if wanted != replace(self._crf_config, enabled=True):
            self._crf_config = current
            self.crf = ConvCRF(current)
        return self.crf

    def _readout(self, engine_fps: float, config: Config) -> str:
        latency = self.stats.summary().get("latency", {}).get("median", 0.0)
        return format_readout(engine_fps, latency, config.crf.enabled)


class Pipeline:
    """Source → capture thread → latest-frame slot → engine thread → result listeners."""

    def __init__(
        self, config: Config, source: FrameSource | None = None, *,
        processor: FrameProcessor | None = None, draw: bool = True,
    ):
        self.settings = LiveSettings(config)
        self.processor = processor or FrameProcessor(config)
        cap = config.capture
        self.source = source or open_source(cap.source, CameraFormat.of(cap), config.threads.decoder)
        self.slot = LatestFrameSlot()
        self.capture = CaptureThread(
            self.source, self.slot, realtime=cap.realtime, speed=cap.speed, loop=cap.loop,
            reconnect_initial_s=cap.reconnect_initial_s, reconnect_max_s=cap.reconnect_max_s,
            prepare=self.processor.segmenter.fit_ahead,
        )
        self.draw = draw
        self.result_listeners: list[ResultListener] = []
        self.error: str | None = None
        self.frames_processed = 0
        self._stop = threading.Event()
        self._last_index = -1
        self._engine = threading.Thread(target=self._run, name="lgps-engine", daemon=True)

    # -- wiring -------------------------------------------------------------------------------
    def add_result_listener(self, listener: ResultListener) -> None:
        self.result_listeners.append(listener)

    def add_frame_listener(self, listener: Callable[[Frame], None]) -> None:
        self.capture.frame_listeners.append(listener)

    def add_status_listener(self, listener: Callable[[CaptureStatus], None]) -> None:
        self.capture.status_listeners.append(listener)

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> Pipeline:
        self._engine.start()
        self.capture.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop both threads and wait for them; safe to call twice."""
        self._stop.set()
        self.capture.stop()
        self.slot.close()
        for thread in (self.capture, self._engine):
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._engine.is_alive()

    def reanalyse(self, frame: Frame) -> bool:
        """Analyse `frame` again with the current settings (a still picture after a change).

        The frame goes through the same slot as a captured one, so its result reaches every
        listener in order. False when the engine is not running (nothing to re-run it).
        """
        if not self.running:
            return False
        self.slot.put(replace(frame, reanalysis=True))
        return True

    def wait_until_done(self, timeout: float | None = None) -> bool:
        """Wait for a file source to end and the engine to drain; True if it finished."""
        self.capture.join(timeout)
        self._engine.join(timeout)
        return not self._engine.is_alive()

    # -- the engine thread --------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self.slot.close()  # a capture thread waiting for this engine (lock-step replay) must not hang

    def _loop(self) -> None:
        while not self._stop.is_set():
            frame = self.slot.take(timeout=0.1)
            if frame is None:
                if not self.capture.is_alive() and self.capture.ident is not None:
                    break  # source finished and the slot is empty
                continue
            if not frame.reanalysis:
                if frame.index <= self._last_index:
                    self.processor.reset()  # seek back or loop: temporal state no longer applies
                # (a forward jump from dropped frames or a seek is judged by the smoother itself)
                self._last_index = frame.index
            try:
                result = self.processor.process(
                    frame, self.settings.current, draw=self.draw, dropped=self.slot.dropped
                )
            except Exception as exc:  # the engine must report, not die silently
                log.exception("engine failed on frame %d", frame.index)
                self.error = f"engine error on frame {frame.index}: {exc}"
                break
            self.frames_processed += 1
            for listener in list(self.result_listeners):
                try:
                    listener(result)
                except Exception:  # one broken consumer must not stop the others
                    log.exception("result listener failed")

    def stats(self) -> dict[str, Any]:
        """Per-stage median/p95 (ms), engine fps, latency, dropped frames."""
        summary = self.processor.stats.summary()
        return {
            "stages": summary,
            "engine_fps": self.processor.fps_meter.rate,
            "dropped_frames": self.slot.dropped,
            "frames_processed": self.frames_processed,
            "frames_read": self.capture.frames_read,
            "corrupt_frames": self.source.corrupt_frames,
        }
