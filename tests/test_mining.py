"""Hard-negative mining (draw weights, the loader's use of them, the callback) and the loader's epoch on resume."""

from __future__ import annotations

import numpy as np
import pytest

from training.mining import alarm_scores, sampling_probabilities


def test_sampling_probabilities_mix_uniform_and_score_proportional_mass():
    scores = np.array([0.0, 0.0, 1.0, 3.0])
    np.testing.assert_allclose(sampling_probabilities(scores, 0.0), 0.25)
    np.testing.assert_allclose(sampling_probabilities(scores, 1.0), [0, 0, 0.25, 0.75])
    np.testing.assert_allclose(sampling_probabilities(scores, 0.5), [0.125, 0.125, 0.25, 0.5])
    np.testing.assert_allclose(sampling_probabilities(np.zeros(5), 0.8), 0.2)  # a quiet model: uniform
    np.testing.assert_allclose(sampling_probabilities(np.array([np.nan, np.inf, 1.0, 0.0]), 1.0),
                               [0, 0, 1, 0])  # weights gone NaN must not crash the loader thread
    with pytest.raises(ValueError, match="share"):
        sampling_probabilities(scores, 1.5)
    with pytest.raises(ValueError, match="no polyp-free"):
        sampling_probabilities(np.zeros(0), 0.5)


def _brightness_model(x: np.ndarray, training: bool = False) -> np.ndarray:
    """A stand-in segmenter whose 'polyp' probability is the pixel's brightness (deterministic)."""
    return np.asarray(x, np.float32).mean(axis=-1, keepdims=True) / 255.0


def _frames(n: int = 8, bright: tuple[int, ...] = (2, 5)) -> tuple[np.ndarray, np.ndarray]:
    images = np.full((n, 96, 96, 3), 10, np.uint8)
    for i in bright:
        images[i] = 250  # mucosa the stand-in 'outlines'
    masks = np.zeros((n, 96, 96), np.uint8)
    masks[:, 70:90, 70:90] = 255  # a small polyp in a corner: every frame gives a crop
    images[:, 70:90, 70:90] = 128
    return images, masks


def test_alarm_scores_rank_alarmed_crops_first():
    crops = np.stack([np.full((32, 32, 3), v, np.float32) for v in (0.0, 60.0, 250.0)])
    scores, alarmed = alarm_scores(_brightness_model, crops)
    assert alarmed.tolist() == [False, False, True]
    assert scores[2] > 1.0 > scores[1] > scores[0] == 0.0


def test_loader_draws_polyp_free_crops_by_the_mined_weights():
    pytest.importorskip("keras", reason="training needs Keras/TensorFlow (make test installs them)")
    from training.augment import FrameBatches

    images, masks = _frames()
    batches = FrameBatches(images, masks, 4, 64, train=True, seed=1, negative_rate=1.0)
    inputs = batches.negative_inputs()
    assert inputs.shape == (len(batches.negatives), 64, 64, 3) == (8, 64, 64, 3)
    frame_of = [i for i, _ in batches.negatives]
    assert inputs[frame_of.index(2)].min() == 250 and inputs[frame_of.index(0)].max() == 10  # polyp cut away
    rng = np.random.default_rng(0)
    assert len({batches.pick_negative(rng) for _ in range(200)}) == 8  # unmined: every crop is drawn
    batches.negative_p = np.eye(8)[3]
    assert {batches.pick_negative(rng) for _ in range(50)} == {3}
    batches.negative_p = np.eye(8)[frame_of.index(5)]  # every draw: the bright frame's crop
    x, y = batches[0]
    assert y.max() == 0  # negatives keep all-background targets
    assert (x.reshape(len(x), -1).mean(axis=1) > 120).all()  # and every sample is that crop (dark ones: ~10)


def test_mining_needs_polyp_free_crops():
    keras = pytest.importorskip("keras", reason="training needs Keras/TensorFlow (make test installs them)")
    from engine.errors import DataError
    from training.augment import FrameBatches
    from training.run import mining_callback

    images, masks = _frames()
    with pytest.raises(DataError, match="negative_rate"):
        mining_callback(keras, _brightness_model, FrameBatches(images, masks, 4, 64, train=True), share=0.5)


