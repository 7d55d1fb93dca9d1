"""What crosses between the judge and the learner's side: plain data, never pickles.

The one schema of every message, each kind written once, with what makes it (the worker's side)
beside what reads it back (the judge's side, which trusts nothing in it):

- a model file to read: `ModelRequest` (`to_folder` on the judge's side, `from_folder` in the
  worker); its answer, `modelfile.read_model_file`'s, carries predictions as arrays;
- a value a graded function returned: `describe_value` (worker) and `returned_value` (judge),
  numbers, shapes and, for a numeric array, the array itself (`encode_array`, `decode_array`);
- a function's arguments: `argument_spec` (judge) and `make_argument` (worker);
- how learner code failed: `LearnerFailure` (`failure_from_exception`, `reported_failure`).

A new input for the model reader is a new named array in `ModelRequest.inputs`; a new field of a
returned value is one line in `describe_value` and one in `returned_value`.
`learner.Learner` is the judge's view of the learner's functions that uses these messages.
"""

from __future__ import annotations

import base64
import traceback
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from autograder.isolation.names import UNSHOWN_CLASS as UNSHOWN_CLASS  # where tests look
from autograder.isolation.names import UNSHOWN_EXCEPTION, type_name

Message = dict[str, Any]


class FailureKind(str, Enum):
    """How the learner's code failed to return."""

    NOT_ATTEMPTED = "not attempted"  # NotImplementedError: the stub is not written yet
    ERROR = "error"  # it raised
    EXITED = "exited"  # sys.exit() or exit()
    TIMEOUT = "timeout"  # no answer within the limit (judged by the judge, never reported)
    DIED = "died"  # the worker process ended (judged by the judge, never reported)

    def __str__(self) -> str:
        return self.value


# What a worker may report; a timeout or a death is only ever the judge's own finding.
REPORTABLE = (FailureKind.NOT_ATTEMPTED, FailureKind.ERROR, FailureKind.EXITED)
MISSING = "MissingFunction"  # exc_type when the notebook or its graded cell is not there


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

    def to_dict(self) -> Message:
        return asdict(self)


def reported_failure(data: object) -> LearnerFailure:
    """A worker's report of a failure, read by the judge: only the known fields, as plain
    strings and numbers, and only a kind a worker may report (never a timeout or a death)."""
    data = data if isinstance(data, dict) else {}
    kind = data.get("kind")
    failure = LearnerFailure(next((k for k in REPORTABLE if k.value == kind), FailureKind.ERROR))
    for name in ("exc_type", "message", "cell", "traceback", "stage"):
        if isinstance(data.get(name), str):
            setattr(failure, name, data[name])
    if "exc_type" in data:
        failure.exc_type = type_name(failure.exc_type, UNSHOWN_EXCEPTION)
    if isinstance(data.get("line"), int) and not isinstance(data.get("line"), bool):
        failure.line = data["line"]
    return failure


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


def _from_cell(error: BaseException, cell_filename: str) -> TracebackType | None:
    """The traceback from the learner's cell on: the grader's own frames are noise to them."""
    frame = error.__traceback__
    while frame is not None and frame.tb_frame.f_code.co_filename != cell_filename:
        frame = frame.tb_next
    return frame or error.__traceback__


def make_argument(spec: Message) -> Any:
    """Build one argument from its spec: a list, or a NumPy array of a given dtype."""
    if spec["kind"] == "list":
        return spec["data"]
    return np.asarray(spec["data"], dtype=spec["dtype"])


def argument_spec(values: np.ndarray, kind: str) -> Message:
    """The spec of an argument: kind is "list" or a NumPy dtype name such as "uint8"."""
    if kind == "list":
        return {"kind": "list", "data": values.tolist()}
    return {"kind": "array", "dtype": kind, "data": values.tolist()}


MAX_RETURNED_VALUES = 1_000_000  # an array a graded function returns, sent back whole


def describe_value(value: object) -> Message:
    """What the judge needs to know about a returned value, as JSON-safe data (the worker's
    side; `returned_value` reads it back)."""
    kind = type(value)
    description: Message = {
        "type": type_name(f"{kind.__module__}.{kind.__qualname__}"),
        "is_float": isinstance(value, float),
        "is_bool": isinstance(value, (bool, np.bool_)),
        "is_tensor": "tensorflow" in kind.__module__ or kind.__name__.endswith("Tensor"),
        "shape": None,
        "value": None,
        "array": None,
    }
    try:
        array = np.asarray(value, dtype=np.float64)
    except Exception:  # not numeric at all (None, a string, a model...)
        return description
    description["shape"] = list(array.shape)
    if array.ndim == 0:
        description["value"] = float(array)
    elif array.size <= MAX_RETURNED_VALUES:
        description["array"] = encode_array(array, np.float64)
    return description


