"""`pytest autograder`: grade exercises/ (or the folder in $SUBMISSION_DIR) with pytest.

The same grading as `python -m autograder`, one test per check. The project's own `pytest` does
not collect this file (testpaths = tests).
"""

import os
from pathlib import Path

import pytest

from autograder.exercises import EXERCISES
from autograder.results import Outcome

DEFAULT_SUBMISSION = Path(__file__).resolve().parent.parent / "exercises"
CHECKS = [(exercise, check) for exercise in EXERCISES for check in exercise.checks]


@pytest.fixture(scope="module")
def report():
    from autograder.grader import grade

    return grade(Path(os.environ.get("SUBMISSION_DIR", DEFAULT_SUBMISSION)))


@pytest.mark.parametrize(("exercise", "check"), CHECKS, ids=[check.check_id for _, check in CHECKS])
def test_check(report, exercise, check):
    result = next(result for result in report.results if result.check_id == check.check_id)
    if result.outcome == Outcome.SKIPPED or (
        exercise.bonus and result.outcome == Outcome.NOT_ATTEMPTED
    ):
        pytest.skip(result.message)
    hint = f"\nHint: {result.hint}" if result.hint else ""
    assert result.outcome == Outcome.PASSED, f"{result.outcome}: {result.message}{hint}"
