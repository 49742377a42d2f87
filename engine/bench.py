"""`main.py bench`: measure the real pipeline on a real clip and print honest numbers.

Bare inference is the model alone (set input, invoke, read output) on a pre-fitted frame.
The pipeline runs capture and engine threads as fast as they go (or paced with realtime=True)
and reports end-to-end FPS, capture→result latency, per-stage times and dropped frames.
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
from engine.pipeline import FrameProcessor, Pipeline
from engine.results import Result
from engine.segmenter import Segmenter
from engine.sources import open_source

BENCH_CLIP_SIZE = (1280, 720)
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


def run_pipeline(config: Config, source_spec: str, seconds: float, realtime: bool) -> dict[str, Any]:
    """Run the live pipeline on the clip (looping) for `seconds`; collect every result's numbers."""
    config = config.replace("capture", realtime=realtime, loop=True)
    source = open_source(source_spec)
    pipeline = Pipeline(config, source)
    latencies: list[tuple[float, float]] = []
    stage_values: dict[str, list[float]] = {}

    def collect(result: Result) -> None:
        latencies.append((result.result_time, result.latency_ms))
        for name, value in result.timings_ms.items():
            stage_values.setdefault(name, []).append(value)

    pipeline.add_result_listener(collect)
    pipeline.start()
    start = time.monotonic()
    time.sleep(seconds)
    pipeline.stop()
    elapsed = time.monotonic() - start
    warm = [lat for t, lat in latencies if t - start > 1.0] or [lat for _, lat in latencies]
    p50, p95 = _percentiles(warm)
    minute = [lat for t, lat in latencies if t - start < min(60.0, elapsed / 4)]
    last = [lat for t, lat in latencies if t - start > elapsed - min(60.0, elapsed / 4)]
    info = source.info
    return {
        "source": f"{info.name} {info.width}x{info.height} @ {info.fps:.2f} fps",
        "realtime": realtime,
        "seconds": round(elapsed, 2),
        "frames_processed": len(latencies),
        "frames_read": pipeline.capture.frames_read,
        "pipeline_fps": len(latencies) / elapsed if elapsed else 0.0,
        "latency_ms_p50": p50,
        "latency_ms_p95": p95,
        "latency_growth_ms": _percentiles(last)[0] - _percentiles(minute)[0],
        "stage_ms": {k: float(np.median(v)) for k, v in stage_values.items()},
        "stage_ms_p95": {k: float(np.percentile(v, 95)) for k, v in stage_values.items()},
        "dropped_frames": pipeline.slot.dropped,
        "engine_error": pipeline.error,
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
    config: Config, source_spec: str | None, seconds: float, realtime: bool, keras_timer: KerasTimer | None = None
) -> dict[str, Any]:
    spec = source_spec or str(bench_clip_path())
    processor = FrameProcessor(config)
    first = open_source(spec)
    first_frame = first.read()[2]
    first.close()
    bare = bare_inference_fps(processor.segmenter, first_frame)
    report = run_pipeline(config, spec, seconds, realtime)
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
        f"latency            p50 {report['latency_ms_p50']:.1f} ms  p95 {report['latency_ms_p95']:.1f} ms  "
        f"growth {report['latency_growth_ms']:+.1f} ms",
        f"dropped frames     {report['dropped_frames']} of {report['frames_read']} read",
        f"peak RSS           {report['peak_rss_mb']:.0f} MB",
        "stage              median ms   p95 ms",
    ]
    for name, median in report["stage_ms"].items():
        lines.append(f"  {name:<16} {median:9.2f} {report['stage_ms_p95'][name]:8.2f}")
    for name, fps in report["variants_fps"].items():
        lines.append(f"variant            {name}: {fps:.1f} FPS bare")
    if report["engine_error"]:
        lines.append(f"ENGINE ERROR       {report['engine_error']}")
    return "\n".join(lines)
