"""Hidden checks: an instructor's own checks, graded with the public ones, never shown.

A hidden-checks folder (kept out of the learners' repository) holds `checks.py` and whatever
data it reads. `checks.py` declares each check with `hidden_check`:

    from autograder.hidden import HiddenCheckFailed, hidden_check

    @hidden_check("build_model", "private_accuracy", "accuracy on a private split", points=1)
    def private_accuracy(learner):
        images, labels = ...  # e.g. numpy.load(learner.folder / "private.npz")
        accuracy = learner.accuracy(learner.saved_model(), images, labels)
        if accuracy < 0.95:
            raise HiddenCheckFailed(f"{accuracy:.1%} on a private test split: at least 95% is "
                                    "needed", hint="Train on all the training data.")
        return f"{accuracy:.1%} on a private test split"

`python -m autograder --hidden DIR`, `autograder.instructor.batch --hidden DIR` and
`autograder.instructor.gradescope --hidden DIR` grade with them.
A hidden check comes after its exercise's
public checks (and is skipped when one of them fails); learners see its id, title, points and
message, never its code, its data or a traceback. The judge loads the checks before any learner
code runs, and the sandbox hides the folder from learner code.
"""

from __future__ import annotations

import builtins
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from autograder.exercises import models
from autograder.isolation.protocol import FailureKind, LearnerFailure, argument_spec
from autograder.mistakes import CheckFailed, Mistake
from autograder.runner import Check, Context, Exercise

# The instructor's own words, shown as they are: filled in as values, so braces in them stay.
HIDDEN_MISTAKE = Mistake("hidden_check", "{message}", "{hint}")
_declared: list[HiddenCheck] = []


@dataclass(frozen=True)
class HiddenCheck:
    exercise: str  # the function name of the exercise it belongs to
    name: str
    title: str
    points: float
    run: Callable


class HiddenCheckFailed(CheckFailed):
    """Raised by a hidden check: its message and hint are shown to the learner as they are."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(HIDDEN_MISTAKE, message=message, hint=hint)


def hidden_check(exercise: str, name: str, title: str, points: float = 1):
    """Declare a hidden check of `exercise` (build_model, argmax_accuracy or build_cnn)."""

    def declare(function: Callable) -> Callable:
        _declared.append(HiddenCheck(exercise, name, title, points, function))
        return function

    return declare


class LearnerView:
    """What a hidden check may look at: the learner's function and model files, the data."""

    def __init__(self, context: Context, exercise: Exercise, folder: Path):
        self.context, self.exercise, self.folder = context, exercise, folder

    @property
    def data(self):
        return self.context.data()

    def saved_model(self):
        """The saved file's ModelFacts (layers, compile configuration): the grader never holds
        the Keras model of a learner's file (`accuracy` predicts with it in the worker)."""
        return models.saved_model(self.context, self.exercise)

    def returned_model(self):
        """The ModelFacts of the model the function returns."""
        return models.returned_model(self.context, self.exercise)

    def call(self, *arrays: np.ndarray) -> float | None:
        """The learner's function on these arrays (run in the sandboxed worker): its value."""
        specs = [argument_spec(np.asarray(array), np.asarray(array).dtype.name) for array in arrays]
        return self.context.learner.call(self.exercise.function, specs)["value"]

    def accuracy(self, model, images: np.ndarray, labels: np.ndarray) -> float:
        """Accuracy of a model on images of 0..255 pixels, scaled as the grader scales them."""
        from digits.data import normalize

        probabilities = models.predict_with(self.context, model, normalize(images))
        return float(np.mean(np.argmax(probabilities, axis=1) == labels))


def hidden_files(folder: Path | None) -> list[tuple[str, Path]]:
    """Every file of a hidden-checks folder (none when there is no folder), by relative name."""
    if folder is None:
        return []
    return [
        (path.relative_to(folder).as_posix(), path)
        for path in sorted(Path(folder).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    ]


def load_hidden_checks(folder: Path) -> list[HiddenCheck]:
    """Import `folder/checks.py` and return the checks it declares."""
    path = Path(folder) / "checks.py"
    if not path.is_file():
        raise FileNotFoundError(f"no hidden checks: {path} does not exist")
    spec = importlib.util.spec_from_file_location("autograder_hidden_checks", path)
    assert spec is not None and spec.loader is not None  # a .py file always has both
    module = importlib.util.module_from_spec(spec)
    _declared.clear()
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    found = list(_declared)
    _declared.clear()
    return found


def with_hidden(
    exercises: list[Exercise], hidden: list[HiddenCheck], folder: Path
) -> list[Exercise]:
    """The exercises, each followed by its hidden checks."""
    result = []
    for exercise in exercises:
        extra = [
            Check(
                f"{exercise.function}.hidden.{check.name}",
                check.title,
                check.points,
                _runner(check, folder),
                needs_files=True,
            )
            for check in hidden
            if check.exercise == exercise.function
        ]
        result.append(replace(exercise, checks=exercise.checks + extra) if extra else exercise)
    return result


def _runner(check: HiddenCheck, folder: Path) -> Callable:
    def run(context: Context, exercise: Exercise) -> str:
        try:
            return str(check.run(LearnerView(context, exercise, folder)))
        except CheckFailed:
            raise
        except LearnerFailure as failure:  # its message could echo the hidden inputs back
            raise HiddenCheckFailed(
                f"your {exercise.function}() did not return on a hidden case ({_how(failure)})",
                hint="Make it work for any valid input; the public checks show how it is called.",
            ) from None
        except Exception:  # the hidden code's own error: its traceback would reveal it
            raise HiddenCheckFailed(
                "this hidden check could not run on your submission",
                hint="Tell your instructor; this is not a mistake of yours.",
            ) from None

    return run


def _how(failure: LearnerFailure) -> str:
    """How the function failed: its kind, and for an error, a built-in exception's name. Any
    other name is not shown: learner code may have made it from the hidden inputs themselves (a
    class named `y_true_3_1_4`)."""
    if failure.kind != FailureKind.ERROR:
        return str(failure.kind)
    exception = getattr(builtins, failure.exc_type, None)
    if isinstance(exception, type) and issubclass(exception, BaseException):
        return f"error: {failure.exc_type}"
    return "error: an exception that is not one of Python's built-in ones"