def test_detection_weight_flag_refuses_negatives(capsys):
    from training.train import parse_args

    assert parse_args(["--detection-weight", "0.1"]).detection_weight == 0.1
    with pytest.raises(SystemExit) as exc:
        parse_args(["--detection-weight", "-1"])
    assert exc.value.code == 2 and "must be 0 or more" in capsys.readouterr().err


def test_hard_negative_flag_takes_0_to_1(capsys):
    from training.train import parse_args

    assert parse_args(["--hard-negatives", "0"]).hard_negatives == 0.0
    assert parse_args(["--hard-negatives", "1", "--negative-rate", "0"]).negative_rate == 0.0
    with pytest.raises(SystemExit) as exc:
        parse_args(["--hard-negatives", "1.5"])
    assert exc.value.code == 2 and "from 0 to 1" in capsys.readouterr().err


def test_a_resumed_log_keeps_its_columns(tmp_path, capsys):
    keras = pytest.importorskip("keras", reason="training needs Keras/TensorFlow (make test installs them)")
    from training.run import resumable_csv_logger

    log = tmp_path / "log.csv"
    log.write_text("epoch,dice,val_dice\n0,0.5,0.6\n")
    logger = resumable_csv_logger(keras, log)
    logger.on_train_begin()
    logger.on_epoch_end(1, {"dice": 0.7, "val_dice": 0.8, "train_negative_alarms": 0.25})  # a new column
    logger.on_epoch_end(2, {"val_dice": 0.9})
    logger.on_train_end()
    assert log.read_text().splitlines() == ["epoch,dice,val_dice", "0,0.5,0.6", "1,0.7,0.8", "2,NA,0.9"]
    assert "train_negative_alarms" in capsys.readouterr().out


def test_mining_callback_concentrates_draws_on_the_crops_the_model_alarms_on():
    keras = pytest.importorskip("keras", reason="training needs Keras/TensorFlow (make test installs them)")
    from training.augment import FrameBatches
    from training.run import mining_callback

    images, masks = _frames(bright=(2, 5))
    batches = FrameBatches(images, masks, 4, 64, train=True, seed=1, negative_rate=1.0)
    callback = mining_callback(keras, _brightness_model, batches, share=0.8)
    callback.on_epoch_begin(0)
    logs: dict = {}
    callback.on_epoch_end(0, logs)
    assert logs["train_negative_alarms"] == pytest.approx(2 / 8)
    frame_of = np.array([i for i, _ in batches.negatives])
    hard = np.isin(frame_of, (2, 5))
    # alarmed crops score 1 + their mean probability, the dark ones only their mean probability
    hard_score, quiet_score = 1 + 250 / 255, 10 / 255
    expected = 0.2 * 2 / 8 + 0.8 * 2 * hard_score / (2 * hard_score + 6 * quiet_score)
    assert batches.negative_p[hard].sum() == pytest.approx(expected, abs=1e-6)
    rng = np.random.default_rng(4)
    drawn = frame_of[[batches.pick_negative(rng) for _ in range(400)]]
    assert 0.75 < np.isin(drawn, (2, 5)).mean() < 0.95


def test_a_resumed_run_draws_the_epoch_it_resumes_at():
    keras = pytest.importorskip("keras", reason="training needs Keras/TensorFlow (make test installs them)")
    from training.augment import FrameBatches
    from training.run import loader_epoch_callback

    images, masks = _frames()
    uninterrupted = FrameBatches(images, masks, 4, 64, train=True, seed=1, negative_rate=0.5)
    for _ in range(3):
        uninterrupted.on_epoch_end()
    resumed = FrameBatches(images, masks, 4, 64, train=True, seed=1, negative_rate=0.5)  # a fresh process
    first_epoch = resumed[0][0]
    loader_epoch_callback(keras, resumed).on_epoch_begin(3)
    assert resumed.epoch == 3
    np.testing.assert_array_equal(resumed.order, uninterrupted.order)
    np.testing.assert_array_equal(resumed[1][0], uninterrupted[1][0])
    assert not np.array_equal(resumed[0][0], first_epoch)
