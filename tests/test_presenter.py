"""The window's overlay rule: the newest result on the newest frame, marked stale when it lags further."""

from __future__ import annotations

import numpy as np
import pytest

from engine.config import OverlayConfig
from engine.presenter import MAX_STALE_S, Compositor
from engine.results import Frame, Polyp, Result

FPS = 25.0


def _frame(index: int, value: int = 90) -> Frame:
    image = np.full((120, 160, 3), value, np.uint8)
    return Frame(index=index, capture_time=0.0, image=image, pts_s=index / FPS)


def _result(index: int) -> Result:
    contour = np.array([[40, 30], [100, 30], [100, 90], [40, 90]], np.int32)
    polyp = Polyp(id=1, area=3600, box=(40, 30, 60, 60), mean_prob=0.9, max_prob=0.97, contour=contour)
    frame = _frame(index)
    mask = np.zeros(frame.image.shape[:2], np.uint8)
    return Result(frame, np.zeros(mask.shape, np.float32), mask, (polyp,), {}, 0.0)


@pytest.fixture
def compositor() -> Compositor:
    style = OverlayConfig(readout=False)
    return Compositor(lambda: style)


def test_nothing_drawn_before_the_first_result(compositor):
    frame = _frame(0)
    assert compositor.compose(frame)[0] is frame.image


@pytest.mark.parametrize(
    ("shown", "drawn", "stale"),
    [
        (10, True, False),  # its own frame
        (11, True, False),  # the next frame: the pipeline's inherent one-frame lag, drawn normally
        (12, True, True),  # further behind: drawn, marked stale
        (14, True, True),
        (9, False, False),  # an earlier frame (after a seek back): not drawn
        (10 + int(FPS * MAX_STALE_S) + 1, False, False),  # too old: not drawn
    ],
)
def test_staleness_rule(compositor, shown, drawn, stale):
    compositor.set_result(_result(10))
    result, is_stale = compositor.overlay_for(_frame(shown))
    assert (result is not None, is_stale) == (drawn, stale)


def test_a_stale_overlay_looks_different_from_a_fresh_one(compositor):
    compositor.set_result(_result(10))
    fresh, used = compositor.compose(_frame(10))
    stale = compositor.compose(_frame(12))[0]
    raw = _frame(12).image
    assert not np.array_equal(fresh, raw) and not np.array_equal(stale, raw)
    assert used.frame.index == 10
    assert not np.array_equal(fresh, stale)  # dashed grey outline and a 'stale' tag, never silent


def test_hidden_overlay_gives_the_raw_frame(compositor):
    compositor.set_result(_result(10))
    compositor.show_overlay = False
    frame = _frame(10)
    assert compositor.compose(frame)[0] is frame.image


def test_snapshot_image_is_the_results_own_frame(compositor):
    result = _result(10)
    annotated = compositor.compose_exact(result)
    assert annotated.shape == result.frame.image.shape and not np.array_equal(annotated, result.frame.image)


def _big_frame(index: int) -> tuple[Frame, Result]:
    """A 1920x1080 frame with a polyp outline at a known place (the 160x120 result scaled by 12 and 9)."""
    image = np.full((1080, 1920, 3), 90, np.uint8)
    frame = Frame(index=index, capture_time=0.0, image=image, pts_s=index / FPS)
    contour = np.array([[480, 270], [1200, 270], [1200, 810], [480, 810]], np.int32)
    polyp = Polyp(id=1, area=720 * 540, box=(480, 270, 721, 541), mean_prob=0.9, max_prob=0.97, contour=contour)
    return frame, Result(frame, np.zeros((256, 256), np.float32), None, (polyp,), {}, 0.0)


def test_the_overlay_is_drawn_at_the_displays_size_where_the_frame_shows_it():
    """compose_for_display draws on the scaled frame: the same tinted area as drawing at frame size
    and scaling, without the frame-size copy."""
    from engine.presenter import scale_for_display

    style = OverlayConfig(readout=False, labels=False)
    compositor = Compositor(lambda: style)
    frame, result = _big_frame(3)
    compositor.set_result(result)
    shown = compositor.compose_for_display(frame, (640, 360))
    assert shown.display.shape == (360, 640, 4) and shown.drawn and shown.result is result
    reference = scale_for_display(compositor.compose(frame)[0], (640, 360))
    raw = scale_for_display(frame.image, (640, 360))
    ours = np.any(shown.display[..., :3] != raw[..., :3], axis=2)
    theirs = np.any(reference[..., :3] != raw[..., :3], axis=2)
    assert ours.sum() > 0.15 * ours.size  # the fill covers the polyp (a quarter of the frame)
    assert (ours & theirs).sum() / (ours | theirs).sum() > 0.95
    ys, xs = np.nonzero(ours)
    assert abs(xs.min() - 160) <= 2 and abs(xs.max() - 400) <= 2 and abs(ys.min() - 90) <= 2
    compositor.show_overlay = False
    hidden = compositor.compose_for_display(frame, (640, 360))
    assert not hidden.drawn and np.array_equal(hidden.display, raw)
