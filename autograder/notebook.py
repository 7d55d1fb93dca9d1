"""Instant checks inside the exercise notebooks: `check(build_model)` after each graded cell.

`check()` runs the autograder's own checks for one function, the way `python -m autograder` runs
them: the function's whole notebook cell, on its own, in the grader's worker process, with the
grader's time limits. So a function that uses a name from another cell, or hangs, gets the same
verdict in both. One worker serves the notebook's checks; it starts when this module is imported
in a notebook, so the first check() does not wait for its Keras import. A function whose cell
cannot be found (defined in a script or a test) is checked in this process instead.

A check that fails raises `CheckNotPassed`, so "Run all" stops there instead of training a wrong
model. Inside IPython/Jupyter that error, and the NotImplementedError of an unfilled stub
(`raise NotImplementedError`), are shown as one line instead of a traceback.
"""

from __future__ import annotations

import atexit
import inspect
import linecache
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

from autograder.exercises import EXERCISES, EXERCISES_BY_FUNCTION
from autograder.isolation.learner import Learner
from autograder.isolation.protocol import (
    describe_value,
    failure_from_exception,
    make_argument,
    returned_value,
    save_returned_model,
)
from autograder.report import check_lines
from autograder.results import Outcome
from autograder.runner import Context, run_exercise
from autograder.submission import GradedCell


class CheckNotPassed(Exception):
    """check() found a mistake: raised so that "Run all" stops before training a wrong model."""


STUB_MESSAGE = (
    "{value} (An exercise above is not done yet: write your code in place of its "
    "`raise NotImplementedError(...)` line, run that cell, then this one again.)"
)


class InProcessLearner(Learner):
    """Calls the learner's functions directly, in this process."""

    def __init__(self, functions: dict):
        self.functions = functions

    def _call(self, function: str, *arguments):
        code = self.functions[function]
        try:
            return code(*arguments)
        except (Exception, SystemExit) as error:
            filename = getattr(getattr(code, "__code__", None), "co_filename", "")
            raise failure_from_exception(error, filename) from None

    def save_model(self, function: str, path: str) -> dict:
        return save_returned_model(self._call(function), path)

    def call(self, function: str, arguments: list[dict]) -> dict:
        # read back as the judge reads a worker's answer: the same value either way
        return returned_value(describe_value(self._call(function, *map(make_argument, arguments))))

    def parameters(self, function: str) -> list[str]:
        try:
            return list(inspect.signature(self.functions[function]).parameters)
        except (TypeError, ValueError):
            return []


def check(function) -> None:
    """Run the autograder's checks for one graded function and print pass/fail with hints.

    Raises CheckNotPassed when a check fails (an unfinished stub only prints its TODO lines: the
    next cell that calls it stops "Run all" with its own one-line message).
    """
    name = getattr(function, "__name__", repr(function))
    exercise = EXERCISES_BY_FUNCTION.get(name)
    if exercise is None:
        known = ", ".join(exercise.function for exercise in EXERCISES)
        print(f"check() grades the functions {known}; it got {name}. Pass the function itself.")
        return
    if _inside_worker():
        return  # the grader runs a cell that calls check(): its checks are the grader's own
    cell = notebook_cell(function)
    if cell is None:
        results = run_checks(exercise, InProcessLearner({name: function}))
    else:
        results = _run_in_worker(exercise, cell)
    show(results, exercise)


_HINTS_SHOWN: dict[str, int] = {}  # function -> how many of its hints this kernel has shown


def hint(function) -> None:
    """Show the next hint of a graded function's exercise (the same hints as the notebook's
    "Stuck?" cell, kept in the exercise's module): one more at each call, then the first again."""
    name = getattr(function, "__name__", str(function))
    exercise = EXERCISES_BY_FUNCTION.get(name)
    if exercise is None or not exercise.hints:
        known = ", ".join(exercise.function for exercise in EXERCISES if exercise.hints)
        print(f"hint() has hints for {known}; it got {name}. Pass the function itself.")
        return
    number = _HINTS_SHOWN.get(name, 0) % len(exercise.hints) + 1
    _HINTS_SHOWN[name] = number
    last = number == len(exercise.hints)
    after = (
        "That was the last hint: the next call starts again at Hint 1."
        if last
        else f"Run hint({name}) again for Hint {number + 1}."
    )
    text = f"**Hint {number} of {len(exercise.hints)}.** {exercise.hints[number - 1]}\n\n{after}"
    _show_markdown(text)


def _show_markdown(text: str) -> None:
    """Markdown rendered in a notebook (Jupyter, Colab); plain text anywhere else."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        print(text)
        return
    if get_ipython() is None:
        print(text)
    else:
        display(Markdown(text))


ASK_FOR_A_HINT = "Stuck? hint({name}) shows a hint, one more at each call."


def run_checks(exercise, learner: Learner, workdir: str | None = None) -> list:
    """The results of an exercise's function checks (no saved files) for `learner`."""
    with tempfile.TemporaryDirectory(prefix="autograder-check-", dir=workdir) as folder:
        context = Context(learner, workdir=Path(folder))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return run_exercise(exercise, context, functions_only=True)


