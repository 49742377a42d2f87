"""Interrupts between an export's frames, never inside one (engine/frame_boundary.py)."""

from __future__ import annotations

import signal

import pytest

from engine.frame_boundary import writing


def test_ctrl_c_inside_a_frame_takes_effect_when_the_frame_is_written():
    before = signal.getsignal(signal.SIGINT)
    steps = []
    with pytest.raises(KeyboardInterrupt), writing():
        signal.raise_signal(signal.SIGINT)
        steps.append("video")
        steps.append("mask")
    assert steps == ["video", "mask"]
    assert signal.getsignal(signal.SIGINT) is before


def test_sigterm_reaches_the_installed_handler_after_the_frame():
    class Stop(Exception):
        pass

    def raise_stop(signum, frame):
        raise Stop(signum)

    previous = signal.signal(signal.SIGTERM, raise_stop)
    try:
        steps = []
        with pytest.raises(Stop), writing():
            signal.raise_signal(signal.SIGTERM)
            steps.append("events")
        assert steps == ["events"] and signal.getsignal(signal.SIGTERM) is raise_stop
    finally:
        signal.signal(signal.SIGTERM, previous)

