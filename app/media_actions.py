"""Record, snapshot and 'Export whole file…' for the main window (a mixin: it uses the window's state).

Why the recorder is fed from the engine thread: each recorded frame carries its own analysis (an
exact frame/result pair, never the previous frame's overlay), stamped with the time it was read,
so frames the engine skipped leave a gap of the right length and the clip keeps real time.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PyQt6.QtWidgets import QFileDialog

from app.export_dialog import ExportJob, show_progress
from app.recording import ClipRecorder, save_snapshot, timestamped
from engine.errors import LGPSError, RecorderError


class MediaActions:
    """Needs from the window: session, config, recorder, export_job, banner, transport, rec_timer, notify."""

    def toggle_recording(self) -> None:
        if self.recorder is not None:
            self.stop_recording()
        else:
            self.start_recording()

    def start_recording(self, path: str | Path | None = None) -> ClipRecorder | None:
        session = self.session
        if session is None:
            self.statusBar().showMessage("Nothing to record: open a source first", 5000)
            return None
        info = session.info
        target = Path(path) if path else timestamped(self.config.recorder.folder, "lgps", ".mp4")
        try:
            recorder = ClipRecorder(target, info.width, info.height, info.fps, self.config.recorder)
        except RecorderError as exc:
            self.banner.show_message(
                "error", f"Cannot record: {exc}. Choose a writable folder (recorder.folder in config.yaml).",
                key="recording",
            )
            return None
        recorder.failed.connect(self._on_recording_failed)
        recorder.finished.connect(  # the banner wraps a long path; the status bar would cut it off
            lambda p, n: self.banner.show_message("info", f"Recording saved: {p} ({n} frames)", key="recording")
        )
        self.recorder = recorder
        session.sink = recorder.feed
        self._update_rec()
        self.rec_timer.start()
        return recorder

    def stop_recording(self, wait: bool = False) -> ClipRecorder | None:
        """Stop feeding and finish the file on the writer thread (`wait`: block until written)."""
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return None
        if self.session is not None:
            self.session.sink = None
        recorder.stop()
        self._finishing = recorder  # keep it alive until its `finished` signal
        if wait:
            recorder.wait()
        self._update_rec()
        return recorder

    def _update_rec(self) -> None:
        recorder = self.recorder
        if recorder is None:
            self.transport.set_recording(None)
            self.rec_timer.stop()
            return
        self.transport.set_recording(recorder.elapsed_s, recorder.dropped)

    def _on_recording_failed(self, message: str) -> None:
        recorder = self.sender()
        if recorder is self.recorder:
            self.stop_recording()
        path = getattr(recorder, "path", "")
        self.banner.show_message(
            "error", f"{message}. What was recorded is kept in {path}. Free disk space or choose another folder.",
            key="recording",
        )

    def snapshot(self) -> None:
        """Save the latest result's own frame: annotated, raw and mask (one coherent triplet)."""
        session = self.session
        result = session.compositor.result if session is not None else None
        if result is None:
            self.statusBar().showMessage("No analysed frame yet", 5000)
            return
        annotated = session.compositor.compose_exact(result)
        folder = Path(self.config.recorder.folder).expanduser() / "snapshots"

        def write() -> None:
            try:
                path = save_snapshot(folder, result.frame.index, annotated, result.frame.image, result.mask)
            except (LGPSError, OSError) as exc:
                self.notify.emit("error", f"Snapshot not saved: {exc}")
                return
            self.snapshot_saved.emit(str(path))

        threading.Thread(target=write, name="lgps-snapshot", daemon=True).start()

    def export_whole_file(self, output: str | Path | None = None) -> ExportJob | None:
        session = self.session
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
        capture = session.pipeline.capture
        was_playing = capture.is_alive() and not capture.paused
        if was_playing:
            capture.pause()  # two models on two cores: let the export have them
        job = ExportJob(self.config, session.spec, output)
        self.export_job = job
        self._export_dialog = show_progress(self, job)

        def done(level: str, text: str) -> None:
            self.export_job = None
            self.banner.show_message(level, text, key="export")
            if was_playing and self.session is session and capture.is_alive():
                capture.resume()

        job.finished.connect(lambda p, n: done("info", f"Exported {n} frames to {p}"))
        job.failed.connect(lambda m: done("error", f"Export failed: {m}. No file was written under that name."))
        job.truncated.connect(lambda m: done("warning", f"Export finished early: {m}"))
        job.cancelled.connect(lambda: done("info", "Export cancelled: no file was written."))
        return job.start()
