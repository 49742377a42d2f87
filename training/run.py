"""The training run behind ``python -m training.train``: data, model, fit, selection, summary."""

from __future__ import annotations

import json
import math
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import DataError


def negative_crops(images: np.ndarray, masks: np.ndarray, size: int) -> np.ndarray:
    """Polyp-free crops (training/negatives.py) of cached frames, resized to the input: (N, S, S, 3) float32."""
    from training.negatives import free_box, model_inputs

    boxes = [(i, box) for i, m in enumerate(masks) if (box := free_box(m > 127)) is not None]
    return model_inputs(images, boxes, size).astype(np.float32)


def false_alarm_share(generator: Any, crops: np.ndarray, threshold: float = 0.5, min_area_frac: float = 0.0005
                      ) -> float:
    """Share of polyp-free crops on which the app would report a polyp (threshold + small-region removal)."""
    from training.mining import alarm_scores

    if not len(crops):
        return float("nan")
    return float(alarm_scores(generator, crops, threshold, min_area_frac)[1].mean())


NO_BEST = {"val_dice": -1.0, "eligible": False}  # before the first epoch: any epoch is better


def is_better(val_dice: float, eligible: bool, best: dict[str, Any]) -> bool:
    """Model selection: an epoch within the false-alarm limit beats any outside it, then higher Dice wins.

    ``best`` is best.json's content (runs saved before the limit existed count as eligible).
    """
    best_dice = float(best.get("val_dice", -1))
    if math.isnan(val_dice):  # never a candidate
        return False
    return (eligible, val_dice) > (bool(best.get("eligible", True)), -1.0 if math.isnan(best_dice) else best_dice)


def reload_best(best: dict[str, Any], max_false_alarms: float) -> dict[str, Any]:
    """best.json re-read on resume, its eligibility judged against the limit in force now.

    A best.json from before the limit existed has no false alarms: eligible only without a limit.
    """
    alarms = best.get("val_false_alarms")
    if alarms is None:
        return {**best, "eligible": max_false_alarms >= 1.0}
    return {**best, "eligible": not float(alarms) > max_false_alarms}


def _callbacks(keras: Any, generator: Any, out: Path, calibration: list[np.ndarray], val_negatives: np.ndarray,
               max_false_alarms: float = 1.0, train_batches: Any = None, hard_negatives: float = 0.0) -> list[Any]:
    from training.bn import recalibrate_batchnorm

    class RecalibrateBeforeValidation(keras.callbacks.Callback):
        """Population batch-norm statistics before each validation (not used by training steps).

        Why: the moving averages lag behind the weights; validating with them makes model
        selection noisy (val Dice jumping 0.8 -> 0.3 -> 0.8 between epochs on CPU runs).
        """

        def on_test_begin(self, logs: Any = None) -> None:
            if calibration:
                recalibrate_batchnorm(generator, calibration)

    class EpochInfo(keras.callbacks.Callback):
        """Adds wall time and learning rate to the logs (CSV and TensorBoard show them)."""

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.t0 = time.time()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if logs is not None:
                # polyp-free crops of the validation frames: what a model selection must also watch
                logs["val_false_alarms"] = false_alarm_share(generator, val_negatives)
                logs["epoch_seconds"] = time.time() - self.t0
                lr = self.model.optimizer.learning_rate
                logs["learning_rate"] = float(np.asarray(lr))

    class KeepBest(keras.callbacks.Callback):
        """Saves the generator's weights at the best validation epoch; survives a resume (best.json).

        Best: the highest val_dice among epochs whose val_false_alarms are at most
        ``max_false_alarms`` (a model that outlines healthy mucosa is not a candidate however well
        it segments); while no epoch qualifies, the highest val_dice of any epoch.
        """

        def __init__(self) -> None:
            super().__init__()
            self.info_path, self.weights_path = out / "best.json", out / "best.weights.h5"
            self.best = (reload_best(json.loads(self.info_path.read_text()), max_false_alarms)
                         if self.info_path.is_file() else dict(NO_BEST))

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            logs = logs or {}
            score, alarms = float(logs.get("val_dice", -1)), float(logs.get("val_false_alarms", 0.0))
            eligible = not alarms > max_false_alarms  # nan (no crops) counts as eligible
            if is_better(score, eligible, self.best):
                self.best = {"val_dice": score, "epoch": epoch + 1, "val_false_alarms": alarms,
                             "eligible": eligible, "max_false_alarms": max_false_alarms}
                generator.save_weights(self.weights_path)
                self.info_path.write_text(json.dumps(self.best))
                print(f"\nepoch {epoch + 1}: val_dice {score:.4f}, false alarms {alarms:.3f} (best so far) "
                      f"-> {self.weights_path}")

    cbs = [EpochInfo()]  # first: its epoch_seconds include the other callbacks' work (mining)
    if train_batches is not None:
        cbs.append(loader_epoch_callback(keras, train_batches))
        if hard_negatives > 0:
            cbs.append(mining_callback(keras, generator, train_batches, hard_negatives))
    cbs += [RecalibrateBeforeValidation(), KeepBest(),
            keras.callbacks.BackupAndRestore(str(out / "backup"), delete_checkpoint=False),
            resumable_csv_logger(keras, out / "log.csv"), keras.callbacks.TerminateOnNaN()]
    try:
        import tensorboard  # noqa: F401  (the TensorBoard callback needs tf.summary + tensorboard)
        import tensorflow  # noqa: F401

        cbs.append(keras.callbacks.TensorBoard(str(out / "tensorboard"), write_graph=False))
    except ImportError:
        print("TensorFlow/TensorBoard not installed: no TensorBoard logs (CSV log still written)")
    return cbs


