"""The LGPS generator and discriminator (Tesema et al., "LGPS: A Lightweight GAN-Based Approach
for Polyp Segmentation in Colonoscopy Images", arXiv 2503.18294).

Generator: a MobileNetV2 (alpha 1.0) encoder cut at ``block_13_expand_relu`` (1/16 resolution),
skips from ``block_1/3/6_expand_relu`` (1/2, 1/4, 1/8), a bridge and three decoder stages built
from the paper's modified residual block with squeeze-excitation (576/256/128/64 filters; each
block works at filters/4 channels), a last bilinear x2 up-sampling and a 1x1 sigmoid head.

Contract with the engine: the model takes RGB float32 in [0, 255] and normalises inside (a
Rescaling layer to [-1, 1], what MobileNetV2 expects), so the int8 TFLite input is raw pixels.

Discriminator: conditional, fed the image and a mask (real or generated) concatenated, five
stride-2 3x3 convolutions with LeakyReLU as in the paper, giving a patch map of real/fake logits.
The released code's "ConvCRF" inside the discriminator is a single 3x3 convolution and is
omitted; the ConvCRF belongs to inference (engine/convcrf.py).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import keras
from keras import layers

from engine.errors import ModelError

ENCODER_OUTPUT = "block_13_expand_relu"
ENCODER_SKIPS = ("block_1_expand_relu", "block_3_expand_relu", "block_6_expand_relu")
DECODER_FILTERS = (256, 128, 64)
BRIDGE_FILTERS = 576
NORMALISATION = "x / 127.5 - 1 (RGB 0..255 to [-1, 1]), inside the model"


def squeeze_excitation(x: keras.KerasTensor, prefix: str, ratio: int = 16) -> keras.KerasTensor:
    """Channel re-weighting (Hu et al. 2018), reduction ratio 16 as in the paper."""
    channels = x.shape[-1]
    se = layers.GlobalAveragePooling2D(keepdims=True, name=f"{prefix}_se_squeeze")(x)
    se = layers.Conv2D(max(channels // ratio, 1), 1, activation="relu", name=f"{prefix}_se_reduce")(se)
    se = layers.Conv2D(channels, 1, activation="sigmoid", name=f"{prefix}_se_expand")(se)
    return layers.Multiply(name=f"{prefix}_se_scale")([x, se])


def modified_residual_block(x: keras.KerasTensor, filters: int, prefix: str) -> keras.KerasTensor:
    """The paper's block: 1x1 bottleneck to filters/4, 3x3 conv, projected shortcut, ReLU, SE.

    The SE excitation uses 1x1 convolutions (the same maths as Dense on the pooled vector) so
    the block stays a plain conv graph for the int8 converter.
    """
    width = filters // 4
    shortcut = x
    y = layers.Conv2D(width, 1, padding="same", name=f"{prefix}_reduce")(x)
    y = layers.BatchNormalization(name=f"{prefix}_reduce_bn")(y)
    y = layers.ReLU(name=f"{prefix}_reduce_relu")(y)
    y = layers.Conv2D(width, 3, padding="same", name=f"{prefix}_conv")(y)
    y = layers.BatchNormalization(name=f"{prefix}_conv_bn")(y)
    if shortcut.shape[-1] != width:
        shortcut = layers.Conv2D(width, 1, padding="same", name=f"{prefix}_shortcut")(shortcut)
        shortcut = layers.BatchNormalization(name=f"{prefix}_shortcut_bn")(shortcut)
    y = layers.Add(name=f"{prefix}_add")([shortcut, y])
    y = layers.ReLU(name=f"{prefix}_relu")(y)
    return squeeze_excitation(y, prefix)


class AnySizeBilinearUp(layers.UpSampling2D):
    """Bilinear ``UpSampling2D`` that also traces with unknown sides under TensorFlow.

    Keras' own layer checks the new size with Python comparisons, which a symbolic side cannot
    answer in TensorFlow's graph mode (multi-scale training: the batches' sides are not fixed). The
    same ``tf.image.resize`` call Keras makes, on the tensor's dynamic shape (channels last, as the
    generator is); other backends trace with concrete shapes and use the parent unchanged.
    Weightless: a fixed-size generator loads the same weights.
    """

    def __init__(self, size: int = 2, name: str | None = None, **kwargs: Any) -> None:
        kwargs.pop("interpolation", None)  # from get_config (clone_model, from_config): always bilinear
        super().__init__(size, interpolation="bilinear", name=name, **kwargs)

    def call(self, inputs: Any) -> Any:
        if keras.backend.backend() != "tensorflow":
            return super().call(inputs)
        import tensorflow as tf

        return tf.image.resize(inputs, tf.shape(inputs)[1:3] * self.size[0], method="bilinear", antialias=False)


def _upsampling(factor: int, name: str, any_size: bool, **kwargs: Any) -> layers.Layer:
    return (AnySizeBilinearUp(factor, name, **kwargs) if any_size
            else layers.UpSampling2D(factor, interpolation="bilinear", name=name, **kwargs))


def build_encoder(input_size: int | None = 256) -> keras.Model:
    """MobileNetV2 alpha 1.0 (random init) returning [deep, skip 1/2, skip 1/4, skip 1/8].

    The input is already normalised to [-1, 1]; ``None``: any side (multi-scale training). ImageNet weights come from
    ``training.imagenet.load_imagenet_encoder`` (offline, from a TFLite file).
    """
    base = keras.applications.MobileNetV2(
        input_shape=(input_size, input_size, 3), alpha=1.0, include_top=False, weights=None
    )
    outputs = [base.get_layer(ENCODER_OUTPUT).output] + [base.get_layer(n).output for n in ENCODER_SKIPS]
    return keras.Model(base.input, outputs, name="encoder")


def build_generator(input_size: int | None = 256, encoder: keras.Model | None = None) -> keras.Model:
    """The LGPS generator: RGB 0..255 (S, S, 3) -> polyp probability (S, S, 1).

    ``input_size=None`` accepts any side that is a multiple of 32 (multi-scale training); its weights
    load into a fixed-size generator unchanged (every layer is convolutional or per-channel).
    """
    if input_size is not None and input_size % 32:
        raise ValueError(f"input_size must be a multiple of 32, got {input_size}")
    encoder = encoder or build_encoder(input_size)
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="normalise")(inputs)
    deep, *skips = encoder(x)
    x = modified_residual_block(deep, BRIDGE_FILTERS, "bridge")
    for stage, (filters, skip) in enumerate(zip(DECODER_FILTERS, reversed(skips), strict=True), start=1):
        x = _upsampling(2, f"decoder{stage}_up", input_size is None)(x)
        x = layers.Concatenate(name=f"decoder{stage}_concat")([x, skip])
        x = modified_residual_block(x, filters, f"decoder{stage}")
    x = _upsampling(2, "head_up", input_size is None)(x)
    outputs = layers.Conv2D(1, 1, activation="sigmoid", name="head", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="lgps_generator")


AUX_STAGES = (("decoder2", 4), ("decoder1", 8), ("bridge", 16))  # block, its stride


def with_auxiliary_heads(generator: keras.Model) -> keras.Model:
    """A training model over ``generator``'s layers: output channels [main, aux decoder2/1/bridge].

    Deep supervision: each auxiliary head (1x1 conv to a logit, bilinear up to full size,
    sigmoid) makes a coarse decoder stage predict the mask itself, which speeds up and steadies
    what the early stages learn. The heads are new layers outside ``generator``: saving or
    exporting ``generator`` leaves them out, so the shipped model keeps its parameter count.
    """
    outputs = [generator.output]
    any_size = generator.input_shape[1] is None
    for name, stride in AUX_STAGES:
        x = generator.get_layer(f"{name}_se_scale").output
        x = layers.Conv2D(1, 1, name=f"aux_{name}_logit", dtype="float32")(x)
        x = _upsampling(stride, f"aux_{name}_up", any_size, dtype="float32")(x)
        outputs.append(layers.Activation("sigmoid", name=f"aux_{name}_prob", dtype="float32")(x))
    stacked = layers.Concatenate(name="deep_supervision", dtype="float32")(outputs)
    return keras.Model(generator.input, stacked, name="lgps_deep_supervision")


def build_discriminator(input_size: int = 256) -> keras.Model:
    """Conditional patch discriminator: (image 0..255, mask 0..1) -> real/fake logits (S/32)^2.

    Logits, not probabilities: the loss applies the sigmoid (numerically stable).
    """
    image = keras.Input((input_size, input_size, 3), name="image")
    mask = keras.Input((input_size, input_size, 1), name="mask")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="normalise")(image)
    m = layers.Rescaling(2.0, offset=-1.0, name="mask_normalise")(mask)
    x = layers.Concatenate(name="condition")([x, m])
    for i, filters in enumerate((64, 128, 256, 512), start=1):
        x = layers.Conv2D(filters, 3, strides=2, padding="same", name=f"disc_conv{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"disc_lrelu{i}")(x)
    logits = layers.Conv2D(1, 3, strides=2, padding="same", name="disc_logits", dtype="float32")(x)
    return keras.Model([image, mask], logits, name="lgps_discriminator")


def freeze_encoder_batchnorm(generator: keras.Model) -> int:
    """Run the encoder's batch-norm layers in inference mode for good; returns how many.

    Why: fine-tuning with small batches moves the ImageNet moving statistics away from what
    the batches see, and a model that looks good in training mode can predict all background
    in inference mode. A non-trainable BatchNormalization in Keras 3 always uses its moving
    statistics and never updates them, so training and inference compute the same function.
    """
    count = 0
    for layer in generator.get_layer("encoder").layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False
            count += 1
    return count


def count_parameters(model: keras.Model) -> int:
    """All weights, trainable or not (batch-norm moving statistics included), as the paper counts."""
    return int(model.count_params())


def load_generator_weights(generator: keras.Model, path: str | Path) -> None:
    """Load a ``.weights.h5`` into ``generator``; another network's file or a corrupt one is one ModelError line."""
    try:
        with warnings.catch_warnings():  # Keras warns per layer it cannot match before it raises
            warnings.simplefilter("ignore")
            generator.load_weights(path)
    except (ValueError, OSError):
        raise ModelError(f"not LGPS generator weights (another network's, or not a .weights.h5 file): {path}") from None
