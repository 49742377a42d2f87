"""'Export whole file…': every frame of a replayed file, annotated, with a cancellable progress dialog.

The loop is the engine's own `export_clip` (the same as `main.py export`), given a cancel flag: a
cancel deletes the partial file, so nothing is ever left under the final name. It runs on its own
thread with its own interpreter, so the live engine is never touched.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PyQt6.QtCore import QObject, Qt, pyqtSignal
from PyQt6.QtWidgets import QProgressDialog, QWidget

from engine.config import Config
from engine.errors import LGPSError, SourceTruncatedError
from engine.export_job import ExportCancelled, export_clip


class ExportJob(QObject):
    progress = pyqtSignal(int, int)  # frames done, total (0 when unknown)
    finished = pyqtSignal(str, int)  # output path, frames written
    failed = pyqtSignal(str)
    truncated = pyqtSignal(str)  # the input ended early: what it held was exported (the file exists)
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
        except SourceTruncatedError as exc:
            self.truncated.emit(str(exc))
            return
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
        """The engine's frame-exact export with this job's cancel flag; None when cancelled."""
        try:
            summary = export_clip(
                self.config, self.spec, self.output, progress=False,
                on_progress=lambda done, total: self.progress.emit(done, total or 0),
                cancelled=self._cancel.is_set,
            )
        except ExportCancelled:
            return None
        return summary.frames_written


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
    for signal in (job.finished, job.failed, job.truncated, job.cancelled):
        signal.connect(dialog.close)
    dialog.show()
    return dialog
