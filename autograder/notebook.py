"""Instant checks inside the exercise notebooks: `check(build_model)` after each graded cell.

`check()` runs the autograder's own checks for one function, in the notebook's process (it is the
learner's own notebook: nothing to protect), and prints the same messages as
`python -m autograder`. The saved model and its accuracy are graded by `python -m autograder`.

Importing this module inside IPython/Jupyter also replaces the traceback of an unfilled stub
(`raise NotImplementedError`) with a one-line message; the cell still fails, so "Run all" stops
there.
"""

from __future__ import annotations

import inspect
import sys
import tempfile
import warnings
from pathlib import Path

from autograder.checks import (
    EXERCISES,
    EXERCISES_BY_FUNCTION,
    PASSED,
    Context,
    Learner,
    run_exercise,
)
from autograder.protocol import (
    describe_value,
    failure_from_exception,
    make_argument,
    save_returned_model,
)
from autograder.report import check_lines

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
        return describe_value(self._call(function, *map(make_argument, arguments)))

    def parameters(self, function: str) -> list[str]:
        try:
            return list(inspect.signature(self.functions[function]).parameters)
        except (TypeError, ValueError):
            return []


def check(function) -> None:
    """Run the autograder's checks for one graded function and print pass/fail with hints."""
    name = getattr(function, "__name__", repr(function))
    exercise = EXERCISES_BY_FUNCTION.get(name)
    if exercise is None:
        known = ", ".join(exercise.function for exercise in EXERCISES)
        print(f"check() grades the functions {known}; it got {name}. Pass the function itself.")
        return
    with tempfile.TemporaryDirectory(prefix="autograder-check-") as workdir:
        context = Context(InProcessLearner({name: function}), workdir=Path(workdir))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = run_exercise(exercise, context, functions_only=True)
    print("\n".join(check_lines(results, symbols=True)))
    passed = sum(result.outcome == PASSED for result in results)
    if passed == len(results):
        summary = f"All {len(results)} checks of {name}() pass."
        if exercise.model_file:
            summary += f" Run the next cells to train the model and save {exercise.model_file}."
    else:
        summary = f"{passed} of {len(results)} checks of {name}() pass: fix the first one above."
    print(summary)


def _friendly_stub_error(shell, etype, value, tb, tb_offset=None):
    """IPython custom exception handler: one line instead of a traceback for an unfilled stub.

    IPython ignores what the handler returns when the error comes from running a cell, so it
    shows the line itself, as the cell's error output.
    """
    lines = [
        f"{etype.__name__}: " + STUB_MESSAGE.format(value=str(value).strip() or "Not written yet.")
    ]
    try:
        shell._showtraceback(etype, value, lines)
    except Exception:  # an IPython without this method: a plain message is enough
        print(lines[0], file=sys.stderr)
    return lines


def install_stub_handler() -> bool:
    """Use the friendly message for NotImplementedError in the running IPython shell, if any."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.set_custom_exc((NotImplementedError,), _friendly_stub_error)
    return True


install_stub_handler()
