"""`main.py bench`: measure the real pipeline on a real clip and print honest numbers.

Bare inference is the model alone (set input, invoke, read output) on a pre-fitted frame.
The pipeline runs in the window's own topology (engine/live.py: the presenter composes and scales
every frame on the capture thread) as fast as it goes (or paced with realtime=True) and reports
end-to-end FPS, read→result and read→presented latency, per-stage times, dropped frames, CPU use
and the whole process's peak memory.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import resource
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import Config
from engine.demo import cached_clip
from engine.pipeline import FrameProcessor
from engine.proc_stats import cpu_by_thread, rss_mb, thread_cpu_seconds
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


def _percentiles(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    if len(values) == 0:
        return 0.0, 0.0
    return float(np.median(values)), float(np.percentile(values, 95))


class FrameLog:
    """Every analysed frame's numbers in flat arrays (8-12 bytes a frame), so an hour-long soak
    measures the engine's memory, not this log's: `nbytes` says what the log itself holds."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times = array("d")  # result time, monotonic seconds
        self.latency = array("f")  # read→result ms
        self.shown = array("f")  # read→presented ms
        self.stages: dict[str, array] = {}

    def add_result(self, result: Result) -> None:
        with self.lock:
            self.times.append(result.result_time)
            self.latency.append(result.latency_ms)
            for name, value in result.timings_ms.items():
                self.stages.setdefault(name, array("f")).append(value)

    def add_shown(self, ms: float) -> None:
        with self.lock:
            self.shown.append(ms)

    @property
    def nbytes(self) -> int:
        with self.lock:
            arrays = [self.times, self.latency, self.shown, *self.stages.values()]
            return sum(a.buffer_info()[1] * a.itemsize for a in arrays)

    def between(self, t0: float, t1: float) -> np.ndarray:
        """Latencies of results published in (t0, t1]."""
        with self.lock:
            times = np.frombuffer(self.times, np.float64).copy()
            values = np.frombuffer(self.latency, np.float32).copy()
        return values[(times > t0) & (times <= t1)]


def _sample_timeline(live: Any, log: FrameLog, start: float, seconds: float, every_s: float,
                     rate: float | None) -> list[dict[str, float]]:
    """Every `every_s` until `seconds` have passed: memory now, share analysed and latency of that interval.

    ``rate``: frames per second a paced replay should deliver (None: live or unpaced)."""
    rows: list[dict[str, float]] = []
    read_before, analysed_before, t_before = 0, 0, start
    while (now := time.monotonic()) < start + seconds:
        time.sleep(min(every_s, start + seconds - now))
        now = time.monotonic()
        session = live.current
        read = session.pipeline.capture.frames_read if session and session.pipeline else 0
        log_mb = log.nbytes / 1e6
        with log.lock:
            analysed = len(log.times)
            window = log.latency[analysed_before:analysed]
        p50, p95 = _percentiles(window)
        new_read = read - read_before
        row = {"t_s": round(now - start, 1), "rss_mb": round(rss_mb(), 1), "bench_log_mb": round(log_mb, 2),
               "analysed_share": (analysed - analysed_before) / new_read if new_read > 0 else 0.0,
               "latency_ms_p50": round(p50, 2), "latency_ms_p95": round(p95, 2)}
        if rate:
            row["analysed_of_due"] = (analysed - analysed_before) / ((now - t_before) * rate)
        rows.append(row)
        read_before, analysed_before, t_before = read, analysed, now
    return rows


