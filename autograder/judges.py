"""Judging functions: they look at models and returned values and name the mistake, if any.

They never run learner code; `checks.py` feeds them what the learner's code produced.
"""

from __future__ import annotations

import re

import numpy as np

from autograder.mistakes import describe

DENSE_INPUT = (None, 28, 28)
DENSE_SHAPES = [(None, 784), (None, 128), (None, 128), (None, 10)]
DENSE_ACTIVATIONS = ["relu", "relu", "softmax"]
DENSE_PARAMETERS = 118_282
CNN_INPUTS = [(None, 28, 28), (None, 28, 28, 1)]
SHAPE_ONLY_LAYERS = ("Dropout", "InputLayer")  # they change no shape and no activation
SPARSE_LOSS = "sparse_categorical_crossentropy"
ACCURACY_METRICS = {"accuracy", "acc", "sparse_categorical_accuracy"}


class CheckFailed(Exception):
    """A check found a catalogued mistake."""

    def __init__(self, mistake_id: str, **values):
        self.mistake_id = mistake_id
        self.message, self.hint = describe(mistake_id, **values)
        super().__init__(self.message)


def _shape(tensor) -> tuple:
    return tuple(None if size is None else int(size) for size in tensor.shape)


def input_shape_of(model) -> tuple:
    """The model's input shape; a model built without keras.Input has none (a learner mistake)."""
    try:
        return _shape(model.inputs[0])
    except (AttributeError, ValueError, IndexError, TypeError):
        raise CheckFailed("no_input_shape") from None


def _layers(model) -> list:
    """The layers that matter for the contract: activation layers folded into the previous one."""
    layers: list = []
    for layer in model.layers:
        name = type(layer).__name__
        if name in SHAPE_ONLY_LAYERS:
            continue
        if name in ("Activation", "Softmax") and layers:
            activation = "softmax" if name == "Softmax" else _activation_name(layer)
            layers[-1] = (layers[-1][0], layers[-1][1], activation)
            continue
        layers.append((name, _shape(layer.output), _activation_name(layer)))
    return layers


def _activation_name(layer) -> str | None:
    activation = getattr(layer, "activation", None)
    return None if activation is None else getattr(activation, "__name__", str(activation))


def judge_dense_architecture(model) -> str:
    """The exercise's model: (28, 28) -> Flatten -> 128 relu -> 128 relu -> 10 softmax."""
    input_shape = input_shape_of(model)
    if input_shape != DENSE_INPUT:
        raise CheckFailed("wrong_input_shape", got=input_shape, want=DENSE_INPUT)
    layers = _layers(model)
    output_shape = _shape(model.outputs[0])
    if "Flatten" not in [name for name, _, _ in layers] and len(output_shape) > 2:
        raise CheckFailed("no_flatten", got=output_shape)
    _judge_last_layer(layers)
    shapes = [shape for _, shape, _ in layers]
    if shapes != DENSE_SHAPES:
        raise CheckFailed("wrong_layers", got=_arrow(shapes), want=_arrow(DENSE_SHAPES))
    for index, ((name, _, got), want) in enumerate(
        zip(layers[1:], DENSE_ACTIVATIONS, strict=True), start=2
    ):
        if got != want:
            raise CheckFailed("wrong_activation", index=index, layer=name, got=got, want=want)
    parameters = model.count_params()
    if parameters != DENSE_PARAMETERS:
        raise CheckFailed("wrong_parameter_count", got=parameters, want=DENSE_PARAMETERS)
    return f"{_arrow(shapes)}, relu/relu/softmax, {parameters:,} parameters"


def judge_cnn_architecture(model) -> str:
    """The bonus CNN: 28x28 images in, Conv2D layers, 10 softmax probabilities out."""
    input_shape = input_shape_of(model)
    if input_shape not in CNN_INPUTS:
        raise CheckFailed("wrong_input_shape", got=input_shape, want=CNN_INPUTS[0])
    layers = _layers(model)
    if not any(name == "Conv2D" for name, _, _ in layers):
        raise CheckFailed("no_convolution")
    output_shape = _shape(model.outputs[0])
    if len(output_shape) > 2:
        raise CheckFailed("no_flatten", got=output_shape)
    _judge_last_layer(layers)
    convolutions = sum(name == "Conv2D" for name, _, _ in layers)
    return f"{convolutions} Conv2D layer(s), {model.count_params():,} parameters, softmax output"


