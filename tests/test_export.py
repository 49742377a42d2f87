"""Export: a real (small, untrained) generator to int8 and float32 TFLite, run by the engine."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="export needs TensorFlow (make test installs it)")
pytestmark = [pytest.mark.training, pytest.mark.slow]


@pytest.fixture(scope="module")
def small_model():
    import keras

    from training.model import build_generator

    keras.utils.set_random_seed(0)
    model = build_generator(64)
    # Give the untrained head a spread of outputs so agreement is tested over the whole range.
    head = model.get_layer("head")
    head.kernel.assign(np.asarray(head.kernel) * 200.0)
    # Dead filters like the ImageNet MobileNetV2's (all-zero channels) must survive quantisation.
    conv1 = model.get_layer("encoder").get_layer("Conv1")
    kernel = np.asarray(conv1.kernel).copy()
    kernel[..., :3] = 0.0
    conv1.kernel.assign(kernel)
    # A dead one-unit SE bottleneck (decoder3: 16 channels / 16) gave a [0, 0] range: same crash.
    se = model.get_layer("decoder3_se_reduce")
    se.bias.assign(np.full(se.bias.shape, -1e3, np.float32))
    return model


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 255, (12, 8, 8, 3))
    import cv2

    return np.stack([cv2.resize(b, (64, 64)) for b in base]).astype(np.float32)  # smooth, image-like


def _engine_prob(path, frame_rgb: np.ndarray) -> np.ndarray:
    from engine.segmenter import Segmenter

    seg = Segmenter(path, threads=1)
    return seg.infer(frame_rgb[:, :, ::-1].astype(np.uint8)).prob


def test_int8_export_agrees_with_keras(tmp_path, small_model, frames):
    from ai_edge_litert.interpreter import Interpreter

    from training.export import export_tflite

    path = export_tflite(small_model, tmp_path / "m_int8.tflite", frames, "int8")
    interp = Interpreter(model_path=str(path))
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    assert inp["quantization"][0] == pytest.approx(1.0, abs=1e-4) and inp["quantization"][1] == -128
    diffs = []
    for f in frames[:6]:
        ref = np.asarray(small_model(np.rint(f)[None], training=False))[0, :, :, 0]
        diffs.append(np.abs(_engine_prob(path, np.rint(f)) - ref))
    spread = np.ptp(np.asarray(small_model(frames[:6], training=False)))
    assert spread > 0.2, "test model should not be constant"
    assert np.mean(diffs) < 0.03 and np.max(diffs) < 0.25


def test_float32_export_matches_keras(tmp_path, small_model, frames):
    from training.export import export_tflite

    path = export_tflite(small_model, tmp_path / "m_f32.tflite", frames, "float32")
    f = np.rint(frames[0])
    ref = np.asarray(small_model(f[None], training=False))[0, :, :, 0]
    np.testing.assert_allclose(_engine_prob(path, f), ref, atol=2e-3)


def test_export_rejects_bad_arguments(tmp_path, small_model, frames):
    from training.export import export_tflite

    with pytest.raises(ValueError, match="quantize"):
        export_tflite(small_model, tmp_path / "x.tflite", frames, "int4")
    with pytest.raises(ValueError, match="representative"):
        export_tflite(small_model, tmp_path / "x.tflite", frames[:, :32], "int8")


def test_export_untrained_and_model_card(tmp_path, small_model):
    from engine.segmenter import Segmenter
    from training.card import build_model_card, write_model_card
    from training.export import export_untrained

    path = export_untrained(tmp_path / "u.tflite", input_size=64)
    assert Segmenter(path).input_size == 64
    card = build_model_card(small_model, training={"epochs": 0}, metrics={}, status="test")
    written = json.loads(write_model_card(tmp_path / "card.json", card).read_text())
    assert written["parameters"] == small_model.count_params()
    assert written["input"]["size"] == [64, 64, 3] and "127.5" in written["input"]["normalisation"]


def test_previous_model_summary_keeps_the_replaced_models_headline_numbers():
    from training.card import previous_model_summary

    def result(dice, alarms=None):
        return {"mean_dice": dice, "false_alarm_rate": alarms}

    card = {"status": "v2", "git_commit": "abc", "metrics": {
        "tflite_int8_crf_on": {"kvasir-seg": result(0.85234), "cvc-colondb": result(0.6339)},
        "tflite_int8_crf_off": {"kvasir-seg": result(0.854)},
        "polyp_free_test_crops_tflite_int8_crf_on": {"kvasir-seg": result(0.9, 0.0577)},
        "validation_tflite_int8_crf_on": {"val_stills": result(0.8953), "val": result(0.978, 0.0216)},
    }}
    summary = previous_model_summary(card)
    assert summary["status"] == "v2" and summary["git_commit"] == "abc"
    assert summary["int8_crf_on_mean_dice"] == {"kvasir-seg": 0.852, "cvc-colondb": 0.634}
    assert summary["int8_crf_off_mean_dice"] == {"kvasir-seg": 0.854}
    assert summary["polyp_free_test_crops_false_alarms_int8"] == {"crf_off": {}, "crf_on": {"kvasir-seg": 0.058}}
    assert summary["validation_int8"]["crf_on"] == {"mean_dice": {"val_stills": 0.895, "val": 0.978},
                                                    "false_alarm_rate": {"val": 0.022}}


def test_report_checks_its_inputs_before_replacing_the_shipped_model(tmp_path):
    from training.report import main

    out, card = tmp_path / "model.tflite", tmp_path / "card.json"
    out.write_bytes(b"shipped")
    card.write_text(json.dumps({"status": "v2"}))  # a card without metrics: nothing to keep as "previous"
    run = tmp_path / "run"
    run.mkdir()
    common = ["--run-dir", str(run), "--status", "x", "--out", str(out), "--card", str(card)]
    assert main([*common, "--data", str(tmp_path / "missing")]) == 6  # DataError
    assert main([*common, "--data", str(tmp_path), "--previous", "v2"]) == 6
    assert out.read_bytes() == b"shipped" and json.loads(card.read_text()) == {"status": "v2"}
