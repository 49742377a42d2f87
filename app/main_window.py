"""The main window: wiring of view, controls, replay bar, status bar and banner to one pipeline.

Threads: the capture thread reads and composes each frame (overlay of the newest result) and hands
it to the bridge; the engine thread runs the model; the GUI thread only paints the newest composed
frame, so video never waits for inference. Sources open on a short-lived thread (session.py);
recording and export write on their own threads (recording.py, export_dialog.py).
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PyQt6.QtWidgets import QApplication, QDockWidget, QFileDialog, QMainWindow, QVBoxLayout, QWidget

from app import dialogs
from app.banner import Banner
from app.controls import ControlsPanel
from app.findings import AlertCue, FindingsPanel
from app.media_actions import MediaActions
from app.menus import build_menus
from app.replay import ReplayActions
from app.session import Session, SourceOpener
from app.settings_actions import SettingsActions
from app.settings_store import SettingsStore
from app.source_actions import SourceActions
from app.status import DisplayMeter, Heartbeat, StatusPanel
from app.status_text import refresh_status
from app.transport import TransportBar
from app.video_view import VideoView
from engine.config import Config
from engine.errors import LGPSError
from engine.sources import FrameSource

log = logging.getLogger(__name__)
VIDEO_FILTER = "Video (*.mp4 *.mov *.avi *.mkv *.m4v *.mpg *.mpeg *.webm *.wmv);;All files (*)"


class MainWindow(SourceActions, ReplayActions, SettingsActions, MediaActions, QMainWindow):
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
        self.session: Session | None = None
        self.shown = None  # the Shown frame on screen
        self.recorder = None
        self.export_job = None
        self.last_error: LGPSError | None = None
        self._ticket = 0
        self._spec: str | FrameSource | None = None
        self._carry_record = None  # a procedure record handed from a session to its reopened successor
        self.settings_changed = False  # the user changed a setting in this window
        self._start: tuple[int, bool] = (0, False)  # where a source being opened starts, and paused?
        self._closing = False
        self.meter = DisplayMeter()
        self.heartbeat = Heartbeat(parent=self)
        self.opener = SourceOpener(self)
        self._build()
        self.opener.opened.connect(self._on_opened)
        self.opener.failed.connect(self._on_open_failed)
        self.notify.connect(lambda level, text: self.banner.show_message(level, text, key="notice"))
        self.snapshot_saved.connect(self._on_snapshot_saved)
        self._status_timer = QTimer(self, interval=500)
        self._status_timer.timeout.connect(lambda: refresh_status(self))
        self._status_timer.timeout.connect(self.refresh_findings)
        self._status_timer.start()
        self.rec_timer = QTimer(self, interval=250)  # the REC indicator's elapsed time
        self.rec_timer.timeout.connect(self._update_rec)
        self.heartbeat.start()

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
        self.dock = QDockWidget("Settings", self)
        self.dock.setObjectName("settings_dock")
        self.dock.setWidget(self.controls)
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.findings = FindingsPanel(self.seek)
        self.findings_dock = QDockWidget("Findings", self)
        self.findings_dock.setObjectName("findings_dock")
        self.findings_dock.setWidget(self.findings)
        self.findings_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.findings_dock)
        self.cue = AlertCue(self.config.app.alert_sound)
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

    # -- file/camera/stream dialogs, drag and drop -------------------------------------------
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

    # -- window -------------------------------------------------------------------------------
    def toggle_fullscreen(self) -> None:
        if self.isFullScreen():
            self.leave_fullscreen()
            return
        self.dock.hide()
        self.menuBar().hide()
        self.showFullScreen()

    def leave_fullscreen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
            self.dock.show()
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

    def _on_snapshot_saved(self, path: str) -> None:
        """Visible feedback: a flash of the view and the files' place in the banner."""
        self.view.flash()
        self.banner.show_message("info", f"Snapshot saved: {path} (with _raw.png and _mask.png beside it)",
                                 key="snapshot")

    def _painted(self, ms: float) -> None:
        self.meter.gui_work("paint", ms)
        shown = self.shown
        if shown is not None:
            self.meter.painted(shown.frame, shown.result)

    def refresh_findings(self) -> None:
        """The findings list from the session's record; a new alert may sound the cue."""
        session = self.session
        if session is not None:
            self.findings.seekable = not session.info.is_live
            self.cue.new_alerts(self.findings.show_findings(session.record.snapshot()))

    def write_procedure_record(self, session: Session | None = None, *, quiet: bool = False) -> Path | None:
        """Write the session's record (JSON + HTML) under recorder.folder/records; returns the HTML path."""
        session = session or self.session
        if session is None or session.record.frames == 0:
            if not quiet:
                self.statusBar().showMessage("Nothing to record yet: no frame analysed", 5000)
            return None
        from app.recording import timestamped

        stem = timestamped(Path(self.config.recorder.folder) / "records", "procedure", "")
        try:
            _, page = session.record.write(stem)
        except OSError as exc:
            self.banner.show_message("error", f"Cannot write the procedure record {stem}: {exc.strerror}",
                                     key="record")
            return None
        if not quiet:
            self.statusBar().showMessage(f"Procedure record saved: {page}", 10000)
        return page

    def shutdown(self) -> None:
        if self.session is not None and self.config.app.procedure_record:
            self.write_procedure_record(quiet=True)
        self.stop_recording(wait=True)
        if self.export_job is not None:
            self.export_job.cancel()
            self.export_job.wait()
        self.opener.shutdown()
        if self.session is not None:
            self.session.stop()
        self.opener.wait()


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
