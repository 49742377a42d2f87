"""Menu entries with window-wide keyboard shortcuts (Help ▸ Keyboard shortcuts lists them: dialogs.SHORTCUTS)."""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QMainWindow


def add_action(
    window: QMainWindow, menu, text: str, slot: Callable[[], None], shortcut: str | QKeySequence.StandardKey = "",
    *, checkable: bool = False,
) -> QAction:
    """A menu entry whose shortcut works anywhere in the window (also with the menu bar hidden)."""
    action = QAction(text, window)
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.setCheckable(checkable)
    if checkable:
        action.toggled.connect(slot)
    else:
        action.triggered.connect(lambda _checked=False: slot())
    menu.addAction(action)
    window.addAction(action)  # keeps the shortcut alive in full screen, where the menu bar is hidden
    return action


def build_menus(w) -> dict[str, QAction]:
    """File, Playback, View and Help menus for the MainWindow `w`; returns the actions by name."""
    bar = w.menuBar()
    file_menu = bar.addMenu("&File")
    actions = {
        "open": add_action(w, file_menu, "Open video file…", w.open_file_dialog, QKeySequence.StandardKey.Open),
        "camera": add_action(w, file_menu, "Open camera…", w.open_camera_dialog),
        "stream": add_action(w, file_menu, "Open stream URL…", w.open_stream_dialog),
        "demo": add_action(w, file_menu, "Open demo clip", lambda: w.open_source("demo")),
    }
    file_menu.addSeparator()
    actions["export"] = add_action(w, file_menu, "Export whole file…", w.export_whole_file)
    actions["record"] = add_action(w, file_menu, "Record", w.toggle_recording, "R")
    actions["snapshot"] = add_action(w, file_menu, "Snapshot", w.snapshot, "S")
    actions["procedure_record"] = add_action(w, file_menu, "Write procedure record", w.write_procedure_record,
                                             "Ctrl+P")
    file_menu.addSeparator()
    actions["quit"] = add_action(w, file_menu, "Quit", w.close, QKeySequence.StandardKey.Quit)
    play = bar.addMenu("&Playback")
    actions["play"] = add_action(w, play, "Play / pause", w.toggle_play, "Space")
    actions["back"] = add_action(w, play, "Previous frame", lambda: w.step(-1), "Left")
    actions["next"] = add_action(w, play, "Next frame", lambda: w.step(1), "Right")
    view = bar.addMenu("&View")
    actions["overlay"] = add_action(w, view, "Show overlay", w.set_show_overlay, "H", checkable=True)
    actions["fullscreen"] = add_action(w, view, "Full screen", w.toggle_fullscreen, "F11")
    actions["leave_fullscreen"] = add_action(w, view, "Leave full screen", w.leave_fullscreen, "Esc")
    view.addSeparator()
    actions["reset"] = add_action(w, view, "Reset settings to config.yaml", w.reset_settings)
    help_menu = bar.addMenu("&Help")
    actions["shortcuts"] = add_action(w, help_menu, "Keyboard shortcuts", w.show_shortcuts)
    actions["about"] = add_action(w, help_menu, "About LGPS Live", w.show_about)
    return actions
