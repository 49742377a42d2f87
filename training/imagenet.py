"""ImageNet initialisation of the MobileNetV2 encoder, offline, from Google's PTQ TFLite file.

Why: ``keras.applications.MobileNetV2(weights="imagenet")`` downloads its weights, which the
build machines cannot. The file ``tf2_mobilenet_v2_1.0_224_ptq.tflite`` holds the same network
with int8 per-channel weights and batch-norm folded into each convolution. Dequantizing (q x scale
per output channel) gives each Keras Conv2D/DepthwiseConv2D the folded kernel; the
BatchNormalization after it becomes the identity plus the folded bias: gamma 1, moving mean 0,
moving variance 1 - epsilon, beta = bias.

The convolutions are matched in execution order (the TFLite op order and Keras' layer order are
both topological for this chain-like network), checking every shape on the way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ModelError

_CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def read_tflite_convs(path: str | Path) -> list[dict[str, Any]]:
    """Dequantized (kernel in Keras layout, bias) of every convolution, in execution order."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"ImageNet weights not found: {path}")
    interp = Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interp.allocate_tensors()
    details = {t["index"]: t for t in interp.get_tensor_details()}
    convs = []
    for op in interp._get_ops_details():  # noqa: SLF001 - the only API that lists ops in order
        if op["op_name"] not in _CONV_OPS:
            continue
        w_idx, b_idx = int(op["inputs"][1]), int(op["inputs"][2])
        kernel = _dequantize(interp.get_tensor(w_idx), details[w_idx])
        bias = _dequantize(interp.get_tensor(b_idx), details[b_idx])
        # TFLite conv [out, kh, kw, in], depthwise [1, kh, kw, C] -> Keras [kh, kw, in, out] / [kh, kw, C, 1].
        kernel = np.transpose(kernel, (1, 2, 3, 0))
        convs.append({"op": op["op_name"], "kernel": kernel, "bias": bias})
    return convs


def _dequantize(q: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    params = detail["quantization_parameters"]
    scales, zeros = params["scales"], params["zero_points"]
    if len(scales) == 0:
        return q.astype(np.float32)
    shape = [1] * q.ndim
    if len(scales) > 1:
        shape[params["quantized_dimension"]] = len(scales)
    return ((q.astype(np.float32) - zeros.reshape(shape)) * scales.reshape(shape)).astype(np.float32)


def _batchnorm_after(model: Any, conv_name: str) -> Any:
    for name in (f"{conv_name}_BN", f"bn_{conv_name}", f"{conv_name}_bn"):
        try:
            return model.get_layer(name)
        except ValueError:
            continue
    raise ModelError(f"no batch-norm layer found after {conv_name}")


def load_imagenet_weights(model: Any, tflite_path: str | Path) -> int:
    """Copy the TFLite MobileNetV2 weights into a Keras MobileNetV2 (full or truncated).

    Fills the first N convolutions (N = how many the Keras model has) and, for a full model with
    a 1001-class top, the classifier. Returns the number of layers filled.
    """
    from keras import layers

    convs = read_tflite_convs(tflite_path)
    keras_convs = [
        layer for layer in model.layers
        if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D)) and not layer.use_bias
    ]
    if len(keras_convs) > len(convs):
        raise ModelError(f"{tflite_path}: {len(convs)} convolutions, Keras needs {len(keras_convs)}")
    for layer, conv in zip(keras_convs, convs[: len(keras_convs)], strict=True):
        kernel = layer.kernel
        if tuple(kernel.shape) != conv["kernel"].shape:
            raise ModelError(f"{layer.name}: shape {tuple(kernel.shape)} vs TFLite {conv['kernel'].shape}")
        kernel.assign(conv["kernel"])
        bn = _batchnorm_after(model, layer.name)
        bn.gamma.assign(np.ones_like(conv["bias"]))
        bn.beta.assign(conv["bias"])
        bn.moving_mean.assign(np.zeros_like(conv["bias"]))
        bn.moving_variance.assign(np.full_like(conv["bias"], 1.0 - bn.epsilon))
    filled = len(keras_convs)
    try:
        top = model.get_layer("predictions")
    except ValueError:
        return filled
    logits = convs[len(keras_convs)]
    top.kernel.assign(logits["kernel"].reshape(top.kernel.shape))
    top.bias.assign(logits["bias"])
    return filled + 1


def tflite_top5(tflite_path: str | Path, image_rgb_224: np.ndarray) -> list[int]:
    """The TFLite classifier's own top-5 class ids (1001 classes, 0 = background)."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(tflite_path))
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    interp.set_tensor(inp["index"], image_rgb_224[None].astype(inp["dtype"]))
    interp.invoke()
    scores = interp.get_tensor(out["index"])[0].astype(np.float32)
    return [int(i) for i in np.argsort(-scores)[:5]]


def keras_top5(tflite_path: str | Path, image_rgb_224: np.ndarray) -> list[int]:
    """Top-5 of a Keras MobileNetV2 (1001 classes) initialised from the TFLite file."""
    import keras

    model = keras.applications.MobileNetV2(
        input_shape=(224, 224, 3), weights=None, classes=1001, classifier_activation=None
    )
    load_imagenet_weights(model, tflite_path)
    x = image_rgb_224[None].astype(np.float32) / 127.5 - 1.0
    scores = np.asarray(model(x, training=False))[0]
    return [int(i) for i in np.argsort(-scores)[:5]]


def load_imagenet_encoder(generator: Any, tflite_path: str | Path) -> int:
    """Initialise the generator's encoder (a truncated MobileNetV2) from the TFLite file."""
    return load_imagenet_weights(generator.get_layer("encoder"), tflite_path)