def show(results: list, exercise) -> None:
    """Print the results; for a learner's error, its traceback from the cell on, not a hint to
    go and look for it."""
    for result in results:
        if result.mistake in LOOK_AT_THE_ERROR and result.details:
            result.hint = ""  # "run the cell to see the full error": it is shown right here
        print("\n".join(check_lines([result], symbols=True)))
        if result.outcome == Outcome.ERROR and result.details:
            print(short_traceback(result.details))
    passed = sum(result.outcome == Outcome.PASSED for result in results)
    name = f"{exercise.function}()"
    if passed == len(results):
        summary = f"All {len(results)} checks of {name} pass."
        if exercise.model_file:
            summary += f" Run the next cells to train the model and save {exercise.model_file}."
        print(summary)
        return
    summary = f"{passed} of {len(results)} checks of {name} pass: fix the first one above"
    ask = ASK_FOR_A_HINT.format(name=exercise.function) if exercise.hints else ""
    if not any(result.outcome in (Outcome.FAILED, Outcome.ERROR) for result in results):
        print(f"{summary}. {ask}".rstrip())  # a stub: the next cell that calls it stops Run all
        return
    why = "no wrong model is trained" if exercise.model_file else "the cells below use it"
    raise CheckNotPassed(  # its one line ends the output: no summary printed twice
        f"{summary}, run its cell, then this one again. (Run all stops here: {why}.) {ask}".rstrip()
    )


LOOK_AT_THE_ERROR = ("raised", "cell_raised")
TRACEBACK_LINES = 12


def short_traceback(details: str) -> str:
    """The last lines of a learner's traceback (it starts at their cell), indented."""
    lines = details.rstrip().splitlines()
    if len(lines) > TRACEBACK_LINES:
        lines = ["Traceback (most recent call last, shortened):", *lines[-TRACEBACK_LINES + 1 :]]
    return "\n".join("    " + line for line in lines)


# ---------------------------------------------------------------- the grader's worker


def notebook_cell(function) -> GradedCell | None:
    """The whole notebook cell that defined `function`, as the grader reads it from the
    notebook, or None outside a notebook (IPython keeps each cell's source in linecache)."""
    code = getattr(function, "__code__", None)
    filename = getattr(code, "co_filename", "")
    if not _is_cell_file(filename):
        return None
    lines = linecache.getlines(filename)
    if not lines:
        return None
    return GradedCell(function.__name__, "".join(lines), f"<cell {function.__name__}>")


def _is_cell_file(filename: str) -> bool:
    return "ipykernel_" in filename or filename.startswith("<ipython-input-")


def _inside_worker() -> bool:
    main = sys.modules.get("__main__")
    return getattr(getattr(main, "__spec__", None), "name", "") == "autograder.isolation.worker"


_WORKERS: dict = {}  # the worker supply of this kernel, started once


def worker_supply():
    """This kernel's worker (the grader's WorkerSupply), started on first use."""
    if "supply" not in _WORKERS:
        from autograder.isolation.judge_client import WorkerSupply

        folder = tempfile.mkdtemp(prefix="autograder-check-")
        log = open(Path(folder) / "worker.log", "w+", encoding="utf-8")  # noqa: SIM115
        _WORKERS["folder"] = folder
        _WORKERS["supply"] = WorkerSupply(log, folder)
        atexit.register(_close_worker, _WORKERS["supply"], log, folder)
    return _WORKERS["supply"]


def _close_worker(supply, log, folder: str) -> None:
    """When the kernel ends: the worker, its log and its folder."""
    supply.close()
    log.close()
    shutil.rmtree(folder, ignore_errors=True)


def _run_in_worker(exercise, cell: GradedCell) -> list:
    from autograder.isolation.judge_client import FORKING, SandboxLearner

    supply = worker_supply()
    if FORKING:
        supply.next_notebook()  # a fresh fork for each check: nothing left from earlier runs
    learner = SandboxLearner({exercise.function: cell}, supply)
    try:
        return run_checks(exercise, learner, _WORKERS["folder"])
    except KeyboardInterrupt:
        supply.discard()  # it may be inside the learner's code: the next check gets a fresh one
        raise CheckNotPassed("check() was interrupted; run the cell and this one again.") from None


def _one_line_error(shell, etype, value, tb, tb_offset=None):
    """IPython custom exception handler: one line instead of a traceback, for an unfilled stub
    or a check that did not pass.

    IPython ignores what the handler returns when the error comes from running a cell, so it
    shows the line itself, as the cell's error output.
    """
    if issubclass(etype, CheckNotPassed):
        text = str(value)
    else:
        text = STUB_MESSAGE.format(value=str(value).strip() or "Not written yet.")
    lines = [f"{etype.__name__}: {text}"]
    try:
        shell._showtraceback(etype, value, lines)
    except Exception:  # an IPython without this method: a plain message is enough
        print(lines[0], file=sys.stderr)
    return lines


def install_stub_handler() -> bool:
    """Show NotImplementedError (an unfilled stub) and CheckNotPassed as one line in the running
    IPython shell, if any."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.set_custom_exc((NotImplementedError, CheckNotPassed), _one_line_error)
    return True


if install_stub_handler():
    worker_supply()  # its Keras import runs while the learner reads the notebook
