"""A non-blocking message strip above the video: what went wrong and what to do about it.

Why not a dialog: a modal box during a procedure stops the video until someone clicks. The banner
sits above the video, never covers it, and offers the one useful action (retry, open another).
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

_STYLES = {
    "error": "background:#7a1f1f; color:white;",
    "warning": "background:#8a6a12; color:white;",
    "info": "background:#1f4f7a; color:white;",
}


class Banner(QFrame):
    """One message at a time; `show_message` replaces the previous one."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("banner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action = QPushButton()
        self.close_button = QPushButton("Dismiss")
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action)
        layout.addWidget(self.close_button)
        self.close_button.clicked.connect(lambda: self.clear())
        self.action.clicked.connect(self._run_action)
        self._callback: Callable[[], None] | None = None
        self.level = ""
        self.key = ""  # what the message is about ("source", "recording", ...), to clear it selectively
        self.hide()

    def show_message(
        self, level: str, text: str, *, key: str = "", action: str = "", callback: Callable[[], None] | None = None
    ) -> None:
        """Show `text` (what happened — what to do). `level`: error, warning or info."""
        self.level, self.key = level, key
        self.setStyleSheet(f"QFrame#banner {{{_STYLES.get(level, _STYLES['info'])}}} QLabel {{color:white;}}")
        self.label.setText(text)
        self._callback = callback
        self.action.setText(action)
        self.action.setVisible(bool(action and callback))
        self.show()

    def clear(self, key: str = "") -> None:
        """Hide the banner (only if it is about `key`, when given)."""
        if key and key != self.key:
            return
        self.level = self.key = ""
        self._callback = None
        self.hide()

    @property
    def text(self) -> str:
        return "" if self.isHidden() else self.label.text()

    def _run_action(self) -> None:
        callback = self._callback
        self.clear()
        if callback is not None:
            callback()
