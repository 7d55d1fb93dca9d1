"""Grade a submission folder: learner code in a worker process, judging here.

`grade()` is what `python -m autograder` and `pytest autograder` call.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import io
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

from autograder import config
from autograder.exercises import CHECK_IDS, EXERCISES
from autograder.isolation.modelfile import keras_too_old
from autograder.results import CheckResult, Outcome, counted
from autograder.runner import Context, Exercise, prepare_in_background, run_exercise
from autograder.submission import GradedCell, graded_cell, parse_cell
from digits.quiet import quiet_environment


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
        return sum(result.points for result in counted(self.results, self.only))

    @property
    def full_marks(self) -> bool:
        """Every required check passes; with --only, every check of the selection."""
        return all(result.outcome == Outcome.PASSED for result in counted(self.results, self.only))


def silence_tensorflow() -> None:
    """TensorFlow's and Keras' log noise: never shown to learners, never costs points."""
    quiet_environment()
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


# The offline sample's content (sha256 of x_train, y_train, x_test, y_test, in that order).
SAMPLE_SHA256 = "bbeed5a699458e2336d8421d917398a4ba04ef5c031bc05d0d31a85ad029803b"


class GradingDataError(RuntimeError):
    """The grading data is not what it should be: no grade is given on it."""


def content_hash(data) -> str:
    (x_train, y_train), (x_test, y_test) = data
    digest = hashlib.sha256()
    for array in (x_train, y_train, x_test, y_test):
        digest.update(array.tobytes())
    return digest.hexdigest()


def load_data_quietly():
    """The grading data, read (and the offline sample checked) before any learner code runs."""
    from digits.data import load_mnist

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_mnist()
    if data.source == "mnist-sample" and content_hash(data) != SAMPLE_SHA256:
        raise GradingDataError(
            "the offline MNIST sample has been modified (its content hash differs): reinstall "
            "the course package, then grade again"
        )
    return data


def prepare_judge(models_judged: bool = True):
    """Import everything the judge uses, and read the data, before any learner code runs: the
    judge then never imports a module that a learner's cell could have rewritten. The data only
    where a model is judged (otherwise the data is None). The judge itself never imports Keras
    to read a model (a ModelReader's worker does), only to download MNIST when it must."""
    import autograder.exercises  # noqa: F401
    import autograder.report  # noqa: F401
    import autograder.thresholds  # noqa: F401

    if not models_judged:
        return None
    return load_data_quietly()


def grade(
    submission: Path | str,
    train: bool = False,
    seed: int | None = None,
    supply=None,
    models=None,
    limits: dict | None = None,
    only: str | None = None,
    hidden: Path | None = None,
) -> Report:
    """Grade the exercises in `submission`; learner code runs only in worker processes, a fresh
    one per notebook (as a learner's kernels are), confined by `autograder.isolation`.

    `supply` (a judge_client.WorkerSupply) lets several gradings share one worker process (tests
    do, for speed), and `models` (a judge_client.ModelReader) one worker that reads model files;
    `limits` overrides sandbox.LIMITS; `seed` fixes the random inputs;
    `only` (an exercise's function name or a check id, see `select()`) grades a part only;
    `hidden`: an instructor's hidden-checks folder (see `autograder.hidden`).
    Raises ValueError for an unknown `only`, before anything starts.
    """
    from autograder.isolation.confinement import confinement, remove_tree
    from autograder.isolation.judge_client import ModelReader, WorkerSupply
    from autograder.isolation.processes import reap_orphans

    unsafe = keras_too_old()
    if unsafe:
        raise GradingDataError(unsafe.rstrip("."))
    submission = Path(submission).resolve()
    # Read before any learner code runs
    course, course_note = config.for_grading(submission, CHECK_IDS)
    exercises = config.with_points(select(only), course.points)
    limits = {**course.time_limits, **(limits or {})}
    if hidden is not None:  # loaded, like every module of the judge, before learner code runs
        from autograder.hidden import load_hidden_checks, with_hidden

        hidden = Path(hidden).resolve()
        exercises = with_hidden(exercises, load_hidden_checks(hidden), hidden)
    silence_tensorflow()
    how = replace(confinement(), private=(hidden,) if hidden else ())
    cells = [notebook_cell(submission, exercise) for exercise in exercises]  # before learner code
    models_judged = hidden is not None or any(exercise.model_file for exercise in exercises)
    learner_keras = models_judged or not all(map(imports_only_light_modules, cells))
    workdir = Path(tempfile.mkdtemp(prefix="autograder-"))
    own_files = workdir / "judge"  # the judge's copies of models: no worker can reach them
    own_files.mkdir(mode=0o700)
    # Two logs: the judge's own stderr stays in its private folder (a hidden check's output too);
    # the workers get a write-only handle on theirs, shown to the learner with --verbose.
    log = open(own_files / "judge.log", "w+", encoding="utf-8")  # noqa: SIM115 (closed below)
    worker_log_path = workdir / "worker.log"
    worker_log = open(worker_log_path, "a", encoding="utf-8")  # noqa: SIM115 (closed below)
    workers, readers = supply, models
    try:
        with stderr_to(log), contextlib.redirect_stdout(io.StringIO()):
            if workers is None:  # started now: any Keras import runs while the judge prepares
                workers = WorkerSupply(worker_log, str(workdir), learner_keras, how)
            if readers is None and models_judged:  # learners' model files: never in the judge
                readers = ModelReader(worker_log, str(workdir), how)
            data = prepare_judge(models_judged)
            results = []
            notes = [
                note for note in (course_note, None if how.sandboxed else how.description) if note
            ]
            shared = dict(
                workdir=own_files, seed=seed, train=train, loaded_data=data, course=course
            )
            work = [
                (
                    exercise,
                    exercise_context(
                        exercise, cell, submission, workers, limits, readers, **shared
                    ),
                )
                for exercise, cell in zip(exercises, cells, strict=True)
            ]
            preparation = prepare_in_background(work)
            try:
                for exercise, context in work:
                    workers.next_notebook()  # a fresh worker per notebook, as a fresh kernel
                    results += run_exercise(exercise, context)
                    notes += [note for note in context.notes if note not in notes]
            finally:
                preparation.join()  # still quiet, and before its folder is removed below
    finally:
        if supply is None and workers is not None:
            workers.close()
        if models is None and readers is not None:
            readers.close()
        kept = (supply.pids() if supply is not None else set()) | (
            models.pids() if models is not None else set()
        )
        reap_orphans(keep=kept)
        log.close()
        worker_log.close()
        learner_output = worker_log_path.read_text(encoding="utf-8", errors="replace")
        remove_tree(workdir)
    source, description = (data.source, data.description) if data is not None else ("", "")
    return Report(submission, results, source, description, notes, learner_output, only)


def exercise_context(
    exercise: Exercise,
    cell: GradedCell | str,
    submission: Path,
    workers,
    limits: dict,
    models=None,
    **fields,
):
    """The context of one exercise's checks: its graded `cell` (see `notebook_cell`), run by
    `workers` (a WorkerSupply); its model files read by `models` (a ModelReader)."""
    from autograder.isolation.judge_client import SandboxLearner

    learner = SandboxLearner({exercise.function: cell}, workers, limits, models)
    return Context(learner, submission, **fields)


def notebook_cell(submission: Path, exercise: Exercise) -> GradedCell | str:
    """The exercise's graded cell, or why there is none (a broken notebook is one such reason)."""
    return graded_cell(submission / exercise.notebook, exercise.function)


# What a graded cell may import and still run in a worker that has not imported Keras first:
# each of these takes well under a second, far inside the time limit of a call.
LIGHT_MODULES = frozenset(
    {"numpy", "sklearn", "math", "statistics", "random", "collections", "functools", "itertools",
     "operator", "typing", "__future__", "warnings", "dataclasses"}
)  # fmt: skip


def imports_only_light_modules(cell: GradedCell | str) -> bool:
    """Whether the graded cell (or its absence) needs no Keras in its worker: Keras takes 5 to 10
    s to import, more than a call's time limit, so the worker imports it first where it may be
    needed. Exercise 2 alone is then graded without TensorFlow at all."""
    if not isinstance(cell, GradedCell):
        return True
    tree = parse_cell(cell.source)
    if tree is None:
        return True  # the worker cannot compile it either: it fails before anything is imported
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0] if node.level == 0 else "")
    return imported <= LIGHT_MODULES


def choices() -> list[str]:
    """What --only accepts: each exercise's function name, and each check id."""
    return [exercise.function for exercise in EXERCISES] + CHECK_IDS


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