def resumable_csv_logger(keras: Any, path: Path) -> Any:
    """Keras' CSVLogger that, appending to an existing log, keeps that log's columns.

    Keras takes the columns from the first epoch's logs and writes no second header, so a run
    resumed with a different column set (a run from before a column existed, mining switched on)
    would write its values under the wrong names; here a new column is dropped with a warning and a
    missing one is written as NA.
    """

    class ResumableCSVLogger(keras.callbacks.CSVLogger):
        def on_train_begin(self, logs: Any = None) -> None:
            header = path.read_text().splitlines()[:1] if path.is_file() else []
            super().on_train_begin(logs)
            self.warned = False
            if header and header[0].startswith("epoch,"):
                self.keys = header[0].split(",")[1:]

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if self.keys is not None and logs and not self.warned and (extra := sorted(set(logs) - set(self.keys))):
                print(f"{path}: resumed with new log columns {extra}; not written (the file's header is kept)")
                self.warned = True
            super().on_epoch_end(epoch, logs)

    return ResumableCSVLogger(str(path), append=True)


def loader_epoch_callback(keras: Any, batches: Any) -> Any:
    """Tells the training batches which epoch starts, so a resumed run draws that epoch's samples.

    Without it the loader counts its own epochs in every process from where Keras' start-up leaves
    it, and a run resumed at epoch 30 would replay an early epoch's order and augmentations. Set in
    on_epoch_begin, which on single-device TensorFlow runs before Keras starts the epoch's loader
    threads. (On JAX or several devices Keras pulls one batch to build the model first, which
    starts the threads early; the first ~10 batches of an epoch, Keras' queue, may then come from
    the previous epoch's stream: the samples stay valid, only exact replay is lost.)
    """

    class SyncLoaderEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            batches.start_epoch(epoch)

    return SyncLoaderEpoch()


