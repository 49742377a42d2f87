"""`main.py bench`: measure the real pipeline on a real clip and print honest numbers.

Bare inference is the model alone (set input, invoke, read output) on a pre-fitted frame.
The pipeline runs in the window's own topology (engine/live.py: the presenter composes and scales
every frame on the capture thread) as fast as it goes (or paced with realtime=True) and reports
end-to-end FPS, read→result and read→presented latency, per-stage times, dropped frames, CPU use
and the whole process's peak memory.
"""

from __future__ import annotations

import os
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import Config
from engine.demo import cached_clip
from engine.pipeline import FrameProcessor
from engine.results import Result
from engine.segmenter import Segmenter
from engine.sources import open_source

BENCH_CLIP_SIZE = (1280, 720)
BENCH_DISPLAY = (1280, 720)  # the view the presenter scales for (a laptop window's video area)
KerasTimer = Callable[[np.ndarray], "float | None"]


def bench_clip_path() -> Path:
    """A 1280x720 H.264 clip rendered like the demo, cached: the default benchmark source."""
    return cached_clip("bench_720p_v1.mp4", BENCH_CLIP_SIZE, seconds=10)


def bare_inference_fps(segmenter: Segmenter, image: np.ndarray, seconds: float = 3.0) -> dict[str, float]:
    """Model-only throughput: the tensor is prepared once, then invoke() is timed in a loop."""
    segmenter.infer(image)  # warm-up, and leaves a realistic input tensor set
    times = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 20:
        start = time.perf_counter()
        segmenter.invoke_only()
        times.append((time.perf_counter() - start) * 1000.0)
    arr = np.asarray(times[5:])
    return {"fps": 1000.0 / float(np.median(arr)), "ms_p50": float(np.median(arr)),
            "ms_p95": float(np.percentile(arr, 95))}


def _percentiles(values: list[float]) -> tuple[float, float]:
    if not values:
        return 0.0, 0.0
    return float(np.median(values)), float(np.percentile(values, 95))


