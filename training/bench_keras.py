"""Keras-side timing for `main.py bench`: the same generator, run by Keras on this CPU.

Timing does not depend on the weights, so the architecture is built fresh (no trained file
needed); this shows what TFLite int8 buys over running the training framework directly.
"""

from __future__ import annotations

import os
import time

import cv2
import numpy as np


def keras_inference_fps(frame_bgr: np.ndarray, input_size: int = 256, seconds: float = 2.0) -> float | None:
    """Frames per second of Keras' compiled inference (`predict_on_batch`) on one frame; None without Keras."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the report
    try:
        from training.model import build_generator
    except ImportError:
        return None
    model = build_generator(input_size)
    rgb = cv2.cvtColor(cv2.resize(frame_bgr, (input_size, input_size)), cv2.COLOR_BGR2RGB)
    batch = rgb[None].astype(np.float32)
    for _ in range(3):  # the first calls trace and compile the graph
        model.predict_on_batch(batch)
    times = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 5:
        start = time.perf_counter()
        model.predict_on_batch(batch)
        times.append(time.perf_counter() - start)
    return 1.0 / float(np.median(times))
