"""Grade a submission folder: learner code in a worker process, judging here.

`grade()` is what `python -m autograder` and `pytest autograder` call.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

from autograder import config
from autograder.checks import EXERCISES, PASSED, CheckResult, Context, Exercise, run_exercise
from autograder.submission import graded_cell


@dataclass
class Report:
    submission: Path
    results: list[CheckResult]
    data_source: str = ""
    data_description: str = ""
    notes: list[str] = field(default_factory=list)
    worker_log: str = ""
    only: str | None = None  # graded only this exercise or check (--only)

    @property
    def score(self) -> float:
        return sum(result.score for result in self.results)

    @property
    def max_score(self) -> float:
        """Full marks: the required checks; the bonus adds to the score on top (with --only,
        every check graded counts)."""
        return sum(result.points for result in self.results if self.only or not result.bonus)

    @property
    def full_marks(self) -> bool:
        """Every required check passes; with --only, every check of the selection."""
        counted = [result for result in self.results if self.only or not result.bonus]
        return all(result.outcome == PASSED for result in counted)


def silence_tensorflow() -> None:
    """TensorFlow's and Keras' log noise: never shown to learners, never costs points."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


@contextlib.contextmanager
def stderr_to(log):
    """Send what native code writes on file descriptor 2 (TensorFlow's C++ logs) to a log."""
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (some notebook front-ends): nothing to silence
        yield
        return
    try:
        os.dup2(log.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def load_data_quietly():
    from digits.data import load_mnist

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_mnist()


def grade(
    submission: Path | str,
    train: bool = False,
    seed: int | None = None,
    supply=None,
    limits: dict | None = None,
    only: str | None = None,
) -> Report:
    """Grade the exercises in `submission`; learner code runs only in a worker process.

    `supply` (a sandbox.WorkerSupply) lets several gradings share worker processes (tests do);
    `limits` overrides the time limits of sandbox.LIMITS; `seed` fixes the random inputs;
    `only` (an exercise's function name or a check id, see `select()`) grades a part only.
    """
    from autograder.sandbox import SandboxLearner, WorkerSupply

    submission = Path(submission).resolve()
    silence_tensorflow()
    workdir = Path(tempfile.mkdtemp(prefix="autograder-"))
    log = open(workdir / "worker.log", "w+", encoding="utf-8")  # noqa: SIM115 (closed below)
    own_supply = supply is None
    if own_supply:
        supply = WorkerSupply(log, str(workdir))
    course, course_note = config.for_grading(submission)
    exercises = config.with_points(select(only), course.points)
    cells = {
        exercise.function: graded_cell(submission / exercise.notebook, exercise.function)
        for exercise in exercises
    }
    learner = SandboxLearner(cells, supply, {**course.time_limits, **(limits or {})})
    context = Context(learner, submission, load_data_quietly, workdir=workdir)
    context.notes += [course_note] if course_note else []
    context.state["seed"] = seed
    context.state["train"] = train
    try:
        with stderr_to(log), contextlib.redirect_stdout(io.StringIO()):
            import keras  # noqa: F401  (while the worker imports its own)

            results = [
                result for exercise in exercises for result in run_exercise(exercise, context)
            ]
            data = context.state.get("data") or load_data_quietly()
    finally:
        if own_supply:
            supply.close()
        log.seek(0)
        worker_log = log.read()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return Report(
        submission,
        results,
        data.source,
        data.description,
        context.notes,
        worker_log,
        only,
    )


def choices() -> list[str]:
    """What --only accepts: each exercise's function name, and each check id."""
    return [exercise.function for exercise in EXERCISES] + [
        check.check_id for exercise in EXERCISES for check in exercise.checks
    ]


def select(only: str | None) -> list[Exercise]:
    """The exercises to grade; for a check id, its exercise's checks up to that one (the
    earlier checks are the layers it stands on)."""
    if only is None:
        return EXERCISES
    for exercise in EXERCISES:
        if only == exercise.function:
            return [exercise]
        ids = [check.check_id for check in exercise.checks]
        if only in ids:
            return [replace(exercise, checks=exercise.checks[: ids.index(only) + 1])]
    raise ValueError(f"no such exercise or check: {only}; choose one of {', '.join(choices())}")
