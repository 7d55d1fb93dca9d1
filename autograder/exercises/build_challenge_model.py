"""Bonus exercise 6, `build_challenge_model()`: the learner's own network under a parameter
budget, saved as challenge.keras.

Any architecture passes that takes (28, 28) images, ends with 10 softmax outputs and has fewer
than `PARAMETER_BUDGET` parameters, in the model the function returns and in the saved file
alike. Its test-accuracy mark is the "challenge" one (`autograder.thresholds`), calibrated on
two honest recipes under the budget. Its checks are the shared model checks
(`exercises.models`) with this exercise's architecture judge.
"""

from __future__ import annotations

from autograder.exercises import models
from autograder.isolation.modelfile import facts_of
from autograder.mistakes import CheckFailed, Mistake, catalogue
from autograder.runner import Check, Exercise

PARAMETER_BUDGET = 50_000  # a model must have fewer parameters than this
CHALLENGE_INPUTS = [(None, 28, 28), (None, 28, 28, 1)]

MISTAKES = catalogue(
    Mistake(
        "over_budget",
        "The model has {got:,} parameters; the challenge's budget is fewer than {budget:,} "
        "({over:,} too many).",
        "Look at model.summary(): the layer with the most parameters is usually the first Dense "
        "layer after Flatten (inputs x units + units). Use fewer units there, or shrink the "
        "image first (Conv2D and MaxPooling2D), then train and save again.",
    ),
)


def judge_challenge_architecture(model) -> str:
    """(28, 28) images in, 10 softmax probabilities out, fewer than PARAMETER_BUDGET parameters
    (`model`: its ModelFacts, or a Keras model of this process)."""
    model = facts_of(model)
    input_shape = models.input_shape_of(model)
    if input_shape not in CHALLENGE_INPUTS:
        raise CheckFailed(
            models.MISTAKES["wrong_input_shape"], got=input_shape, want=CHALLENGE_INPUTS[0]
        )
    output_shape = models.output_shape_of(model)
    if len(output_shape) > 2:
        raise CheckFailed(models.MISTAKES["no_flatten"], got=output_shape)
    models.judge_last_layer(models.layers_of(model))
    parameters = model.parameters
    if parameters >= PARAMETER_BUDGET:
        raise CheckFailed(
            MISTAKES["over_budget"],
            got=parameters,
            budget=PARAMETER_BUDGET,
            over=parameters - PARAMETER_BUDGET + 1,
        )
    return f"{parameters:,} parameters (budget: fewer than {PARAMETER_BUDGET:,}), softmax output"


# Its hints, in Markdown, one at a time: the generator writes them into the notebook's hint
# cell, and hint(build_challenge_model) in a notebook cell shows the next one.
HINTS = [
    "Count before you train: `model.summary()` lists each layer's parameters and "
    "`model.count_params()` their total. Exercise 1's network has 118,282, most of them in its "
    "first `Dense` layer (784 × 128 + 128).",
    "A dense network fits the budget with one hidden layer of about 60 units "
    "(784 × 60 + 60 = 47,100 parameters for that layer, 47,710 with the output layer), but "
    "loses accuracy. Convolutions cost far less: "
    "`Conv2D(16, kernel_size=3)` on a grayscale image has 160 parameters, whatever its size.",
    "Shrink the image before `Flatten`: two blocks of `Conv2D` and `MaxPooling2D(pool_size=2)` "
    "take 28×28 down to 5×5. With 32 filters in the last block, `Flatten` passes on 800 values, "
    "and a `Dense(32)` after it costs 25,632 parameters.",
]


EXERCISE = Exercise(
    function="build_challenge_model",
    notebook="06_challenge.ipynb",
    model_file="challenge.keras",
    model_kind="challenge",
    bonus=True,
    hints=HINTS,
    architecture=judge_challenge_architecture,
    train_settings={"epochs": 6, "batch_size": 128},  # as the notebook trains (a test checks)
    checks=[
        Check(
            "build_challenge_model.returns_model",
            "returns a Keras model",
            1,
            models.check_returns_model,
        ),
        Check(
            "build_challenge_model.budget",
            "fewer than 50,000 parameters",
            1,
            models.check_architecture,
        ),
        Check("build_challenge_model.compile", "loss and metric", 1, models.check_compile),
        models.saved_file_check(
            "build_challenge_model.saved_model", "challenge.keras", 1, models.check_saved_model
        ),
        models.saved_file_check(
            "build_challenge_model.accuracy", "test accuracy", 1, models.check_accuracy
        ),
    ],
)
