"""Headless commands that fail clearly and keep what they made: each case as a real subprocess.

Every test runs `main.py` as a user would and checks the exit code, the one stderr line (no
traceback) and the files left behind (and whether they play).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from conftest import ROOT, count_frames_pyav, wait_until, write_clip

pytestmark = pytest.mark.slow
MAIN = str(ROOT / "main.py")


def run_main(*args: str, cwd: Path = ROOT, timeout: float = 180, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, MAIN, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, **kw)


def one_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """1,500 small frames (60 s at 25 fps): long enough to interrupt an export in the middle."""
    frames = []
    for i in range(1500):
        image = np.full((120, 160, 3), 40, np.uint8)
        cv2.circle(image, (80 + int(40 * np.sin(i / 15)), 60), 25, (70, 80, 190), -1)
        frames.append(image)
    return write_clip(frames, tmp_path_factory.mktemp("long") / "long.mp4")


# --- paths ------------------------------------------------------------------------------------

def test_relative_config_paths_work_from_any_folder(tmp_path):
    proc = run_main("export", "demo", "-o", "x.mp4", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert count_frames_pyav(tmp_path / "x.mp4") == 200


# --- values that used to pass silently ----------------------------------------------------------

@pytest.mark.parametrize(("yaml_text", "message"), [
    ("postprocess:\n  threshold: .nan\n", "'postprocess.threshold' must be a finite number"),
    ("capture:\n  source: true\n", "'capture.source' must be str"),
    ("crf: []\n", "section 'crf' must be a mapping"),
    ("crf:\n  iterations: 3\n  iterations: 4\n", "'iterations' is written twice"),
    ("capture:\n  reconnect_initial_s: 9\n  reconnect_max_s: 1\n", "must not exceed"),
])
def test_bad_config_values_exit_2_with_one_line(tmp_path, yaml_text, message):
    path = tmp_path / "c.yaml"
    path.write_text(yaml_text)
    proc = run_main("--config", str(path), "export", "demo", "-o", str(tmp_path / "o.mp4"), timeout=60)
    assert proc.returncode == 2
    assert message in one_line(proc)
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("args", [
    ["evaluate", "--data", ".", "--threshold", "nan"],
    ["evaluate", "--data", ".", "--threshold", "7"],
    ["evaluate", "--data", ".", "--limit", "-3"],
    ["bench", "--seconds", "-5"],
])
def test_out_of_range_flags_are_usage_errors(args):
    proc = run_main(*args, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "usage:" in proc.stderr
    assert "must be" in proc.stderr.splitlines()[-1]


# --- export: outputs checked before any work ----------------------------------------------------

def test_output_that_cannot_be_right_fails_before_any_frame(tmp_path, long_clip):
    folder = tmp_path / "existing"
    folder.mkdir()
    cases = [(str(folder), "is a folder"), (str(tmp_path / "x.avi"), "must end in .mp4"),
             (str(long_clip), "is the input clip")]
    before = long_clip.read_bytes()
    for output, message in cases:
        proc = run_main("export", str(long_clip), "-o", output, "--events", str(tmp_path / "ev.jsonl"), timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert message in one_line(proc)
        assert not (tmp_path / "ev.jsonl").exists()
    assert long_clip.read_bytes() == before  # the input is untouched
    assert list(folder.iterdir()) == [] and not list(tmp_path.glob("*.part*"))


def test_unwritable_output_folder_fails_at_once(tmp_path, long_clip):
    events = tmp_path / "ev.jsonl"
    proc = run_main("export", str(long_clip), "-o", "/proc/no-such-dir/out.mp4", "--events", str(events), timeout=60)
    assert proc.returncode == 5
    assert "cannot write /proc/no-such-dir/out.mp4" in one_line(proc)
    assert events.read_text() == ""  # no frame was analysed before the failure


# --- export: what was made is kept -----------------------------------------------------------

def _limit_file_size(limit: int):
    def apply() -> None:  # in the child: a write past `limit` bytes fails with EFBIG, like a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_write_error_mid_export_keeps_a_playable_partial_video(tmp_path):
    out = tmp_path / "out.mp4"
    proc = run_main("export", "demo", "-o", str(out), preexec_fn=_limit_file_size(250_000), timeout=120)
    assert proc.returncode == 5, proc.stderr
    line = one_line(proc)
    assert f"while writing {out}" in line and "frames are kept there and play" in line
    kept = int(line.split("about ")[1].split(" of ")[0])
    playable = count_frames_pyav(out)
    assert 0 < playable < 200 and abs(playable - kept) <= 5
    assert not list(tmp_path.glob("*.part*"))


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full to simulate a full disk")
def test_full_disk_on_the_events_file_is_a_recording_error(tmp_path):
    proc = run_main("export", "demo", "-o", str(tmp_path / "o.mp4"), "--events", "/dev/full", timeout=120)
    assert proc.returncode == 5
    assert "events file /dev/full" in one_line(proc) and "disk full" in proc.stderr


@pytest.mark.parametrize(("sig", "code", "word"), [(signal.SIGINT, 130, "interrupted"),
                                                   (signal.SIGTERM, 143, "terminated")])
def test_interrupt_keeps_video_events_and_masks_up_to_the_stop(tmp_path, long_clip, sig, code, word):
    out, events, masks = tmp_path / "out.mp4", tmp_path / "ev.jsonl", tmp_path / "masks"
    child = subprocess.Popen([sys.executable, MAIN, "export", str(long_clip), "-o", str(out), "--events",
                              str(events), "--masks", str(masks)], cwd=ROOT, stderr=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, text=True)
    try:
        wait_until(lambda: events.is_file() and events.read_text().count("\n") >= 20, 120)
        child.send_signal(sig)
        _, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == code, stderr
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("export ")]
    assert "Traceback" not in stderr and len(lines) == 1, stderr
    assert lines[0].startswith(f"{word} after ") and str(out) in lines[0]
    done = int(lines[0].split(" after ")[1].split(" frames")[0])
    records = events.read_text().splitlines()
    assert 20 <= done < 1500 and len(records) == done and len(list(masks.iterdir())) == done
    assert count_frames_pyav(out) == done  # the encoder was flushed: every analysed frame plays
    assert not list(tmp_path.glob("*.part*"))


# --- counting -----------------------------------------------------------------------------------

def _variable_rate_clip(path: Path) -> list[float]:
    """H.264 with irregular frame intervals (like a phone or screen recording); returns the times."""
    rng = np.random.default_rng(0)
    times, t = [], 0.0
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(30))
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for i in range(60):
            frame = av.VideoFrame.from_ndarray(np.full((120, 160, 3), 3 * i, np.uint8), format="bgr24")
            frame.pts, frame.time_base = round(t * 1000), Fraction(1, 1000)
            times.append(round(t, 3))
            container.mux(stream.encode(frame))
            t += float(rng.choice([1 / 30, 1 / 24, 1 / 60, 0.05]))
        container.mux(stream.encode(None))
    return times


def test_variable_frame_rate_is_neither_miscounted_nor_retimed(tmp_path):
    clip, out, events = tmp_path / "vfr.mp4", tmp_path / "out.mp4", tmp_path / "ev.jsonl"
    times = _variable_rate_clip(clip)
    proc = run_main("export", str(clip), "-o", str(out), "--events", str(events), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "corrupt" not in proc.stderr
    records = [json.loads(line) for line in events.read_text().splitlines()]
    assert [r["index"] for r in records] == list(range(60))
    assert [r["time_s"] for r in records] == pytest.approx(times, abs=0.002)
    with av.open(str(out)) as container:
        shown = [float(f.pts * f.time_base) for f in container.decode(video=0)]
    assert np.diff(shown) == pytest.approx(np.diff(times), abs=0.002)  # the output keeps the input's clock


def test_damaged_middle_of_a_clip_is_counted_once(tmp_path):
    frames = [np.roll(np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype=np.uint8), 3 * i, 1)
              for i in range(60)]
    clip = write_clip(frames, tmp_path / "c.mp4", gop=12)
    with av.open(str(clip)) as container:
        packets = [(p.pos, p.size) for p in container.demux(video=0) if p.size]
    data = bytearray(clip.read_bytes())
    start, end = packets[24][0], packets[30][0]
    data[start:end] = b"\0" * (end - start)
    clip.write_bytes(bytes(data))
    events = tmp_path / "ev.jsonl"
    proc = run_main("export", str(clip), "-o", str(tmp_path / "o.mp4"), "--events", str(events), timeout=120)
    assert proc.returncode == 0, proc.stderr
    done = [json.loads(line)["index"] for line in events.read_text().splitlines()]
    lost = 60 - len(done)
    assert 0 < lost < 20
    assert f"skipped {lost} corrupt frame(s)" in one_line(proc)


def test_truncated_jpeg_in_a_folder_is_skipped_not_analysed_grey(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(6):
        image = np.full((96, 128, 3), 30 * i, np.uint8)
        cv2.imwrite(str(folder / f"{i}.jpg"), image)
    cut = (folder / "3.jpg").read_bytes()
    (folder / "3.jpg").write_bytes(cut[: len(cut) // 2])
    events = tmp_path / "ev.jsonl"
    proc = run_main("export", str(folder), "-o", str(tmp_path / "o.mp4"), "--events", str(events), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "skipped 1 corrupt frame(s)" in one_line(proc)
    assert [json.loads(line)["index"] for line in events.read_text().splitlines()] == [0, 1, 2, 4, 5]


# --- bench --------------------------------------------------------------------------------------

def test_bench_needs_no_tensorflow_unless_asked(tmp_path):
    code = ("import sys, runpy; sys.argv = ['main.py', 'bench', '--seconds', '1', '--json'];"
            "import main; rc = main.main(sys.argv[1:]);"
            "print('TF' if 'tensorflow' in sys.modules else 'noTF', rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=180,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    report_line, verdict = proc.stdout.strip().splitlines()[-2:]
    assert verdict == "noTF 0"
    report = json.loads(report_line)
    assert "keras" not in report["variants_fps"]
    assert report["peak_rss_mb"] > 50  # the whole process: interpreter, decoder, pipeline


def test_bench_exits_nonzero_when_the_engine_fails(monkeypatch, capsys):
    import engine.bench
    import main

    def failing_bench(*args, **kwargs):
        return {"engine_error": "engine error on frame 3: boom"}

    monkeypatch.setattr(engine.bench, "run_bench", failing_bench)
    monkeypatch.setattr(engine.bench, "format_report", lambda report: "report")
    assert main.main(["bench", "--seconds", "1"]) == 1
    assert "error: engine error on frame 3: boom" in capsys.readouterr().err


def test_rate_meter_says_zero_once_frames_stop():
    from engine.stats import RateMeter

    meter = RateMeter()
    for i in range(30):
        rate = meter.tick(100.0 + i / 25)
    assert rate == pytest.approx(25.0)
    last = 100.0 + 29 / 25
    assert meter.rate_at(last + 0.5) == pytest.approx(25.0)  # a short hiccup is still playing
    assert meter.rate_at(last + 1.5) == 0.0  # paused: no "25 FPS" on a still picture


def test_export_burns_source_time_and_frame_not_the_live_readout(tmp_path, config):
    from engine.export_job import export_clip
    from engine.overlay import format_file_readout
    from engine.pipeline import FrameProcessor

    readouts: list[str] = []

    class RecordingProcessor(FrameProcessor):
        def process(self, frame, cfg, **kw):
            readouts.append(kw.get("readout"))
            return super().process(frame, cfg, **kw)

    export_clip(config, "demo", tmp_path / "o.mp4", processor=RecordingProcessor(config), progress=False)
    assert len(readouts) == 200
    assert readouts[0] == "00:00.00 | frame 0 | CRF on" and readouts[125] == "00:05.00 | frame 125 | CRF on"
    assert not any("FPS" in r or " ms" in r for r in readouts)
    assert format_file_readout(3723.5, 93087, False) == "62:03.50 | frame 93087 | CRF off"
