"""Hard-negative mining: polyp-free crops drawn in proportion to how strongly the model alarms on them.

Why: each training frame gives one polyp-free crop and, drawn uniformly, most of them show mucosa
the model already leaves alone; the crops it outlines (folds, reflections, bubbles) are the ones
that teach it to stay quiet. The scores are re-taken from the current weights before every epoch.
A share of the draws stays uniform (unless the share asked for is 1) so the sampler does not
collapse onto a handful of crops.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np


def crop_maps(generator: Any, crops: np.ndarray, batch: int = 16) -> Iterator[np.ndarray]:
    """The generator's probability maps (S, S) of (N, S, S, 3) crops (uint8 or float, 0..255), inference mode."""
    for start in range(0, len(crops), batch):
        x = np.asarray(crops[start:start + batch], np.float32)
        yield from np.asarray(generator(x, training=False))[..., 0]


def alarm_scores(generator: Any, crops: np.ndarray, threshold: float = 0.5, min_area_frac: float = 0.0005
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per crop: a hardness score and whether the app would report a polyp on it.

    The score is 1 for a crop the app alarms on plus its mean probability (the soft area outlined),
    so alarmed crops rank first and the rest by how close they come.
    """
    from training.evaluate import app_reports_polyp

    soft, alarmed = [], []
    for prob in crop_maps(generator, crops):
        soft.append(float(prob.mean()))
        alarmed.append(app_reports_polyp(prob, threshold, min_area_frac))
    alarmed_arr = np.asarray(alarmed, bool)
    return alarmed_arr + np.asarray(soft, np.float64), alarmed_arr


def sampling_probabilities(scores: np.ndarray, share: float) -> np.ndarray:
    """Draw probabilities: ``share`` of the mass in proportion to the scores, the rest uniform.

    share 0 is uniform; all-zero scores (a model quiet on every crop) fall back to uniform, and so
    do non-finite ones (weights gone NaN: TerminateOnNaN ends the run, the loader must not crash first).
    """
    scores = np.clip(np.nan_to_num(np.asarray(scores, np.float64), nan=0.0, posinf=0.0, neginf=0.0), 0.0, None)
    if not scores.size:
        raise ValueError("no polyp-free crops to sample from")
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"hard-negative share must be in [0, 1], got {share}")
    uniform = np.full(scores.size, 1.0 / scores.size)
    total = scores.sum()
    if share == 0.0 or total <= 0.0:
        return uniform
    p = (1.0 - share) * uniform + share * scores / total
    return p / p.sum()
