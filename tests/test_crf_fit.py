"""The ConvCRF's learned parameters: the TensorFlow twin equals the engine's, the fit learns, the engine reads them."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from engine.config import CRFConfig, load_config
from engine.convcrf import ConvCRF, effective_crf

from conftest import DATA

pytest.importorskip("tensorflow", reason="fitting the CRF needs TensorFlow (make test installs it)")
pytestmark = pytest.mark.training


@pytest.mark.parametrize("cfg", [CRFConfig(), CRFConfig(pos_weight=3.0, app_weight=10.0, app_col_sigma=13.0,
                                                        unary_weight=0.7, pos_sigma=2.0, app_pos_sigma=9.0)])
def test_differentiable_crf_equals_the_engines_on_random_inputs(cfg):
    from training.crf_fit import LEARNED, DifferentiableConvCRF

    rng = np.random.default_rng(0)
    prob = cv2.GaussianBlur(rng.random((64, 96)).astype(np.float32), (0, 0), 3)
    prob = (prob - prob.min()) / (prob.max() - prob.min())
    image = cv2.GaussianBlur(rng.integers(0, 255, (64, 96, 3)).astype(np.uint8), (0, 0), 2)
    reference = ConvCRF(cfg).refine(prob, image)
    twin = DifferentiableConvCRF({k: getattr(cfg, k) for k in LEARNED}, cfg.kernel_size, cfg.blur, cfg.iterations)
    out = twin(prob[None], image[None].astype(np.float32)).numpy()[0]
    assert np.abs(reference - prob).max() > 0.3  # the CRF does change this map...
    assert np.abs(out - reference).max() < 2e-4  # ...and the twin changes it the same way


def test_the_fit_lowers_its_loss_on_a_small_real_batch(model_path):
    if not (DATA / "kvasir-seg").is_dir():
        pytest.skip(f"real dataset not available at {DATA} (the CI machine provides ../shared/data)")
    from engine.segmenter import Segmenter
    from training.crf_fit import LEARNED, DifferentiableConvCRF, fit, mean_loss
    from training.data import find_samples, read_pair

    seg = Segmenter(model_path)
    probs, images, masks = [], [], []
    for s in find_samples(DATA / "kvasir-seg", "train")[:8]:
        rgb, mask = read_pair(s)
        out = seg.infer(rgb[:, :, ::-1].copy())
        probs.append(out.prob)
        images.append(out.image.astype(np.float32))
        masks.append(cv2.resize(mask, out.prob.shape[::-1], interpolation=cv2.INTER_NEAREST).astype(np.float32))
    probs, images, masks = np.stack(probs), np.stack(images), np.stack(masks)
    start = CRFConfig(pos_weight=3.0, app_weight=10.0)  # the paper's weights, far from this model's optimum
    crf = DifferentiableConvCRF({k: getattr(start, k) for k in LEARNED})
    before = mean_loss(crf, probs, images, masks)
    fit(crf, probs, images, masks, steps=12, batch=8, learning_rate=0.1)
    after = mean_loss(crf, probs, images, masks)
    assert after < before - 0.005
    assert crf.values() != {k: getattr(start, k) for k in LEARNED}


def test_the_engine_reads_the_learned_values_and_config_still_wins(tmp_path, model_path):
    model = tmp_path / "m.tflite"
    shutil.copy(model_path, model)
    learned = {"pos_weight": 0.5, "pos_sigma": 2.5, "app_weight": 0.7, "app_pos_sigma": 11.0,
               "app_col_sigma": 21.0, "unary_weight": 1.3}
    model.with_suffix(".crf.json").write_text(json.dumps({**learned, "fitted": {"steps": 1}}))
    (tmp_path / "c.yaml").write_text(f"segmenter:\n  model: {model}\ncrf:\n  app_weight: 0.05\n")
    cfg = load_config(tmp_path / "c.yaml")
    crf = effective_crf(cfg)
    assert crf.app_weight == 0.05  # written in config.yaml: wins
    assert (crf.pos_weight, crf.pos_sigma, crf.app_col_sigma, crf.unary_weight) == (0.5, 2.5, 21.0, 1.3)
    from engine.pipeline import FrameProcessor

    assert FrameProcessor(cfg).crf.config == crf  # what the engine runs
    bare = load_config().replace("segmenter", model=str(model_path.with_name("no_sidecar.tflite")))
    assert effective_crf(bare) == bare.crf  # no sidecar: config's values
    model.with_suffix(".crf.json").write_text('{"pos_weight": -1}')
    from engine.errors import ModelError

    with pytest.raises(ModelError, match="positive"):
        effective_crf(cfg)


def test_folds_keep_each_group_whole_and_balance_the_items():
    from training.crf_crossfit import assign_folds

    groups = ["seq a"] * 5 + ["seq b"] * 4 + ["seq c"] * 3 + [f"frame {i}" for i in range(9)]
    fold = assign_folds(groups, 3, seed=1)
    for g in set(groups):
        assert len({int(fold[i]) for i, x in enumerate(groups) if x == g}) == 1  # never split
    assert sorted(np.bincount(fold, minlength=3)) == [7, 7, 7]
    assert (assign_folds(groups, 3, seed=1) == fold).all()  # deterministic for a seed


@pytest.mark.parametrize("extra", [[], ["--alarm-weight", "1", "--views", "2"]], ids=["pixel loss", "alarm + views"])
def test_crossfit_judges_every_frame_out_of_fold_and_writes_what_the_engine_reads(tmp_path, model_path, extra):
    clinic = DATA / "cvc-clinicdb"
    if not (clinic / "sequences.csv").is_file():
        pytest.skip(f"real dataset not available at {DATA} (the CI machine provides ../shared/data)")
    from engine.convcrf import learned_parameters
    from training.crf_crossfit import main as crossfit
    from training.crf_crossfit import sequence_groups
    from training.data import find_samples
    from training.evaluate import evaluate_folder
    from training.negatives import copy_stills, write_still_set

    by_seq: dict[str, list] = {}
    for s in find_samples(clinic):
        by_seq.setdefault(s.group, []).append(s)
    picked = [s for seq in sorted(by_seq, key=int)[:3] for s in by_seq[seq][:2]]  # 3 sequences, 2 frames each
    stills, free = tmp_path / "stills", tmp_path / "free"
    copy_stills(picked, stills)
    write_still_set(picked, free)
    names = sorted(p.stem for p in (stills / "images").iterdir())
    groups = sequence_groups(names, DATA)
    assert len(set(groups)) == 3 and all(g.startswith("cvc-clinicdb/") for g in groups)
    model = tmp_path / "m.tflite"
    shutil.copy(model_path, model)
    out = tmp_path / "crossfit.json"
    assert crossfit(["--model", str(model), "--stills", str(stills), "--polyp-free", str(free), "--data-root",
                     str(DATA), "--folds", "3", "--steps", "3", "--json", str(out), "--write-sidecar", *extra]) == 0
    result = json.loads(out.read_text())
    n_free = len(list((free / "images").iterdir()))
    assert sum(f["judged_frames"] for f in result["fits"]) == 6 + n_free  # every frame judged exactly once
    assert all(f["fit_frames"] + f["judged_frames"] == 6 + n_free for f in result["fits"])
    views = 2 if extra else 0  # moved views are fitted on beside their frame, in its fold, and never scored
    assert all(f["fit_views"] == views * f["fit_frames"] for f in result["fits"])
    learned = result["settings"]["learned_out_of_fold"]
    assert learned["stills"]["n"] == 6 and learned["free"]["n"] == n_free
    # "off" is scored exactly as main.py evaluate scores the same folder with the CRF off
    from engine.segmenter import Segmenter

    reference = evaluate_folder(Segmenter(model), stills, None, 0.5)
    assert result["settings"]["off"]["stills"]["mean_dice"] == pytest.approx(reference["mean_dice"], abs=1e-9)
    assert learned_parameters(model) == pytest.approx({k: v for k, v in result["sidecar"].items() if k != "path"},
                                                      rel=1e-5)


def test_balanced_draws_give_polyp_free_crops_half_of_every_batch():
    from training.crf_crossfit import balanced_draws

    masks = np.zeros((10, 4, 4), np.float32)
    masks[:7, 1, 1] = 1  # 7 polyp frames, 3 polyp-free crops
    p = balanced_draws(masks)
    assert p.sum() == pytest.approx(1.0)
    assert p[7:].sum() == pytest.approx(0.5) and p[:7].sum() == pytest.approx(0.5)
    assert np.allclose(balanced_draws(masks[:7]), 1 / 7)  # one kind only: uniform


def test_crossfit_refuses_negative_weights_and_views_before_loading_anything(capsys):
    from training.crf_crossfit import main as crossfit

    for flag, value in (("--alarm-weight", "-0.5"), ("--views", "-1"), ("--views", "1.5")):
        with pytest.raises(SystemExit) as exc:
            crossfit(["--stills", "a", "--polyp-free", "b", "--json", "c.json", flag, value])
        assert exc.value.code == 2 and flag in capsys.readouterr().err
