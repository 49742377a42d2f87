"""Opening sources and showing their frames (a MainWindow mixin).

Why tickets and sender checks: sources open on a worker thread, and a user may open another one
before the first is ready; only the newest request becomes the session, and signals still queued
from a replaced session are ignored, so an old source never paints into the new one.
"""

from __future__ import annotations

import time

from app.session import Session
from app.status_text import refresh_status
from engine.errors import ConfigError, LGPSError, ModelError, SourceInvalidError
from engine.sources import FrameSource


class SourceActions:
    """Needs from the window: opener, view, banner, transport, store, meter, config, remember."""

    def start(self, source: str | None = None) -> None:
        """Open the command-line source, else the remembered one, else config.yaml's."""
        remembered = self.store.last_source() if self.remember else None
        self.open_source(source or remembered or self.config.capture.source)

    def open_source(self, source: str | FrameSource, *, start_at: int | None = None, paused: bool = False) -> None:
        """Replace the current source (the old pipeline stops off the GUI thread)."""
        if self._closing:
            return
        self.stop_recording()
        old_spec = self._spec
        self._spec = source
        self._start = (start_at or 0, paused)
        old, self.session, self.shown = self.session, None, None
        if old is not None and self.config.app.procedure_record and source != old_spec:
            self.write_procedure_record(old, quiet=True)  # a new source ends this procedure's record
        if source != old_spec:
            self.findings.clear()
        # the same file reopened (play or seek after its end) goes on with the same procedure record
        self._carry_record = old.record if old is not None and source == old_spec else None
        self._ticket = self.opener.open(source, self.config, old)
        name = source if isinstance(source, str) else source.info.name
        self.view.set_image(None)
        self.view.set_hint(f"Opening {name}…")
        self.banner.clear("source")

    def _on_opened(self, ticket: int, pipeline, spec: str | None) -> None:
        if ticket != self._ticket or self._closing:
            pipeline.stop()
            pipeline.source.close()
            return
        session = Session(pipeline, spec, lambda: self.view.device_size)
        if self._carry_record is not None:
            session.record, self._carry_record = self._carry_record, None
        session.compositor.show_overlay = self.show_overlay
        session.bridge.frame_ready.connect(self._on_frame)
        session.bridge.result_ready.connect(self._on_result)
        session.bridge.status_changed.connect(self._on_status)
        self.session, self.last_error = session, None
        self.meter.reset()
        info = session.info
        self.transport.set_source(info.fps, info.frame_count, not info.is_live)
        self.actions_by_name["export"].setEnabled(spec is not None and not info.is_live)
        for name in ("back", "next"):
            self.actions_by_name[name].setEnabled(not info.is_live)
        capture = pipeline.capture
        start_at, paused = self._start
        if paused:
            capture.pause()
        if start_at or paused:
            capture.seek(start_at)  # while paused this shows that one frame
        self.transport.set_playing(not capture.paused)
        session.start()
        if spec and self.remember:
            self.store.set_last_source(spec)
        refresh_status(self)

    def _on_open_failed(self, ticket: int, error: LGPSError) -> None:
        if ticket != self._ticket:
            return
        self.last_error = error
        self.view.set_hint("No video.")
        if isinstance(error, ModelError):  # the source may be fine: say what is really wrong
            self.banner.show_message(
                "error", f"Cannot load the model: {error}. Check segmenter.model in config.yaml (or --model).",
                key="source")
            return
        if isinstance(error, ConfigError):
            self.banner.show_message("error", f"Invalid setting: {error}.", key="source")
            return
        retry = isinstance(self._spec, str) and not isinstance(error, SourceInvalidError)
        self.banner.show_message(
            "error", f"Cannot open the source: {error}. Check the file or device, or open another source.",
            key="source", action="Retry" if retry else "Open file…",
            callback=self.retry if retry else self.open_file_dialog,
        )

    def _on_status(self, status) -> None:
        session = self.session
        if session is None or self.sender() is not session.bridge:
            return
        self.transport.set_playing(status.state == "playing")
        if status.state == "reconnecting":
            self.banner.show_message(
                "warning", f"{status.message}. Check the cable and the video source; the view resumes by itself.",
                key="source",
            )
        elif status.state == "playing" and status.message == "reconnected":
            self.banner.clear("source")
            self.statusBar().showMessage("Source reconnected", 5000)
        elif status.state == "error":
            self.last_error = LGPSError(status.message)
            self.banner.show_message(
                "error", f"The source failed: {status.message}. Retry, or open another source.",
                key="source", action="Retry", callback=self.retry,
            )
        elif status.state == "ended":
            if "early" in status.message:  # truncated file
                text = f"The file's {status.message}: the rest cannot be shown."
                self.banner.show_message("warning", text, key="source")
            self.statusBar().showMessage("End of file: Space plays it again", 8000)

    def retry(self) -> None:
        """Reopen the current source where it stopped (a source object cannot be reopened: choose one)."""
        if not isinstance(self._spec, str):
            self.open_file_dialog()
            return
        live = self.session is not None and self.session.info.is_live
        position = self.shown.frame.index + 1 if self.shown and not live else 0
        self.open_source(self._spec, start_at=position)

    def _on_frame(self) -> None:
        start = time.perf_counter()
        session = self.session
        if session is None or self.sender() is not session.bridge:
            return
        shown = session.bridge.take_frame()
        if shown is None:
            return
        self.shown = shown
        self.view.set_image(shown.display)
        self.meter.frame_shown(shown.frame)
        self.transport.set_position(shown.frame.index)
        self.meter.gui_work("slot", (time.perf_counter() - start) * 1000.0)

    def _on_result(self, result) -> None:
        session = self.session
        if session is None or self.sender() is not session.bridge:
            return
        capture = session.pipeline.capture
        paused = capture.paused or not capture.is_alive()
        if paused and self.shown is not None and result.frame.index == self.shown.frame.index:
            self.redraw()  # no next frame is coming: show the fresh, non-stale overlay now

    def redraw(self) -> None:
        """Compose the frame on screen again (after a setting or result changed while paused)."""
        if self.session is not None and self.shown is not None:
            self.shown = self.session.shown(self.shown.frame)
            self.view.set_image(self.shown.display)
            self.meter.overlay_shown(self.shown.result)
