"""The main window: views over one `engine.live.LiveSession`, connected through one bridge.

The live session (Qt-free, engine/live.py) owns the source, the pipeline, the state machine, the
presenter, the recorder and the procedure record; its `wire` function shows which thread runs
which stage. This window only turns user actions into session calls and the session's state,
frames and results (coalesced by app/bridge.py) into pixels, banners and text; it holds no model
code and no state that belongs to the session.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from pathlib import Path

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PyQt6.QtWidgets import QApplication, QDockWidget, QFileDialog, QMainWindow, QVBoxLayout, QWidget

from app import dialogs
from app.banner import Banner
from app.bridge import LiveBridge
from app.controls import ControlsPanel
from app.export_dialog import ExportJob, show_progress
from app.findings import AlertCue, FindingsPanel
from app.menus import build_menus
from app.settings_store import REMEMBERED, SettingsStore
from app.status import DisplayMeter, Heartbeat, StatusPanel
from app.status_text import refresh_status
from app.transport import TransportBar
from app.video_view import VideoView
from engine.config import Config
from engine.errors import ConfigError, LGPSError, ModelError, RecorderError, SourceInvalidError
from engine.live import ENDED, FAILED, PLAYING, RECONNECTING, LiveSession, LiveState, SourceSession
from engine.live_recorder import LiveRecorder, timestamped
from engine.procedure import ProcedureRecord
from engine.sources import FrameSource

log = logging.getLogger(__name__)
VIDEO_FILTER = "Video (*.mp4 *.mov *.avi *.mkv *.m4v *.mpg *.mpeg *.webm *.wmv);;All files (*)"


class MainWindow(QMainWindow):
    notify = pyqtSignal(str, str)  # level, text: worker threads report through this
    snapshot_saved = pyqtSignal(str)  # path of the annotated PNG

    def __init__(self, config: Config, *, settings_path: str | Path | None = None, remember: bool | None = None,
                 explicit_config: bool = False):
        super().__init__()
        self.setWindowTitle("LGPS Live — research software, not a medical device")
        self.setAcceptDrops(True)
        self.base_config = config
        self.remember = config.app.remember_last if remember is None else remember
        self.store = SettingsStore(settings_path)
        self.config, self.remembered = (self.store.apply(config, explicit_file=explicit_config) if self.remember
                                        else (config, []))
        default_overlay = config.app.show_overlay
        self.show_overlay = self.store.show_overlay(default_overlay) if self.remember else default_overlay
        self.settings_changed = False  # the user changed a setting in this window
        self.shown = None  # the engine.presenter.Shown on screen
        self.export_job = None
        self.last_error: LGPSError | None = None
        self._closing = False
        self.meter = DisplayMeter()
        self.heartbeat = Heartbeat(parent=self)
        self.live = LiveSession(self.config, lambda: self.view.device_size)
        self.live.set_overlay(show=self.show_overlay)
        self.bridge = LiveBridge(self.live, self)
        self._build()
        self.bridge.frame_ready.connect(self._on_frame)
        self.bridge.result_ready.connect(self._on_result)
        self.bridge.state_changed.connect(self._on_state)
        self.bridge.opened.connect(self._on_opened)
        self.bridge.failed.connect(self._on_open_failed)
        self.bridge.recording.connect(self._on_recording)
        self.notify.connect(lambda level, text: self.banner.show_message(level, text, key="notice"))
        self.snapshot_saved.connect(self._on_snapshot_saved)
        self._status_timer = QTimer(self, interval=500)
        self._status_timer.timeout.connect(lambda: refresh_status(self))
        self._status_timer.timeout.connect(self.refresh_findings)
        self._status_timer.start()
        self.rec_timer = QTimer(self, interval=250)  # the REC indicator's elapsed time
        self.rec_timer.timeout.connect(self._update_rec)
        self.heartbeat.start()

    # -- what the views read -----------------------------------------------------------------------
    @property
    def session(self) -> SourceSession | None:
        """The open source (pipeline, presenter, record), or None."""
        return self.live.current

    @property
    def recorder(self) -> LiveRecorder | None:
        return self.live.recorder

    @property
    def processor(self):
        return self.live.processor

    def _build(self) -> None:
        self.view, self.banner, self.transport = VideoView(), Banner(), TransportBar()
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.banner)
        column.addWidget(self.view, 1)
        column.addWidget(self.transport)
        self.setCentralWidget(central)
        self.controls = ControlsPanel()
        self.controls.set_config(self.config, self.show_overlay)
        self.controls.set_origin(self.base_config.path, self.remembered)
        self.dock = self._dock("Settings", "settings_dock", self.controls)
        self.findings = FindingsPanel(self.seek)
        self.findings_dock = self._dock("Findings", "findings_dock", self.findings)
        self.cue = AlertCue(self.config.app.alert_sound, self._sound_unavailable)
        self.view.on_painted = self._painted
        self.status = StatusPanel(self.statusBar())
        self.actions_by_name = build_menus(self)
        self.actions_by_name["overlay"].setChecked(self.show_overlay)
        for widget in self.transport.findChildren(QWidget):
            widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space/arrows are the window's, not a button's
        self.view.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.controls.changed.connect(self.apply_setting)
        self.controls.overlay_toggled.connect(self.set_show_overlay)
        t = self.transport
        t.play_toggled.connect(self.toggle_play)
        t.step.connect(self.step)
        t.seek.connect(self.seek)
        t.speed_changed.connect(lambda v: self.apply_setting("capture", "speed", v))
        t.loop_changed.connect(lambda on: self.apply_setting("capture", "loop", on))
        t.record_toggled.connect(self.toggle_recording)
        t.snapshot.connect(self.snapshot)
        t.set_replay_settings(self.config.capture.speed, self.config.capture.loop)
        geometry = self.store.geometry() if self.remember else None
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1400, 860)

    def _dock(self, title: str, name: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        return dock

    # -- sources -----------------------------------------------------------------------------------
    def start(self, source: str | None = None) -> None:
        """Open the command-line source, else the remembered one, else config.yaml's."""
        remembered = self.store.last_source() if self.remember else None
        self.open_source(source or remembered or self.config.capture.source)

    def open_source(self, source: str | FrameSource, *, start_at: int | None = None, paused: bool = False) -> None:
        """Replace the current source (the old one stops off the GUI thread)."""
        if self._closing:
            return
        new_procedure = source != self.live.spec
        self.live.open(source, start_at=start_at or 0, paused=paused)
        self.shown = None
        if new_procedure:
            self.findings.clear()
            self._write_finished_records()
        name = source if isinstance(source, str) else source.info.name
        self.view.set_image(None)
        self.view.set_hint(f"Opening {name}…")
        self.banner.clear("source")
        self._update_rec()

    def _on_opened(self, info) -> None:
        if self._closing:
            return
        self.last_error = None
        self.meter.reset()
        self.bridge.reset_counts()
        self.transport.set_source(info.fps, info.frame_count, not info.is_live)
        session = self.live.current
        spec = session.spec if session is not None else None
        self.actions_by_name["export"].setEnabled(spec is not None and not info.is_live)
        for name in ("back", "next"):
            self.actions_by_name[name].setEnabled(not info.is_live)
        self.transport.set_playing(self.live.state.state == PLAYING)
        if spec and self.remember:
            self.store.set_last_source(spec)
        refresh_status(self)

    def _on_open_failed(self, error: LGPSError) -> None:
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
        retry = isinstance(self.live.spec, str) and not isinstance(error, SourceInvalidError)
        self.banner.show_message(
            "error", f"Cannot open the source: {error}. Check the file or device, or open another source.",
            key="source", action="Retry" if retry else "Open file…",
            callback=self.retry if retry else self.open_file_dialog,
        )

    def _on_state(self, state: LiveState) -> None:
        self.transport.set_playing(state.state == PLAYING)
        if state.state == RECONNECTING:
            self.banner.show_message(
                "warning", f"{state.message}. Check the cable and the video source; the view resumes by itself.",
                key="source",
            )
        elif state.message == "reconnected":  # playing, or still paused by the user
            self.banner.clear("source")
            self.statusBar().showMessage("Source reconnected", 5000)
        elif state.state == FAILED and self.live.current is not None:
            self.last_error = LGPSError(state.message)
            self.view.set_hint("The source failed.")
            self.banner.show_message(  # never a frozen picture that looks live
                "error", f"The source failed: {state.message}. The picture is not live. Retry, or open another "
                "source.", key="source", action="Retry", callback=self.retry,
            )
        elif state.state == ENDED:
            if "early" in state.message:  # truncated file
                self.banner.show_message("warning", f"The file's {state.message}: the rest cannot be shown.",
                                         key="source")
            self.statusBar().showMessage("End of file: Space plays it again", 8000)

    def retry(self) -> None:
        """Reopen the current source where it stopped (a source object cannot be reopened: choose one)."""
        if not isinstance(self.live.spec, str):
            self.open_file_dialog()
            return
        session = self.live.current
        live = session is not None and session.info.is_live
        position = self.shown.frame.index + 1 if self.shown and not live else 0
        if session is not None and session.info.frame_count and position >= session.info.frame_count:
            position = 0  # stopped on the last frame: analyse it again from the start, not "ended"
        self.open_source(self.live.spec, start_at=position)

    # -- frames and results --------------------------------------------------------------------------
    def _on_frame(self) -> None:
        start = time.perf_counter()
        shown = self.bridge.take_frame()
        if shown is None or self.live.current is None:
            return
        self.shown = shown
        self.view.set_image(shown.display)
        self.meter.frame_shown(shown.frame)
        self.transport.set_position(shown.frame.index)
        self.meter.gui_work("slot", (time.perf_counter() - start) * 1000.0)

    def _on_result(self) -> None:
        result = self.bridge.take_result()
        session = self.live.current
        if result is None or session is None:
            return
        capture = session.capture
        still = capture.paused or not capture.is_alive()
        if still and self.shown is not None and result.frame.index == self.shown.frame.index:
            self.redraw()  # no next frame is coming: show the fresh, non-stale overlay now

    def redraw(self) -> None:
        """Compose the frame on screen again (after a setting or result changed while paused)."""
        self.live.redraw()

    def _painted(self, ms: float) -> None:
        self.meter.gui_work("paint", ms)
        shown = self.shown
        if shown is not None:
            self.meter.painted(shown.frame, shown.result)

    # -- replay --------------------------------------------------------------------------------------
    def toggle_play(self) -> None:
        self.live.toggle_play()

    def step(self, count: int) -> None:
        self.live.step(count)

    def seek(self, index: int) -> None:
        self.live.seek(index)

    # -- settings ------------------------------------------------------------------------------------
    def apply_setting(self, section: str, key: str, value: object) -> None:
        if getattr(getattr(self.config, section), key, object()) == value:
            return  # widgets echo values they were given: not a change
        try:
            self.config = self.live.apply_setting(section, key, value)
        except ConfigError as exc:
            self.banner.show_message("warning", f"Setting not applied: {exc}", key="setting")
            return
        self.settings_changed = True
        if self.remember:
            self.store.remember(self.config, self.base_config)
        changed = [f"{sec}.{k}" for sec, keys in REMEMBERED.items() for k in keys
                   if getattr(getattr(self.config, sec), k) != getattr(getattr(self.base_config, sec), k)]
        remembered = [name for name in self.remembered if name in changed]
        self.controls.set_origin(self.base_config.path, changed,
                                 remembered=bool(remembered) and len(remembered) == len(changed))

    def set_show_overlay(self, on: bool) -> None:
        self.show_overlay = bool(on)
        self.actions_by_name["overlay"].setChecked(self.show_overlay)
        self.controls.set_config(self.config, self.show_overlay)
        self.live.set_overlay(show=self.show_overlay)
        if self.remember:
            self.store.set_show_overlay(self.show_overlay)
        self.redraw()

    def reset_settings(self) -> None:
        """Back to config.yaml's values for everything the window remembers."""
        self.store.forget_settings()
        self.remembered = []
        for section, keys in REMEMBERED.items():
            for key in keys:
                value = getattr(getattr(self.base_config, section), key)
                if getattr(getattr(self.config, section), key) != value:
                    self.apply_setting(section, key, value)
        self.controls.set_config(self.config, self.show_overlay)
        self.transport.set_replay_settings(self.config.capture.speed, self.config.capture.loop)
        self.set_show_overlay(self.base_config.app.show_overlay)

    # -- recording, snapshot, export, procedure record -------------------------------------------------
    def toggle_recording(self) -> None:
        if self.live.recorder is not None:
            self.stop_recording()
        else:
            self.start_recording()

    def start_recording(self, path: str | Path | None = None) -> LiveRecorder | None:
        if self.live.current is None:
            self.statusBar().showMessage("Nothing to record: open a source first", 5000)
            return None
        try:
            recorder = self.live.start_recording(path)
        except RecorderError as exc:
            self.banner.show_message(
                "error", f"Cannot record: {exc}. Choose a writable folder (recorder.folder in config.yaml).",
                key="recording")
            return None
        self._update_rec()
        self.rec_timer.start()
        return recorder

    def stop_recording(self, wait: bool = False) -> LiveRecorder | None:
        recorder = self.live.stop_recording(wait=wait)
        self._update_rec()
        return recorder

    def _on_recording(self, event: str, text: str) -> None:
        if event == "failed":
            self.banner.show_message("error", text, key="recording")
        else:  # the banner wraps a long path; the status bar would cut it off
            self.banner.show_message("info", text, key="recording")
        self._update_rec()

    def _update_rec(self) -> None:
        recorder = self.live.recorder
        if recorder is None:
            self.transport.set_recording(None)
            self.rec_timer.stop()
            return
        self.transport.set_recording(recorder.elapsed_s, recorder.dropped)

    def snapshot(self) -> None:
        """Save the latest result's own frame: annotated, raw and mask (one coherent triplet)."""
        if self.live.current is None or self.live.current.compositor.result is None:
            self.statusBar().showMessage("No analysed frame yet", 5000)
            return
        folder = Path(self.config.recorder.folder).expanduser() / "snapshots"

        def write() -> None:
            try:
                path = self.live.snapshot(folder)
            except (LGPSError, OSError) as exc:
                self.notify.emit("error", f"Snapshot not saved: {exc}")
                return
            self.snapshot_saved.emit(str(path))

        threading.Thread(target=write, name="lgps-snapshot", daemon=True).start()

    def _on_snapshot_saved(self, path: str) -> None:
        """Visible feedback: a flash of the view and the files' place in the banner."""
        self.view.flash()
        self.banner.show_message("info", f"Snapshot saved: {path} (with _raw.png and _mask.png beside it)",
                                 key="snapshot")

    def export_whole_file(self, output: str | Path | None = None) -> ExportJob | None:
        session = self.live.current
        if self.export_job is not None:
            self.statusBar().showMessage("An export is already running", 6000)
            return None
        if session is None or session.spec is None or session.info.is_live:
            self.statusBar().showMessage("Export needs a replayed file (not a camera or stream)", 6000)
            return None
        if output is None:
            default = Path(self.config.recorder.folder) / f"{Path(session.spec).stem}_annotated.mp4"
            output, _ = QFileDialog.getSaveFileName(self, "Export annotated video", str(default), "MP4 video (*.mp4)")
            if not output:
                return None
        capture = session.capture
        was_playing = capture.is_alive() and not capture.paused
        if was_playing:
            capture.pause()  # two models on two cores: let the export have them
        job = ExportJob(self.config, session.spec, output)
        self.export_job = job
        self._export_dialog = show_progress(self, job)

        def done(level: str, text: str) -> None:
            self.export_job = None
            self.banner.show_message(level, text, key="export")
            if was_playing and self.live.current is session and capture.is_alive():
                capture.resume()

        job.finished.connect(lambda p, n: done("info", f"Exported {n} frames to {p}"))
        job.failed.connect(lambda m: done("error", f"Export failed: {m}. What was made is kept."))
        job.truncated.connect(lambda m: done("warning", f"Export finished early: {m}"))
        job.cancelled.connect(lambda: done("info", "Export cancelled: no file was written."))
        return job.start()

    def _sound_unavailable(self, message: str) -> None:
        """Said once, where it is seen and where it is logged: the chime cannot play on this machine."""
        log.warning("%s", message)
        self.statusBar().showMessage(message, 15000)

    def refresh_findings(self) -> None:
        """The findings list from the session's record; a new alert may sound the cue."""
        session = self.live.current
        if session is not None:
            self.findings.seekable = not session.info.is_live
            self.cue.new_alerts(self.findings.show_findings(session.record.snapshot()))

    def write_procedure_record(self, record: ProcedureRecord | None = None, *, quiet: bool = False) -> Path | None:
        """Write a record (default: the open source's) under recorder.folder/records; returns the HTML path."""
        if record is None:
            session = self.live.current
            record = session.record if session is not None else None
        if record is None or record.frames == 0:
            if not quiet:
                self.statusBar().showMessage("Nothing to record yet: no frame analysed", 5000)
            return None
        stem = timestamped(Path(self.config.recorder.folder) / "records", "procedure", "")
        try:
            _, page = record.write(stem)
        except OSError as exc:
            self.banner.show_message("error", f"Cannot write the procedure record {stem}: {exc.strerror}",
                                     key="record")
            return None
        if not quiet:
            self.banner.show_message("info", f"Procedure record saved: {page}", key="record")
        return page

    def _write_finished_records(self) -> None:
        """A procedure ends when its source is closed: its record is written (app.procedure_record)."""
        finished, self.live.finished_records = self.live.finished_records, []
        if self.config.app.procedure_record:
            for record in finished:
                self.write_procedure_record(record, quiet=True)

    # -- dialogs, drag and drop, window ------------------------------------------------------------------
    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video file", "", VIDEO_FILTER)
        if path:
            self.open_source(path)

    def open_camera_dialog(self) -> None:
        device = dialogs.choose_camera(self)
        if device:
            self.open_source(device)

    def open_stream_dialog(self) -> None:
        url = dialogs.ask_stream_url(self)
        if url:
            self.open_source(url)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            self.open_source(files[0])
            event.acceptProposedAction()

    def toggle_fullscreen(self) -> None:
        if self.isFullScreen():
            self.leave_fullscreen()
            return
        self.dock.hide()
        self.findings_dock.hide()
        self.menuBar().hide()
        self.showFullScreen()

    def leave_fullscreen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
            self.dock.show()
            self.findings_dock.show()
            self.menuBar().show()

    def show_shortcuts(self) -> None:
        dialogs.show_shortcuts(self)

    def show_about(self) -> None:
        dialogs.show_about(self)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        """Stop every thread this window started before it goes away."""
        self._closing = True
        self.heartbeat.stop()
        self._status_timer.stop()
        self.shutdown()
        if self.remember:
            self.store.set_geometry(self.saveGeometry())
            if self.settings_changed:  # a window where nothing was changed leaves the remembered values alone
                self.store.remember(self.config, self.base_config)
            self.store.sync()
        log.info("GUI longest stall %.1f ms", self.heartbeat.max_stall_ms)
        super().closeEvent(event)

    def shutdown(self) -> None:
        if self.export_job is not None:
            self.export_job.cancel()
            self.export_job.wait()
        self.bridge.close()
        self.live.stop()
        self._write_finished_records()


def run_app(
    config: Config, source: str | None = None, screenshot: str | None = None, quit_after: float | None = None,
    settings_path: str | Path | None = None, explicit_config: bool = False,
) -> int:
    """Run the window; with `screenshot`/`quit_after` it saves a PNG and quits (automation, README)."""
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "lgps-live"])
    app.setOrganizationName("LGPS Live")
    app.setApplicationName("LGPS Live")
    automated = bool(screenshot or quit_after)
    window = MainWindow(config, settings_path=settings_path, remember=False if automated else None,
                        explicit_config=explicit_config)
    window.show()
    window.start(source)
    signal.signal(signal.SIGINT, lambda *_: window.close())
    keepalive = QTimer(interval=200)  # lets Python see Ctrl+C while Qt's loop runs
    keepalive.timeout.connect(lambda: None)
    keepalive.start()
    outcome = {"rc": 0}
    if automated:
        from app.automation import finish_run

        delay_ms = int(1000 * (quit_after if quit_after else 5.0))
        QTimer.singleShot(delay_ms, lambda: outcome.update(rc=finish_run(window, screenshot)))
    app.exec()
    return outcome["rc"]
