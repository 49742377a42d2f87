"""Small dialogs: choose a camera by name, enter a stream URL, shortcuts, About."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.sources import list_cameras

SHORTCUTS = (
    ("Space", "Play / pause"),
    ("← / →", "Previous / next frame (pauses)"),
    ("H", "Hide / show the overlay (raw video)"),
    ("R", "Start / stop recording"),
    ("S", "Snapshot: annotated frame, raw frame and mask (PNG)"),
    ("Ctrl+P", "Write the procedure record (JSON + HTML) now"),
    ("F11 / Esc", "Full screen / leave full screen"),
    ("Ctrl+O", "Open a video file"),
    ("Ctrl+Q", "Quit"),
)

ABOUT = (
    "<h3>LGPS Live</h3>"
    "<p>Live polyp segmentation in colonoscopy video (LGPS, int8 TFLite with ConvCRF refinement).</p>"
    "<p><b>Research software, not a medical device.</b> It is not approved for diagnosis or treatment "
    "decisions; every finding must be judged by the clinician.</p>"
)


class CameraDialog(QDialog):
    """Lists the capture devices actually present, by name; handles 'none found'."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Open camera")
        self.list = QListWidget()
        self.empty = QLabel("No camera found. Connect one (or check its permissions) and press Refresh.")
        self.empty.setWordWrap(True)
        refresh = QPushButton("Refresh")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        layout = QVBoxLayout(self)
        for widget in (self.list, self.empty, refresh, self.buttons):
            layout.addWidget(widget)
        refresh.clicked.connect(self.refresh)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        for device, name in list_cameras():
            item = QListWidgetItem(f"{name}  ({device})")
            item.setData(Qt.ItemDataRole.UserRole, device)
            self.list.addItem(item)
        found = self.list.count() > 0
        self.list.setVisible(found)
        self.empty.setVisible(not found)
        self.buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(found)
        if found:
            self.list.setCurrentRow(0)

    def device(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None


def choose_camera(parent: QWidget) -> str | None:
    dialog = CameraDialog(parent)
    return dialog.device() if dialog.exec() == QDialog.DialogCode.Accepted else None


def ask_stream_url(parent: QWidget) -> str | None:
    url, ok = QInputDialog.getText(parent, "Open stream", "Stream URL (rtsp://, http://, udp://, …):")
    return url.strip() if ok and url.strip() else None


def show_shortcuts(parent: QWidget) -> None:
    rows = "".join(f"<tr><td><b>{key}</b>&nbsp;&nbsp;</td><td>{what}</td></tr>" for key, what in SHORTCUTS)
    QMessageBox.information(parent, "Keyboard shortcuts", f"<table>{rows}</table>")


def show_about(parent: QWidget) -> None:
    QMessageBox.about(parent, "About LGPS Live", ABOUT)
