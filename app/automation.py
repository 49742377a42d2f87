"""`--screenshot OUT.png --quit-after SECONDS`: save the window as it is, print the numbers, quit."""

from __future__ import annotations

import sys

from PyQt6.QtWidgets import QApplication


def finish_run(window, screenshot: str | None) -> int:
    """Called once on the GUI thread when the time is up; returns the exit code for run_app."""
    rc = 0
    if screenshot:
        if window.grab().save(screenshot, "PNG"):
            print(f"screenshot={screenshot}")
        else:
            print(f"error: cannot save screenshot {screenshot}", file=sys.stderr)
            rc = 5
    beat, meter = window.heartbeat, window.meter
    session = window.session
    source_fps = session.info.fps if session else 0.0
    engine_fps = session.pipeline.stats()["engine_fps"] if session else 0.0
    latency = meter.latency.summary()
    video = latency.get("video", {})
    overlay = latency.get("overlay", {})
    slot, paint = latency.get("slot", {}), latency.get("paint", {})
    print(
        f"gui_max_stall_ms={beat.max_stall_ms:.1f} gui_stalls_over_50ms={beat.stalls_over_50ms} "
        f"displayed_fps={meter.fps.rate:.1f} displayed_fps_avg={meter.average_fps:.1f} "
        f"source_fps={source_fps:.1f} engine_fps={engine_fps:.1f} "
        f"frames_shown={meter.frames_shown} "
        f"read_to_shown_video_ms_median={video.get('median', 0):.1f} p95={video.get('p95', 0):.1f} "
        f"read_to_shown_outline_ms_median={overlay.get('median', 0):.1f} p95={overlay.get('p95', 0):.1f} "
        f"gui_frame_slot_ms_median={slot.get('median', 0):.2f} p95={slot.get('p95', 0):.2f} "
        f"gui_paint_ms_median={paint.get('median', 0):.2f} p95={paint.get('p95', 0):.2f}",
        flush=True,
    )
    if meter.frames_shown == 0 and window.last_error is not None:
        print(f"error: {window.last_error}", file=sys.stderr)
        rc = rc or getattr(window.last_error, "exit_code", 1)
    window.close()
    QApplication.instance().quit()
    return rc
