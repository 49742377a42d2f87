"""Model, ImageNet import, batch-norm handling, augmentation and a real 2-step train + resume."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("keras", reason="training needs Keras/TensorFlow (make test installs them)")
pytestmark = pytest.mark.training

from conftest import DATA, ROOT  # noqa: E402

WEIGHTS = ROOT.parent / "shared" / "weights"


def test_generator_matches_the_paper():
    from training.model import build_discriminator, build_generator, count_parameters

    g = build_generator(256)
    assert g.input_shape == (None, 256, 256, 3) and g.output_shape == (None, 256, 256, 1)
    assert 1_070_000 <= count_parameters(g) <= 1_090_000  # paper: ~1.07-1.08 M incl. batch-norm
    encoder = g.get_layer("encoder")
    assert [t.shape[1] for t in encoder.outputs] == [16, 128, 64, 32]
    d = build_discriminator(256)
    assert d.output_shape == (None, 8, 8, 1)


def test_generator_normalises_raw_pixels_inside():
    from training.model import build_generator

    g = build_generator(64)
    norm = g.get_layer("normalise")
    out = np.asarray(norm(np.array([[[[0.0, 127.5, 255.0]]]], np.float32)))
    assert out.ravel() == pytest.approx([-1.0, 0.0, 1.0])


@pytest.mark.data
@pytest.mark.slow
def test_imagenet_import_top5_matches_tflite():
    if not (WEIGHTS / "cat.bmp").is_file():
        pytest.skip(f"ImageNet weights not available at {WEIGHTS}")
    from training.imagenet import keras_top5, tflite_top5

    image = cv2.imread(str(WEIGHTS / "cat.bmp"))[:, :, ::-1]
    image = cv2.resize(image, (224, 224), interpolation=cv2.INTER_AREA)
    tfl = WEIGHTS / "tf2_mobilenet_v2_1.0_224_ptq.tflite"
    expected, got = tflite_top5(tfl, image), keras_top5(tfl, image)
    labels = (WEIGHTS / "imagenet_labels.txt").read_text().splitlines()
    assert labels[got[0]] == "Egyptian cat"
    assert got[0] == expected[0]
    assert len(set(got) & set(expected)) >= 3  # the TFLite file runs int8 activations; Keras float


def test_frozen_encoder_batchnorm_gives_same_output_in_both_modes():
    from training.model import build_generator, freeze_encoder_batchnorm

    g = build_generator(64)
    assert freeze_encoder_batchnorm(g) == 40
    enc = g.get_layer("encoder")
    x = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    train_out = [np.asarray(t) for t in enc(x, training=True)]
    infer_out = [np.asarray(t) for t in enc(x, training=False)]
    for a, b in zip(train_out, infer_out, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_recalibrated_batchnorm_makes_inference_match_training():
    from training.bn import recalibrate_batchnorm, trainable_batchnorms
    from training.model import build_generator, freeze_encoder_batchnorm

    g = build_generator(64)
    freeze_encoder_batchnorm(g)
    assert len(trainable_batchnorms(g)) == 12  # decoder only: 4 blocks x (reduce, conv, shortcut)
    x = np.random.default_rng(1).uniform(0, 255, (4, 64, 64, 3)).astype(np.float32)
    before = np.abs(np.asarray(g(x, training=False)) - np.asarray(g(x, training=True))).max()
    recalibrate_batchnorm(g, [x])
    after = np.abs(np.asarray(g(x, training=False)) - np.asarray(g(x, training=True))).max()
    assert after < 1e-3 < before


def _blocks_image(rng: np.random.Generator, size: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """An image whose red channel is the mask: alignment can be read back from the pixels."""
    mask = np.zeros((size, size), np.uint8)
    for _ in range(4):
        x, y, w, h = rng.integers(0, size - 30, 4) % (size - 40) + 10
        mask[y:y + h // 2 + 8, x:x + w // 3 + 8] = 255
    image = np.zeros((size, size, 3), np.uint8)
    image[..., 0] = mask
    image[..., 1] = rng.integers(0, 60, (size, size))
    return image, mask


@pytest.mark.parametrize("seed", range(6))
def test_augmentation_keeps_image_and_mask_aligned(seed):
    from training.augment import augment_pair

    rng = np.random.default_rng(seed)
    image, mask = _blocks_image(rng)
    img, msk = augment_pair(np.random.default_rng(100 + seed), image, mask, 128, colour=False)
    assert img.shape == (128, 128, 3) and msk.shape == (128, 128)
    from_pixels, from_mask = img[..., 0] > 127, msk > 127
    if from_mask.sum() > 50:
        assert (from_pixels == from_mask).mean() > 0.995
    # colour jitter is drawn after the geometry: same seed, same geometry, mask untouched
    img2, msk2 = augment_pair(np.random.default_rng(100 + seed), image, mask, 128, colour=True)
    np.testing.assert_array_equal(msk, msk2)


def test_every_augment_the_config_accepts_exists():
    from training.augment import AUGMENTS
    from training.train import config_choices

    assert set(AUGMENTS) == set(config_choices("augment"))


def test_photometric_augmentation_degrades_the_image_only():
    from training.augment import AUGMENTS, augment_pair

    image, mask = _blocks_image(np.random.default_rng(7))
    std_img, std_msk = augment_pair(np.random.default_rng(3), image, mask, 128, AUGMENTS["standard"])
    img, msk = augment_pair(np.random.default_rng(3), image, mask, 128, AUGMENTS["photometric"])
    np.testing.assert_array_equal(msk, std_msk)  # same geometry: the degradations are drawn after it
    assert img.dtype == np.uint8 and img.shape == std_img.shape and not np.array_equal(img, std_img)
    # the standard stream of draws is what it was before the degradations existed
    plain = augment_pair(np.random.default_rng(3), image, mask, 128)[0]
    np.testing.assert_array_equal(plain, std_img)


def _sharpness(image: np.ndarray) -> float:
    return float(cv2.Laplacian(image, cv2.CV_64F).var())


@pytest.mark.parametrize("option, check", [
    ("blur", lambda before, after: _sharpness(after) < 0.5 * _sharpness(before)),
    ("gamma", lambda before, after: after.mean() < before.mean() - 5),
    ("jpeg", lambda before, after: 0 < np.abs(after.astype(int) - before).mean() < 20),
    ("noise", lambda before, after: 1 < (after.astype(float) - before).std() < 20),
    ("saturation", lambda before, after: not np.array_equal(before, after)),
])
def test_each_degradation_does_what_it_says(option, check):
    from training.augment import AugmentConfig, degrade

    cfg = {"blur": AugmentConfig(blur_p=1.0, blur_sigma=(1.5, 1.5)),
           "gamma": AugmentConfig(gamma=(1.4, 1.4)),
           "jpeg": AugmentConfig(jpeg_p=1.0, jpeg_quality=(30, 30)),
           "noise": AugmentConfig(noise_p=1.0, noise_sigma=10.0),
           "saturation": AugmentConfig(saturation=0.5)}[option]
    rng = np.random.default_rng(0)
    before = cv2.GaussianBlur(rng.integers(40, 215, (96, 96, 3), dtype=np.uint8), (0, 0), 1.0)
    before[::8] = (200, 60, 60)  # stripes: edges for blur and JPEG, colour for saturation
    after = degrade(np.random.default_rng(1), before, cfg)
    assert after.shape == before.shape and after.dtype == np.uint8
    assert check(before, after)
    assert np.array_equal(degrade(np.random.default_rng(1), before, AugmentConfig()), before)  # all off: untouched


def test_frame_batches_shapes_and_repeatability():
    from training.augment import FrameBatches

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (10, 80, 80, 3), dtype=np.uint8)
    masks = (rng.random((10, 80, 80)) > 0.5).astype(np.uint8) * 255
    train = FrameBatches(images, masks, 4, 64, train=True, seed=3)
    x, y = train[0]
    assert len(train) == 2 and x.shape == (4, 64, 64, 3) and y.shape == (4, 64, 64, 1)
    assert x.dtype == np.float32 and set(np.unique(y)) <= {0.0, 1.0}
    np.testing.assert_array_equal(x, FrameBatches(images, masks, 4, 64, train=True, seed=3)[0][0])
    val = FrameBatches(images, masks, 4, 64, train=False)
    assert len(val) == 3 and val[2][0].shape == (2, 64, 64, 3)


def test_multi_scale_sides_are_multiples_of_the_stride():
    from training.augment import multi_scale_sizes

    assert multi_scale_sizes(256) == (192, 256, 320)  # PraNet's 0.75 / 1 / 1.25
    assert multi_scale_sizes(352) == (256, 352, 448)
    assert multi_scale_sizes(320) == (256, 320, 416)  # 400 rounds half up to 416, 240 to 256
    assert multi_scale_sizes(32) == (32,)  # 24 and 40 round to 32: one side left (refused by training)
    assert all(s % 32 == 0 for s in multi_scale_sizes(320))


def test_any_size_upsampling_rebuilds_from_its_config():
    from training.model import AnySizeBilinearUp

    layer = AnySizeBilinearUp(4, "aux_up")
    again = AnySizeBilinearUp.from_config(layer.get_config())  # clone_model and loading do this
    assert (again.name, again.size, again.interpolation) == ("aux_up", (4, 4), "bilinear")


def test_multi_scale_batches_take_each_side_in_turn():
    from training.augment import FrameBatches

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (24, 80, 80, 3), dtype=np.uint8)
    masks = np.zeros((24, 80, 80), np.uint8)
    masks[:, 20:60, 30:50] = 255
    images[..., 0] = masks  # the red channel marks the polyp: image and mask must stay aligned
    fixed = FrameBatches(images, masks, 4, 64, train=True, seed=3)
    multi = FrameBatches(images, masks, 4, 64, train=True, seed=3, sizes=(32, 64, 96))
    for epoch in (0, 1):
        fixed.start_epoch(epoch)
        multi.start_epoch(epoch)
        sides = [multi[i][0].shape[1] for i in range(len(multi))]
        assert sorted(sides) == [32, 32, 64, 64, 96, 96]  # each side a third of the steps
        assert all(a != b for a, b in zip(sides, sides[1:], strict=False))  # Keras' two-batch shape peek
        for i in range(len(multi)):
            x, y = multi[i]
            assert x.shape[1:3] == y.shape[1:3] == (sides[i], sides[i])
            polyp = y[..., 0] > 0.5
            if polyp.sum() > 50:
                assert ((x[..., 0] > 127) == polyp).mean() > 0.98
            if sides[i] == 64:  # same samples, same draws as the fixed-size run
                np.testing.assert_array_equal(x, fixed[i][0])
    val = FrameBatches(images, masks, 4, 64, train=False, sizes=(32, 64, 96))
    assert {val[i][0].shape[1] for i in range(len(val))} == {64}  # validation at the input size only


def test_multi_scale_training_runs_and_exports_at_the_fixed_size(tmp_path, monkeypatch, capsys):
    """A tiny real run at sides 96 / 128 / 160; its weights load into the fixed 128 generator export builds."""
    import training.train as train_mod
    from engine.errors import DataError
    from training.model import build_generator

    _tiny_dataset(tmp_path)
    cfg = train_mod.load_training_config()
    monkeypatch.setattr(train_mod, "load_training_config", lambda path=None: cfg.__class__(
        **{**cfg.__dict__, "train_sets": ["tiny"], "val_fraction": 0.2}))
    args = ["--data-root", str(tmp_path), "--out-dir", str(tmp_path / "run"), "--cache", str(tmp_path / "c.npz"),
            "--epochs", "1", "--steps-per-epoch", "3", "--batch-size", "2", "--input-size", "128",
            "--cache-size", "160", "--adversarial-weight", "0", "--recalibrate-frames", "4", "--multi-scale",
            "--negative-rate", "0.3", "--detection-weight", "0.1", "--augment", "photometric",
            "--no-imagenet"]
    assert train_mod.main(args) == 0
    assert "multi-scale sides (96, 128, 160)" in capsys.readouterr().out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["config"]["multi_scale"] is True and summary["epochs_done"] == 1
    fixed, any_size = build_generator(128), build_generator(None)
    for generator in (fixed, any_size):
        generator.load_weights(tmp_path / "run" / "final.weights.h5")
    assert fixed.input_shape == (None, 128, 128, 3)
    x = np.random.default_rng(0).uniform(0, 255, (2, 128, 128, 3)).astype(np.float32)
    # in graph mode (predict), the any-size upsampling computes what Keras' fixed-size layer does
    np.testing.assert_allclose(any_size.predict(x, verbose=0), fixed.predict(x, verbose=0), atol=1e-5)
    gan = [*args, "--adversarial-weight", "0.1", "--out-dir", str(tmp_path / "gan")]  # the last flag wins
    assert train_mod.main(gan) == DataError.exit_code
    one_batch = [*args, "--steps-per-epoch", "1", "--out-dir", str(tmp_path / "one")]
    assert train_mod.main(one_batch) == DataError.exit_code  # Keras would fix the shape from one batch
    assert "at least 2 training batches" in capsys.readouterr().err


def _tiny_dataset(root: Path, n: int = 10) -> Path:
    """Real Kvasir-SEG frames cropped around their polyp and shrunk: a tiny train set."""
    src = DATA / "kvasir-seg"
    if not src.is_dir():
        pytest.skip(f"real dataset not available at {src} (the CI machine provides ../shared/data)")
    stems = (src / "train.txt").read_text().split()[:n]
    out = root / "tiny"
    (out / "images").mkdir(parents=True)
    (out / "masks").mkdir()
    for stem in stems:
        image = cv2.resize(cv2.imread(str(src / "images" / f"{stem}.jpg")), (96, 96))
        mask = cv2.resize(cv2.imread(str(src / "masks" / f"{stem}.png"), 0), (96, 96))
        cv2.imwrite(str(out / "images" / f"{stem}.jpg"), image)
        cv2.imwrite(str(out / "masks" / f"{stem}.png"), mask)
    (out / "train.txt").write_text("\n".join(stems) + "\n")
    return out


def _train(root: Path, out: Path, epochs: int, adversarial: float = 0.0, extra: tuple[str, ...] = ()) -> int:
    from training.train import main

    return main(["--data-root", str(root), "--out-dir", str(out), "--cache", str(root / "cache.npz"),
                 "--epochs", str(epochs), "--steps-per-epoch", "2", "--batch-size", "2", "--input-size", "64",
                 "--cache-size", "80", "--adversarial-weight", str(adversarial), "--recalibrate-frames", "4",
                 *extra])


def test_a_run_seed_replicate_keeps_the_validation_split(tmp_path, monkeypatch):
    """--run-seed changes the run's own randomness, not the validation split (the cache's seed)."""
    import training.train as train_mod

    _tiny_dataset(tmp_path)
    cfg = train_mod.load_training_config()
    monkeypatch.setattr(train_mod, "load_training_config", lambda path=None: cfg.__class__(
        **{**cfg.__dict__, "train_sets": ["tiny"], "val_fraction": 0.2}))
    assert train_mod.resolve(train_mod.parse_args([]))["run_seed"] == cfg.seed
    assert _train(tmp_path, tmp_path / "a", epochs=1) == 0
    assert _train(tmp_path, tmp_path / "b", epochs=1, extra=("--run-seed", "7")) == 0  # same cache: not refused
    from engine.errors import DataError

    assert _train(tmp_path, tmp_path / "c", epochs=1, extra=("--seed", "7")) == DataError.exit_code  # another split
    a, b = (json.loads((tmp_path / run / "summary.json").read_text()) for run in ("a", "b"))
    assert (a["config"]["seed"], a["config"]["run_seed"]) == (cfg.seed, cfg.seed)
    assert (b["config"]["seed"], b["config"]["run_seed"]) == (cfg.seed, 7)
    assert a["val_frames"] == b["val_frames"]
    assert a["val_dice_final"] != b["val_dice_final"]  # another initialisation and sample stream


def test_selection_prefers_epochs_within_the_false_alarm_limit():
    from training.run import NO_BEST, is_better

    best = {"val_dice": 0.90, "eligible": False}  # the best so far outlines healthy mucosa
    assert is_better(0.85, True, best)  # any eligible epoch replaces it, even at lower Dice
    assert not is_better(0.95, False, {"val_dice": 0.85, "eligible": True})
    assert is_better(0.86, True, {"val_dice": 0.85, "eligible": True})
    assert not is_better(0.85, True, {"val_dice": 0.85, "eligible": True})  # ties keep the earlier epoch
    assert is_better(0.2, False, NO_BEST)  # the first epoch is always kept
    assert not is_better(0.80, True, {"val_dice": 0.81})  # best.json from before the limit counts as eligible
    assert not is_better(float("nan"), True, NO_BEST)  # a nan epoch is never kept...
    assert is_better(0.5, True, {"val_dice": float("nan"), "eligible": True})  # ...nor blocks later ones


def test_resumed_selection_judges_the_saved_best_against_the_limit_in_force():
    from training.run import reload_best

    saved = {"val_dice": 0.9, "epoch": 3, "val_false_alarms": 0.2, "eligible": True, "max_false_alarms": 1.0}
    assert reload_best(saved, 0.1)["eligible"] is False
    assert reload_best(saved, 0.25)["eligible"] is True
    legacy = {"val_dice": 0.9, "epoch": 3}  # written before false alarms were stored
    assert reload_best(legacy, 1.0)["eligible"] is True and reload_best(legacy, 0.1)["eligible"] is False


@pytest.mark.data
@pytest.mark.slow
def test_two_step_training_checkpoints_and_resumes(tmp_path, monkeypatch):
    import training.train as train_mod

    data = _tiny_dataset(tmp_path)
    cfg = train_mod.load_training_config()
    monkeypatch.setattr(train_mod, "load_training_config", lambda path=None: cfg.__class__(
        **{**cfg.__dict__, "train_sets": ["tiny"], "val_fraction": 0.2}))
    out = tmp_path / "run"
    import threading

    from training.augment import FrameBatches

    drawn: list[int] = []  # the loader epoch of every training batch the loader threads prepare
    original = FrameBatches.__getitem__

    def recording(self, index):
        # (the main thread only peeks at batches for Keras' tensor signature before training)
        if self.train and threading.current_thread() is not threading.main_thread():
            drawn.append(self.epoch)
        return original(self, index)

    monkeypatch.setattr(FrameBatches, "__getitem__", recording)
    assert _train(tmp_path, out, epochs=1) == 0
    assert set(drawn) == {0}
    drawn.clear()
    for name in ("best.weights.h5", "final.weights.h5", "summary.json", "log.csv", "backup"):
        assert (out / name).exists(), name
    assert (tmp_path / "cache.npz").is_file() and data.is_dir()
    assert _train(tmp_path, out, epochs=2) == 0  # resumes at epoch 2 from the backup
    assert set(drawn) == {1}  # a fresh process draws the epoch it resumes at, not an early one again
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs_done"] == 2
    # the summary's number is the final weights' real validation score, recomputed here independently
    from training.data import load_cache
    from training.model import build_generator
    from training.run import val_dice

    generator = build_generator(64)
    generator.load_weights(out / "final.weights.h5")
    c = load_cache(tmp_path / "cache.npz")
    assert summary["val_dice_final"] == pytest.approx(
        val_dice(generator, c.images[c.is_val], c.masks[c.is_val], 64), abs=1e-4)
    assert "val_false_alarms" in rows[-1]

    gan_out = tmp_path / "gan"
    assert _train(tmp_path, gan_out, epochs=1, adversarial=0.1,
                  extra=("--hard-negatives", "0.5", "--detection-weight", "0.1")) == 0
    assert json.loads((gan_out / "summary.json").read_text())["config"]["detection_weight"] == 0.1
    row = next(csv.DictReader((gan_out / "log.csv").open()))
    assert {"adv_loss", "d_loss", "seg_loss", "val_dice"} <= set(row)  # with config's boundary-weighted loss
    assert 0.0 <= float(row["train_negative_alarms"]) <= 1.0  # mining ran before the epoch and logged its share
    from engine.errors import DataError

    refused = tmp_path / "gan_ds"
    assert _train(tmp_path, refused, epochs=1, adversarial=0.1, extra=("--deep-supervision",)) == DataError.exit_code
    assert not (refused / "log.csv").exists()


@pytest.mark.slow
def test_gan_step_runs_on_the_jax_backend(tmp_path):
    """The same training code under KERAS_BACKEND=jax (GPU machines with JAX but no TensorFlow)."""
    pytest.importorskip("jax", reason="JAX not installed (optional; only for the JAX training path)")
    import os
    import subprocess
    import sys

    script = (
        "import numpy as np, keras\n"
        "assert keras.backend.backend() == 'jax'\n"
        "from training.model import build_generator, build_discriminator, freeze_encoder_batchnorm\n"
        "from training.gan import LGPSGAN\n"
        "g = build_generator(64); freeze_encoder_batchnorm(g)\n"
        "m = LGPSGAN(g, build_discriminator(64), 0.1); m.compile(optimizer=keras.optimizers.Adam(1e-3))\n"
        "x = np.random.default_rng(0).uniform(0, 255, (4, 64, 64, 3)).astype('float32')\n"
        "y = (x[..., :1] > 127).astype('float32')\n"
        "h = m.fit(x, y, batch_size=2, epochs=1, validation_data=(x, y), verbose=0).history\n"
        "assert np.isfinite(h['loss'][0]) and 'val_dice' in h, h\n"
        "print('ok', sorted(h))\n"
    )
    env = dict(os.environ, KERAS_BACKEND="jax")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ok" in done.stdout


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_jax_run_resumes_under_tensorflow(tmp_path):
    """What v4 did: epochs on a GPU machine under JAX, the rest on this CPU under TensorFlow."""
    pytest.importorskip("jax", reason="JAX not installed (optional; only for the JAX training path)")
    import os
    import subprocess
    import sys

    _tiny_dataset(tmp_path)
    out = tmp_path / "run"
    flags = ["--negative-rate", "0.2", "--detection-weight", "0.1"]
    args = ["--data-root", str(tmp_path), "--out-dir", str(out), "--cache", str(tmp_path / "cache.npz"),
            "--steps-per-epoch", "2", "--batch-size", "2", "--input-size", "64", "--cache-size", "80",
            "--adversarial-weight", "0", "--recalibrate-frames", "4", "--max-frames", "10", *flags]
    env = dict(os.environ, KERAS_BACKEND="jax", XLA_FLAGS="--xla_disable_hlo_passes=constant_folding")
    code = ("import sys, training.train as t\n"
            "cfg = t.load_training_config()\n"
            "t.load_training_config = lambda path=None: cfg.__class__(**{**cfg.__dict__, 'train_sets': ['tiny'],"
            " 'val_fraction': 0.2})\n"
            "sys.exit(t.main(sys.argv[1:]))\n")
    done = subprocess.run([sys.executable, "-c", code, *args, "--epochs", "1"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "backend jax" in done.stdout
    jax_epoch = next(csv.DictReader((out / "log.csv").open()))
    env["KERAS_BACKEND"] = "tensorflow"
    done = subprocess.run([sys.executable, "-c", code, *args, "--epochs", "2"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "backend tensorflow" in done.stdout and "Epoch 1/2" not in done.stdout  # resumed, not restarted
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert [r["epoch"] for r in rows] == ["0", "1"] and rows[0] == jax_epoch
    assert json.loads((out / "summary.json").read_text())["epochs_done"] == 2


def test_adversarial_term_reaches_the_generator():
    """The seed's bug: its adversarial loss never moved G. Here one step with lambda > 0 must."""
    import keras

    from training.gan import LGPSGAN
    from training.model import build_discriminator, build_generator

    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    y = (x[..., :1] > 127).astype(np.float32)

    def one_step(weight: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
        keras.utils.set_random_seed(0)
        gan = LGPSGAN(build_generator(64), build_discriminator(64), weight)
        gan.compile(optimizer=keras.optimizers.SGD(0.1))
        d_before = [np.array(v) for v in gan.discriminator.trainable_variables]
        gan.fit(x, y, batch_size=2, epochs=1, verbose=0, shuffle=False)
        g = [np.array(v) for v in gan.generator.trainable_variables]
        d_moved = [np.abs(np.array(v) - b).max() for v, b in zip(gan.discriminator.trainable_variables, d_before,
                                                                   strict=True)]
        return g, d_moved

    g0, d_moved0 = one_step(0.0)
    g1, _ = one_step(1.0)
    assert max(d_moved0) > 0  # D learns even when its verdict is not fed back (lambda = 0)
    head = -2  # the head kernel: reached by every loss term
    assert np.abs(g1[head] - g0[head]).max() > 1e-6


def test_the_fit_probe_shows_only_the_frame_itself_flipped_or_turned():
    """The capacity probe's samples are the whole frame resized, up to a flip or 90-degree turn."""
    from training.augment import AUGMENTS, augment_pair

    image, mask = _blocks_image(np.random.default_rng(11))
    plain_mask = cv2.resize(mask, (128, 128), interpolation=cv2.INTER_LINEAR)
    views = [np.rot90(m, k) for m in (plain_mask, plain_mask[:, ::-1]) for k in range(4)]
    for seed in range(12):
        _, msk = augment_pair(np.random.default_rng(seed), image, mask, 128, AUGMENTS["fit_probe"])
        assert min(np.abs(msk.astype(int) - v.astype(int)).max() for v in views) <= 1
