"""Exercise 5, find the bugs: the graded cell of 05_find_the_bug.ipynb defines a small pipeline,
`scale_images(images)`, `build_classifier()` and `predicted_digits(probabilities)`, and the
exercise gives it with one planted bug in each (raw 0-255 pixels, softmax twice, the arg-max
over the wrong axis), all taken from the mistakes this grader finds in Exercises 1 to 3.

Each function is judged by a check of its own (`Check.independent`), so each fix earns its
points; a message says which function is still wrong and what the grader measured, never the
fix. The grader calls the functions (it never trains, never runs the notebook). A cell left as
the exercise gave it is "not attempted": the generator records its fingerprint in planted.json.
"""

from __future__ import annotations

import functools
import json
import secrets
from importlib.resources import files

import numpy as np

from autograder.exercises import models
from autograder.isolation.protocol import argument_spec
from autograder.mistakes import CheckFailed, Mistake, NotAttempted, catalogue
from autograder.runner import Check, Context, Exercise
from autograder.submission import fingerprint

NOTEBOOK = "05_find_the_bug.ipynb"

MISTAKES = catalogue(
    Mistake(
        "bugs_not_attempted",
        "The graded cell is not written yet: it is still as the exercise gave it, with its "
        "three bugs.",
        "Run the notebook and read what it prints: each of the cell's three functions hides one "
        "bug. Fix them in the graded cell, run check({function}), then save the notebook: the "
        "grader reads the saved file.",
    ),
    Mistake(
        "bug_raw_pixels",
        "scale_images() returned values from {low:g} to {high:g} for images whose pixels run "
        "from 0 to 255: the network would get the pixels unscaled.",
        "The network learns best on small numbers. Print the smallest and largest value of "
        "what scale_images() returns, and compare with its docstring.",
    ),
    Mistake(
        "bug_wrong_scaling",
        "scale_images() returned values from {low:.4g} to {high:.4g} (mean {mean:.4g}); the "
        "same images scaled the course's way run from {want_low:.4g} to {want_high:.4g} "
        "(mean {want_mean:.4g}).",
        "Every pixel must be divided by the same number, the largest value a pixel can take "
        "(not the largest of these images).",
    ),
    Mistake(
        "bug_not_an_array",
        "{part}() returned {type}, not an array of shape {want}.",
        "Return the NumPy array itself (no print, no list of arrays).",
    ),
    Mistake(
        "bug_shape_changed",
        "scale_images() returned an array of shape {got} for images of shape {want}.",
        "Scaling changes the pixels' values, never the array's shape.",
    ),
    Mistake(
        "bug_softmax_twice",
        "build_classifier()'s last layer already turns its outputs into probabilities "
        "(activation {activation}), and its loss is told they are not probabilities yet "
        "(from_logits=True): softmax is applied twice, and training is slow and poor.",
        "Decide which of the two turns the network's scores into probabilities, the last layer "
        "or the loss, and let only that one do it.",
    ),
    Mistake(
        "bug_logits_as_probabilities",
        "build_classifier()'s last layer has activation {activation}, so its outputs are not "
        "probabilities, and its loss reads them as probabilities (from_logits is False).",
        "Decide which of the two turns the network's scores into probabilities, the last layer "
        "or the loss, and let exactly one of them do it.",
    ),
    Mistake(
        "bug_argmax_wrong_axis",
        "predicted_digits() returned {got} values for {rows} images: one per digit column "
        "instead of one per image.",
        "Each row of `probabilities` is one image, each column one digit. Which axis does "
        "np.argmax work along here?",
    ),
    Mistake(
        "bug_wrong_digits",
        "predicted_digits() returned one value per image for {rows} random rows of "
        "probabilities, but not each row's most likely digit: their mean is {got:.4g}, where "
        "the most likely digits' mean is {want:.4g}.",
        "For each image, return the digit (0 to 9) whose probability is the highest: its "
        "position in the row, not the probability itself.",
    ),
)

PRIME_ROWS = (37, 41, 43, 47, 53)  # never 10: an arg-max over the wrong axis shows in the shape


@functools.cache
def planted_fingerprints() -> frozenset[str]:
    """The graded cells of this exercise as the generator plants them (planted.json)."""
    planted = json.loads(files("autograder.exercises").joinpath("planted.json").read_text())
    return frozenset(planted.get(NOTEBOOK, []))


def judge_attempted(context: Context, exercise: Exercise) -> None:
    """A cell left as the exercise gave it is not attempted (each check says so)."""
    source = context.learner.source(exercise.function)
    if source and fingerprint(source) in planted_fingerprints():
        raise NotAttempted(MISTAKES["bugs_not_attempted"], function=exercise.function)


def call_part(context: Context, exercise: Exercise, part: str, arguments: list[dict]) -> dict:
    """Call `part`, another function of the exercise's graded cell (the worker runs the same
    cell and looks the name up in it)."""
    cells = getattr(context.learner, "cells", None)
    if isinstance(cells, dict) and part not in cells:
        cells[part] = cells[exercise.function]
    return context.learner.call(part, arguments)


def _rng(context: Context) -> np.random.Generator:
    return np.random.default_rng(secrets.randbits(64) if context.seed is None else context.seed)


