"""How an exercise is graded: its checks in layers, what they share, and outcomes in words.

A check raises `CheckFailed` (a catalogued mistake) or `LearnerFailure` (the learner's code
raised, hung or exited), or returns a short success message. The first check of an exercise
that does not pass skips the later ones, and the result says so. The exercises themselves (their
checks, mistakes and known error texts) live in `autograder.exercises`, one module each.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import tempfile
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.config import CourseConfig
from autograder.isolation.learner import Learner
from autograder.isolation.protocol import MISSING, FailureKind, LearnerFailure
from autograder.mistakes import GENERAL, CheckFailed, Mistake, NotAttempted
from autograder.results import CheckResult, Outcome
from autograder.submission import (
    copies_with_answers,
    defining_cells,
    module_names,
    undefined_names,
)


@dataclass
class Context:
    """What the checks of one grading run share: the learner, the files, the data, the models.

    `workdir` holds the judge's copies of model files; without one, a temporary folder that is
    removed with the context."""

    learner: Learner
    submission: Path | None = None
    load_data: Callable | None = None
    workdir: Path = None  # type: ignore[assignment]  # set in __post_init__ when not given
    seed: int | None = None  # fixes the random inputs (tests, --seed)
    train: bool = False  # --train: train the function's model when its file is missing
    # The course configuration, read once before any learner code ran (config.for_grading)
    course: CourseConfig = field(default_factory=CourseConfig)
    notes: list[str] = field(default_factory=list)
    loaded_data: Any = None
    cases: list | None = None  # argmax_accuracy's random inputs, made once per run
    # What the worker read of the model files (ModelFacts, with predictions), by function name
    returned_models: dict[str, Any] = field(default_factory=dict)
    saved_models: dict[str, Any] = field(default_factory=dict)
    prepared: threading.Event | None = None  # set once prepare_in_background() is done with it
    _scratch: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.workdir is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="autograder-")
            self.workdir = Path(self._scratch.name)

    def data(self):
        if self.loaded_data is None:
            assert self.load_data is not None, "no data to grade on"
            self.loaded_data = self.load_data()
        return self.loaded_data

    def wait_until_prepared(self) -> None:
        if self.prepared is not None:
            self.prepared.wait()

    @property
    def folder(self) -> Path:
        """The submission's folder, for the checks that read its files."""
        assert self.submission is not None, "no submission folder: these checks need files"
        return self.submission


@dataclass
class Check:
    check_id: str
    title: str
    points: float
    run: Callable[[Context, Exercise], str]
    needs_files: bool = False  # saved-model checks: not run by the notebook's check()
    # The part of the check that needs no learner code (loading and predicting with a saved
    # file): done by prepare_exercise() while the learner's worker starts. It only fills the
    # context's caches; whatever goes wrong in it is left for the check itself to report.
    prepare: Callable[[Context, Exercise], None] | None = None
    # A check of its own part (one planted bug of exercise 5): when it does not pass, the later
    # checks still run, so that each fix earns its points.
    independent: bool = False


@dataclass
class Exercise:
    """One graded function: its notebook, checks, and what its mistakes look like."""

    function: str
    notebook: str
    checks: list[Check]
    model_file: str | None = None
    model_kind: str | None = None  # "dense" or "cnn": which accuracy mark applies
    bonus: bool = False
    # Error texts (regular expressions, on the message without spaces after commas) that name
    # one of the exercise's catalogued mistakes; tests/test_autograder_messages.py checks each.
    known_errors: list[tuple[str, Mistake]] = field(default_factory=list)
    # Variables of the exercise's notebook that a parameter stands for (y_test: y_true): a
    # function that uses one instead of its parameter is told which parameter to use.
    notebook_variables: dict[str, str] = field(default_factory=dict)
    # A mistake named more precisely from the function's parameter names, if the exercise can.
    refine_mistake: Callable[[Mistake, list[str]], Mistake] | None = None
    # Model exercises: the judge of a model's layers, and model.fit's arguments for --train.
    architecture: Callable[[Any], str] | None = None
    require_adam: bool = False
    train_settings: dict[str, int] = field(default_factory=dict)
    # Its hints, in Markdown, to be read one at a time: the generator writes them into the
    # notebook's hint cell, and hint(function) in the notebook shows the next one.
    hints: list[str] = field(default_factory=list)
    # Whether batch's similarity report compares the learners' graded cells: not where the cell
    # is handed out whole and every honest answer is the same small fix (exercise 5).
    compare_code: bool = True

    @property
    def file(self) -> str:
        """The model file, for the checks of an exercise that saves one."""
        assert self.model_file is not None, f"{self.function}() saves no model file"
        return self.model_file

    @property
    def kind(self) -> str:
        """The model kind, for the checks of an exercise that builds a model."""
        assert self.model_kind is not None, f"{self.function}() builds no model"
        return self.model_kind


