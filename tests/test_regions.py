"""Analysis at model resolution gives the outlines of analysis at frame resolution, for far less."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.postprocess import PolypExtractor
from engine.regions import find_regions, paste_mask

from conftest import DATA


def _only_at_the_outline(mask: np.ndarray, reference: np.ndarray) -> bool:
    """Every differing pixel touches the reference's outline (a rounding difference, nothing more)."""
    edge = cv2.morphologyEx(reference, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    return not np.any((mask != reference) & ~edge)


def _full_frame(prob, content, shape, threshold, min_area_frac):
    """The former path: the whole map resized to the frame, thresholded and labelled there."""
    x, y, w, h = content or (0, 0, prob.shape[1], prob.shape[0])
    full = cv2.resize(prob[y:y + h, x:x + w], (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return PolypExtractor().extract(full, threshold, min_area_frac)


@pytest.mark.parametrize("shape", [(500, 574), (1080, 1920), (719, 1281), (2160, 3840)])
@pytest.mark.parametrize("content", [None, (0, 32, 256, 192)])
def test_masks_and_regions_equal_the_frame_resolution_analysis(shape, content):
    rng = np.random.default_rng(len(shape) + shape[0])
    prob = cv2.GaussianBlur(rng.random((256, 256)).astype(np.float32), (0, 0), 6)
    prob = (prob - prob.min()) / (prob.max() - prob.min())
    for threshold in (0.5, 0.7):
        mask_full, full = _full_frame(prob, content, shape, threshold, 0.0005)
        regions = find_regions(prob, content, shape, threshold, 0.0005)
        mask = paste_mask(regions, shape)
        assert np.count_nonzero(mask != mask_full) <= 10 and _only_at_the_outline(mask, mask_full)
        assert sorted(r.area for r in regions) == pytest.approx(sorted(r.area for r in full), abs=2)
        assert len(regions) == len(full) > 0


def test_real_frames_through_the_real_model(model_path):
    path = DATA / "cvc-colondb" / "images"
    if not path.is_dir():
        pytest.skip(f"real dataset not available at {DATA} (the CI machine provides ../shared/data)")
    from engine.segmenter import Segmenter

    seg = Segmenter(model_path)
    differing = []
    for image_path in sorted(path.glob("*.jpg"))[:12]:
        frame = cv2.resize(cv2.imread(str(image_path)), (1920, 1080))
        out = seg.infer(frame)
        mask_full, _ = _full_frame(out.prob, out.content, frame.shape, 0.5, 0.0005)
        mask = paste_mask(find_regions(out.prob, out.content, frame.shape, 0.5, 0.0005), frame.shape)
        assert _only_at_the_outline(mask, mask_full)
        outline = cv2.morphologyEx(mask_full, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
        differing.append(np.count_nonzero(mask != mask_full) / max(1, np.count_nonzero(outline)))
    # float rounding flips a few outline pixels, and how many depends on the CPU's int8 kernels (at most 10
    # on earlier machines, 19 of a 14,000-pixel outline on a Xeon with AMX); a misplaced region flips thousands
    assert max(differing) <= 0.005


def test_no_region_gives_an_empty_mask():
    assert find_regions(np.zeros((256, 256), np.float32), None, (1080, 1920), 0.5, 0.0005) == ()
    assert not paste_mask((), (1080, 1920)).any()
