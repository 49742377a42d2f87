"""The status bar's numbers, refreshed twice a second from the engine's and the display's meters."""

from __future__ import annotations

from engine.overlay import format_readout


def _ms(summary: dict, name: str, median_only: bool = False) -> str:
    values = summary.get(name)
    if not values:
        return "–"
    return f"{values['median']:.0f} ms" if median_only else f"{values['median']:.0f}/{values['p95']:.0f} ms"


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
    status.set_text("source", f"Video {info.width}×{info.height} at {info.fps:.0f} fps",
                    f"{info.name} ({info.kind})")
    analysed = min(stats["engine_fps"], info.fps) if info.fps else stats["engine_fps"]
    status.set_text(
        "engine", f"Analysing {analysed:.0f} of {info.fps:.0f} frames/s",
        f"engine {stats['engine_fps']:.1f} fps · shown {window.meter.fps.rate:.1f} fps · {stall}",
    )
    status.set_text(
        "latency", f"Delay: video {_ms(display, 'video', median_only=True)} · outline "
        f"{_ms(display, 'overlay', median_only=True)}",
        "read→shown, median/p95, measured when the paint that shows it ends: video "
        f"{_ms(display, 'video')}, outline (a frame's analysis on screen) {_ms(display, 'overlay')}; "
        f"engine read→result {_ms(stats['stages'], 'latency')}",
    )
    coalesced = window.bridge.coalesced
    skipped = stats["dropped_frames"] + coalesced
    status.set_text("dropped", f"Skipped {skipped}" if skipped else "No frame skipped",
                    f"frames not analysed (the engine was busy): {stats['dropped_frames']}; "
                    f"frames not painted (the display was busy): {coalesced}")
    segmenter = pipeline.processor.segmenter
    status.set_text("model", f"Model {segmenter.name}",
                    f"{segmenter.name} {segmenter.input_size}×{segmenter.input_size} {segmenter.input_dtype}")
    crf = pipeline.settings.current.crf
    status.set_text("crf", "Outline refinement on" if crf.enabled else "Outline refinement off",
                    f"ConvCRF {'on' if crf.enabled else 'off'} ({crf.iterations} mean-field iterations)")
    overlay_ms = display.get("overlay", {}).get("median", 0.0)
    window.live.set_overlay(readout=format_readout(stats["engine_fps"], overlay_ms, crf.enabled))
    if pipeline.error and not pipeline.running and window.banner.key != "engine":
        window.banner.show_message(
            "error", f"The analysis stopped: {pipeline.error}. The video is not being analysed; Retry restarts it.",
            key="engine", action="Retry", callback=window.retry,
        )
