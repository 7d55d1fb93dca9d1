"""The registry: the one place that lists the graded exercises, in the order they are graded.

Each exercise is one module here that holds its whole story: its checks, the judges they use,
its random cases, its catalogued mistakes and the error texts that name them, and its
`EXERCISE` (notebook, function, model file, points). `models` holds what the two model
exercises share. Tests, benchmarks and instructor tools read the lists below; they never re-type
them (tests/test_registry.py checks them against the exercise notebooks).
"""

from __future__ import annotations

from autograder.exercises import (
    argmax_accuracy,
    build_challenge_model,
    build_classifier,
    build_cnn,
    build_model,
    models,
)
from autograder.mistakes import GENERAL, Mistake
from autograder.runner import Exercise

EXERCISES: list[Exercise] = [
    build_model.EXERCISE,
    argmax_accuracy.EXERCISE,
    build_cnn.EXERCISE,
    build_classifier.EXERCISE,
    build_challenge_model.EXERCISE,
]
EXERCISES_BY_FUNCTION = {exercise.function: exercise for exercise in EXERCISES}
NOTEBOOKS = [exercise.notebook for exercise in EXERCISES]  # the graded notebooks, in order
MODEL_FILES = [exercise.model_file for exercise in EXERCISES if exercise.model_file]
# Full marks: the points of the required exercises (the bonus adds on top; see results.counted).
FULL_MARKS = sum(
    check.points for exercise in EXERCISES if not exercise.bonus for check in exercise.checks
)
BONUS_POINTS = sum(
    check.points for exercise in EXERCISES if exercise.bonus for check in exercise.checks
)


def _catalogue(*parts: dict[str, Mistake]) -> dict[str, Mistake]:
    catalogue: dict[str, Mistake] = {}
    for part in parts:
        repeated = catalogue.keys() & part.keys()
        assert not repeated, f"mistakes catalogued twice: {sorted(repeated)}"
        catalogue.update(part)
    return catalogue


# Every catalogued mistake: the general ones, then each exercise's own.
CATALOGUE = _catalogue(
    GENERAL,
    models.MISTAKES,
    build_model.MISTAKES,
    argmax_accuracy.MISTAKES,
    build_cnn.MISTAKES,
    build_classifier.MISTAKES,
    build_challenge_model.MISTAKES,
)
