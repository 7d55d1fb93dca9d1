"""The catalogue of common mistakes: what went wrong, and what to try. One entry per mistake.

A `Mistake` knows its id (the name reports, class reports and course.toml use) and its texts.
Each exercise module (`autograder.exercises.*`) keeps the mistakes it finds beside its checks, as
a `catalogue(...)` of them; this module keeps the ones any exercise can meet (how the learner's
code failed, the course's marks and configuration). A check raises `CheckFailed(mistake,
**values)` with the Mistake itself, so this module needs no registry; `autograder.exercises.
CATALOGUE` is all of them, for tests and docs. Messages are format strings; the judge fills in
what it measured. Tests inject each mistake into a copy of the reference solutions and expect
its message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    id: str  # in results, golden files, class reports and course.toml: never renamed
    message: str
    hint: str

    def describe(self, **values) -> tuple[str, str]:
        """The message and hint, filled in with what was measured."""
        return self.message.format(**values), self.hint.format(**values)


def catalogue(*mistakes: Mistake) -> dict[str, Mistake]:
    """The mistakes by id. An id given twice (two modules, or one twice) would show one
    mistake's text for the other: refused when the module is imported."""
    by_id: dict[str, Mistake] = {}
    for mistake in mistakes:
        if mistake.id in by_id:
            raise ValueError(f"mistake catalogued twice: {mistake.id}")
        by_id[mistake.id] = mistake
    return by_id


def fixed_text(template: str) -> str:
    """The longest part of a message or hint template that no measured value fills in: what
    every text of that mistake shows, whatever was measured ("" for a bare placeholder)."""
    return max(re.split(r"\{[^{}]*\}", template), key=len)


class CheckFailed(Exception):
    """A check found a catalogued mistake: `CheckFailed(MISTAKES["id"], value=...)`."""

    def __init__(self, mistake: Mistake, **values):
        self.mistake = mistake
        self.message, self.hint = mistake.describe(**values)
        super().__init__(self.message)

    @property
    def mistake_id(self) -> str:
        return self.mistake.id


class NotAttempted(CheckFailed):
    """A check found the learner's part untouched (a planted bug still as the exercise gave it):
    reported as "not attempted", not as a failure."""


GENERAL = catalogue(
    # how the learner's code ended
    Mistake(
        "raised",
        "your function raised {exc_type}: {message}{where}",
        "Run the cell and the check cell in the notebook to see the full error (or grade with "
        "--verbose).",
    ),
    Mistake(
        "cell_raised",
        "your cell raised {exc_type}: {message}{where}",
        "Run the cell in the notebook to see the full error and fix it.",
    ),
    Mistake(
        "syntax_error",
        "Python cannot read your cell: {exc_type}: {message}{where}.",
        "Fix that line (a missing bracket, colon or quote, or wrong indentation), then run the "
        "cell again.",
    ),
    Mistake(
        "name_from_outside_cell",
        "{function}() raised NameError: it uses {undefined}, which its cell does not "
        "define{where}. The grader runs the graded cell on its own, without the notebook's other "
        "cells.",
        "Define or import {defined_where} inside the graded cell: {function}() must work with "
        "only its own cell (it should not train or load data).",
    ),
    Mistake(
        "notebook_variable_for_parameter",
        "{function}() raised NameError: it uses {name}, a variable of the notebook, which its "
        "cell does not define{where}. Inside the function, that value comes in as its parameter "
        "{parameter}.",
        "In the function, use {parameter} instead of {name}: the grader calls {function}() with "
        "its own inputs, as the notebook passes {name} to it.",
    ),
    Mistake(
        "not_attempted",
        "{function}() is not written yet (it still raises NotImplementedError).{copies}",
        "Replace the `raise NotImplementedError(...)` line with your code, then save the "
        "notebook: the grader reads the saved file.",
    ),
    Mistake(
        "not_found",
        "{problem}",
        "Keep the notebook's name and its cell tagged `graded` that defines {function}().",
    ),
    Mistake(
        "timeout",
        "your function did not finish within {limit:g} s (an endless loop, a very slow step, or "
        "a wait that never ends, such as time.sleep() or input()?).",
        "Look for a loop that never ends; {function}() must not train or load data.",
    ),
    Mistake(
        "exited",
        "your function called sys.exit() or exit(); it must return a value.",
        "Remove the exit call and return the result.",
    ),
    Mistake(
        "died",
        "the process running your function ended abruptly (os._exit() or a crash).",
        "Remove any os._exit() call; make the function return normally.",
    ),
    Mistake(
        "marks_missing",
        "No accuracy mark for the {kind} model on MNIST_PATH={origin}: its test set is not "
        "MNIST's, so the instructor sets the mark in course.toml ([marks] {kind} = ...; see the "
        'README, "Course configuration").',
        "",
    ),
    Mistake("course_config_invalid", "The course configuration is invalid: {error}", ""),
)
