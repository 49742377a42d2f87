"""The segmenter on a real .tflite model: shapes, quantisation read from the file, clear failures."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import ModelError
from engine.segmenter import Segmenter

from conftest import DATA


def test_reads_input_size_and_quantisation_from_file(model_path):
    from ai_edge_litert.interpreter import Interpreter

    seg = Segmenter(model_path, threads=2)
    detail = Interpreter(model_path=str(model_path)).get_input_details()[0]
    assert seg.input_size == detail["shape"][1] == 256
    assert seg.input_dtype == np.dtype(detail["dtype"]).name == "int8"  # the shipped file is full-integer
    scale, zero_point = detail["quantization"]
    # raw pixels in: 0 and 255 map to the int8 ends exactly as the file's own parameters say
    expected = [int(np.clip(round(v / scale + zero_point), -128, 127)) for v in (0, 255)]
    assert seg._in_quant.quantise(np.array([0, 255], np.uint8)).tolist() == expected


@pytest.mark.parametrize("shape", [(500, 574), (720, 1280), (101, 37)])
@pytest.mark.parametrize("mode", ["stretch", "letterbox"])
def test_probability_map_at_frame_size(model_path, real_frames, shape, mode):
    import cv2

    seg = Segmenter(model_path, input_mode=mode)
    frame = cv2.resize(real_frames[0], (shape[1], shape[0]))
    prob = seg.segment(frame)
    assert prob.shape == shape and prob.dtype == np.float32
    assert 0.0 <= prob.min() <= prob.max() <= 1.0
    out = seg.infer(frame)
    assert out.prob.shape == (256, 256) and out.image.shape == (256, 256, 3)


def test_letterbox_keeps_the_frame_inside_the_grid(model_path):
    seg = Segmenter(model_path, input_mode="letterbox")
    frame = np.full((100, 400, 3), 255, np.uint8)
    out = seg.infer(frame)
    x, y, w, h = out.content
    assert (x, w) == (0, 256) and h == 64 and y == 96
    assert out.image[:y].max() == 0 and out.image[y : y + h].min() == 255


def test_missing_model(tmp_path):
    with pytest.raises(ModelError, match="model file not found"):
        Segmenter(tmp_path / "none.tflite")


def test_malformed_model(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00garbage" * 64)
    with pytest.raises(ModelError, match="not a valid TFLite model"):
        Segmenter(bad)


def test_classifier_is_not_a_segmentation_model():
    classifier = DATA.parent / "weights" / "tf2_mobilenet_v2_1.0_224_ptq.tflite"
    if not classifier.exists():
        pytest.skip(f"ImageNet MobileNetV2 not available at {classifier}")
    with pytest.raises(ModelError, match=r"not an LGPS model: output shape \(1, 1001\)"):
        Segmenter(classifier)


def test_4k_frames_are_fitted_by_the_engine_with_the_same_result(model_path, real_frames):
    """fit_ahead leaves 4K frames to the engine thread; the model's output is the same either way."""
    import cv2

    seg = Segmenter(model_path, threads=1)
    hd = cv2.resize(real_frames[0], (1920, 1080))
    uhd = cv2.resize(real_frames[0], (3840, 2160))
    ahead = seg.fit_ahead(hd)
    assert ahead is not None and np.array_equal(ahead[0], seg.fit(hd)[0])
    assert seg.fit_ahead(uhd) is None
    assert np.array_equal(seg.infer(uhd, seg.fit_ahead(uhd)).prob, seg.infer(uhd, seg.fit(uhd)).prob)