def run_pipeline(config: Config, source_spec: str, seconds: float, realtime: bool,
                 record: str | None = None, display: tuple[int, int] = BENCH_DISPLAY) -> dict[str, Any]:
    """Run the window's own topology (engine/live.py: capture thread with the presenter, engine thread,
    optional recorder thread) on the clip, looping, for `seconds`; collect every frame's numbers."""
    import threading

    from engine.live import LiveSession

    config = config.replace("capture", realtime=realtime, loop=True)
    live = LiveSession(config, display_size=lambda: display)
    latencies: list[tuple[float, float]] = []
    shown_ms: list[float] = []
    stage_values: dict[str, list[float]] = {}
    opened, failure = threading.Event(), []
    lock = threading.Lock()

    def on_result(result: Result) -> None:  # engine thread
        with lock:
            latencies.append((result.result_time, result.latency_ms))
            for name, value in result.timings_ms.items():
                stage_values.setdefault(name, []).append(value)

    def on_frame(shown) -> None:  # capture thread, after compose + scale: what the window would paint
        with lock:
            shown_ms.append((time.monotonic() - shown.frame.capture_time) * 1000.0)

    live.on_result, live.on_frame = on_result, on_frame
    live.on_opened = lambda info: opened.set()
    live.on_failed = lambda error: (failure.append(error), opened.set())
    cpu0 = time.process_time()
    live.open(source_spec)
    opened.wait(60)
    if failure:
        live.stop()
        raise failure[0]
    recorder = live.start_recording(record) if record else None
    start = time.monotonic()
    time.sleep(seconds)
    session = live.current
    live.stop()
    elapsed = time.monotonic() - start
    pipeline = session.pipeline if session else None  # stopped: its counts are final
    frames_read = pipeline.capture.frames_read if pipeline else 0
    dropped = pipeline.slot.dropped if pipeline else 0
    error = pipeline.error if pipeline else None
    info = session.info if session else None
    cpu = time.process_time() - cpu0
    warm = [lat for t, lat in latencies if t - start > 1.0] or [lat for _, lat in latencies]
    p50, p95 = _percentiles(warm)
    s50, s95 = _percentiles(shown_ms[len(shown_ms) // 10:])
    minute = [lat for t, lat in latencies if t - start < min(60.0, elapsed / 4)]
    last = [lat for t, lat in latencies if t - start > elapsed - min(60.0, elapsed / 4)]
    analysed = len(latencies)
    return {
        "source": f"{info.name} {info.width}x{info.height} @ {info.fps:.2f} fps" if info else source_spec,
        "realtime": realtime,
        "topology": "engine/live.py (the window's): presenter on the capture thread, display "
                    f"{display[0]}x{display[1]}" + (", recording" if record else ""),
        "seconds": round(elapsed, 2),
        "frames_processed": analysed,
        "frames_read": frames_read,
        "analysed_share": analysed / frames_read if frames_read else 0.0,
        "pipeline_fps": analysed / elapsed if elapsed else 0.0,
        "latency_ms_p50": p50,
        "latency_ms_p95": p95,
        "read_to_presented_ms_p50": s50,
        "read_to_presented_ms_p95": s95,
        "latency_growth_ms": _percentiles(last)[0] - _percentiles(minute)[0],
        "stage_ms": {k: float(np.median(v)) for k, v in stage_values.items()},
        "stage_ms_p95": {k: float(np.percentile(v, 95)) for k, v in stage_values.items()},
        "dropped_frames": dropped,
        "cpu_percent": 100.0 * cpu / elapsed if elapsed else 0.0,
        "recording": None if recorder is None else {"path": str(recorder.path), "frames": recorder.frames_fed,
                                                    "dropped": recorder.dropped},
        "engine_error": error,
    }


def compare_models(config: Config, image: np.ndarray, keras_timer: KerasTimer | None = None) -> dict[str, float]:
    """Bare-inference FPS of every available variant: int8, float32 TFLite, and Keras when given."""
    results: dict[str, float] = {}
    model = Path(config.segmenter.model)
    for variant in sorted({model, model.with_name("lgps_float32.tflite")}):
        if variant.is_file():
            seg = Segmenter(variant, config.segmenter.threads)
            results[f"tflite:{variant.name}"] = bare_inference_fps(seg, image, 2.0)["fps"]
    fps = keras_timer(image) if keras_timer else None
    if fps:
        results["keras"] = fps
    return results


def run_bench(
    config: Config, source_spec: str | None, seconds: float, realtime: bool, keras_timer: KerasTimer | None = None,
    record: str | None = None,
) -> dict[str, Any]:
    spec = source_spec or str(bench_clip_path())
    processor = FrameProcessor(config)
    first = open_source(spec)
    first_frame = first.read()[2]
    first.close()
    bare = bare_inference_fps(processor.segmenter, first_frame)
    report = run_pipeline(config, spec, seconds, realtime, record)
    variants = compare_models(config, first_frame, keras_timer)
    report.update({
        "model": str(config.segmenter.model),
        "model_input": processor.segmenter.input_size,
        "model_dtype": processor.segmenter.input_dtype,
        "threads": config.segmenter.threads,
        "crf": config.crf.enabled,
        "inference_fps": bare["fps"],
        "inference_ms_p50": bare["ms_p50"],
        "inference_ms_p95": bare["ms_p95"],
        # the whole process, measured last (after every variant ran): what the machine had to hold
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                   f"Python {platform.python_version()}",
        "variants_fps": variants,
    })
    report["pipeline_vs_inference"] = report["pipeline_fps"] / report["inference_fps"]
    return report


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"machine            {report['machine']}",
        f"model              {report['model']} ({report['model_input']}px, {report['model_dtype']}, "
        f"{report['threads']} threads)",
        f"source             {report['source']}  realtime={report['realtime']}  crf={report['crf']}",
        f"bare inference     {report['inference_fps']:.1f} FPS  (p50 {report['inference_ms_p50']:.2f} ms, "
        f"p95 {report['inference_ms_p95']:.2f} ms)",
        f"pipeline           {report['pipeline_fps']:.1f} FPS  ({report['pipeline_vs_inference']:.2f} x bare)"
        f"  {report['frames_processed']} frames in {report['seconds']} s",
        f"topology           {report['topology']}",
        f"read→result        p50 {report['latency_ms_p50']:.1f} ms  p95 {report['latency_ms_p95']:.1f} ms  "
        f"growth {report['latency_growth_ms']:+.1f} ms  (engine: frame read to analysis done)",
        f"read→presented     p50 {report['read_to_presented_ms_p50']:.1f} ms  p95 "
        f"{report['read_to_presented_ms_p95']:.1f} ms  (frame read to composed and scaled for the screen)",
        f"frames             {report['frames_read']} read, {report['frames_processed']} analysed "
        f"({100 * report['analysed_share']:.1f} %), {report['dropped_frames']} dropped",
        f"CPU                {report['cpu_percent']:.0f} % of one core (whole process)",
        f"peak RSS           {report['peak_rss_mb']:.0f} MB (whole process)",
        "stage              median ms   p95 ms",
    ]
    for name, median in report["stage_ms"].items():
        lines.append(f"  {name:<16} {median:9.2f} {report['stage_ms_p95'][name]:8.2f}")
    for name, fps in report["variants_fps"].items():
        lines.append(f"variant            {name}: {fps:.1f} FPS bare")
    if report.get("recording"):
        r = report["recording"]
        lines.append(f"recording          {r['frames']} frames to {r['path']} ({r['dropped']} dropped by the writer)")
    if report["engine_error"]:
        lines.append(f"ENGINE ERROR       {report['engine_error']}")
    return "\n".join(lines)
