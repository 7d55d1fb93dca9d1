"""The catalogue of common mistakes: what went wrong, and what to try. One entry per mistake.

Each exercise module (`autograder.exercises.*`) keeps the mistakes it finds beside its checks;
this module keeps the ones any exercise can meet (how the learner's code failed, the course's
marks and configuration). `autograder.exercises.CATALOGUE` is all of them. Messages are format
strings; the judge fills in what it measured. Tests inject each mistake into a copy of the
reference solutions and expect its message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    message: str
    hint: str


def fixed_text(template: str) -> str:
    """The longest part of a message or hint template that no measured value fills in: what
    every text of that mistake shows, whatever was measured ("" for a bare placeholder)."""
    return max(re.split(r"\{[^{}]*\}", template), key=len)


class CheckFailed(Exception):
    """A check found a catalogued mistake."""

    def __init__(self, mistake_id: str, **values):
        self.mistake_id = mistake_id
        self.message, self.hint = describe(mistake_id, **values)
        super().__init__(self.message)


class NotAttempted(CheckFailed):
    """A check found the learner's part untouched (a planted bug still as the exercise gave it):
    reported as "not attempted", not as a failure."""


def describe(mistake_id: str, **values) -> tuple[str, str]:
    """The message and hint of a catalogued mistake, filled in with what was measured."""
    from autograder.exercises import CATALOGUE

    mistake = CATALOGUE[mistake_id]
    return mistake.message.format(**values), mistake.hint.format(**values)


GENERAL: dict[str, Mistake] = {
    # how the learner's code ended
    "raised": Mistake(
        "your function raised {exc_type}: {message}{where}",
        "Run the cell and the check cell in the notebook to see the full error (or grade with "
        "--verbose).",
    ),
    "cell_raised": Mistake(
        "your cell raised {exc_type}: {message}{where}",
        "Run the cell in the notebook to see the full error and fix it.",
    ),
    "syntax_error": Mistake(
        "Python cannot read your cell: {exc_type}: {message}{where}.",
        "Fix that line (a missing bracket, colon or quote, or wrong indentation), then run the "
        "cell again.",
    ),
    "name_from_outside_cell": Mistake(
        "{function}() raised NameError: it uses {undefined}, which its cell does not "
        "define{where}. The grader runs the graded cell on its own, without the notebook's other "
        "cells.",
        "Define or import {defined_where} inside the graded cell: {function}() must work with "
        "only its own cell (it should not train or load data).",
    ),
    "notebook_variable_for_parameter": Mistake(
        "{function}() raised NameError: it uses {name}, a variable of the notebook, which its "
        "cell does not define{where}. Inside the function, that value comes in as its parameter "
        "{parameter}.",
        "In the function, use {parameter} instead of {name}: the grader calls {function}() with "
        "its own inputs, as the notebook passes {name} to it.",
    ),
    "not_attempted": Mistake(
        "{function}() is not written yet (it still raises NotImplementedError).{copies}",
        "Replace the `raise NotImplementedError(...)` line with your code, then save the "
        "notebook: the grader reads the saved file.",
    ),
    "not_found": Mistake(
        "{problem}",
        "Keep the notebook's name and its cell tagged `graded` that defines {function}().",
    ),
    "timeout": Mistake(
        "your function did not finish within {limit:g} s (an endless loop, a very slow step, or "
        "a wait that never ends, such as time.sleep() or input()?).",
        "Look for a loop that never ends; {function}() must not train or load data.",
    ),
    "exited": Mistake(
        "your function called sys.exit() or exit(); it must return a value.",
        "Remove the exit call and return the result.",
    ),
    "died": Mistake(
        "the process running your function ended abruptly (os._exit() or a crash).",
        "Remove any os._exit() call; make the function return normally.",
    ),
    "marks_missing": Mistake(
        "No accuracy mark for the {kind} model on MNIST_PATH={origin}: its test set is not "
        "MNIST's, so the instructor sets the mark in course.toml ([marks] {kind} = ...; see the "
        'README, "Course configuration").',
        "",
    ),
    "course_config_invalid": Mistake("The course configuration is invalid: {error}", ""),
}
