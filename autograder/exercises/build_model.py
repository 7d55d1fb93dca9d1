"""Exercise 1, `build_model()`: the course's dense network, compiled, saved as handwritten.keras.

    keras.Input((28, 28)) -> Flatten -> Dense(128, relu) -> Dense(128, relu) -> Dense(10, softmax)
    compiled with adam, sparse_categorical_crossentropy, metrics=["accuracy"]

Its checks are the shared model checks (`exercises.models`) with this exercise's architecture
judge; its test-accuracy mark is the "dense" one (`autograder.thresholds`).
"""

from __future__ import annotations

from autograder.exercises import models
from autograder.isolation.modelfile import facts_of
from autograder.mistakes import CheckFailed, Mistake, catalogue
from autograder.runner import Check, Exercise

DENSE_INPUT = (None, 28, 28)
DENSE_SHAPES = [(None, 784), (None, 128), (None, 128), (None, 10)]
DENSE_ACTIVATIONS = ["relu", "relu", "softmax"]
DENSE_PARAMETERS = 118_282

MISTAKES = catalogue(
    Mistake(
        "wrong_layers",
        "The layer output shapes are {got}; the exercise asks for {want}.",
        "Use Flatten, then Dense(128, relu), Dense(128, relu) and Dense(10, softmax).",
    ),
    Mistake(
        "wrong_activation",
        "Layer {index} ({layer}) uses activation {got}; the exercise asks for {want}.",
        'Pass activation="{want}" to that Dense layer.',
    ),
    Mistake(
        "wrong_parameter_count",
        "The model has {got:,} parameters; the course's model has {want:,}.",
        "Check the number of units of each Dense layer (128, 128, 10).",
    ),
)


def judge_dense_architecture(model) -> str:
    """The exercise's model: (28, 28) -> Flatten -> 128 relu -> 128 relu -> 10 softmax
    (`model`: its ModelFacts, or a Keras model of this process)."""
    model = facts_of(model)
    input_shape = models.input_shape_of(model)
    if input_shape != DENSE_INPUT:
        raise CheckFailed(models.MISTAKES["wrong_input_shape"], got=input_shape, want=DENSE_INPUT)
    layers = models.layers_of(model)
    output_shape = models.output_shape_of(model)
    if "Flatten" not in [name for name, _, _ in layers] and len(output_shape) > 2:
        raise CheckFailed(models.MISTAKES["no_flatten"], got=output_shape)
    models.judge_last_layer(layers)
    shapes = [shape for _, shape, _ in layers]
    if shapes != DENSE_SHAPES:
        raise CheckFailed(
            MISTAKES["wrong_layers"], got=models.arrow(shapes), want=models.arrow(DENSE_SHAPES)
        )
    for index, ((name, _, got), want) in enumerate(
        zip(layers[1:], DENSE_ACTIVATIONS, strict=True), start=2
    ):
        if got != want:
            raise CheckFailed(
                MISTAKES["wrong_activation"], index=index, layer=name, got=got, want=want
            )
    parameters = model.parameters
    if parameters != DENSE_PARAMETERS:
        raise CheckFailed(MISTAKES["wrong_parameter_count"], got=parameters, want=DENSE_PARAMETERS)
    return f"{models.arrow(shapes)}, relu/relu/softmax, {parameters:,} parameters"


# Its hints, in Markdown, one at a time: the generator writes them into the notebook's hint
# cell, and hint(build_model) in a notebook cell shows the next one.
HINTS = [
    (
        "`keras.Sequential([...])` takes a list of layers and chains them in order. The first "
        "item is not\n"
        "a layer but the input description: `keras.Input(shape=...)` with the shape of *one* "
        "image."
    ),
    (
        "The layers live in `keras.layers`: `Flatten()` takes no argument; `Dense(units, "
        "activation=...)`\n"
        'takes the number of units and the activation\'s name as a string, such as `"relu"`.'
    ),
    (
        "After building the model, call its `compile` method with three keyword arguments:\n"
        "`optimizer=`, `loss=` and `metrics=` (a *list*, even with one metric). Don't forget to\n"
        "`return` the model."
    ),
]


EXERCISE = Exercise(
    function="build_model",
    hints=HINTS,
    notebook="01_build_model.ipynb",
    model_file="handwritten.keras",
    model_kind="dense",
    architecture=judge_dense_architecture,
    require_adam=True,
    train_settings={"epochs": 3},  # as the notebook trains (a test checks they match)
    checks=[
        Check("build_model.returns_model", "returns a Keras model", 1, models.check_returns_model),
        Check("build_model.architecture", "layers and shapes", 2, models.check_architecture),
        Check("build_model.compile", "optimizer, loss, metric", 1, models.check_compile),
        models.saved_file_check(
            "build_model.saved_model", "handwritten.keras", 1, models.check_saved_model
        ),
        models.saved_file_check(
            "build_model.reload", "same predictions after reload", 1, models.check_reload
        ),
        models.saved_file_check("build_model.accuracy", "test accuracy", 2, models.check_accuracy),
    ],
)