def run_exercise(
    exercise: Exercise, context: Context, functions_only: bool = False
) -> list[CheckResult]:
    """Run an exercise's checks in order; the first one that does not pass skips the rest."""
    results = []
    blocker = None
    for check in exercise.checks:
        if functions_only and check.needs_files:
            continue
        if blocker is None:
            if check.needs_files or check.prepare is not None:
                context.wait_until_prepared()  # what it reads may still be in preparation
            result = run_check(check, exercise, context)
            if result.outcome != Outcome.PASSED and not check.independent:
                blocker = result
        else:
            result = _blocked(check, exercise, blocker)
        results.append(result)
    return results


def prepare_exercise(exercise: Exercise, context: Context) -> None:
    """Each check's preparation (see Check.prepare), before any learner code runs."""
    for check in exercise.checks:
        if check.prepare is not None:
            with contextlib.suppress(Exception):  # the check meets it again, and reports it
                check.prepare(context, exercise)


def prepare_in_background(work: list[tuple[Exercise, Context]]) -> threading.Thread:
    """Prepare each exercise in a thread of the judge while the learner's code runs in the
    worker: the saved files are loaded and predicted with as the learner's models are built.
    run_exercise() waits for an exercise's preparation before a check that reads files."""
    done = [threading.Event() for _ in work]
    for (_, context), event in zip(work, done, strict=True):
        context.prepared = event

    def prepare_all() -> None:
        for (exercise, context), event in zip(work, done, strict=True):
            try:
                prepare_exercise(exercise, context)
            finally:
                event.set()

    thread = threading.Thread(target=prepare_all, name="prepare", daemon=True)
    thread.start()
    return thread


def run_check(check: Check, exercise: Exercise, context: Context) -> CheckResult:
    result = CheckResult(
        check.check_id,
        exercise.function,
        check.title,
        check.points,
        Outcome.PASSED,
        bonus=exercise.bonus,
    )
    try:
        result.message = check.run(context, exercise)
    except CheckFailed as failure:
        untouched = isinstance(failure, NotAttempted)
        result.outcome = Outcome.NOT_ATTEMPTED if untouched else Outcome.FAILED
        result.mistake = failure.mistake_id
        result.message, result.hint = failure.message, failure.hint
    except LearnerFailure as failure:
        parameters = context.learner.parameters(exercise.function)
        not_attempted = failure.kind == FailureKind.NOT_ATTEMPTED
        result.outcome = Outcome.NOT_ATTEMPTED if not_attempted else Outcome.ERROR
        notebook = context.submission / exercise.notebook if context.submission else None
        source = context.learner.source(exercise.function)
        result.message, result.hint = explain_failure(
            failure, exercise, parameters, source, notebook
        )
        result.mistake = mistake_of(failure, exercise, parameters).id
        result.details = failure.traceback
    except Exception as error:  # a bug or a limit of the grader, not the learner's fault
        result.outcome = Outcome.ERROR
        result.message = f"the grader could not run this check: {type(error).__name__}: {error}"
        result.hint = "Run with --verbose and report the traceback to your instructor."
        result.details = traceback.format_exc()
    return result.printable()  # whatever text the learner's code or files put in it


def _blocked(check: Check, exercise: Exercise, blocker: CheckResult) -> CheckResult:
    if blocker.outcome == Outcome.NOT_ATTEMPTED:
        outcome, message = Outcome.NOT_ATTEMPTED, blocker.message
    else:
        outcome, message = Outcome.SKIPPED, f"skipped: fix {blocker.check_id} first"
    return CheckResult(
        check.check_id,
        exercise.function,
        check.title,
        check.points,
        outcome,
        message,
        bonus=exercise.bonus,
    )


# ---------------------------------------------------------------- the learner's code failed


FAILURE_MISTAKES = {
    FailureKind.NOT_ATTEMPTED: GENERAL["not_attempted"],
    FailureKind.TIMEOUT: GENERAL["timeout"],
    FailureKind.EXITED: GENERAL["exited"],
    FailureKind.DIED: GENERAL["died"],
}
SELF_EXPLAINED = (
    "raised",
    "cell_raised",
    "syntax_error",
    "name_from_outside_cell",
    "notebook_variable_for_parameter",
)


def mistake_of(
    failure: LearnerFailure, exercise: Exercise, parameters: list[str] | None = None
) -> Mistake:
    """The catalogued mistake that a failure of the learner's code shows."""
    mistake = _catalogued_mistake(failure, exercise)
    if exercise.refine_mistake is not None:
        return exercise.refine_mistake(mistake, parameters or [])
    return mistake


