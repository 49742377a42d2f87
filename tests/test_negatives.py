"""Polyp-free crops, the boundary-weighted loss, deep supervision and negative mixing in the loader."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from training.negatives import MARGIN_FRAC, MIN_SIDE_FRAC, free_box, write_still_set

from conftest import DATA


def _dilated(mask: np.ndarray) -> np.ndarray:
    margin = max(1, int(round(MARGIN_FRAC * min(mask.shape))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    return cv2.dilate(mask, kernel)


def _blob_mask(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    for _ in range(rng.integers(1, 3)):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(5, w // 4)), int(rng.integers(5, h // 4)))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return mask


@pytest.mark.parametrize("seed", range(40))
def test_a_crop_never_touches_the_dilated_mask(seed):
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(200, 1100)), int(rng.integers(200, 1300))
    mask = _blob_mask(rng, h, w)
    box = free_box(mask)
    if box is None:
        return
    x, y, bw, bh = box
    assert x >= 0 and y >= 0 and x + bw <= w and y + bh <= h
    assert bw >= 0.95 * MIN_SIDE_FRAC * w and bh >= 0.95 * MIN_SIDE_FRAC * h
    assert not _dilated(mask)[y:y + bh, x:x + bw].any()


def test_a_small_polyp_in_a_corner_leaves_a_large_crop():
    mask = np.zeros((300, 400), np.uint8)
    cv2.circle(mask, (20, 20), 15, 1, -1)
    x, y, w, h = free_box(mask)
    assert w >= 0.75 * 400 and h >= 0.75 * 300
    assert not _dilated(mask)[y:y + h, x:x + w].any()


def test_a_frame_filled_by_its_polyp_gives_no_crop():
    mask = np.zeros((288, 384), np.uint8)
    cv2.ellipse(mask, (192, 144), (170, 125), 0, 0, 360, 1, -1)
    assert free_box(mask) is None
    assert free_box(np.ones((100, 100), np.uint8)) is None


def test_an_empty_mask_gives_the_whole_frame():
    assert free_box(np.zeros((50, 70), np.uint8)) == (0, 0, 70, 50)


def test_still_set_is_an_evaluable_polyp_free_folder(tmp_path):
    if not (DATA / "cvc-clinicdb").is_dir():
        pytest.skip(f"real dataset not available at {DATA} (the CI machine provides ../shared/data)")
    from training.data import find_samples, read_pair

    samples = find_samples(DATA / "cvc-clinicdb", "test")[:12]
    frames, crops = write_still_set(samples, tmp_path / "neg")
    assert frames == 12 and 0 < crops <= 12
    again = find_samples(tmp_path / "neg", "test")
    assert len(again) == crops
    for s in again:
        image, mask = read_pair(s)
        assert not mask.any()
        assert image.shape[0] >= 0.4 * 288 and image.shape[1] >= 0.4 * 384


def test_validation_stills_are_the_frames_themselves(tmp_path):
    if not (DATA / "cvc-clinicdb").is_dir():
        pytest.skip(f"real dataset not available at {DATA} (the CI machine provides ../shared/data)")
    from training.data import find_samples
    from training.negatives import copy_stills

    samples = find_samples(DATA / "cvc-clinicdb", "train")[:5]
    assert copy_stills(samples, tmp_path / "stills") == 5
    again = find_samples(tmp_path / "stills", "test")
    assert sorted(s.stem for s in again) == sorted(f"cvc-clinicdb_{s.stem}" for s in samples)
    for s in samples:  # byte copies: scored at the original resolution and encoding
        copied = tmp_path / "stills" / "images" / f"cvc-clinicdb_{s.stem}{s.image.suffix}"
        assert copied.read_bytes() == s.image.read_bytes()
        assert (tmp_path / "stills" / "masks" / f"cvc-clinicdb_{s.stem}{s.mask.suffix}").read_bytes() == \
            s.mask.read_bytes()


def test_fit_and_validation_frames_split_the_training_split_by_whole_sequences():
    if not (DATA / "cvc-clinicdb").is_dir():
        pytest.skip(f"real dataset not available at {DATA} (the CI machine provides ../shared/data)")
    from training.data import find_samples, fit_and_validation_samples, validation_samples

    fit, val = fit_and_validation_samples(DATA, ["cvc-clinicdb"], 0.1, 42)
    train = find_samples(DATA / "cvc-clinicdb", "train")
    assert sorted(s.stem for s in fit + val) == sorted(s.stem for s in train)  # nothing lost, no test frame
    assert {s.group for s in fit}.isdisjoint({s.group for s in val})  # no near-duplicate across the split
    assert 0.05 * len(train) <= len(val) <= 0.2 * len(train)
    assert [s.stem for s in validation_samples(DATA, ["cvc-clinicdb"], 0.1, 42)] == [s.stem for s in val]


def test_negatives_command_writes_fit_and_validation_stills_that_do_not_overlap(tmp_path, capsys):
    if not (DATA / "cvc-clinicdb").is_dir():
        pytest.skip(f"real dataset not available at {DATA} (the CI machine provides ../shared/data)")
    from training.data import find_samples
    from training.negatives import main

    assert main(["--data-root", str(DATA), "--test-sets", "cvc-clinicdb", "--out", str(tmp_path / "neg"),
                 "--val-stills", str(tmp_path / "val"), "--fit-stills", str(tmp_path / "fit")]) == 0
    fit = {s.stem for s in find_samples(tmp_path / "fit", "test")}
    val = {s.stem for s in find_samples(tmp_path / "val", "test")}
    train = {f"{ds}_{s.stem}" for ds in ("kvasir-seg", "cvc-clinicdb") for s in find_samples(DATA / ds, "train")}
    assert fit.isdisjoint(val) and fit | val == train
    assert f"training frames: {len(fit)} copied" in capsys.readouterr().out


# --- training side (Keras) ---------------------------------------------------------------------

def test_boundary_weights_peak_at_the_outline_and_are_one_far_from_it():
    pytest.importorskip("keras", reason="training needs Keras/TensorFlow (make test installs them)")
    from training.losses import boundary_weights

    mask = np.zeros((1, 96, 96, 1), np.float32)
    mask[0, 24:72, 24:72] = 1.0
    w = np.asarray(boundary_weights(mask))[0, :, :, 0]
    assert w[2, 2] == pytest.approx(1.0) and w[48, 48] == pytest.approx(1.0)
    assert w[24, 48] > 2.5 and w[23, 48] > 2.0
    assert np.asarray(boundary_weights(np.zeros((1, 32, 32, 1), np.float32))) == pytest.approx(1.0)


def test_hybrid_boundary_loss_ranks_predictions_like_the_hybrid_loss():
    pytest.importorskip("keras", reason="training needs Keras/TensorFlow (make test installs them)")
    from training.losses import hybrid_boundary_loss, hybrid_loss

    truth = np.zeros((2, 64, 64, 1), np.float32)
    truth[0, 16:48, 16:48] = 1.0  # second image polyp-free
    good = np.clip(truth * 0.9 + 0.05, 0, 1)
    shifted = np.roll(good, 8, axis=2)
    for loss in (hybrid_loss, hybrid_boundary_loss):
        assert float(loss(truth, good)) < float(loss(truth, shifted)) < float(loss(truth, 1 - good))
    # the outline band weighs more: a prediction wrong only at the outline costs more than unweighted
    eroded = truth.copy()
    eroded[0, 16:20], eroded[0, 44:48], eroded[0, :, 16:20], eroded[0, :, 44:48] = 0, 0, 0, 0
    assert float(hybrid_boundary_loss(truth, eroded)) > float(hybrid_loss(truth, eroded))


def test_deep_supervision_heads_train_but_are_not_part_of_the_generator(tmp_path):
    pytest.importorskip("keras", reason="training needs Keras/TensorFlow (make test installs them)")
    from training.losses import deep_supervision_loss, hybrid_loss
    from training.model import build_generator, count_parameters, with_auxiliary_heads

    generator = build_generator(64)
    params = count_parameters(generator)
    trainer = with_auxiliary_heads(generator)
    assert trainer.output_shape == (None, 64, 64, 4)
    assert count_parameters(generator) == params  # heads are outside the shipped model
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    stacked = np.asarray(trainer(x, training=False))
    assert np.allclose(stacked[..., :1], np.asarray(generator(x, training=False)), atol=1e-5)
    y = np.zeros((2, 64, 64, 1), np.float32)
    total = float(deep_supervision_loss(hybrid_loss)(y, stacked))
    assert total > float(hybrid_loss(y, stacked[..., :1]))  # the auxiliary terms are counted
    generator.save_weights(tmp_path / "g.weights.h5")
    fresh = build_generator(64)
    fresh.load_weights(tmp_path / "g.weights.h5")  # loads: no auxiliary weights in the file
    assert not any(layer.name.startswith("aux_") for layer in fresh.layers)


def test_frame_batches_mix_polyp_free_crops_at_the_asked_rate():
    pytest.importorskip("keras", reason="training needs Keras/TensorFlow (make test installs them)")
    from training.augment import FrameBatches

    rng = np.random.default_rng(1)
    images = rng.integers(0, 255, (16, 96, 96, 3), dtype=np.uint8)
    masks = np.zeros((16, 96, 96), np.uint8)
    masks[:, 10:30, 10:30] = 255  # small corner polyp: every frame has a crop
    empty = total = 0
    for rate, expect in ((0.0, 0.0), (1.0, 1.0), (0.5, 0.5)):
        batches = FrameBatches(images, masks, 8, 64, train=True, seed=3, negative_rate=rate)
        empty = total = 0
        for _epoch in range(6):
            for i in range(len(batches)):
                _, y = batches[i]
                empty += int((y.reshape(len(y), -1).max(axis=1) == 0).sum())
                total += len(y)
            batches.on_epoch_end()
        share = empty / total
        if expect in (0.0, 1.0):
            # rate 0: a polyp frame's augmentation can still push the polyp out of view, rarely
            assert share == 1.0 if expect == 1.0 else share < 0.2
        else:
            assert 0.35 < share < 0.75