def _summary(result: dict, part: str, want: tuple) -> dict:
    if result["summary"] is None or not result["shape"]:  # None, a number, a string...
        type_name = result["type"].removeprefix("builtins.")
        raise CheckFailed(MISTAKES["bug_not_an_array"], part=part, type=type_name, want=want)
    return result["summary"]


def check_scale_images(context: Context, exercise: Exercise) -> str:
    judge_attempted(context, exercise)
    images = _rng(context).integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[1, 0, 0] = 0, 255  # the full range, whatever the draw
    result = call_part(context, exercise, "scale_images", [argument_spec(images, "uint8")])
    summary = _summary(result, "scale_images", images.shape)
    if tuple(result["shape"]) != images.shape:
        raise CheckFailed(
            MISTAKES["bug_shape_changed"], got=tuple(result["shape"]), want=images.shape
        )
    low, high, mean = summary["min"], summary["max"], summary["mean"]
    if high > 2:
        raise CheckFailed(MISTAKES["bug_raw_pixels"], low=low, high=high)
    want = dict(want_low=0.0, want_high=1.0, want_mean=float(images.mean()) / 255)
    if not np.allclose([low, high, mean], list(want.values()), rtol=0, atol=1e-5):
        raise CheckFailed(MISTAKES["bug_wrong_scaling"], low=low, high=high, mean=mean, **want)
    return "scale_images() scales 0-255 pixels to [0, 1]"


def check_output_and_loss(context: Context, exercise: Exercise) -> str:
    judge_attempted(context, exercise)
    model = models.returned_model(context, exercise)
    _, shape, activation = models.layers_of(model)[-1]
    if shape[-1] != 10:
        raise CheckFailed(models.MISTAKES["last_layer_units"], got=f"{shape[-1]} units")
    config = model.compile_config
    if not config:
        raise CheckFailed(models.MISTAKES["not_compiled"])
    loss, from_logits = models.loss_name(config.get("loss"))
    if loss == "categorical_crossentropy":
        raise CheckFailed(models.MISTAKES["categorical_with_integer_labels"], got=loss)
    if loss != models.SPARSE_LOSS:
        raise CheckFailed(models.MISTAKES["wrong_loss"], got=loss)
    if activation == "softmax" and from_logits:
        raise CheckFailed(MISTAKES["bug_softmax_twice"], activation=activation)
    if activation != "softmax" and not from_logits:
        raise CheckFailed(MISTAKES["bug_logits_as_probabilities"], activation=activation)
    which = "the last layer (softmax)" if activation == "softmax" else "the loss (from_logits)"
    return f"build_classifier(): probabilities made once, by {which}"


def check_predicted_digits(context: Context, exercise: Exercise) -> str:
    judge_attempted(context, exercise)
    rng = _rng(context)
    rows = int(rng.choice(PRIME_ROWS))
    probabilities = rng.dirichlet(np.ones(10), size=rows).astype(np.float32)
    arguments = [argument_spec(probabilities, "float32")]
    result = call_part(context, exercise, "predicted_digits", arguments)
    summary = _summary(result, "predicted_digits", (rows,))
    got = tuple(result["shape"])
    if got == (10,):
        raise CheckFailed(MISTAKES["bug_argmax_wrong_axis"], got=10, rows=rows)
    if got != (rows,):
        raise CheckFailed(
            MISTAKES["bug_not_an_array"], part="predicted_digits", type=f"shape {got}", want=(rows,)
        )
    want = float(np.argmax(probabilities, axis=1).mean())
    if not np.isclose(summary["mean"], want, rtol=0, atol=1e-6):
        raise CheckFailed(MISTAKES["bug_wrong_digits"], rows=rows, got=summary["mean"], want=want)
    return f"predicted_digits(): the most likely digit of each of {rows} images"


# Its hints, in Markdown, one at a time: the generator writes them into the notebook's hint
# cell, and hint(build_classifier) in a notebook cell shows the next one.
HINTS = [
    "Run the notebook once as it is and compare each printed number with what it should be: "
    "the range of the scaled pixels (the docstring of `scale_images()` says it), the accuracy "
    "against Exercise 1's, and the twelve predicted digits against their labels.",
    "`scale_images()`: the largest pixel is 255; which number turns it into 1? "
    "`build_classifier()`: the last layer's `softmax` already makes probabilities; read what "
    "`from_logits=True` tells the loss about the outputs it receives.",
    "`predicted_digits()`: `probabilities` has shape `(n, 10)`, one row per image. "
    "`np.argmax(..., axis=0)` goes down each column (one answer per digit); the other axis "
    "goes along each row (one answer per image).",
]


def _part(check_id: str, title: str, run) -> Check:
    return Check(f"build_classifier.{check_id}", title, 1, run, independent=True)


EXERCISE = Exercise(
    function="build_classifier",
    notebook=NOTEBOOK,
    bonus=True,
    hints=HINTS,
    compare_code=False,  # the cell is handed out; the fixes are the same for everyone
    checks=[
        _part("scale_images", "scale_images(): pixels in [0, 1]", check_scale_images),
        _part("output_and_loss", "build_classifier(): softmax once", check_output_and_loss),
        _part("predicted_digits", "predicted_digits(): one per image", check_predicted_digits),
    ],
)