def _catalogued_mistake(failure: LearnerFailure, exercise: Exercise) -> Mistake:
    if failure.exc_type == MISSING:
        return GENERAL["not_found"]
    if failure.kind in FAILURE_MISTAKES:
        return FAILURE_MISTAKES[failure.kind]
    if failure.exc_type in ("SyntaxError", "IndentationError"):
        return GENERAL["syntax_error"]
    if failure.exc_type == "NameError":
        if _undefined_name(failure.message) in exercise.notebook_variables:
            return GENERAL["notebook_variable_for_parameter"]
        return GENERAL["name_from_outside_cell"]
    for pattern, mistake in exercise.known_errors:
        if re.search(pattern, failure.message.replace(", ", ",")):
            return mistake
    return GENERAL["cell_raised" if failure.stage == "cell" else "raised"]


def explain_failure(
    failure: LearnerFailure,
    exercise: Exercise,
    parameters: list[str] | None = None,
    source: str = "",
    notebook: Path | None = None,
) -> tuple[str, str]:
    """A learner's exception, hang or exit, in words a beginner can act on. `source`, the graded
    cell, and `notebook`, the notebook it is in, say more about undefined names."""
    mistake = mistake_of(failure, exercise, parameters)
    where = f" (line {failure.line} of your cell)" if failure.line else ""
    name = _undefined_name(failure.message)
    names = [name, *(other for other in undefined_names(source) if other != name)]
    message, hint = mistake.describe(
        function=exercise.function,
        exc_type=failure.exc_type,
        message=_error_text(failure),
        where=where,
        limit=failure.limit,
        problem=failure.message,
        value="",
        name=name,
        undefined=("the name " if len(names) == 1 else "the names ") + _listed(names),
        defined_where=_listed([name_origin(other, notebook) for other in names]),
        parameter=exercise.notebook_variables.get(name, ""),
        copies=_copies(notebook),
        names=", ".join(parameters or []),
    )
    if mistake.id not in SELF_EXPLAINED and failure.kind == FailureKind.ERROR:
        at_line = f" at line {failure.line} of your cell" if failure.line else ""
        message += f" (your function raised {failure.exc_type}{at_line})"
    return message, hint


def _error_text(failure: LearnerFailure) -> str:
    """The error's first line; for a SyntaxError without Python's "(<cell>, line N)", which the
    message gives once, as the line of the learner's cell."""
    text = first_line(failure.message)
    if failure.exc_type in ("SyntaxError", "IndentationError"):
        text = re.sub(r" \([^()]*, line \d+\)$", "", text)
    return text


# The course helpers' modules (digits/*.py), read as text for the names they define.
_DIGITS = importlib.util.find_spec("digits")
COURSE_MODULES = sorted(
    path
    for folder in ((_DIGITS.submodule_search_locations or []) if _DIGITS else [])
    for path in Path(folder).glob("*.py")
)
# Where the names a graded cell often takes from the course's pages come from.
KNOWN_IMPORTS = {
    "np": "import numpy as np",
    "keras": "import keras",
    "layers": "from keras import layers",
    "tf": "import tensorflow as tf",
    "plt": "import matplotlib.pyplot as plt",
    "accuracy_score": "from sklearn.metrics import accuracy_score",
}


def name_origin(name: str, notebook: Path | None) -> str:
    """A name and where it comes from: the import that brings it, the notebook cell that
    makes it, or the course module that defines it; the bare name when none is known."""
    if name in KNOWN_IMPORTS:
        return f"{name} (`{KNOWN_IMPORTS[name]}`)"
    made = defining_cells(notebook, [name]) if notebook is not None else {}
    if name in made:
        number, line = made[name]
        return f"{name} (code cell {number} of the notebook: `{line}`)"
    for module in COURSE_MODULES:
        if name in module_names(module):
            return f"{name} (`from digits.{module.stem} import {name}`)"
    return name


def _copies(notebook: Path | None) -> str:
    """The end of the "not written yet" message when a copy of the notebook holds an answer."""
    copies = copies_with_answers(notebook) if notebook is not None else []
    if not copies:
        return ""
    assert notebook is not None
    return (
        f" {_listed(copies)} beside it holds an answer, but the grader reads {notebook.name} "
        f"only: copy your graded cell into {notebook.name} (or rename the copy to it)."
    )


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _undefined_name(message: str) -> str:
    found = re.search(r"name '([^']+)' is not defined", message)
    return found.group(1) if found else "a name"


MESSAGE_LIMIT = 200  # characters of an error text in a message (Keras can write 1,500)


def first_line(error) -> str:
    text = str(error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    return line if len(line) <= MESSAGE_LIMIT else line[: MESSAGE_LIMIT - 3] + "..."
