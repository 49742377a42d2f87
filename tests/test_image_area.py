"""The endoscope's image area: found on a feed with black borders and on-screen text; used and blanked."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from engine.config import OverlayConfig
from engine.image_area import ImageAreaTracker, blank_outside, find_image_area
from engine.overlay import draw_overlay
from engine.results import Frame, Polyp

from conftest import DATA


def _feed(width: int = 960, height: int = 540) -> tuple[np.ndarray, np.ndarray]:
    """A video processor's frame: textured scope image in an octagon, black border, white text on it."""
    rng = np.random.default_rng(3)
    image = np.zeros((height, width, 3), np.uint8)
    cx, cy, r = width // 2 + 90, height // 2, int(height * 0.47)
    octagon = np.array([(cx + r * np.cos(a), cy + r * np.sin(a)) for a in np.linspace(np.pi / 8, 2 * np.pi + np.pi / 8,
                                                                                         8, endpoint=False)], np.int32)
    scene = cv2.GaussianBlur(rng.integers(60, 230, (height, width, 3), dtype=np.uint8), (0, 0), 6)
    scene[..., 2] = np.clip(scene[..., 2].astype(int) + 60, 0, 255)  # reddish mucosa
    inside = np.zeros((height, width), np.uint8)
    cv2.fillPoly(inside, [octagon], 255)
    image[inside > 0] = scene[inside > 0]
    for row, text in enumerate(("DOE^JANE", "ID 0012345", "2026-12-01 09:14", "CVP-190 Enh A5")):
        cv2.putText(image, text, (12, 40 + 34 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2)
    return image, inside > 0


def _mask_of(outline: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [outline.reshape(-1, 1, 2)], 1)
    return mask.astype(bool)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return (a & b).sum() / (a | b).sum()


def test_image_area_of_a_feed_with_black_borders_and_burned_in_text():
    image, truth = _feed()
    found = _mask_of(find_image_area(image), truth.shape)
    assert _iou(found, truth) > 0.97
    assert not found[:170, :300].any()  # the text block is outside


def test_whole_frame_when_there_is_no_border():
    image = np.full((200, 300, 3), 120, np.uint8)
    assert _mask_of(find_image_area(image), (200, 300)).mean() > 0.99
    dark = np.full((200, 300, 3), 10, np.uint8)  # a dark scene is not a border
    assert _mask_of(find_image_area(dark), (200, 300)).mean() > 0.99


def _region(x: int, y: int, side: int) -> Polyp:
    contour = np.array([[x, y], [x + side, y], [x + side, y + side], [x, y + side]], np.int32)
    return Polyp(0, side * side, (x, y, side, side), 0.9, 0.95, contour)


def test_detections_on_the_text_are_ignored_and_the_area_is_rechecked():
    image, _ = _feed()
    area = ImageAreaTracker(recheck_frames=3)
    area.update(image)
    on_text, on_mucosa = _region(20, 20, 60), _region(560, 240, 60)
    assert area.keep((on_text, on_mucosa)) == (on_mucosa,)
    first = area.outline
    area.update(image)
    area.update(image)
    assert area.outline is first  # not re-found before `recheck_frames`
    area.update(np.full_like(image, 128))
    assert _mask_of(area.outline, image.shape[:2]).mean() > 0.99  # re-found: now the whole frame


def test_blanking_the_text_is_a_setting_off_by_default():
    image, truth = _feed()
    outline = find_image_area(image)
    style = OverlayConfig(labels=False, readout=False)
    assert not style.blank_outside
    kept = draw_overlay(image, (), style, image_area=outline)
    assert np.array_equal(kept, image)  # off: the frame as it came
    blanked = draw_overlay(image, (), OverlayConfig(labels=False, readout=False, blank_outside=True),
                           image_area=outline)
    assert not blanked[:170, :300].any()  # the patient's name and date are gone
    inner = cv2.erode(truth.astype(np.uint8), np.ones((25, 25), np.uint8)) > 0  # the hull is found at 1/6 scale
    assert np.array_equal(blanked[inner], image[inner]) and np.array_equal(blank_outside(image, outline), blanked)


def test_the_engine_uses_the_area_on_a_real_cvc_frame(config):
    path = DATA / "cvc-clinicdb" / "images" / "1.jpg"
    if not path.is_file():
        pytest.skip(f"real dataset not available at {DATA} (the CI machine provides ../shared/data)")
    from engine.pipeline import FrameProcessor

    image = cv2.imread(str(path))
    result = FrameProcessor(config).process(Frame(0, time.monotonic(), image), config)
    area = _mask_of(result.image_area, image.shape[:2])
    assert 0.6 < area.mean() < 0.98  # ClinicDB frames: the scope's octagon inside a black margin
    assert not area[0, 0] and not area[-1, -1]
