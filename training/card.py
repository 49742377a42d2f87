"""The model card written next to the shipped model: what it is, how it was trained, how good it is."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def git_commit() -> str:
    """The working tree's commit (with "+dirty" when it has changes), or "unknown"."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_model_card(path: str | Path, card: dict[str, Any]) -> Path:
    """Write the model card JSON (sorted keys, so diffs between models read well)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    return path


def build_model_card(model: Any, *, training: dict[str, Any], metrics: dict[str, Any],
                     status: str) -> dict[str, Any]:
    """The model card: what the file is, how it was trained, how well it does and how we know."""
    from training.model import (
        BRIDGE_FILTERS,
        DECODER_FILTERS,
        ENCODER_OUTPUT,
        ENCODER_SKIPS,
        NORMALISATION,
        count_parameters,
    )

    size = int(model.input_shape[1])
    return {
        "name": "LGPS generator",
        "paper": "Tesema et al., LGPS, arXiv 2503.18294",
        "status": status,
        "architecture": {
            "encoder": f"MobileNetV2 alpha 1.0 cut at {ENCODER_OUTPUT}",
            "skips": list(ENCODER_SKIPS),
            "bridge_filters": BRIDGE_FILTERS,
            "decoder_filters": list(DECODER_FILTERS),
            "block": "modified residual block (1x1 -> 3x3 at filters/4, projected shortcut) + SE(r=16)",
            "head": "bilinear x2 + 1x1 conv, sigmoid",
        },
        "parameters": count_parameters(model),
        "input": {"size": [size, size, 3], "colour": "RGB", "range": "0..255 (int8 file: raw pixel - 128)",
                  "normalisation": NORMALISATION, "resize": "stretch to square"},
        "output": {"size": [size, size, 1], "meaning": "polyp probability (sigmoid)"},
        "quantisation": "full integer int8 (int8 input/output), calibrated on training frames",
        "training_data": _data_line(training),
        "training": training,
        "metrics": metrics,
        "metrics_protocol": "main.py evaluate: per-image means at each mask's original resolution, threshold 0.5; "
                            "test splits (Kvasir-SEG/CVC-ClinicDB test.txt, all of CVC-ColonDB) never used in "
                            "training or model selection; 'pooled_dice' and 'two_class_miou' are the seed "
                            "script's metrics, kept for comparison",
        "git_commit": git_commit(),
    }


def _data_line(training: dict[str, Any]) -> str:
    cfg = training.get("config", {})
    if not cfg:
        return "unknown"
    sets = " + ".join(f"{name} train.txt" for name in cfg.get("train_sets", []))
    return (f"{sets}, minus a {cfg.get('val_fraction', 0):.0%} validation split held out by video sequence "
            f"({training.get('train_frames')} train / {training.get('val_frames')} val frames); "
            f"model selected on validation per-image Dice{_selection_limit(cfg, training)}")


def _selection_limit(cfg: dict[str, Any], training: dict[str, Any]) -> str:
    limit = float(cfg.get("select_max_false_alarms", 1.0))
    if limit >= 1.0:
        return ""
    if training.get("best_within_false_alarm_limit") is False:
        return f" (no epoch reached false alarms <= {limit:g} on polyp-free validation crops: best Dice of all)"
    return f" among epochs with false alarms on polyp-free validation crops <= {limit:g}"


def previous_model_summary(card: dict[str, Any]) -> dict[str, Any]:
    """A replaced model's headline numbers (int8 test Dice, polyp-free false alarms, validation), 3 decimals."""
    metrics = card.get("metrics", {})

    def per_set(key: str, field: str) -> dict[str, float]:
        return {name: round(r[field], 3) for name, r in metrics.get(key, {}).items() if r.get(field) is not None}

    summary: dict[str, Any] = {"status": card.get("status", "unknown"), "git_commit": card.get("git_commit")}
    for crf in ("off", "on"):
        summary[f"int8_crf_{crf}_mean_dice"] = per_set(f"tflite_int8_crf_{crf}", "mean_dice")
        summary.setdefault("polyp_free_test_crops_false_alarms_int8", {})[f"crf_{crf}"] = per_set(
            f"polyp_free_test_crops_tflite_int8_crf_{crf}", "false_alarm_rate")
        summary.setdefault("validation_int8", {})[f"crf_{crf}"] = {
            "mean_dice": per_set(f"validation_tflite_int8_crf_{crf}", "mean_dice"),
            "false_alarm_rate": per_set(f"validation_tflite_int8_crf_{crf}", "false_alarm_rate")}
    return summary


def read_metrics(items: list[str]) -> dict[str, Any]:
    """``LABEL=PATH`` pairs of ``main.py evaluate --json`` files -> {label: results}."""
    metrics = {}
    for item in items:
        label, _, path = item.partition("=")
        if not path:
            label, path = Path(label).stem, label
        metrics[label] = json.loads(Path(path).read_text())
    return metrics
