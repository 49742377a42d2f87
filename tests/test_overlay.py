"""Overlay drawing: fill blend, untouched surroundings and input, labels, readout, stale marking."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from engine.config import OverlayConfig
from engine.overlay import draw_overlay, format_readout, hex_to_bgr
from engine.results import Polyp

NOTHING = OverlayConfig(contour=False, fill=False, labels=False, readout=False)
FILL_ONLY = dataclasses.replace(NOTHING, fill=True)


def _polyp_from_mask(mask: np.ndarray, polyp_id: int = 1, prob: float = 0.87) -> Polyp:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    contour = max(contours, key=cv2.contourArea).reshape(-1, 2).astype(np.int32)
    x, y, w, h = cv2.boundingRect(contour)
    return Polyp(polyp_id, int(mask.sum()), (x, y, w, h), prob, prob, contour)


def _disc(shape: tuple[int, int], cy: int, cx: int, r: int) -> np.ndarray:
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]]
    return (ys - cy) ** 2 + (xs - cx) ** 2 <= r * r


def _frame(shape: tuple[int, int], bgr=(100, 50, 200)) -> np.ndarray:
    return np.full((*shape, 3), bgr, np.uint8)


def test_hex_to_bgr():
    assert hex_to_bgr("#00ff66") == (102, 255, 0)
    assert hex_to_bgr("#FF0080") == (128, 0, 255)
    for bad in ("00ff6", "#00ff6g", "#00ff6601", ""):
        with pytest.raises(ValueError, match="colour"):
            hex_to_bgr(bad)


def test_format_readout():
    assert format_readout(23.94, 41.2, True) == "23.9 FPS | 41 ms | CRF on"
    assert format_readout(7.0, 140.6, False) == "7.0 FPS | 141 ms | CRF off"


@pytest.mark.parametrize("opacity", [None, 0.8])
def test_fill_blends_inside_and_leaves_outside_untouched(opacity):
    image = _frame((120, 160))
    inside = _disc((120, 160), 60, 70, 25)
    out = draw_overlay(image, [_polyp_from_mask(inside)], FILL_ONLY, opacity=opacity)
    alpha = FILL_ONLY.opacity if opacity is None else opacity
    expected = (1 - alpha) * np.array([100, 50, 200]) + alpha * np.array(hex_to_bgr(FILL_ONLY.color))
    assert np.abs(out[inside].astype(float) - expected).max() <= 1.0
    np.testing.assert_array_equal(out[~inside], image[~inside])


def test_everything_on_keeps_far_pixels_and_the_input():
    image = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    before = image.copy()
    polyp = _polyp_from_mask(_disc((240, 320), 150, 200, 30))
    out = draw_overlay(image, [polyp], OverlayConfig(), readout="23.9 FPS | 41 ms", stale=True)
    np.testing.assert_array_equal(image, before)
    assert out is not image and out.shape == image.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[200:, :100], image[200:, :100])  # far from everything drawn
    assert not np.array_equal(out, image)


def test_nothing_enabled_returns_an_identical_copy():
    image = np.random.default_rng(1).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    polyp = _polyp_from_mask(_disc((37, 53), 18, 26, 9))
    out = draw_overlay(image, [polyp], NOTHING, readout=None)
    np.testing.assert_array_equal(out, image)
    assert out is not image
    np.testing.assert_array_equal(draw_overlay(image, [polyp], NOTHING, readout="10 FPS"), image)


def test_contour_and_label_use_the_colour():
    image = _frame((200, 300), (0, 0, 0))
    polyp = _polyp_from_mask(_disc((200, 300), 120, 150, 40))
    style = dataclasses.replace(NOTHING, contour=True, labels=True, color="#ff0000")
    out = draw_overlay(image, [polyp], style)
    red = (out[..., 2] > 100) & (out[..., :2].max(axis=-1) < 40)  # anti-aliased edges included
    x, y, w, h = polyp.box
    assert red[y : y + h, x : x + w].sum() > 100  # the outline
    assert red[: y, x : x + w].any()  # the label tag sits above the box
    assert not red[y + 15 : y + h - 15, x + 15 : x + w - 15].any()  # no fill


def test_stale_result_is_grey_and_tagged():
    image = _frame((200, 300), (0, 0, 0))
    polyp = _polyp_from_mask(_disc((200, 300), 120, 150, 40))
    style = dataclasses.replace(NOTHING, contour=True)
    fresh = draw_overlay(image, [polyp], style)
    stale = draw_overlay(image, [polyp], style, stale=True)
    x, y, w, h = polyp.box
    green = fresh[y : y + h, x : x + w, 1].astype(int) - fresh[y : y + h, x : x + w, 2]
    assert (green > 60).sum() > 100
    drawn = stale[y : y + h, x : x + w]
    drawn = drawn[drawn.any(axis=-1)].astype(int)
    assert np.ptp(drawn, axis=-1).max() <= 2  # grey: equal channels
    outline = stale[y : y + h, x : x + w].any(axis=-1).sum()
    assert 0 < outline < fresh[y : y + h, x : x + w].any(axis=-1).sum()  # dashed: fewer pixels
    assert stale[:30, -60:].any() and not fresh[:30, -60:].any()  # the 'stale' tag, top right


def _readout_extent(width: int) -> tuple[int, int]:
    """Height and width of what the readout draws on a black 16:9 frame."""
    image = _frame((width * 9 // 16, width), (0, 0, 0))
    style = dataclasses.replace(NOTHING, readout=True)
    drawn = draw_overlay(image, [], style, readout=format_readout(30.0, 33.0, True)).any(axis=-1)
    ys, xs = np.nonzero(drawn)
    assert ys.min() > 0 and xs.min() > 0  # a small margin from the corner
    return ys.max() - ys.min(), xs.max() - xs.min()


def test_readout_scales_with_the_frame():
    small, large = _readout_extent(384), _readout_extent(1920)
    assert large[0] > 1.5 * small[0] and large[1] > 1.5 * small[1]
    assert small[1] < 384  # still fits the small frame


@pytest.mark.parametrize("shape", [(37, 53), (9, 7), (480, 641)])
def test_odd_sizes_and_polyps_at_the_border(shape):
    image = _frame(shape)
    mask = np.zeros(shape, bool)
    mask[: max(1, shape[0] // 3), -max(1, shape[1] // 3) :] = True  # touching the top-right corner
    polyp = _polyp_from_mask(mask, prob=0.5)
    out = draw_overlay(image, [polyp], OverlayConfig(), readout="1.0 FPS | 999 ms", stale=True)
    assert out.shape == image.shape


def test_label_stays_inside_the_image():
    image = _frame((100, 160), (0, 0, 0))
    mask = np.zeros((100, 160), bool)
    mask[0:20, 140:160] = True  # top-right: no room above, none to the right
    style = dataclasses.replace(NOTHING, labels=True, color="#ffffff")
    out = draw_overlay(image, [_polyp_from_mask(mask)], style)
    white = np.all(out == 255, axis=-1)
    ys, xs = np.nonzero(white)
    assert ys.min() >= 0 and xs.max() <= 159 and xs.min() < 140  # slid left to fit
