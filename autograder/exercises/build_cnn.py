"""The bonus exercise, `build_cnn()`: a convolutional network, saved as handwritten_cnn.keras.

Any CNN passes the architecture check (28x28 images in, Conv2D layers, 10 softmax outputs); its
test-accuracy mark is the "cnn" one (`autograder.thresholds`). Its checks are the shared model
checks (`exercises.models`) with this exercise's architecture judge.
"""

from __future__ import annotations

from autograder.exercises import models
from autograder.isolation.modelfile import facts_of
from autograder.mistakes import CheckFailed, Mistake, catalogue
from autograder.runner import Check, Exercise

CNN_INPUTS = [(None, 28, 28), (None, 28, 28, 1)]

MISTAKES = catalogue(
    Mistake(
        "no_channel_axis",
        "Conv2D needs images with a channel axis, shape (28, 28, 1), but the model feeds it "
        "(28, 28) images.",
        "Add keras.layers.Reshape((28, 28, 1)) after keras.Input(shape=(28, 28)), before the "
        "first Conv2D.",
    ),
    Mistake(
        "no_convolution",
        "The model has no Conv2D layer, so it is not a CNN.",
        "Reshape the input to (28, 28, 1) and add keras.layers.Conv2D layers before Flatten.",
    ),
    Mistake(
        "cnn_no_flatten",
        "No Flatten layer comes after the last convolution block, so the Dense layers work on "
        "its feature maps position by position and the output shape is {got} instead of "
        "(None, 10).",
        "Add keras.layers.Flatten() after the last convolution block (Conv2D, MaxPooling2D), "
        "right before the first Dense layer (not at the input: the convolutions need the 2-D "
        "images).",
    ),
)

# Error texts of the learner's code that name one of these mistakes (see Exercise.known_errors).
KNOWN_ERRORS = [(r"expected min_ndim=4,found ndim=3", MISTAKES["no_channel_axis"])]


def judge_cnn_architecture(model) -> str:
    """The bonus CNN: 28x28 images in, Conv2D layers, 10 softmax probabilities out
    (`model`: its ModelFacts, or a Keras model of this process)."""
    model = facts_of(model)
    input_shape = models.input_shape_of(model)
    if input_shape not in CNN_INPUTS:
        raise CheckFailed(models.MISTAKES["wrong_input_shape"], got=input_shape, want=CNN_INPUTS[0])
    layers = models.layers_of(model)
    if not any(name == "Conv2D" for name, _, _ in layers):
        raise CheckFailed(MISTAKES["no_convolution"])
    output_shape = models.output_shape_of(model)
    if len(output_shape) > 2:
        raise CheckFailed(MISTAKES["cnn_no_flatten"], got=output_shape)
    models.judge_last_layer(layers)
    convolutions = sum(name == "Conv2D" for name, _, _ in layers)
    return f"{convolutions} Conv2D layer(s), {model.parameters:,} parameters, softmax output"


# Its hints, in Markdown, one at a time: the generator writes them into the notebook's hint
# cell, and hint(build_cnn) in a notebook cell shows the next one.
HINTS = [
    (
        "Start from your `build_model()` of Exercise 1: the input, the last layer and the "
        "compile\n"
        "arguments stay the same. What changes is in between."
    ),
    (
        "`keras.layers.Reshape(target_shape)` takes the new shape of one image as a tuple.\n"
        "`RandomTranslation` takes the largest shift as a fraction of the height, then of the "
        "width\n"
        '(0.08 each), and two keyword arguments: `fill_mode="constant"` (black where the image '
        "moved\n"
        'away) and `interpolation="nearest"` (whole pixels). `keras.layers.Conv2D(filters, '
        "kernel_size=3, activation=...)` and\n"
        "`keras.layers.MaxPooling2D(pool_size=2)` build one block."
    ),
    (
        "`keras.layers.Dropout(rate)` takes the fraction of values to switch off, such as "
        "`0.5`.\n"
        "If `model.summary()` shows an output shape of `(None, 5, 5, 64)` before `Flatten`, your "
        "two\n"
        "blocks are right, and the whole model has 225,034 parameters."
    ),
]


EXERCISE = Exercise(
    function="build_cnn",
    hints=HINTS,
    notebook="03_cnn.ipynb",
    model_file="handwritten_cnn.keras",
    model_kind="cnn",
    bonus=True,
    known_errors=KNOWN_ERRORS,
    architecture=judge_cnn_architecture,
    train_settings={"epochs": 15, "batch_size": 128},  # as the notebook trains (a test checks)
    checks=[
        Check("build_cnn.returns_model", "returns a Keras model", 1, models.check_returns_model),
        Check("build_cnn.architecture", "a CNN for 28x28 images", 1, models.check_architecture),
        Check("build_cnn.compile", "loss and metric", 1, models.check_compile),
        models.saved_file_check(
            "build_cnn.saved_model", "handwritten_cnn.keras", 1, models.check_saved_model
        ),
        models.saved_file_check("build_cnn.accuracy", "test accuracy", 1, models.check_accuracy),
    ],
)
