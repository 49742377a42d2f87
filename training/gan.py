"""The LGPS conditional GAN as a ``keras.Model`` whose ``fit`` trains generator and discriminator.

Per step (pix2pix-style simultaneous update):
    fake = G(x);  D judges (x, y) and (x, fake)
    L_G = hybrid(y, fake) + lambda * BCE(D(x, fake), real)      -> gradients to G only
    L_D = BCE(D(x, y), real) + BCE(D(x, fake), fake)            -> gradients to D only
Unlike the released code, the adversarial term does reach the generator.

One Adam optimizer holds the state of both networks (Adam is per-variable, so this equals two
optimizers with the same schedule) and keeps ``fit``, ``BackupAndRestore`` and the JAX trainer's
state handling standard. The only backend-specific code is the gradient computation, kept in
``_tf_train_step`` and ``_jax_train_step``.
"""

from __future__ import annotations

from typing import Any

import keras

from training.losses import (
    dice_per_image,
    discriminator_loss,
    generator_adversarial_loss,
    hybrid_loss,
)


class LGPSGAN(keras.Model):
    """Generator + conditional discriminator; validation scores the generator in inference mode."""

    def __init__(self, generator: keras.Model, discriminator: keras.Model, adversarial_weight: float,
                 segmentation_loss: Any = hybrid_loss, **kwargs: Any):
        super().__init__(**kwargs)
        self.generator, self.discriminator = generator, discriminator
        self.segmentation_loss = segmentation_loss  # the hybrid loss (training/losses.segmentation_loss)
        self.adversarial_weight = float(adversarial_weight)
        self.trackers = {n: keras.metrics.Mean(name=n) for n in ("loss", "seg_loss", "adv_loss", "d_loss", "dice")}
        self.built = True  # both networks are built functional models

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    def call(self, x: Any, training: bool = False) -> Any:
        return self.generator(x, training=training)

    def _gan_losses(self, x: Any, y: Any, fake: Any, real_logits: Any, fake_logits: Any) -> dict[str, Any]:
        seg = self.segmentation_loss(y, fake)
        adv = generator_adversarial_loss(fake_logits)
        return {"loss": seg + self.adversarial_weight * adv, "seg_loss": seg, "adv_loss": adv,
                "d_loss": discriminator_loss(real_logits, fake_logits)}

    def train_step(self, *args: Any) -> Any:
        if keras.backend.backend() == "jax":
            return self._jax_train_step(*args)
        return self._tf_train_step(*args)

    def _tf_train_step(self, data: Any) -> dict[str, Any]:
        import tensorflow as tf

        x, y = data[0], data[1]
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = self.generator(x, training=True)
            real_logits = self.discriminator([x, y], training=True)
            fake_logits = self.discriminator([x, fake], training=True)
            losses = self._gan_losses(x, y, fake, real_logits, fake_logits)
        # Each tape differentiates only its own network's variables: L_G never moves D, L_D never G.
        g_vars, d_vars = self.generator.trainable_variables, self.discriminator.trainable_variables
        g_grads = g_tape.gradient(losses["loss"], g_vars)
        d_grads = d_tape.gradient(losses["d_loss"], d_vars)
        self.optimizer.apply(list(g_grads) + list(d_grads), list(g_vars) + list(d_vars))
        return self._update(losses, y, fake)

    def _update(self, losses: dict[str, Any], y: Any, fake: Any) -> dict[str, Any]:
        for name, value in losses.items():
            self.trackers[name].update_state(value)
        self.trackers["dice"].update_state(dice_per_image(y, fake))
        return {n: t.result() for n, t in self.trackers.items()}

    def test_step(self, *args: Any) -> Any:
        if keras.backend.backend() == "jax":
            return self._jax_test_step(*args)
        x, y = args[0][0], args[0][1]
        pred = self.generator(x, training=False)
        self.trackers["seg_loss"].update_state(self.segmentation_loss(y, pred))
        self.trackers["dice"].update_state(dice_per_image(y, pred))
        return {n: self.trackers[n].result() for n in ("seg_loss", "dice")}

    # --- JAX: stateless variables; the trainer passes and receives the state tuple -------------

    def _split(self, variables: list, first: list) -> tuple[list, list]:
        return list(variables[: len(first)]), list(variables[len(first):])

    def _jax_train_step(self, state: Any, data: Any) -> Any:
        import jax

        tv, ntv, ov, mv = state
        x, y = data[0], data[1]
        g_tv, d_tv = self._split(tv, self.generator.trainable_variables)
        g_ntv, d_ntv = self._split(ntv, self.generator.non_trainable_variables)

        def g_objective(g_tv: list) -> Any:
            fake, new_g_ntv = self.generator.stateless_call(g_tv, g_ntv, x, training=True)
            d_frozen = [jax.lax.stop_gradient(v) for v in d_tv]
            fake_logits, _ = self.discriminator.stateless_call(d_frozen, d_ntv, [x, fake], training=True)
            real_logits, _ = self.discriminator.stateless_call(d_frozen, d_ntv, [x, y], training=True)
            losses = self._gan_losses(x, y, fake, real_logits, fake_logits)
            return losses["loss"], (losses, fake, new_g_ntv)

        def d_objective(d_tv: list, fake: Any) -> Any:
            real_logits, _ = self.discriminator.stateless_call(d_tv, d_ntv, [x, y], training=True)
            fake_logits, _ = self.discriminator.stateless_call(d_tv, d_ntv, [x, fake], training=True)
            return discriminator_loss(real_logits, fake_logits)

        (_, (losses, fake, new_g_ntv)), g_grads = jax.value_and_grad(g_objective, has_aux=True)(g_tv)
        d_grads = jax.grad(d_objective)(d_tv, jax.lax.stop_gradient(fake))
        new_tv, new_ov = self.optimizer.stateless_apply(ov, list(g_grads) + list(d_grads), tv)
        values = dict(losses, dice=dice_per_image(y, fake))
        logs, new_mv = self._stateless_metrics(mv, values)
        return logs, (new_tv, list(new_g_ntv) + list(d_ntv), new_ov, new_mv)

    def _stateless_metrics(self, mv: list, values: dict[str, Any], names: tuple[str, ...] | None = None
                           ) -> tuple[dict[str, Any], list]:
        logs, new_mv, pos = {}, [], 0
        for name, tracker in self.trackers.items():
            these = mv[pos:pos + len(tracker.variables)]
            pos += len(tracker.variables)
            if name in values and (names is None or name in names):
                these = tracker.stateless_update_state(these, values[name])
                logs[name] = tracker.stateless_result(these)
            new_mv += list(these)
        return logs, new_mv

    def _jax_test_step(self, state: Any, data: Any) -> Any:
        tv, ntv, mv = state
        x, y = data[0], data[1]
        g_tv, _ = self._split(tv, self.generator.trainable_variables)
        g_ntv, _ = self._split(ntv, self.generator.non_trainable_variables)
        pred, _ = self.generator.stateless_call(g_tv, g_ntv, x, training=False)
        values = {"seg_loss": self.segmentation_loss(y, pred), "dice": dice_per_image(y, pred)}
        logs, new_mv = self._stateless_metrics(mv, values, ("seg_loss", "dice"))
        return logs, (tv, ntv, new_mv)


def mean_dice_metric() -> keras.metrics.Metric:
    """Per-image hard Dice at 0.5, averaged: the validation score used for model selection."""
    return keras.metrics.MeanMetricWrapper(fn=dice_per_image, name="dice")