def _judge_last_layer(layers: list) -> None:
    _, shape, activation = layers[-1]
    if shape[-1] != 10:
        raise CheckFailed("last_layer_units", got=shape[-1])
    if activation != "softmax":
        raise CheckFailed("last_layer_not_softmax", got=activation)


def _arrow(shapes: list) -> str:
    return " -> ".join(str(shape[-1]) if len(shape) == 2 else str(shape) for shape in shapes)


def judge_compile(model, require_adam: bool) -> str:
    """Optimizer, loss and metric as the exercise asks, read from the model's compile config."""
    config = model.get_compile_config() if getattr(model, "compiled", False) else None
    if not config:
        raise CheckFailed("not_compiled")
    optimizer = (config.get("optimizer") or {}).get("class_name", str(config.get("optimizer")))
    if require_adam and optimizer.lower() != "adam":
        raise CheckFailed("wrong_optimizer", got=optimizer, want="Adam")
    loss, from_logits = _loss_name(config.get("loss"))
    if loss == SPARSE_LOSS and from_logits:
        raise CheckFailed("softmax_from_logits")
    if loss == "categorical_crossentropy":
        raise CheckFailed("categorical_with_integer_labels", got=loss)
    if loss != SPARSE_LOSS:
        raise CheckFailed("wrong_loss", got=loss)
    metrics = [_metric_name(metric) for metric in config.get("metrics") or []]
    if not ACCURACY_METRICS.intersection(metrics):
        weights = config.get("loss_weights")
        if isinstance(weights, list) and ACCURACY_METRICS.intersection(map(str, weights)):
            raise CheckFailed("metrics_as_loss_weights")
        raise CheckFailed("missing_accuracy_metric", got=metrics or "none")
    return f"{optimizer}, {loss}, metrics {metrics}"


def _loss_name(loss) -> tuple[str, bool]:
    if isinstance(loss, dict):
        config = loss.get("config")
        if isinstance(config, str):  # a plain function such as keras.losses.mse
            return _snake(config), False
        config = config or {}
        return _snake(config.get("name") or loss.get("class_name", "")), bool(
            config.get("from_logits", False)
        )
    return _snake(str(loss)), False


def _metric_name(metric) -> str:
    if isinstance(metric, dict):
        config = metric.get("config")
        if isinstance(config, dict) and config.get("name"):
            return _snake(config["name"])
        return _snake(metric.get("class_name", ""))
    return _snake(str(metric))


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def judge_probabilities(probabilities: np.ndarray, file: str) -> None:
    """Rows of 10 non-negative numbers that sum to 1."""
    problem = None
    if probabilities.ndim != 2 or probabilities.shape[1] != 10:
        problem = f"output shape {probabilities.shape} instead of (n, 10)"
    elif not np.all(np.isfinite(probabilities)):
        problem = "some outputs are NaN or infinite"
    elif probabilities.min() < -1e-6 or probabilities.max() > 1 + 1e-6:
        problem = f"outputs range from {probabilities.min():.3g} to {probabilities.max():.3g}"
    elif not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3):
        problem = "the 10 outputs of a row do not sum to 1"
    if problem:
        raise CheckFailed("invalid_probabilities", file=file, problem=problem)


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(probabilities, axis=1) == labels))


def confidence(probabilities: np.ndarray) -> float:
    """The mean of each row's top probability."""
    return float(np.mean(np.max(probabilities, axis=1)))


def trained_on_raw_pixels(scaled: np.ndarray, raw: np.ndarray, labels: np.ndarray) -> bool:
    """Whether a model was trained on 0-255 pixels, from its outputs on both scalings.

    A ReLU network's arg-max hardly changes when its inputs are divided by 255, so accuracy alone
    cannot tell; its confidence does. Trained on raw pixels, it gives nearly uniform
    probabilities on scaled ones (mean top probability about 0.13) while still ranking the right
    digit first (about 80% of the time), and it does as well on raw pixels. A model trained on
    scaled pixels, or not trained at all, is about as confident as it is accurate.
    """
    accuracy_scaled = accuracy(scaled, labels)
    overshoot = accuracy_scaled - confidence(scaled)
    return overshoot > 0.3 and accuracy(raw, labels) >= accuracy_scaled - 0.05
