"""The status bar's numbers, refreshed twice a second from the engine's and the display's meters."""

from __future__ import annotations

from engine.overlay import format_readout


def _ms(summary: dict, name: str) -> str:
    values = summary.get(name)
    return f"{values['median']:.0f}/{values['p95']:.0f} ms" if values else "–"


def refresh_status(window) -> None:
    """Source fps, engine fps, latency (median/p95), drops, model, CRF; engine failures → banner."""
    status, session = window.status, window.session
    beat = window.heartbeat
    stall = f"GUI longest stall {beat.max_stall_ms:.0f} ms ({beat.stalls_over_50ms} over 50 ms)"
    if session is None:
        for name in status.fields:
            status.set_text(name, "")
        return
    pipeline, info = session.pipeline, session.info
    stats = pipeline.stats()
    display = window.meter.latency.summary()
    status.set_text("source", f"{info.name}  {info.width}×{info.height}  {info.fps:.1f} fps")
    status.set_text(
        "engine", f"engine {stats['engine_fps']:.1f} fps · shown {window.meter.fps.rate:.1f} fps", stall
    )
    status.set_text(
        "latency", f"latency video {_ms(display, 'video')} · overlay {_ms(display, 'overlay')}",
        "capture → display, median/p95: the video frame itself, and a frame's overlay",
    )
    status.set_text("dropped", f"skipped: engine {stats['dropped_frames']} · display {session.bridge.coalesced}")
    segmenter = pipeline.processor.segmenter
    status.set_text("model", f"{segmenter.name} {segmenter.input_size}×{segmenter.input_size} {segmenter.input_dtype}")
    crf = pipeline.settings.current.crf
    status.set_text("crf", f"CRF on ({crf.iterations} it.)" if crf.enabled else "CRF off")
    overlay_ms = display.get("overlay", {}).get("median", 0.0)
    session.compositor.readout = format_readout(stats["engine_fps"], overlay_ms, crf.enabled)
    if pipeline.error and not pipeline.running and window.banner.key != "engine":
        window.banner.show_message(
            "error", f"The analysis stopped: {pipeline.error}. The video is not being analysed; Retry restarts it.",
            key="engine", action="Retry", callback=window.retry,
        )
