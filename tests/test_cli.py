"""The command line as a user runs it: real subprocesses, real files, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import ROOT, count_frames_pyav, write_clip

pytestmark = pytest.mark.slow


def run_main(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_export_is_frame_exact(tmp_path, config_file, real_clip, real_frames):
    out, events, masks = tmp_path / "out.mp4", tmp_path / "events.jsonl", tmp_path / "masks"
    proc = run_main("--config", str(config_file), "export", str(real_clip), "-o", str(out),
                    "--events", str(events), "--masks", str(masks))
    assert proc.returncode == 0, proc.stderr
    n = len(real_frames)
    assert count_frames_pyav(out) == n
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height, float(stream.average_rate)) == (574, 500, 25.0)
    records = [json.loads(line) for line in events.read_text().splitlines()]
    assert [r["index"] for r in records] == list(range(n))
    assert {"segment", "crf", "postprocess", "overlay", "total"} <= set(records[0]["timings_ms"])
    assert all(set(p) >= {"id", "area", "box", "mean_prob", "max_prob"} for r in records for p in r["polyps"])
    assert sorted(p.name for p in masks.iterdir()) == [f"{i:06d}.png" for i in range(n)]
    assert not list(tmp_path.glob("*.part.mp4"))


def _mjpeg(tmp_path: Path, n: int = 30) -> tuple[Path, list[tuple[int, int]]]:
    frames = [np.full((96, 128, 3), 7 * i + 20, np.uint8) for i in range(n)]
    clip = write_clip(frames, tmp_path / "m.mkv", codec="mjpeg", container_format="matroska", pix_fmt="yuvj420p")
    with av.open(str(clip)) as container:
        return clip, [(p.pos, p.size) for p in container.demux(video=0) if p.size]


def test_corrupt_frame_mid_clip_is_skipped_and_export_continues(tmp_path, config_file):
    clip, packets = _mjpeg(tmp_path)
    data = bytearray(clip.read_bytes())
    pos, size = packets[12]
    data[pos : pos + size] = b"\0" * size
    clip.write_bytes(bytes(data))
    out = tmp_path / "out.mp4"
    proc = run_main("--config", str(config_file), "export", str(clip), "-o", str(out))
    assert proc.returncode == 0
    assert "skipped" in one_line_error(proc) and "corrupt frame" in proc.stderr
    written = count_frames_pyav(out)
    assert 20 <= written < 30


def test_truncated_video_keeps_what_was_read(tmp_path, config_file):
    clip, _ = _mjpeg(tmp_path)
    clip.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    out = tmp_path / "out.mp4"
    proc = run_main("--config", str(config_file), "export", str(clip), "-o", str(out))
    assert proc.returncode == 8
    assert "ended early" in one_line_error(proc)
    assert 0 < count_frames_pyav(out) < 30


@pytest.fixture
def text_file(tmp_path) -> Path:
    path = tmp_path / "notes.mp4"
    path.write_text("not a video\n" * 100)
    return path


@pytest.fixture
def cut_mp4(tmp_path, real_clip) -> Path:
    path = tmp_path / "cut.mp4"
    path.write_bytes(real_clip.read_bytes()[: real_clip.stat().st_size // 2])
    return path


@pytest.fixture
def bad_model(tmp_path) -> Path:
    path = tmp_path / "bad.tflite"
    path.write_bytes(b"not a flatbuffer" * 100)
    return path


@pytest.fixture
def bad_config(tmp_path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text("crf:\n  iterations: many\n")
    return path


@pytest.mark.parametrize(
    ("case", "args", "code", "message"),
    [
        ("missing file", ["export", "/no/such/clip.mp4", "-o", "{tmp}/o.mp4"], 3, "video file not found"),
        ("not video", ["export", "{text_file}", "-o", "{tmp}/o.mp4"], 7, "not a readable video"),
        ("truncated mp4", ["export", "{cut_mp4}", "-o", "{tmp}/o.mp4"], 7, "not a readable video"),
        ("absent camera", ["bench", "--source", "/dev/video97", "--seconds", "1"], 3, "camera /dev/video97"),
        ("unreachable stream", ["bench", "--source", "rtsp://127.0.0.1:9/x", "--seconds", "1"], 3, "stream"),
        ("missing model", ["--model", "/no/model.tflite", "export", "demo", "-o", "{tmp}/o.mp4"], 4,
         "model file not found"),
        ("malformed model", ["--model", "{bad_model}", "export", "demo", "-o", "{tmp}/o.mp4"], 4,
         "not a valid TFLite model"),
        ("bad config", ["--config", "{bad_config}", "export", "demo", "-o", "{tmp}/o.mp4"], 2,
         "config key 'crf.iterations' must be int"),
        ("unknown option", ["export", "--frobnicate"], 2, "usage"),
    ],
)
def test_bad_input_gets_one_line_and_a_distinct_code(request, tmp_path, config_file, case, args, code, message):
    values = {"tmp": str(tmp_path)}
    for name in ("text_file", "cut_mp4", "bad_model", "bad_config"):
        if any("{" + name + "}" in a for a in args):
            values[name] = str(request.getfixturevalue(name))
    argv = [a.format(**values) for a in args]
    if "--config" not in argv:
        argv = ["--config", str(config_file), *argv]
    proc = run_main(*argv, timeout=60)
    assert proc.returncode == code, (case, proc.stderr)
    if case == "unknown option":
        assert "usage" in proc.stderr and "Traceback" not in proc.stderr
    else:
        assert message in one_line_error(proc)
    assert not (tmp_path / "o.mp4").exists()


def test_bench_json_has_the_promised_fields(config_file, real_clip):
    proc = run_main("--config", str(config_file), "bench", "--source", str(real_clip), "--seconds", "3", "--json",
                    "--timeline", "1")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    for key in ("inference_fps", "pipeline_fps", "latency_ms_p50", "latency_ms_p95", "dropped_frames", "peak_rss_mb"):
        assert isinstance(report[key], (int, float)), key
    assert report["inference_fps"] > 0 and report["pipeline_fps"] > 0
    assert {"segment", "crf", "postprocess", "tracking", "image_area"} <= set(report["stage_ms"])
    assert report["latency_ms_p50"] <= report["latency_ms_p95"]
    # the window's topology: the presenter composed every frame read; the engine's overlay stage is idle
    assert "engine/live.py" in report["topology"] and report["stage_ms"]["overlay"] < 0.05
    assert report["read_to_presented_ms_p50"] <= report["read_to_presented_ms_p95"]
    assert 0.0 < report["analysed_share"] <= 1.0 and report["frames_processed"] <= report["frames_read"]
    assert 0.0 < report["cpu_percent"] <= 100.0 * os.cpu_count()
    # where the CPU went: the engine and capture threads by name, their sum within the process's total
    assert report["cpu_by_thread"]["lgps-engine"] > 0 and "lgps-capture" in report["cpu_by_thread"]
    assert sum(report["cpu_by_thread"].values()) <= report["cpu_percent"] * 1.1 + 5
    assert report["thread_budget"] == {"decoder": 1, "opencv": 1, "inference": 1, "encoder": 1,
                                       "encoder_niceness": 19}
    # over time: one row a second, memory and latency per interval, and the soak's summary figures
    assert len(report["timeline"]) == 3 and [round(r["t_s"]) for r in report["timeline"]] == [1, 2, 3]
    assert all(r["rss_mb"] > 50 and r["latency_ms_p50"] <= r["latency_ms_p95"] for r in report["timeline"])
    assert report["drift"]["rss_growth_mb"] == pytest.approx(
        report["timeline"][-1]["rss_mb"] - report["timeline"][0]["rss_mb"])
    assert 0 < report["frame_log_mb"] < 1
    assert report["frames_due"] is None and report["analysed_of_due"] is None  # unpaced: nothing is "due"


def test_paced_bench_counts_the_frames_the_source_sent(config_file, real_clip):
    """A paced replay stands in for a live feed: frames due = measuring time x the clip's rate."""
    proc = run_main("--config", str(config_file), "bench", "--source", str(real_clip), "--seconds", "2",
                    "--realtime", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert 50 <= report["frames_due"] <= 56  # 2 s (a loaded machine may oversleep a little) at 25 fps
    assert report["analysed_of_due"] == pytest.approx(report["frames_processed"] / report["frames_due"])
    assert 0 < report["analysed_of_due"] <= 1.05
