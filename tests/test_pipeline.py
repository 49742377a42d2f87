"""The live pipeline with a real model on a real clip: listeners, live settings, clean shutdown."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from engine.pipeline import FrameProcessor, Pipeline
from engine.results import Result
from engine.sources import open_source

from conftest import wait_until


def _engine_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("lgps-")]



def test_results_reach_every_listener_in_order_and_stop_is_clean(config, real_clip):
    pipeline = Pipeline(config.replace("capture", realtime=True), open_source(str(real_clip)))
    first, second = [], []
    pipeline.add_result_listener(first.append)
    pipeline.add_result_listener(second.append)
    pipeline.start()
    wait_until(lambda: len(first) >= 5)
    pipeline.stop()
    assert not pipeline.running and _engine_threads() == []
    assert [r.frame.index for r in first] == [r.frame.index for r in second]
    indices = [r.frame.index for r in first]
    assert indices == sorted(set(indices))
    result: Result = first[-1]
    assert result.prob.shape == (256, 256) and result.frame_mask().shape == (500, 574)  # no full-frame floats
    assert result.annotated.shape == (500, 574, 3)
    stages = sum(result.timings_ms[k] for k in ("segment", "crf", "postprocess", "overlay"))
    assert stages <= result.timings_ms["total"] <= result.latency_ms


def test_whole_file_runs_to_the_end_and_threads_finish(config, real_clip, real_frames):
    pipeline = Pipeline(config.replace("capture", realtime=True), open_source(str(real_clip)))
    results: list[Result] = []
    pipeline.add_result_listener(results.append)
    pipeline.start()
    assert pipeline.wait_until_done(30)
    assert pipeline.capture.status.state == "ended"
    assert len(results) + pipeline.slot.dropped == len(real_frames)
    assert _engine_threads() == []


def test_threshold_changes_apply_live(config, real_clip):
    pipeline = Pipeline(config.replace("capture", realtime=True, loop=True), open_source(str(real_clip)))
    results: list[Result] = []
    pipeline.add_result_listener(results.append)
    pipeline.settings.update("postprocess", threshold=1.0)
    pipeline.start()
    try:
        wait_until(lambda: len(results) >= 3)
        assert all(not r.polyps and r.frame_mask().max() == 0 for r in results)
        pipeline.settings.update("postprocess", threshold=0.0, min_area_frac=0.0)
        mark = len(results)
        wait_until(lambda: len(results) >= mark + 3)
        assert all(r.frame_mask().max() == 255 for r in results[mark + 1 :])
    finally:
        pipeline.stop()


def test_crf_can_be_switched_off_live(config, real_clip):
    processor = FrameProcessor(config)
    source = open_source(str(real_clip))
    from engine.results import Frame

    index, pts, image = source.read()
    frame = Frame(index, time.monotonic(), image, pts)
    on = processor.process(frame, config)
    off = processor.process(frame, config.replace("crf", enabled=False))
    processor.reset()
    again = processor.process(frame, config.replace("crf", enabled=False))
    # the switch changes the analysis itself: with the CRF off the map is the model's raw output
    model_out = processor.segmenter.infer(image)
    assert np.array_equal(off.frame_mask(), again.frame_mask())
    assert np.allclose(again.prob, model_out.prob, atol=1e-6)
    assert not np.allclose(on.prob, off.prob, atol=1e-3)


class _Exploding(FrameProcessor):
    def process(self, frame, config, **kwargs):
        raise RuntimeError("boom")


@pytest.mark.parametrize("realtime", [True, False])
def test_engine_failure_is_reported_not_hung(config, real_clip, realtime):
    config = config.replace("capture", realtime=realtime)
    pipeline = Pipeline(config, open_source(str(real_clip)), processor=_Exploding(config))
    pipeline.start()
    wait_until(lambda: not pipeline.running, 10)
    assert pipeline.wait_until_done(10) and not pipeline.capture.is_alive()  # no wait for a dead engine
    pipeline.stop()
    assert pipeline.error and "boom" in pipeline.error
    assert _engine_threads() == []


@pytest.mark.parametrize("draw", [True, False])
def test_draw_flag_controls_annotated_frame(config, real_clip, draw):
    processor = FrameProcessor(config)
    source = open_source(str(real_clip))
    from engine.results import Frame

    index, pts, image = source.read()
    result = processor.process(Frame(index, time.monotonic(), image, pts), config, draw=draw)
    assert (result.annotated is not None) == draw


def test_the_thread_budget_sizes_opencvs_pool(model_path):
    """config.yaml threads.opencv reaches OpenCV's process-wide pool when the engine is built."""
    import cv2

    from engine.config import load_config
    from engine.pipeline import FrameProcessor

    before = cv2.getNumThreads()
    try:
        config = load_config().replace("segmenter", model=str(model_path))
        FrameProcessor(config.replace("threads", opencv=1))
        assert cv2.getNumThreads() == 1
        FrameProcessor(config.replace("threads", opencv=2))
        assert cv2.getNumThreads() == 2
    finally:
        cv2.setNumThreads(before)
