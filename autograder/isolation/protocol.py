"""What crosses between the judge and the learner's code: plain data, never pickles.

`Learner` is the judge's view of the learner's graded functions; the worker subprocess
(`sandbox.SandboxLearner`) and the in-notebook `check()` (`notebook.InProcessLearner`) implement
it with the helpers below, so a learner's function is called and described the same way in both.
"""

from __future__ import annotations

import ast
import re
import traceback
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path

import numpy as np

from autograder.submission import parse_cell


class FailureKind(str, Enum):
    """How the learner's code failed to return."""

    NOT_ATTEMPTED = "not attempted"  # NotImplementedError: the stub is not written yet
    ERROR = "error"  # it raised
    EXITED = "exited"  # sys.exit() or exit()
    TIMEOUT = "timeout"  # no answer within the limit (judged by the judge, never reported)
    DIED = "died"  # the worker process ended (judged by the judge, never reported)

    def __str__(self) -> str:
        return self.value


# A dotted Python name, as a class's module and qualified name make it (`<locals>` included).
PYTHON_NAME = re.compile(r"(?:[^\W\d]\w*|<locals>)(?:\.(?:[^\W\d]\w*|<locals>))*")
UNSHOWN_CLASS = "an object of a class whose name cannot be shown"
UNSHOWN_EXCEPTION = "an exception whose class name cannot be shown"


def type_name(name: object, instead: str = UNSHOWN_CLASS) -> str:
    """A class's name, fit for a message: learner code can name a class anything (lines of
    Markdown or HTML for the report), so a name that is not a dotted Python name of at most 100
    characters reads `instead`."""
    name = str(name)
    return name if len(name) <= 100 and PYTHON_NAME.fullmatch(name) else instead


# What a worker may report; a timeout or a death is only ever the judge's own finding.
REPORTABLE = (FailureKind.NOT_ATTEMPTED, FailureKind.ERROR, FailureKind.EXITED)
MISSING = "MissingFunction"  # exc_type when the notebook or its graded cell is not there


class Learner:
    """The learner's graded functions, called in the worker subprocess or in the notebook."""

    def save_model(self, function: str, path: str) -> dict:
        """Call function() and save the model it returns to path; describe what it returned."""
        raise NotImplementedError

    def call(self, function: str, arguments: list[dict]) -> dict:
        """Call function(*arguments) (specs from `argument_spec`); describe the result."""
        raise NotImplementedError

    def read_model(
        self,
        path: Path,
        inputs: dict[str, np.ndarray],
        resave: tuple[str, ...] = (),
        fit: dict | None = None,
        save_as: Path | None = None,
    ) -> dict:
        """modelfile.read_model_file's answer for a model file; LearnerFailure when it fails.
        Here, in this process (the notebook's own kernel, tests); sandbox.SandboxLearner reads
        in a confined worker of its own."""
        from autograder.isolation.modelfile import read_model_file

        try:
            return read_model_file(path, inputs, resave, fit, save_as)
        except Exception as error:
            raise failure_from_exception(error, "") from None

    def parameters(self, function: str) -> list[str]:
        """The names of the function's parameters, read from its cell's source (never run):
        the `cells` of sandbox.SandboxLearner; a learner without cells overrides this."""
        return parameters_in_source(self.source(function), function)

    def source(self, function: str) -> str:
        """The source of the function's graded cell, where the learner has one (the `cells` of
        sandbox.SandboxLearner), else ""."""
        cell = getattr(self, "cells", {}).get(function)
        source = getattr(cell, "source", "")
        return source if isinstance(source, str) else ""


def parameters_in_source(source: str, function: str) -> list[str]:
    tree = parse_cell(source)
    if tree is None:
        return []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            return [argument.arg for argument in node.args.args]
    return []


@dataclass
class LearnerFailure(Exception):
    """The learner's code did not return: it raised, hung, exited or crashed."""

    kind: FailureKind
    exc_type: str = ""
    message: str = ""
    line: int | None = None
    cell: str = ""
    traceback: str = ""
    stage: str = "call"  # "cell": running the cell that defines the function; "call": calling it
    limit: float = 0.0  # the time limit, for a timeout

    def __str__(self) -> str:
        return f"{self.kind}: {self.exc_type}: {self.message}"

    def to_dict(self) -> dict:
        return asdict(self)


def failure_from_exception(
    error: BaseException, cell_filename: str, stage: str = "call"
) -> LearnerFailure:
    """Describe an exception raised by learner code, with the line of the learner's cell."""
    if isinstance(error, NotImplementedError):
        kind = FailureKind.NOT_ATTEMPTED
    elif isinstance(error, SystemExit):
        kind = FailureKind.EXITED
    else:
        kind = FailureKind.ERROR
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == cell_filename:
            line = frame.lineno
    text = "".join(traceback.format_exception(type(error), error, _from_cell(error, cell_filename)))
    return LearnerFailure(
        kind=kind,
        exc_type=type_name(type(error).__name__, UNSHOWN_EXCEPTION),
        message=str(error),
        line=line,
        cell=cell_filename,
        traceback=text,
        stage=stage,
    )


def _from_cell(error: BaseException, cell_filename: str):
    """The traceback from the learner's cell on: the grader's own frames are noise to them."""
    frame = error.__traceback__
    while frame is not None and frame.tb_frame.f_code.co_filename != cell_filename:
        frame = frame.tb_next
    return frame or error.__traceback__


def make_argument(spec: dict):
    """Build one argument from its spec: a list, or a NumPy array of a given dtype."""
    if spec["kind"] == "list":
        return spec["data"]
    return np.asarray(spec["data"], dtype=spec["dtype"])


def argument_spec(values: np.ndarray, kind: str) -> dict:
    """The spec of an argument: kind is "list" or a NumPy dtype name such as "uint8"."""
    if kind == "list":
        return {"kind": "list", "data": values.tolist()}
    return {"kind": "array", "dtype": kind, "data": values.tolist()}


def describe_value(value) -> dict:
    """What the judge needs to know about a returned value, as JSON-safe data."""
    kind = type(value)
    description = {
        "type": type_name(f"{kind.__module__}.{kind.__qualname__}"),
        "is_float": isinstance(value, float),
        "is_bool": isinstance(value, (bool, np.bool_)),
        "is_tensor": "tensorflow" in kind.__module__ or kind.__name__.endswith("Tensor"),
        "shape": None,
        "value": None,
    }
    try:
        array = np.asarray(value, dtype=np.float64)
    except Exception:  # not numeric at all (None, a string, a model...)
        return description
    description["shape"] = list(array.shape)
    if array.ndim == 0:
        description["value"] = float(array)
    description["summary"] = array_summary(array)
    return description


def array_summary(array: np.ndarray) -> dict | None:
    """An array's smallest, largest and mean value (None when it is empty): what the judge of
    exercise 5 measures of the arrays a learner's function returns, without the arrays."""
    if array.size == 0:
        return None
    return {"min": float(array.min()), "max": float(array.max()), "mean": float(array.mean())}


def save_returned_model(value, path: str) -> dict:
    """Save a model returned by build_model()/build_cnn() so the judge can load it safely."""
    import keras

    kind = type(value)
    description = {"type": type_name(f"{kind.__module__}.{kind.__qualname__}"), "saved": False}
    if isinstance(value, keras.Model):
        try:
            value.save(path)
        except Exception as error:  # Keras' own error, not the learner's function raising
            description["error"] = f"{type_name(type(error).__name__, UNSHOWN_EXCEPTION)}: {error}"
        else:
            description["saved"] = True
    return description
