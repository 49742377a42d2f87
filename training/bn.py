"""Batch-norm statistics: recalibrate after training so inference mode computes what training did.

Why: Keras' moving averages (momentum 0.99) lag behind weights that keep changing; at the end of
training they describe an older network. Recomputing them with the final weights over a set of
training batches (cumulative average: momentum i/(i+1) for the i-th batch) gives the population
statistics, and with a single batch the inference-mode output equals the training-mode output.
Frozen (non-trainable) batch-norm layers, like the encoder's, are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import keras
import numpy as np


def _all_layers(model: Any) -> Iterator[Any]:
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def trainable_batchnorms(model: Any) -> list[keras.layers.BatchNormalization]:
    """Batch-norm layers that update their statistics in training mode."""
    return [layer for layer in _all_layers(model)
            if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable]


def recalibrate_batchnorm(model: Any, batches: Iterable[np.ndarray]) -> int:
    """Replace moving statistics by the average batch statistics over ``batches``; returns #batches."""
    layers = trainable_batchnorms(model)
    momenta = [layer.momentum for layer in layers]
    count = 0
    try:
        for count, x in enumerate(batches, start=1):
            for layer in layers:
                layer.momentum = (count - 1) / count
            model(x, training=True)
    finally:
        for layer, m in zip(layers, momenta, strict=True):
            layer.momentum = m
    return count
