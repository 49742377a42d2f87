"""Make a trained generator safe to quantise: no int8 tensor may have a zero range.

Found the hard way: LiteRT's XNNPACK delegate aborts the whole process ("double free or
corruption") when it loads a file with such a tensor. The fix works on a copy of the model and
keeps its function on the calibration frames.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def with_live_se_units(model: Any, rep: np.ndarray, level: float = 1.0, spread: float = 0.05) -> Any:
    """A copy of ``model`` in which no squeeze-excitation bottleneck is constant zero.

    Why: the SE bottleneck of the last decoder stage has a single ReLU unit (16 channels / 16). If
    training kills it, its output is 0 on every frame, the converter gives that tensor a range of
    [0, 0] (scale ~1e-8) and XNNPACK crashes on load. A dead unit is made to output the constant
    ``level`` instead (kernel 0, bias ``level``), and the expand layer's bias absorbs it
    (b -= level * W[unit]): the same function on the calibration frames, with a sane range.
    """
    import keras

    reduce_layers = [layer for layer in model.layers if layer.name.endswith("_se_reduce")]
    if not reduce_layers:
        return model
    probe = keras.Model(model.input, [layer.output for layer in reduce_layers])
    peaks = [np.zeros(layer.filters, np.float32) for layer in reduce_layers]
    for start in range(0, len(rep), 16):
        outs = probe(rep[start:start + 16], training=False)
        for peak, out in zip(peaks, outs, strict=True):
            np.maximum(peak, keras.ops.convert_to_numpy(out).max(axis=(0, 1, 2)), out=peak)
    dead = {layer.name: peak <= 0 for layer, peak in zip(reduce_layers, peaks, strict=True) if peak.max() <= 0}
    if not dead:
        return model
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    for name, units in dead.items():
        reduce, expand = clone.get_layer(name), clone.get_layer(name.replace("_se_reduce", "_se_expand"))
        k, b = (keras.ops.convert_to_numpy(v).copy() for v in (reduce.kernel, reduce.bias))
        k[..., units], b[units] = 0.0, level
        reduce.kernel.assign(k)
        reduce.bias.assign(b)
        w, c = (keras.ops.convert_to_numpy(v).copy() for v in (expand.kernel, expand.bias))
        constant = c.copy()  # the excitation's pre-activation, the same for every frame
        c -= level * w[0, 0, units, :].sum(axis=0)
        if np.abs(constant).max() < spread:
            # A (near) zero bias too (an untrained model): the excitation is sigmoid(0)
            # everywhere, a [0, 0] range again. Spread the bias over +-spread (SE scales change
            # by under 1.3%) so the tensor gets a usable scale.
            c = c + np.linspace(-spread, spread, c.shape[0], dtype=np.float32)
        expand.bias.assign(c)
    return clone
