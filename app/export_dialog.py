"""'Export whole file…': every frame of a replayed file, annotated, with a cancellable progress dialog.

Why an app-side loop instead of engine.export_job.export_clip: the export must be cancellable from
the dialog, and a cancel must leave nothing under the final name. The loop is export_clip's own
(FrameProcessor + Recorder(atomic=True)) with a cancel check per frame and `Recorder.abort()`.
It runs on its own thread with its own interpreter, so the live engine is never touched.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from PyQt6.QtCore import QObject, Qt, pyqtSignal
from PyQt6.QtWidgets import QProgressDialog, QWidget

from engine.config import Config
from engine.errors import LGPSError
from engine.pipeline import FrameProcessor
from engine.recorder import Recorder
from engine.results import Frame
from engine.sources import open_source


class ExportJob(QObject):
    progress = pyqtSignal(int, int)  # frames done, total (0 when unknown)
    finished = pyqtSignal(str, int)  # output path, frames written
    failed = pyqtSignal(str)
    cancelled = pyqtSignal()

    def __init__(self, config: Config, source_spec: str, output: str | Path):
        super().__init__()
        self.config, self.spec, self.output = config, source_spec, Path(output)
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lgps-export", daemon=True)

    def start(self) -> ExportJob:
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float = 30.0) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            written = self._export()
        except LGPSError as exc:
            self.failed.emit(str(exc))
            return
        except Exception as exc:  # report, never die silently on a worker thread
            self.failed.emit(f"{type(exc).__name__}: {exc}")
            return
        if written is None:
            self.cancelled.emit()
        else:
            self.finished.emit(str(self.output), written)

    def _export(self) -> int | None:
        """The frame-exact loop; None when cancelled (the partial file is deleted)."""
        source = open_source(self.spec)
        info = source.info
        try:
            processor = FrameProcessor(self.config)
            recorder = Recorder(self.output, info.width, info.height, info.fps, self.config.recorder, atomic=True)
            try:
                written, last = 0, -1
                while (item := source.read()) is not None:
                    if self._cancel.is_set():
                        recorder.abort()
                        return None
                    index, pts, image = item
                    if index != last + 1:
                        processor.reset()
                    last = index
                    result = processor.process(Frame(index, time.monotonic(), image, pts), self.config)
                    recorder.write(result.annotated)
                    written += 1
                    self.progress.emit(written, info.frame_count or 0)
                if self._cancel.is_set():
                    recorder.abort()
                    return None
                recorder.close()
                return written
            except BaseException:
                recorder.abort()
                raise
        finally:
            source.close()


def show_progress(parent: QWidget, job: ExportJob) -> QProgressDialog:
    """A window-modal progress dialog wired to `job`; Cancel cancels (and deletes the partial file)."""
    dialog = QProgressDialog(f"Exporting {job.output.name}…", "Cancel", 0, 0, parent)
    dialog.setWindowTitle("Export whole file")
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(0)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)

    def on_progress(done: int, total: int) -> None:
        if total and dialog.maximum() != total:
            dialog.setMaximum(total)
        dialog.setValue(min(done, total) if total else 0)
        dialog.setLabelText(f"Exporting {job.output.name}: frame {done}" + (f" of {total}" if total else ""))

    job.progress.connect(on_progress)
    dialog.canceled.connect(job.cancel)
    for signal in (job.finished, job.failed, job.cancelled):
        signal.connect(dialog.close)
    dialog.show()
    return dialog