def array_summary(array: np.ndarray | None) -> dict[str, float] | None:
    """A returned array's smallest, largest and mean value, measured by the judge on the array
    that crossed (None when there is none, or it is empty)."""
    if array is None or array.size == 0:
        return None
    return {"min": float(array.min()), "max": float(array.max()), "mean": float(array.mean())}


def returned_value(result: object) -> Message:
    """`describe_value`'s answer, read by the judge: every field checked, the array decoded
    (None when it is absent or not a valid one)."""
    result = result if isinstance(result, dict) else {}
    value, shape = result.get("value"), result.get("shape")
    try:
        array = decode_array(result["array"], np.float64) if result.get("array") else None
    except ValueError:
        array = None
    shape = [int(size) for size in shape] if isinstance(shape, list) else None
    if array is not None and list(array.shape) != shape:
        array = None
    return {
        "type": type_name(result.get("type")),
        "is_float": result.get("is_float") is True,
        "is_bool": result.get("is_bool") is True,
        "is_tensor": result.get("is_tensor") is True,
        "shape": shape,
        "value": float(value) if isinstance(value, (int, float)) else None,
        "array": array,
        "summary": array_summary(array),
    }


def save_returned_model(value: object, path: str) -> Message:
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


MAX_ARRAY_VALUES = 100_000_000  # far above 60,000 digits x 10 probabilities


def encode_array(array: np.ndarray, dtype: type[np.floating[Any]] = np.float32) -> Message:
    """An array as JSON-safe data: its shape and its bytes (base64) as `dtype`."""
    array = np.ascontiguousarray(array, dtype=dtype)
    return {"shape": list(array.shape), "data": base64.b64encode(array.tobytes()).decode("ascii")}


def decode_array(data: object, dtype: type[np.floating[Any]] = np.float32) -> np.ndarray:
    """An array from `encode_array`'s data, checked (ValueError when it is not one)."""
    if not isinstance(data, dict) or not isinstance(data.get("data"), str):
        raise ValueError("not an encoded array")
    shape = data.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(size, int) and not isinstance(size, bool) and 0 <= size for size in shape
    ):
        raise ValueError("not an array shape")
    count = int(np.prod(shape)) if shape else 1
    if count > MAX_ARRAY_VALUES:
        raise ValueError("too large an array")
    raw = base64.b64decode(data["data"], validate=True)
    if len(raw) != np.dtype(dtype).itemsize * count:
        raise ValueError("the array's data does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


MODEL_IN_FOLDER = "model"  # the copy the model worker reads, with the file's suffix
INPUTS_IN_FOLDER = "inputs.npz"
TRAINED = "trained.keras"


@dataclass(frozen=True)
class ModelRequest:
    """Read a model file (the worker's op "model"): load it, optionally fit and save it, describe
    it and predict on each named input; with `resave`, also on a copy saved and loaded again.
    `inputs` holds every array the reader needs, by name (images to predict on, "x_train" and
    "y_train" to fit): a new input is a new name there, nothing else."""

    path: Path
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    resave: tuple[str, ...] = ()
    fit: dict[str, Any] | None = None  # model.fit's settings, on "x_train" and "y_train"
    save_as: Path | None = None  # where the fitted model goes

    def to_folder(self, folder: Path, memory_mb: int) -> Message:
        """The message for a worker whose folder is `folder`, the arrays written there; the
        model file itself is copied there by the judge (`MODEL_IN_FOLDER` + its suffix)."""
        np.savez(folder / INPUTS_IN_FOLDER, allow_pickle=False, **self.inputs)
        return {
            "op": "model",
            "path": self.copy_name(),
            "inputs": INPUTS_IN_FOLDER,
            "resave": list(self.resave),
            "fit": self.fit,
            "save_as": TRAINED if self.save_as is not None else None,
            "memory_mb": memory_mb,
        }

    def copy_name(self) -> str:
        return MODEL_IN_FOLDER + (self.path.suffix if self.path.suffix == ".h5" else ".keras")

    @classmethod
    def from_folder(cls, message: Message, folder: Path) -> ModelRequest:
        """The worker's side: the request the judge's message describes, arrays read back."""
        with np.load(folder / INPUTS_IN_FOLDER, allow_pickle=False) as saved:
            inputs = {name: saved[name] for name in saved.files}
        save_as = folder / message["save_as"] if message.get("save_as") else None
        resave = tuple(message.get("resave", ()))
        return cls(folder / message["path"], inputs, resave, message.get("fit"), save_as)
