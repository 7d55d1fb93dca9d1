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
from autograder.mistakes import GENERAL, catalogue
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
CHECK_IDS = [check.check_id for exercise in EXERCISES for check in exercise.checks]
# Full marks: the points of the required exercises (the bonus adds on top; see results.counted).
FULL_MARKS = sum(
    check.points for exercise in EXERCISES if not exercise.bonus for check in exercise.checks
)
BONUS_POINTS = sum(
    check.points for exercise in EXERCISES if exercise.bonus for check in exercise.checks
)


# Every catalogued mistake, by id: the general ones, then each exercise's own.
CATALOGUE = catalogue(
    *GENERAL.values(),
    *models.MISTAKES.values(),
    *build_model.MISTAKES.values(),
    *argmax_accuracy.MISTAKES.values(),
    *build_cnn.MISTAKES.values(),
    *build_classifier.MISTAKES.values(),
    *build_challenge_model.MISTAKES.values(),
)