def _drift(timeline: list[dict[str, float]]) -> dict[str, float]:
    """Soak figures: memory growth after the first interval, and p95 of the last tenth against the first."""
    if len(timeline) < 3:
        return {}
    tenth = max(1, len(timeline) // 10)
    first = float(np.median([r["latency_ms_p95"] for r in timeline[1:1 + tenth]]))
    last = float(np.median([r["latency_ms_p95"] for r in timeline[-tenth:]]))
    growth = timeline[-1]["rss_mb"] - timeline[0]["rss_mb"]
    log_growth = timeline[-1].get("bench_log_mb", 0.0) - timeline[0].get("bench_log_mb", 0.0)
    # RSS moves ±10 MB within a minute (frames in flight): the least-squares slope is the robust trend
    hours = np.array([r["t_s"] for r in timeline]) / 3600.0
    rss = np.array([r["rss_mb"] for r in timeline])
    app = rss - np.array([r.get("bench_log_mb", 0.0) for r in timeline])
    slope, app_slope = (float(np.polyfit(hours, y, 1)[0]) if np.ptp(hours) > 0 else 0.0 for y in (rss, app))
    return {"rss_growth_mb": growth, "rss_slope_mb_per_h": slope, "rss_slope_without_bench_log_mb_per_h": app_slope,
            # the soak's own per-frame log (FrameLog) is measuring apparatus, not the app's memory
            "bench_log_growth_mb": log_growth, "rss_growth_without_bench_log_mb": growth - log_growth,
            "p95_drift_share": (last - first) / first if first else 0.0,
            "analysed_share_min": min(r.get("analysed_of_due", r["analysed_share"]) for r in timeline)}


def run_pipeline(config: Config, source_spec: str, seconds: float, realtime: bool,
                 record: str | None = None, display: tuple[int, int] = BENCH_DISPLAY,
                 timeline_s: float | None = None) -> dict[str, Any]:
    """Run the window's own topology (engine/live.py: capture thread with the presenter, engine thread,
    optional recorder thread) on the clip, looping, for `seconds`; collect every frame's numbers.

    ``timeline_s``: sampling interval of the over-time figures (default: a sixtieth of the run, ≥ 5 s).
    """
    from engine.live import LiveSession

    config = config.replace("capture", realtime=realtime, loop=True)
    live = LiveSession(config, display_size=lambda: display)
    log = FrameLog()
    opened, failure = threading.Event(), []

    def on_frame(shown) -> None:  # capture thread, after compose + scale: what the window would paint
        log.add_shown((time.monotonic() - shown.frame.capture_time) * 1000.0)

    live.on_result, live.on_frame = log.add_result, on_frame
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
    threads_before = thread_cpu_seconds()
    info = live.current.info if live.current else None
    rate = info.fps * config.capture.speed if realtime and info and not info.is_live else None
    timeline = _sample_timeline(live, log, start, seconds, timeline_s or max(5.0, seconds / 60), rate)
    measured_s = time.monotonic() - start  # the frames due are counted to here, not through stop()
    threads_cpu = cpu_by_thread(threads_before, thread_cpu_seconds(), measured_s)
    session = live.current
    live.stop()
    elapsed = time.monotonic() - start
    pipeline = session.pipeline if session else None  # stopped: its counts are final
    frames_read = pipeline.capture.frames_read if pipeline else 0
    dropped = pipeline.slot.dropped if pipeline else 0
    error = pipeline.error if pipeline else None
    info = session.info if session else None
    cpu = time.process_time() - cpu0
    warm = log.between(start + 1.0, math.inf)
    p50, p95 = _percentiles(warm if len(warm) else log.latency)
    s50, s95 = _percentiles(log.shown[len(log.shown) // 10:])
    quarter = min(60.0, elapsed / 4)
    minute = log.between(-math.inf, start + quarter)
    last = log.between(start + elapsed - quarter, math.inf)
    analysed = len(log.times)
    due = round(measured_s * rate) if rate else None
    return {
        "source": f"{info.name} {info.width}x{info.height} @ {info.fps:.2f} fps" if info else source_spec,
        "realtime": realtime,
        "topology": "engine/live.py (the window's): presenter on the capture thread, display "
                    f"{display[0]}x{display[1]}" + (", recording" if record else ""),
        "seconds": round(elapsed, 2),
        "frames_processed": analysed,
        "frames_read": frames_read,
        "analysed_share": analysed / frames_read if frames_read else 0.0,
        # paced replay stands in for a live feed: the frames that feed would have sent in the run; a
        # capture thread that falls behind reads fewer (a camera's driver would have dropped them)
        "frames_due": due,
        "analysed_of_due": analysed / due if due else None,
        "pipeline_fps": analysed / elapsed if elapsed else 0.0,
        "latency_ms_p50": p50,
        "latency_ms_p95": p95,
        "read_to_presented_ms_p50": s50,
        "read_to_presented_ms_p95": s95,
        "latency_growth_ms": _percentiles(last)[0] - _percentiles(minute)[0],
        "stage_ms": {k: float(np.median(v)) for k, v in log.stages.items()},
        "stage_ms_p95": {k: float(np.percentile(v, 95)) for k, v in log.stages.items()},
        "frame_log_mb": log.nbytes / 1e6,
        "dropped_frames": dropped,
        "cpu_percent": 100.0 * cpu / elapsed if elapsed else 0.0,
        "timeline": timeline,
        "drift": _drift(timeline),
        "cpu_by_thread": threads_cpu,
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
            seg = Segmenter(variant, config.threads.inference)
            results[f"tflite:{variant.name}"] = bare_inference_fps(seg, image, 2.0)["fps"]
    fps = keras_timer(image) if keras_timer else None
    if fps:
        results["keras"] = fps
    return results


def run_bench(
    config: Config, source_spec: str | None, seconds: float, realtime: bool, keras_timer: KerasTimer | None = None,
    record: str | None = None, timeline_s: float | None = None,
) -> dict[str, Any]:
    spec = source_spec or str(bench_clip_path())
    processor = FrameProcessor(config)
    first = open_source(spec)
    first_frame = first.read()[2]
    first.close()
    bare = bare_inference_fps(processor.segmenter, first_frame)
    report = run_pipeline(config, spec, seconds, realtime, record, timeline_s=timeline_s)
    variants = compare_models(config, first_frame, keras_timer)
    report.update({
        "model": str(config.segmenter.model),
        "model_input": processor.segmenter.input_size,
        "model_dtype": processor.segmenter.input_dtype,
        "threads": config.threads.inference,
        "thread_budget": dataclasses.asdict(config.threads),
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
        f"LiteRT threads {report['threads']})",
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
        f"({100 * report['analysed_share']:.1f} %), {report['dropped_frames']} dropped"
        + (f"; the source's rate sent {report['frames_due']}: {100 * report['analysed_of_due']:.1f} % analysed"
           if report.get("frames_due") else ""),
        f"CPU                {report['cpu_percent']:.0f} % of one core (whole process): "
        + ", ".join(f"{name} {pct:.0f} %" for name, pct in report["cpu_by_thread"].items() if pct >= 0.5),
        "threads            " + ", ".join(f"{k} {v}" for k, v in report["thread_budget"].items())
        + "  (config.yaml threads:)",
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
    drift = report.get("drift") or {}
    if drift:
        lines.append(f"over time          memory {drift['rss_growth_mb']:+.1f} MB after the first interval "
                     f"({drift['bench_log_growth_mb']:.1f} MB of it: this bench's log of every frame); trend "
                     f"{drift['rss_slope_mb_per_h']:+.1f} MB/h, {drift['rss_slope_without_bench_log_mb_per_h']:+.1f} "
                     f"without the log; "
                     f"p95 {100 * drift['p95_drift_share']:+.1f} % (last tenth vs first), "
                     f"lowest analysed share {100 * drift['analysed_share_min']:.1f} %")
        paced = "analysed_of_due" in report["timeline"][0]
        lines.append("  t s      RSS MB  analysed %   p50 ms   p95 ms"
                     + ("   (analysed: of the frames the source's rate sent)" if paced else ""))
        for row in report["timeline"]:
            share = row.get("analysed_of_due", row["analysed_share"])
            lines.append(f"  {row['t_s']:<8.0f} {row['rss_mb']:7.1f} {100 * share:10.1f} "
                         f"{row['latency_ms_p50']:8.1f} {row['latency_ms_p95']:8.1f}")
    if report["engine_error"]:
        lines.append(f"ENGINE ERROR       {report['engine_error']}")
    return "\n".join(lines)
