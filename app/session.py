"""One open source (pipeline + bridge + compositor), and opening the next one off the GUI thread.

Why a background opener: opening a stream can take seconds (network time-outs), loading the model
takes a moment, and stopping the old pipeline waits for its threads. None of that may freeze the
window during a procedure, so it all happens on a short-lived thread that reports back by signal.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from app.bridge import EngineBridge
from app.compositor import Compositor
from app.video_view import prepare
from engine.config import Config
from engine.errors import LGPSError
from engine.pipeline import FrameProcessor, Pipeline
from engine.procedure import ProcedureRecord, settings_of
from engine.results import Frame, Result, SourceInfo
from engine.sources import CameraFormat, FrameSource, open_source

log = logging.getLogger(__name__)
FrameSink = Callable[[np.ndarray, float], None]  # composed frame, its capture time


@dataclass(frozen=True)
class Shown:
    """A frame as the window shows it: raw, composed (BGR, frame size) and prepared for the view."""

    frame: Frame
    image: np.ndarray
    display: np.ndarray
    result: Result | None = None  # whose overlay is drawn (None: no overlay)


class Session:
    """Hooks a pipeline's listeners to the bridge; the capture thread composes each frame."""

    def __init__(self, pipeline: Pipeline, spec: str | None, display_size: Callable[[], tuple[int, int]]):
        self.pipeline = pipeline
        self.spec = spec  # None when a FrameSource object was handed in directly (tests)
        self.bridge = EngineBridge()
        self.compositor = Compositor(lambda: pipeline.settings.current.overlay)
        self.sink: FrameSink | None = None  # the recorder's feed, called on the engine thread
        config = pipeline.settings.current
        self.record = ProcedureRecord(spec or pipeline.source.info.name, pipeline.source.info.fps,
                                      str(config.segmenter.model), settings_of(config))
        self._display_size = display_size
        pipeline.add_frame_listener(self._on_frame)
        pipeline.add_result_listener(self._on_result)
        pipeline.add_status_listener(self.bridge.offer_status)

    @property
    def info(self) -> SourceInfo:
        return self.pipeline.source.info

    def _on_frame(self, frame: Frame) -> None:  # capture thread
        if self.bridge.closed:
            return
        try:
            shown = self.shown(frame)
        except Exception:  # a drawing bug must not kill the capture thread: show the raw frame
            log.exception("overlay failed on frame %d", frame.index)
            shown = Shown(frame, frame.image, prepare(frame.image, self._display_size()))
        self.bridge.offer_frame(shown)

    def shown(self, frame: Frame) -> Shown:
        """Compose and prepare `frame` for the view; safe on any thread."""
        image, result = self.compositor.compose(frame)
        return Shown(frame, image, prepare(image, self._display_size()), result)

    def _on_result(self, result: Result) -> None:  # engine thread
        self.compositor.set_result(result)
        self.record.add(result)
        sink = self.sink
        if sink is not None:  # recordings hold exact (frame, its own result) pairs, at capture time
            sink(self.compositor.compose_exact(result), result.frame.capture_time)
        self.bridge.offer_result(result)

    def start(self) -> None:
        self.pipeline.start()

    def close(self) -> None:
        """Silence the session at once; the threads are stopped by `stop()` (may take a moment)."""
        self.sink = None
        self.bridge.close()

    def stop(self) -> None:
        self.close()
        self.pipeline.stop()


class SourceOpener(QObject):
    """Stops the old pipeline, opens the new source and builds its pipeline, on a worker thread."""

    opened = pyqtSignal(int, object, object)  # ticket, Pipeline, spec
    failed = pyqtSignal(int, object)  # ticket, LGPSError

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._tickets = itertools.count(1)
        self.processor: FrameProcessor | None = None  # reused: the model loads once
        self._threads: list[threading.Thread] = []
        self._shutdown = threading.Event()
        self._serial = threading.Lock()

    def open(
        self, source: str | FrameSource, config: Config, old: Session | None = None
    ) -> int:
        """Start opening; returns the ticket that the `opened`/`failed` signal will carry."""
        ticket = next(self._tickets)
        if old is not None:
            old.close()
        thread = threading.Thread(
            target=self._work, args=(ticket, source, config, old), name=f"lgps-open-{ticket}", daemon=True
        )
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return ticket

    def _work(self, ticket: int, source, config: Config, old: Session | None) -> None:
        # One opener at a time: the shared processor (one LiteRT interpreter) is reset and handed to a
        # new pipeline only after the previous opener has stopped the pipeline that used it.
        with self._serial:
            self._open_one(ticket, source, config, old)

    def _open_one(self, ticket: int, source, config: Config, old: Session | None) -> None:
        if old is not None:
            old.stop()
        try:
            if self.processor is None:
                self.processor = FrameProcessor(config)
            self.processor.reset()
            self.processor.stats.reset()
            frames = open_source(source, CameraFormat.of(config.capture)) if isinstance(source, str) else source
            pipeline = Pipeline(config, frames, processor=self.processor, draw=False)
            if self._shutdown.is_set():  # the window closed meanwhile: never start it
                frames.close()
                return
        except LGPSError as exc:
            self.failed.emit(ticket, exc)
            return
        except Exception as exc:  # a broken file must give a banner, not a dead window
            self.failed.emit(ticket, LGPSError(f"{type(exc).__name__}: {exc}"))
            return
        self.opened.emit(ticket, pipeline, source if isinstance(source, str) else None)

    def shutdown(self) -> None:
        """Pipelines still being opened are closed instead of delivered."""
        self._shutdown.set()

    def wait(self, timeout: float = 10.0) -> None:
        """Join the opener threads (window closing)."""
        for thread in self._threads:
            thread.join(timeout)
