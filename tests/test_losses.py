"""The hybrid loss, adversarial losses and per-image Dice against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("keras", reason="losses need Keras (make test installs it)")
pytestmark = pytest.mark.training

from training import losses  # noqa: E402

# One 2x2 image: truth [1, 1, 0, 0], prediction [1, 0.5, 0, 0].
T = np.array([1, 1, 0, 0], np.float32).reshape(1, 2, 2, 1)
P = np.array([1, 0.5, 0, 0], np.float32).reshape(1, 2, 2, 1)


def _f(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def test_bce_hand_value():
    # -ln(0.5) on one pixel, ~0 elsewhere (clipped at 1e-7), mean over 4 pixels.
    assert _f(losses.bce(T, P)) == pytest.approx(math.log(2) / 4, abs=1e-5)


def test_soft_iou_and_dice_hand_values():
    # foreground: inter 1.5, |t| 2, |p| 1.5 -> IoU (1.5+1)/(2+1.5-1.5+1) = 2.5/3
    assert _f(losses.soft_iou(T, P))[0] == pytest.approx(2.5 / 3, abs=1e-6)
    # background: t' [0,0,1,1], p' [0,0.5,1,1]: inter 2, |t'| 2, |p'| 2.5 -> 3/3.5
    assert _f(losses.soft_iou(1 - T, 1 - P))[0] == pytest.approx(3 / 3.5, abs=1e-6)
    assert _f(losses.weighted_iou(T, P))[0] == pytest.approx(0.7 * 2.5 / 3 + 0.3 * 3 / 3.5, abs=1e-6)
    # Dice (2*1.5+1)/(2+1.5+1)
    assert _f(losses.soft_dice(T, P))[0] == pytest.approx(4 / 4.5, abs=1e-6)


def test_hybrid_loss_hand_value():
    expected = 0.4 * math.log(2) / 4 + 0.3 * (1 - (0.7 * 2.5 / 3 + 0.3 * 3 / 3.5)) + 0.3 * (1 - 4 / 4.5)
    assert _f(losses.hybrid_loss(T, P)) == pytest.approx(expected, abs=1e-5)


def test_iou_and_dice_are_per_image_then_averaged():
    t = np.concatenate([T, np.ones_like(T)])
    p = np.concatenate([P, np.ones_like(P)])
    assert _f(losses.soft_dice(t, p)) == pytest.approx([4 / 4.5, 1.0], abs=1e-6)
    expected = 0.3 * (1 - (4 / 4.5 + 1) / 2)
    hybrid = _f(losses.hybrid_loss(t, p))
    bce = _f(losses.bce(t, p))
    wiou = _f(losses.weighted_iou(t, p)).mean()
    assert hybrid == pytest.approx(0.4 * bce + 0.3 * (1 - wiou) + expected, abs=1e-5)


def test_perfect_prediction_has_near_zero_loss():
    assert _f(losses.hybrid_loss(T, T)) == pytest.approx(0.0, abs=1e-5)


def test_adversarial_losses_hand_values():
    zero = np.zeros((2, 4, 4, 1), np.float32)
    assert _f(losses.generator_adversarial_loss(zero)) == pytest.approx(math.log(2), abs=1e-6)
    assert _f(losses.discriminator_loss(zero, zero)) == pytest.approx(2 * math.log(2), abs=1e-6)
    big = np.full((1, 2, 2, 1), 30.0, np.float32)
    assert _f(losses.generator_adversarial_loss(big)) == pytest.approx(0.0, abs=1e-6)
    assert _f(losses.discriminator_loss(big, -big)) == pytest.approx(0.0, abs=1e-6)


def test_dice_per_image_with_empty_masks():
    empty = np.zeros((1, 2, 2, 1), np.float32)
    assert _f(losses.dice_per_image(empty, empty))[0] == 1.0
    assert _f(losses.dice_per_image(empty, P))[0] == 0.0
    assert _f(losses.dice_per_image(T, P))[0] == pytest.approx(2 / 3)  # 0.5 is not > 0.5: one pixel
    assert _f(losses.dice_per_image(T, P, threshold=0.4))[0] == pytest.approx(1.0)
    assert _f(losses.dice_per_image(T, np.roll(T, 1)))[0] == pytest.approx(0.5)


def _faint_noise_on_empty_target() -> tuple[np.ndarray, np.ndarray]:
    """A polyp-free 64x64 target and a prediction whose probabilities add up to ~100 pixels (all < 0.05)."""
    t = np.zeros((1, 64, 64, 1), np.float32)
    p = np.full_like(t, 100.0 / t.size)
    return t, p


@pytest.mark.parametrize("loss", [losses.hybrid_loss, losses.hybrid_boundary_loss])
def test_empty_target_area_scoring_does_not_punish_invisible_probability(loss):
    t, p = _faint_noise_on_empty_target()
    # per image (smoothing 1): Dice 1/101 and foreground IoU 1/101 -> 0.3 * (0.7 + 1) * 100/101 + bce
    assert _f(loss(t, p, "per_image")) > 0.5
    # by area: both terms are the false-positive share 100 / 4096
    share = 100.0 / 4096
    bce = -math.log(1 - share)
    expected = 0.4 * bce + 0.3 * (0.7 * share + 0.3 * share) + 0.3 * share
    assert _f(loss(t, p, "area")) == pytest.approx(expected, rel=1e-3)
    # a visible false polyp (a quarter of the crop at 0.9) still costs more than faint noise
    blob = t.copy()
    blob[0, :32, :32] = 0.9
    assert _f(loss(t, blob, "area")) > 5 * _f(loss(t, p, "area"))


def test_empty_target_scoring_leaves_polyp_frames_unchanged():
    rng = np.random.default_rng(1)
    t = np.zeros((2, 32, 32, 1), np.float32)
    t[:, 8:24, 8:24] = 1.0
    p = rng.uniform(0, 1, t.shape).astype(np.float32)
    for loss in (losses.hybrid_loss, losses.hybrid_boundary_loss):
        assert _f(loss(t, p, "area")) == pytest.approx(_f(loss(t, p, "per_image")), abs=1e-6)
    named = losses.segmentation_loss("hybrid_boundary", "per_image")
    assert _f(named(t, p)) == pytest.approx(_f(losses.hybrid_boundary_loss(t, p, "per_image")), abs=1e-6)


@pytest.mark.parametrize("mode", ["area", "per_image"])
def test_a_mixed_batch_scores_each_image_on_its_own(mode):
    """Polyp-free and polyp images in one batch: the loss is the mean of their separate losses."""
    rng = np.random.default_rng(2)
    t = np.zeros((3, 32, 32, 1), np.float32)
    t[0, 4:20, 6:22] = 1.0
    t[2, 10:30, 0:12] = 1.0  # image 1 is polyp-free
    p = rng.uniform(0, 1, t.shape).astype(np.float32)
    for loss in (losses.hybrid_loss, losses.hybrid_boundary_loss):
        alone = [_f(loss(t[i:i + 1], p[i:i + 1], mode)) for i in range(3)]
        assert _f(loss(t, p, mode)) == pytest.approx(np.mean(alone), abs=1e-6)


def test_unknown_loss_settings_are_refused():
    with pytest.raises(ValueError, match="empty_target"):
        losses.hybrid_loss(T, P, "Area")
    with pytest.raises(ValueError, match="loss must be"):
        losses.segmentation_loss("dice")


def test_detection_weight_adds_the_frame_level_term_and_is_off_at_zero():
    rng = np.random.default_rng(3)
    truth = np.zeros((4, 64, 64, 1), np.float32)
    truth[:2, 20:40, 20:40] = 1  # two polyp frames, two polyp-free
    pred = (rng.random((4, 64, 64, 1)) * 0.3).astype(np.float32)
    pred[2, 5:8, 5:8] = 0.95  # a confident blob on a polyp-free frame: an alarm
    assert losses.alarm_pixels(truth.shape) == losses.alarm_pixels((64, 64)) == 3  # (B, H, W, 1) and (H, W)
    base = losses.segmentation_loss("hybrid_boundary")
    with_term = losses.configured_loss({"loss": "hybrid_boundary", "detection_weight": 2.0})  # what run.py trains on
    term = _f(losses.detection_loss(truth, pred))
    assert term > 0.5  # the blob (9 pixels >= the app's 3-pixel region on 64 x 64) costs
    assert _f(with_term(truth, pred)) == pytest.approx(_f(base(truth, pred)) + 2.0 * term, rel=1e-5)
    assert _f(losses.segmentation_loss("hybrid_boundary", detection_weight=0.0)(truth, pred)) == pytest.approx(
        _f(base(truth, pred)), rel=1e-7)
    quiet = pred.copy()
    quiet[2, 5:8, 5:8] = 0.0
    assert _f(losses.detection_loss(truth, quiet)) < term - 0.5  # removing the blob removes its cost
    assert losses.configured_loss({"loss": "hybrid_boundary"}).__name__ == base.__name__  # absent: off

def test_detection_loss_scores_the_alarm_the_app_would_raise_not_pixels():
    k = losses.alarm_pixels((64, 64), 0.0005)  # the app's smallest kept region on a 64 x 64 grid: 3 pixels
    assert k == 3
    q = np.zeros((3, 64, 64), np.float32)
    masks = np.zeros((3, 64, 64), np.float32)
    q[0, 10:12, 10:12] = 0.9  # polyp-free: a 4-pixel blob at 0.9, big enough to be reported
    q[1, 30, 30] = 0.9  # polyp-free: one pixel at 0.9, under the app's smallest region
    masks[2, 20:30, 20:30] = 1  # a polyp frame: found at 0.8 on its own pixels, a 0.99 blob elsewhere
    q[2, 20:30, 20:30] = 0.8
    q[2, 50:55, 50:55] = 0.99
    free = (-np.log(1 - 0.9) - np.log(1 - 0.9 / 3)) / 2
    missed = -np.log(0.8)  # the polyp's score is taken on its own pixels, never from the blob beside it
    got = float(losses.detection_loss(masks[..., None], q[..., None]))
    assert got == pytest.approx((free + missed) / 2, rel=1e-4)
    # each kind is averaged on its own: two more quiet polyp-free frames halve nothing of the miss
    quiet = np.zeros((2, 64, 64), np.float32)
    more = float(losses.detection_loss(np.concatenate([masks, quiet])[..., None],
                                      np.concatenate([q, quiet])[..., None]))
    assert more == pytest.approx((free * 2 / 4 + missed) / 2, rel=1e-4)
    only_free = float(losses.detection_loss(masks[:2, ..., None], q[:2, ..., None]))
    assert only_free == pytest.approx(free, rel=1e-4)  # one kind present: its mean alone


@pytest.mark.parametrize("side", [48, 64, 80])
def test_every_loss_traces_with_sides_known_only_at_run_time(side):
    """Multi-scale training under TensorFlow traces the loss with unknown sides: same values as eager,
    including the detection term's k (the app's smallest region at that side)."""
    tf = pytest.importorskip("tensorflow")
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the run-time-side path is TensorFlow's (JAX traces concrete shapes)")
    rng = np.random.default_rng(side)
    y_pred = rng.uniform(0.01, 0.99, (3, side, side, 1)).astype(np.float32)
    y_true = np.zeros_like(y_pred)
    y_true[0, 10:30, 10:30] = 1  # one polyp frame, two polyp-free ones
    loss = losses.segmentation_loss("hybrid_boundary", "area", detection_weight=0.1)
    traced = tf.function(loss, input_signature=[tf.TensorSpec((None, None, None, 1))] * 2)
    np.testing.assert_allclose(float(traced(y_true, y_pred)), float(loss(y_true, y_pred)), rtol=1e-5)
    at_run_time = tf.function(lambda p: losses._alarm_pixels_at_run_time(p, 0.0005),
                              input_signature=[tf.TensorSpec((None, None, None, 1))])
    assert int(at_run_time(y_pred)) == losses.alarm_pixels(y_pred.shape)
