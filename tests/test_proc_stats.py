"""Where the process's CPU and memory go (engine/proc_stats.py), as bench and the soak report them."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

from engine.bench import FrameLog, _drift
from engine.proc_stats import cpu_by_thread, rss_mb, thread_cpu_seconds

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc")


@linux_only
def test_a_busy_thread_is_charged_to_its_name():
    before = thread_cpu_seconds()
    start = time.monotonic()

    burnt, release = threading.Event(), threading.Event()

    def burn() -> None:
        t0 = time.thread_time()
        while time.thread_time() - t0 < 0.3:  # 0.3 s of this thread's own CPU, however loaded the machine
            sum(range(1000))
        burnt.set()
        release.wait(10)  # alive (and named) while it is read

    worker = threading.Thread(target=burn, name="burner")
    worker.start()
    assert burnt.wait(30)
    after = thread_cpu_seconds()
    release.set()
    worker.join()
    shares = cpu_by_thread(before, after, time.monotonic() - start)
    elapsed = time.monotonic() - start
    assert shares["burner"] == pytest.approx(100 * 0.3 / elapsed, abs=100 * 0.05 / elapsed)


@linux_only
def test_rss_sees_an_allocation():
    before = rss_mb()
    block = np.ones(50_000_000, np.uint8)  # 50 MB, touched
    assert rss_mb() - before == pytest.approx(50, abs=8)
    del block


def test_drift_compares_the_last_tenth_with_the_first():
    rows = [{"t_s": i, "rss_mb": 300 + i * 0.1, "bench_log_mb": i * 0.04, "analysed_share": 1.0 if i != 7 else 0.97,
             "latency_ms_p50": 10.0, "latency_ms_p95": 20.0 if i < 10 else 22.0} for i in range(20)]
    drift = _drift(rows)
    assert drift["rss_growth_mb"] == pytest.approx(1.9)
    # the bench's own log is told apart from the app's memory
    assert drift["bench_log_growth_mb"] == pytest.approx(0.76)
    assert drift["rss_growth_without_bench_log_mb"] == pytest.approx(1.14)
    # the trend per hour (0.1 MB a second-long row, 0.04 of it the log)
    assert drift["rss_slope_mb_per_h"] == pytest.approx(360.0)
    assert drift["rss_slope_without_bench_log_mb_per_h"] == pytest.approx(216.0)
    assert drift["p95_drift_share"] == pytest.approx(0.10)
    assert drift["analysed_share_min"] == 0.97
    assert _drift(rows[:2]) == {}


def test_the_memory_trend_of_an_hour_shrugs_off_one_noisy_sample():
    hour = [{"t_s": 60.0 * (i + 1), "rss_mb": 300 + 0.2 * i, "latency_ms_p50": 10.0, "latency_ms_p95": 20.0,
             "analysed_share": 1.0} for i in range(60)]  # +11.8 MB over the hour
    steady = _drift(hour)
    assert steady["rss_slope_mb_per_h"] == pytest.approx(12.0)
    hour[0]["rss_mb"] -= 15.0  # one sample caught between frames
    noisy = _drift(hour)
    assert noisy["rss_growth_mb"] == pytest.approx(11.8 + 15.0)  # the endpoints take all of it...
    assert abs(noisy["rss_slope_mb_per_h"] - 12.0) < 2.0  # ...the fitted trend a tenth


def test_frame_log_selects_by_time_and_counts_its_bytes():
    class R:
        def __init__(self, t, lat):
            self.result_time, self.latency_ms, self.timings_ms = t, lat, {"segment": lat / 2}

    log = FrameLog()
    for t in range(10):
        log.add_result(R(100.0 + t, float(t)))
    assert list(log.between(102.0, 105.0)) == [3.0, 4.0, 5.0]
    assert log.nbytes == 10 * (8 + 4 + 4)


def test_soak_plot_draws_a_timeline_and_refuses_a_report_without_one(tmp_path):
    import json

    import cv2

    from engine.soak_plot import main

    rows = [{"t_s": 60.0 * i, "rss_mb": 300.0 + i, "analysed_share": 1.0, "analysed_of_due": 0.99,
             "latency_ms_p50": 10.0, "latency_ms_p95": 14.0} for i in range(1, 11)]
    report = tmp_path / "soak.json"
    report.write_text(json.dumps({"timeline": rows, "source": "clip", "machine": "here"}))
    out = tmp_path / "soak.png"
    assert main([str(report), str(out)]) == 0
    image = cv2.imread(str(out))
    assert image is not None and image.shape[0] > 400 and image.std() > 5  # drawn, not blank
    report.write_text(json.dumps({"timeline": []}))
    assert main([str(report), str(tmp_path / "none.png")]) == 2
    assert not (tmp_path / "none.png").exists()


@linux_only
def test_a_thread_can_lower_its_own_priority_only():
    import os

    from engine.thread_budget import lower_this_thread

    seen: dict[str, int] = {}

    def worker() -> None:
        tid = threading.get_native_id()
        before = os.getpriority(os.PRIO_PROCESS, tid)
        seen["took"] = lower_this_thread(5)
        seen["delta"] = os.getpriority(os.PRIO_PROCESS, tid) - before

    main_before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    if main_before > 14:
        pytest.skip(f"the tests already run at nice {main_before}: no room to lower a thread by 5")
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen["took"] and seen["delta"] == 5
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main_before  # the caller's thread only
    assert lower_this_thread(0) is False  # 0: leave the thread alone
