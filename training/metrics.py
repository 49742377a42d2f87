"""Segmentation metrics at a mask's original resolution (pure numpy; no TensorFlow).

Per image (the literature's protocol: mean over images): Dice, IoU, precision, recall, F2.
A frame whose ground truth is empty scores 1 on every metric only when nothing is predicted, and 0
otherwise. Also kept, clearly labelled, are the LGPS seed script's numbers: Dice pooled over the
whole set and the two-class (background + polyp) mean IoU, which flatter a model because the
background class is easy; they are reported side by side so the two protocols can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Counts:
    """Pixel confusion counts of one frame."""

    tp: int
    fp: int
    fn: int
    tn: int

    @classmethod
    def of(cls, gt: np.ndarray, pred: np.ndarray) -> Counts:
        g, p = gt.astype(bool), pred.astype(bool)
        tp = int(np.count_nonzero(g & p))
        fp = int(np.count_nonzero(p)) - tp
        fn = int(np.count_nonzero(g)) - tp
        return cls(tp, fp, fn, int(g.size) - tp - fp - fn)


def image_scores(c: Counts) -> dict[str, float]:
    """Dice, IoU, precision, recall and F2 of one frame (empty-mask rule in the module doc)."""
    if c.tp + c.fn == 0:
        ok = float(c.fp == 0)
        return dict.fromkeys(("dice", "iou", "precision", "recall", "f2"), ok)
    precision = c.tp / (c.tp + c.fp) if c.tp + c.fp else 0.0
    recall = c.tp / (c.tp + c.fn)
    f2 = 5 * precision * recall / (4 * precision + recall) if precision + recall else 0.0
    return {"dice": 2 * c.tp / (2 * c.tp + c.fp + c.fn), "iou": c.tp / (c.tp + c.fp + c.fn),
            "precision": precision, "recall": recall, "f2": f2}


@dataclass
class DatasetScores:
    """Accumulates frames of one dataset; ``summary()`` gives the reported numbers."""

    counts: list[Counts] = field(default_factory=list)
    reported: list[bool] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def add(self, gt: np.ndarray, pred: np.ndarray, reported: bool | None = None, name: str = "") -> None:
        """One frame: its mask, the thresholded prediction, and whether the app reports a polyp.

        ``reported`` is the app's verdict after its post-processing (small regions removed); when
        not given, any predicted pixel counts as a report. ``name`` identifies the frame in
        ``per_frame()`` (paired comparisons of two models).
        """
        counts = Counts.of(gt, pred)
        self.counts.append(counts)
        self.reported.append(counts.tp + counts.fp > 0 if reported is None else bool(reported))
        self.names.append(name or str(len(self.names)))

    def per_frame(self) -> list[dict[str, object]]:
        """Each frame's name, Dice, whether its mask is empty and whether the app reported a polyp."""
        return [{"frame": n, "dice": image_scores(c)["dice"], "empty": c.tp + c.fn == 0, "reported": r}
                for n, c, r in zip(self.names, self.counts, self.reported, strict=True)]

    def summary(self) -> dict[str, float | int | None]:
        n = len(self.counts)
        per = [image_scores(c) for c in self.counts]
        out: dict[str, float | int | None] = {"n": n}
        for key in ("dice", "iou", "precision", "recall", "f2"):
            out[f"mean_{key}"] = float(np.mean([p[key] for p in per])) if n else None
        tp, fp, fn, tn = (sum(getattr(c, k) for c in self.counts) for k in ("tp", "fp", "fn", "tn"))
        out["pooled_dice"] = 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else 1.0
        fg_iou = tp / (tp + fp + fn) if tp + fp + fn else 1.0
        bg_iou = tn / (tn + fp + fn) if tn + fp + fn else 1.0
        out["two_class_miou"] = (fg_iou + bg_iou) / 2
        empty = [i for i, c in enumerate(self.counts) if c.tp + c.fn == 0]
        out["empty_frames"] = len(empty)
        # what a clinician sees: frames where the app outlines a polyp (after its post-processing)
        out["false_alarm_rate"] = sum(self.reported[i] for i in empty) / len(empty) if empty else None
        # any predicted pixel at all, before small-region removal
        out["pixel_false_alarm_rate"] = (sum(self.counts[i].fp > 0 for i in empty) / len(empty)
                                         if empty else None)
        return out
