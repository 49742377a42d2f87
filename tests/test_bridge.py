"""The bridge coalesces frames and results: a stalled GUI never piles either up."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("PyQt6", reason="the bridge is a Qt object")
pytestmark = pytest.mark.gui


class _Session:
    """The listener slots of engine.live.LiveSession, which the bridge takes over."""

    on_frame = on_result = on_state = on_opened = on_failed = on_recording = None


def test_only_the_newest_frame_and_result_wait_and_one_signal_each(qtbot):
    from app.bridge import LiveBridge

    session = _Session()
    bridge = LiveBridge(session)
    frames, results = [], []
    bridge.frame_ready.connect(lambda: frames.append(bridge.take_frame()))
    bridge.result_ready.connect(lambda: results.append(bridge.take_result()))
    def engine() -> None:  # another thread, as the capture and engine threads are
        for i in range(50):
            session.on_frame(f"frame {i}")
            session.on_result(f"result {i}")

    worker = threading.Thread(target=engine)
    worker.start()
    worker.join()  # meanwhile the GUI thread processes nothing: a stall
    qtbot.waitUntil(lambda: bool(frames and results), timeout=5000)
    qtbot.wait(50)
    assert frames == ["frame 49"] and results == ["result 49"]  # one delivery each, the newest
    assert bridge.coalesced == 49
    bridge.close()
    session.on_frame("late")
    qtbot.wait(50)
    assert frames == ["frame 49"] and bridge.take_frame() is None  # a closed bridge drops everything