def mining_callback(keras: Any, generator: Any, batches: Any, share: float) -> Any:
    """Before each epoch, re-scores every polyp-free training crop and sets the batches' draw weights.

    Runs in on_epoch_begin (before the loader threads start on single-device TensorFlow; see
    loader_epoch_callback), so an epoch's draws depend only on the weights it starts from and a
    resumed run re-scores from the restored weights. Costs one inference pass over the crops per
    epoch (one per training frame with a crop). Logs ``train_negative_alarms``: the share of those
    crops the app would have outlined with the weights the epoch *started* from (one epoch behind
    val_false_alarms, which is measured at its end).
    """
    from training.mining import alarm_scores, sampling_probabilities

    if not batches.negatives:
        raise DataError("hard-negative mining needs polyp-free crops: set negative_rate above 0")
    crops = batches.negative_inputs()

    class MineHardNegatives(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            scores, alarmed = alarm_scores(generator, crops)
            batches.negative_p = sampling_probabilities(scores, share)
            self.alarm_share = float(alarmed.mean())

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if logs is not None:
                logs["train_negative_alarms"] = self.alarm_share

    return MineHardNegatives()


def _data(cfg: dict[str, Any], max_frames: int | None) -> tuple[np.ndarray, ...]:
    from training.data import build_cache, load_cache

    cache_path = Path(cfg["cache"])
    if not cache_path.is_file():
        print(f"building training cache {cache_path} from {cfg['data_root']} ...")
        build_cache(cfg["data_root"], cfg["train_sets"], cache_path, cfg["cache_size"],
                    cfg["val_fraction"], cfg["seed"])
    cache = load_cache(cache_path)
    expected = {"size": cfg["cache_size"], "seed": cfg["seed"], "val_fraction": cfg["val_fraction"]}
    if any(cache.meta[k] != v for k, v in expected.items()):
        raise DataError(f"{cache_path} was built with {cache.meta}, config wants {expected}; delete it")
    tr, va = ~cache.is_val, cache.is_val
    xi, xm, vi, vm = cache.images[tr], cache.masks[tr], cache.images[va], cache.masks[va]
    if max_frames:
        xi, xm, vi, vm = xi[:max_frames], xm[:max_frames], vi[:max_frames], vm[:max_frames]
    return xi, xm, vi, vm


def _build(keras: Any, cfg: dict[str, Any], imagenet: bool, steps: int) -> tuple[Any, Any]:
    from training.gan import LGPSGAN, mean_dice_metric
    from training.imagenet import load_imagenet_encoder
    from training.losses import configured_loss, deep_supervision_loss, dice_per_image, main_head
    from training.model import (
        build_discriminator,
        build_generator,
        count_parameters,
        freeze_encoder_batchnorm,
        with_auxiliary_heads,
    )

    generator = build_generator(None if cfg.get("multi_scale") else cfg["input_size"])
    if imagenet:
        print(f"ImageNet encoder: {load_imagenet_encoder(generator, cfg['encoder_weights'])} layers from "
              f"{cfg['encoder_weights']}")
    if cfg["freeze_encoder_bn"]:
        print(f"encoder batch-norm frozen: {freeze_encoder_batchnorm(generator)} layers")
    print(f"generator parameters: {count_parameters(generator):,} (incl. batch-norm statistics)")
    epochs, lr = cfg["epochs"], cfg["learning_rate"]
    schedule = keras.optimizers.schedules.CosineDecay(
        lr * 0.1, decay_steps=max(1, (epochs - 1) * steps), alpha=0.01, warmup_target=lr,
        warmup_steps=min(steps, epochs * steps // 4))
    optimizer = keras.optimizers.Adam(schedule)
    jit = cfg.get("jit_compile", "auto")
    loss = configured_loss(cfg)
    if cfg["adversarial_weight"] > 0:
        if cfg.get("deep_supervision"):
            raise DataError("adversarial training and deep supervision cannot be combined (choose one)")
        model = LGPSGAN(generator, build_discriminator(cfg["input_size"]), cfg["adversarial_weight"], loss)
        model.compile(optimizer=optimizer, jit_compile=jit)
    elif cfg.get("deep_supervision"):
        model = with_auxiliary_heads(generator)
        dice = keras.metrics.MeanMetricWrapper(fn=main_head(dice_per_image), name="dice")
        model.compile(optimizer=optimizer, loss=deep_supervision_loss(loss), metrics=[dice], jit_compile=jit)
    else:
        model = generator
        model.compile(optimizer=optimizer, loss=loss, metrics=[mean_dice_metric()], jit_compile=jit)
    return generator, model


def multi_scale_sides(cfg: dict[str, Any]) -> tuple[int, ...]:
    """The training sides multi-scale training uses (() when it is off); settings that cannot work
    are refused in one line (DataError)."""
    if not cfg.get("multi_scale"):
        return ()
    from training.augment import multi_scale_sizes

    if cfg["adversarial_weight"] > 0:
        raise DataError("multi-scale training and adversarial training cannot be combined (the discriminator "
                        "has a fixed input size)")
    sizes = multi_scale_sizes(cfg["input_size"])
    if len(sizes) < 2:
        raise DataError(f"multi-scale training at input size {cfg['input_size']} leaves one side {sizes}: "
                        "use a larger input size")
    return sizes


def val_dice(generator: Any, images: np.ndarray, masks: np.ndarray, size: int) -> float:
    """Mean per-image Dice on the validation frames, generator in inference mode."""
    from training.augment import FrameBatches
    from training.losses import dice_per_image

    scores = [np.asarray(dice_per_image(y, generator(x, training=False)))
              for x, y in FrameBatches(images, masks, 16, size, train=False)]
    return float(np.concatenate(scores).mean())


def _distribution(keras: Any, multi_gpu: bool) -> Any:
    import contextlib

    if not multi_gpu:
        return contextlib.nullcontext()
    if keras.backend.backend() == "jax":
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        return contextlib.nullcontext()
    import tensorflow as tf

    return tf.distribute.MirroredStrategy().scope()


def train(cfg: dict[str, Any], *, steps_per_epoch: int | None = None, max_frames: int | None = None,
          imagenet: bool = True, recalibrate_frames: int = 256, multi_gpu: bool = False,
          finalize_only: bool = False, init_weights: str | None = None,
          calibration_frames: int = 128) -> dict[str, Any]:
    """Train, select on validation, recalibrate batch-norm, write final weights and summary.json."""
    import keras

    from training.augment import FrameBatches
    from training.bn import recalibrate_batchnorm

    sizes = multi_scale_sides(cfg)  # before the data: a fresh machine would build the cache first
    run_seed = cfg.get("run_seed", cfg["seed"])  # the split stays on cfg["seed"] (the cache checks it)
    keras.utils.set_random_seed(run_seed)
    out = Path(cfg["out_dir"])
    out.mkdir(parents=True, exist_ok=True)
    xi, xm, vi, vm = _data(cfg, max_frames)
    size, bs = cfg["input_size"], cfg["batch_size"]
    from training.augment import AUGMENTS

    aug = AUGMENTS[cfg.get("augment") or "standard"]
    train_batches = FrameBatches(xi, xm, bs, size, train=True, seed=run_seed, workers=cfg["loader_workers"],
                                 aug=aug, negative_rate=cfg.get("negative_rate", 0.0), sizes=sizes)
    val_batches = FrameBatches(vi, vm, bs, size, train=False)
    steps = min(len(train_batches), steps_per_epoch or len(train_batches))
    if sizes and steps < 2:
        raise DataError("multi-scale training needs at least 2 training batches an epoch (Keras fixes the "
                        "batch shape from the first two)")
    print(f"backend {keras.backend.backend()}; train {len(xi)} frames, val {len(vi)}; {steps} steps/epoch"
          + (f"; multi-scale sides {sizes}" if sizes else ""))
    with _distribution(keras, multi_gpu):
        generator, model = _build(keras, cfg, imagenet, steps)
    if init_weights:
        generator.load_weights(init_weights)
        print(f"generator initialised from {init_weights}")
    started = time.time()
    if finalize_only:
        return finalize(generator, cfg, out, xi, xm, vi, vm, recalibrate_frames, recalibrate_batchnorm,
                        FrameBatches, train_seconds=0.0)
    calibration = [x for x, _ in FrameBatches(xi[:calibration_frames], xm[:calibration_frames], 16, size,
                                              train=False)] if calibration_frames else []
    # shuffle=False: FrameBatches reshuffles itself, seeded by epoch; Keras' own shuffle of the batch
    # order uses the process-global random stream, which a resumed run restarts
    model.fit(train_batches, validation_data=val_batches, epochs=cfg["epochs"], steps_per_epoch=steps, shuffle=False,
              callbacks=_callbacks(keras, generator, out, calibration, negative_crops(vi, vm, size),
                                   cfg.get("select_max_false_alarms", 1.0), train_batches,
                                   cfg.get("hard_negatives", 0.0)), verbose=2)
    return finalize(generator, cfg, out, xi, xm, vi, vm, recalibrate_frames, recalibrate_batchnorm,
                    FrameBatches, train_seconds=time.time() - started)


def finalize(generator: Any, cfg: dict[str, Any], out: Path, xi: np.ndarray, xm: np.ndarray, vi: np.ndarray,
             vm: np.ndarray, recalibrate_frames: int, recalibrate: Any, batches_cls: Any, **extra: Any
             ) -> dict[str, Any]:
    """Best weights -> batch-norm recalibrated on training frames -> final.weights.h5 + summary.json."""
    import keras

    best_path = out / "best.weights.h5"
    if best_path.is_file():
        generator.load_weights(best_path)
    size = cfg["input_size"]
    before = val_dice(generator, vi, vm, size)
    snapshot = [keras.ops.convert_to_numpy(v) for v in generator.non_trainable_variables]
    n = min(recalibrate_frames, len(xi))
    recalibrate(generator, (x for x, _ in batches_cls(xi[:n], xm[:n], 16, size, train=False)))
    after = val_dice(generator, vi, vm, size)
    if after < before:  # keep whichever statistics validate better; both are honest val numbers
        for v, s in zip(generator.non_trainable_variables, snapshot, strict=True):
            v.assign(s)
    generator.save_weights(out / "final.weights.h5")
    log = out / "log.csv"
    epochs_done = max(0, len(log.read_text().strip().splitlines()) - 1) if log.is_file() else 0
    best = json.loads((out / "best.json").read_text()) if (out / "best.json").is_file() else {}
    summary = {
        "config": cfg, "backend": keras.backend.backend(), "machine": platform.platform(),
        "processor": platform.processor() or platform.machine(), "epochs_done": epochs_done,
        "best_epoch": best.get("epoch"), "val_dice_best": best.get("val_dice"),
        "val_false_alarms_best": best.get("val_false_alarms"), "best_within_false_alarm_limit": best.get("eligible"),
        "val_dice_before_recalibration": before, "val_dice_after_recalibration": after,
        "bn_recalibrated": after >= before, "val_dice_final": max(before, after),
        "train_frames": int(len(xi)), "val_frames": int(len(vi)),
        "train_seconds_this_session": extra.get("train_seconds"),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary
