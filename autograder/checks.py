"""The exercises, their checks in layers, and the runner that turns outcomes into results.

A check raises `CheckFailed` (a catalogued mistake) or `LearnerFailure` (the learner's code
raised, hung or exited), or returns a short success message. The first check of an exercise
that does not pass skips the later ones, and the result says so.
"""

from __future__ import annotations

import ast
import json
import math
import re
import tempfile
import traceback
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autograder import judges
from autograder.argmax_cases import Case, make_cases
from autograder.judges import CheckFailed
from autograder.mistakes import describe
from autograder.protocol import (
    DIED,
    EXITED,
    MISSING,
    NOT_ATTEMPTED,
    TIMEOUT,
    LearnerFailure,
    argument_spec,
)
from autograder.thresholds import accuracy_mark

# --train: model.fit arguments per model kind, as the notebooks train (a test checks they match)
TRAIN_SETTINGS = {"dense": {"epochs": 3}, "cnn": {"epochs": 15, "batch_size": 128}}
PASSED = "passed"
FAILED = "failed"
ERROR = "error"
SKIPPED = "skipped"
OUTCOMES = (PASSED, FAILED, NOT_ATTEMPTED, ERROR, SKIPPED)


@dataclass
class CheckResult:
    check_id: str
    exercise: str
    title: str
    points: float
    outcome: str
    message: str = ""
    hint: str = ""
    mistake: str = ""
    details: str = ""  # a traceback, shown with --verbose
    bonus: bool = False

    @property
    def score(self) -> float:
        return self.points if self.outcome == PASSED else 0.0


class Learner:
    """The learner's graded functions, called in the worker subprocess or in the notebook."""

    def save_model(self, function: str, path: str) -> dict:
        """Call function() and save the model it returns to path; describe what it returned."""
        raise NotImplementedError

    def call(self, function: str, arguments: list[dict]) -> dict:
        """Call function(*arguments) (specs from protocol.argument_spec); describe the result."""
        raise NotImplementedError

    def parameters(self, function: str) -> list[str]:
        """The names of the function's parameters, read from its cell's source (never run):
        the `cells` of sandbox.SandboxLearner; a learner without cells overrides this."""
        cell = getattr(self, "cells", {}).get(function)
        return parameters_in_source(getattr(cell, "source", ""), function)


def parameters_in_source(source: str, function: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            return [argument.arg for argument in node.args.args]
    return []


@dataclass
class Context:
    """What the checks of one grading run share: the learner, the files, the data, the models."""

    learner: Learner
    submission: Path | None = None
    load_data: Callable | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="autograder-")))
    state: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def data(self):
        if "data" not in self.state:
            assert self.load_data is not None, "no data to grade on"
            self.state["data"] = self.load_data()
        return self.state["data"]

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


@dataclass
class Exercise:
    function: str
    notebook: str
    checks: list[Check]
    model_file: str | None = None
    model_kind: str | None = None  # "dense" or "cnn": which threshold applies
    bonus: bool = False

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


# ---------------------------------------------------------------- build_model() / build_cnn()


STANDARD_MODELS = ("Sequential", "Functional", "Model")


def returned_model(context: Context, exercise: Exercise):
    """The model the learner's function returns, saved by the learner side, loaded safely here."""
    key = ("returned", exercise.function)
    if key not in context.state:
        path = context.workdir / f"returned_{exercise.function}.keras"
        description = context.learner.save_model(exercise.function, str(path))
        class_name = description["type"].rsplit(".", 1)[-1]
        returned_a_model = description["saved"] or "error" in description
        if returned_a_model and class_name not in STANDARD_MODELS:
            raise CheckFailed("subclassed_model", function=exercise.function, type=class_name)
        if description.get("error"):
            raise CheckFailed(
                "model_not_loadable",
                function=exercise.function,
                error=_first_line(description["error"]),
            )
        if not description["saved"]:
            type_name = description["type"].removeprefix("builtins.")
            raise CheckFailed("not_a_model", function=exercise.function, type=type_name)
        context.state[key] = load_or_fail(path, "model_not_loadable", function=exercise.function)
    return context.state[key]


def tensorflow_activations() -> dict:
    """TensorFlow's activations (tf.nn.softmax, from its classic tutorials) that Keras saves
    under their TensorFlow names, mapped to the same functions in Keras: plain Keras code."""
    import keras

    return {
        "softmax_v2": keras.activations.softmax,
        "log_softmax_v2": keras.activations.log_softmax,
    }


def load_keras_file(path: Path):
    """Load a model file without running any code it may carry (safe_mode)."""
    import keras

    return keras.models.load_model(path, safe_mode=True, custom_objects=tensorflow_activations())


def load_or_fail(path: Path, mistake: str, **fields):
    """load_keras_file, reporting a file Keras cannot load as the catalogued `mistake`."""
    try:
        return load_keras_file(path)
    except Exception as error:
        if mistake == "model_file_invalid" and "Lambda" in str(error):
            raise CheckFailed("model_file_has_code", file=path.name) from error
        raise CheckFailed(mistake, error=_load_error(path, error), **fields) from error


FILE_KINDS = {
    b"\x80": "a Python pickle",
    b"\x89HDF": "an HDF5 (.h5) file",
    b"PK": "a zip archive without a Keras model",
}


def _load_error(path: Path, error: Exception) -> str:
    """Keras' reason, or what the file really is when Keras says "File not found" for it."""
    if "File not found" not in str(error) or not path.is_file():
        return _first_line(error)
    start = path.read_bytes()[:8]
    kind = next((kind for magic, kind in FILE_KINDS.items() if start.startswith(magic)), None)
    kind = kind or "text or another format"
    return f"the file exists but is not a .keras zip archive (it looks like {kind})."


def check_returns_model(context: Context, exercise: Exercise) -> str:
    model = returned_model(context, exercise)
    return f"{exercise.function}() returns a {type(model).__name__} model"


ARCHITECTURE_JUDGES = {
    "dense": judges.judge_dense_architecture,
    "cnn": judges.judge_cnn_architecture,
}


def check_architecture(context: Context, exercise: Exercise) -> str:
    return ARCHITECTURE_JUDGES[exercise.kind](returned_model(context, exercise))


def check_compile(context: Context, exercise: Exercise) -> str:
    model = returned_model(context, exercise)
    return judges.judge_compile(model, require_adam=exercise.kind == "dense")


# ---------------------------------------------------------------- the saved model file


def saved_model(context: Context, exercise: Exercise):
    key = ("saved", exercise.function)
    if key not in context.state:
        path = context.folder / exercise.file
        if not path.is_file() and context.state.get("train"):
            context.state[key] = train_from_function(context, exercise)
            return context.state[key]
        if not path.is_file():
            raise CheckFailed(
                "model_file_missing",
                file=exercise.file,
                notebook=exercise.notebook,
                writer=_writer_cell(context.folder / exercise.notebook, exercise.file),
            )
        context.state[key] = load_or_fail(path, "model_file_invalid", file=exercise.file)
    return context.state[key]


def train_from_function(context: Context, exercise: Exercise):
    """--train: fit the (safely reloaded) model of the learner's function, as the notebook would."""
    from digits.data import normalize

    model = returned_model(context, exercise)
    (x_train, y_train), _ = context.data()
    settings = TRAIN_SETTINGS[exercise.kind]
    model.fit(model_inputs(model, normalize(x_train)), y_train, verbose=0, **settings)
    context.notes.append(
        f"{exercise.file} not found: trained {exercise.function}() for "
        f"{settings['epochs']} epochs (--train) and graded that model instead."
    )
    return model


def _writer_cell(notebook: Path, file: str) -> str:
    from autograder.submission import find_cell

    found = find_cell(notebook, file, "save")
    if found is None:
        return "the cell that calls model.save"
    number, line = found
    return f"the code cell with `{line}` (code cell {number})"


def model_inputs(model, images: np.ndarray) -> np.ndarray:
    """Scaled images shaped for the model: (n, 28, 28), or (n, 28, 28, 1) for a CNN."""
    if len(judges.input_shape_of(model)) == 4:
        return images[..., np.newaxis]
    return images


def predict(model, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Probabilities, computed eagerly: model.predict() would trace a graph per input shape."""
    inputs = model_inputs(model, images.astype(np.float32))
    batches = [
        np.asarray(model(inputs[start : start + batch_size], training=False))
        for start in range(0, len(inputs), batch_size)
    ]
    return np.concatenate(batches)


def test_images(context: Context, count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    from digits.data import normalize

    _, (x_test, y_test) = context.data()
    return normalize(x_test[:count]), y_test[:count]


def check_saved_model(context: Context, exercise: Exercise) -> str:
    model = saved_model(context, exercise)
    try:
        _judge_model(model, exercise)
    except CheckFailed as failure:
        _judge_out_of_date(context, exercise, failure)
        raise
    images, _ = test_images(context, 64)
    judges.judge_probabilities(predict(model, images), exercise.file)
    return f"{exercise.file} loads, keeps its compile configuration, outputs probabilities"


def _judge_model(model, exercise: Exercise) -> None:
    ARCHITECTURE_JUDGES[exercise.kind](model)
    judges.judge_compile(model, require_adam=exercise.kind == "dense")


def _judge_out_of_date(context: Context, exercise: Exercise, failure: CheckFailed) -> None:
    """A saved model that fails where the function's model passes was saved before a fix."""
    try:
        _judge_model(returned_model(context, exercise), exercise)
    except (CheckFailed, LearnerFailure):
        return  # the function is wrong too: the saved model's own message says what to fix
    raise CheckFailed(
        "model_file_out_of_date",
        file=exercise.file,
        function=exercise.function,
        notebook=exercise.notebook,
        problem="in the file: " + failure.message.rstrip("."),
    )


def check_reload(context: Context, exercise: Exercise) -> str:
    model = saved_model(context, exercise)
    images, _ = test_images(context, 200)
    first = predict(model, images)
    copy = context.workdir / f"resaved_{exercise.file}"
    model.save(copy)
    _judge_same(first, predict(load_keras_file(copy), images), exercise.file, "a re-save")
    legacy = (context.folder / exercise.file).with_suffix(".h5")
    if not legacy.is_file():
        return "identical predictions after save and reload"
    legacy_model = load_or_fail(legacy, "model_file_invalid", file=legacy.name)
    _judge_same(first, predict(legacy_model, images), exercise.file, legacy.name)
    return f"identical predictions after reload, and from {legacy.name}"


def _judge_same(first: np.ndarray, second: np.ndarray, name: str, other: str) -> None:
    difference = float(np.max(np.abs(first - second))) if first.shape == second.shape else np.inf
    if difference > 1e-5:
        raise CheckFailed(
            "predictions_change_after_reload", first=name, second=other, difference=difference
        )


def check_accuracy(context: Context, exercise: Exercise) -> str:
    model = saved_model(context, exercise)
    data = context.data()
    threshold, note = accuracy_mark(data, exercise.kind, context.submission)
    if note and note not in context.notes:
        context.notes.append(note)
    images, labels = test_images(context)
    scaled = predict(model, images)
    raw = predict(model, images * 255.0)
    if judges.trained_on_raw_pixels(scaled, raw, labels):
        raise CheckFailed(
            "pixels_not_scaled",
            file=exercise.file,
            confidence=judges.confidence(scaled),
            scaled=judges.accuracy(scaled, labels),
            raw=judges.accuracy(raw, labels),
        )
    accuracy = judges.accuracy(scaled, labels)
    shown, mark = percentages(accuracy, threshold)
    where = f"{len(labels):,} test digits of {data.source}"
    spread = noise(accuracy, threshold, len(labels))
    if accuracy < threshold:
        facts = dict(file=exercise.file, accuracy=shown, threshold=mark, data=where)
        _judge_low_accuracy(context, exercise, model, accuracy, facts, spread)
    return f"{shown} on the {where} (mark {mark}; {spread})"


NEAR_CHANCE = 0.2  # 10 digits: a model that learned nothing is right about 10% of the time
SMALL_LEARNING_RATE = 1e-4  # Adam's default is 1e-3


def _l2_columns(images: np.ndarray) -> np.ndarray:
    """What keras.utils.normalize(images, axis=1) computes: each column of pixels to length 1."""
    images = images.astype(np.float32)
    norms = np.linalg.norm(images, axis=1, keepdims=True)
    return images / np.where(norms == 0, 1, norms)


OTHER_SCALINGS = {"images scaled with keras.utils.normalize(x, axis=1)": _l2_columns}


def _judge_low_accuracy(
    context: Context, exercise: Exercise, model, accuracy: float, facts: dict, spread: str
) -> None:
    """Name what the evidence shows about a model below the mark, most specific cause first."""
    record = training_record(context.folder / exercise.file)
    rate = learning_rate(model)
    if rate is not None and rate < SMALL_LEARNING_RATE:
        raise CheckFailed("learning_rate_too_small", rate=rate, **facts)
    if accuracy < NEAR_CHANCE:
        evidence = _curve(record, "; the notebook recorded {}")
        raise CheckFailed("accuracy_near_chance", evidence=evidence, **facts)
    data = context.data()
    _, (raw_images, labels) = data
    for way, scale in OTHER_SCALINGS.items():
        other = judges.accuracy(predict(model, scale(raw_images)), labels)
        if other > accuracy + 0.01:
            raise CheckFailed(
                "other_scaling", file=facts["file"], scaled=facts["accuracy"],
                other=f"{other:.1%}", way=way,
            )  # fmt: skip
    if record and record["data_source"] != data.source:
        raise CheckFailed(
            "trained_on_other_data",
            trained=_describe_source(record["data_source"]),
            graded=_describe_source(data.source),
            **facts,
        )
    evidence = f"; {spread}{_curve(record, '. The notebook recorded {}')}"
    raise CheckFailed("accuracy_too_low", evidence=evidence, **facts)


def _describe_source(source: str) -> str:
    from digits.data import SOURCE_DESCRIPTIONS

    return SOURCE_DESCRIPTIONS.get(source, source)


def learning_rate(model) -> float | None:
    config = model.get_compile_config() if getattr(model, "compiled", False) else None
    optimizer = (config or {}).get("optimizer")
    rate = (
        (optimizer or {}).get("config", {}).get("learning_rate")
        if isinstance(optimizer, dict)
        else None
    )
    return float(rate) if isinstance(rate, (int, float)) else None


RECORD_ENTRY = "digits_training.json"  # written by digits.record.record_training
RECORD_LIMIT = 1_000_000  # bytes


def training_record(path: Path) -> dict | None:
    """The notebook's record of how the saved model was trained, if it holds a readable one.

    Plain JSON in the learner's file: only checked values are kept, and only for messages.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            if archive.getinfo(RECORD_ENTRY).file_size > RECORD_LIMIT:
                return None
            data = json.loads(archive.read(RECORD_ENTRY))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("data_source"), str):
        return None
    history = data["history"] if isinstance(data.get("history"), dict) else {}
    curves = {
        name: [float(value) for value in values]
        for name, values in history.items()
        if name in ("loss", "accuracy") and isinstance(values, list)
        and values and all(isinstance(value, (int, float)) for value in values)
    }  # fmt: skip
    return {"data_source": data["data_source"][:40], "curves": curves}


def _curve(record: dict | None, template: str) -> str:
    """What the recorded training curve shows, put in `template` ({} for the curve), or ""."""
    if not record or "loss" not in record["curves"]:
        return ""
    loss = record["curves"]["loss"]
    curve = f"{len(loss)} epoch" + ("s" if len(loss) != 1 else "") + " of training (loss "
    curve += f"{loss[0]:.3g} to {loss[-1]:.3g}" if len(loss) > 1 else f"{loss[0]:.3g}"
    if "accuracy" in record["curves"]:
        curve += f", training accuracy {record['curves']['accuracy'][-1]:.1%}"
    return template.format(curve + ")")


def percentages(accuracy: float, threshold: float) -> tuple[str, str]:
    """Both as percentages, with the fewest decimals (at least 1) that show them differ."""
    for decimals in range(1, 5):
        shown, mark = f"{accuracy:.{decimals}%}", f"{threshold:.{decimals}%}"
        if shown != mark and (float(shown[:-1]) < float(mark[:-1])) == (accuracy < threshold):
            break
    return shown, mark


def noise(accuracy: float, threshold: float, count: int) -> str:
    """How the distance to the mark compares with the test set's sampling noise: the standard
    error sqrt(p (1 - p) / n) of an accuracy near the mark measured on `count` digits."""
    error = math.sqrt(threshold * (1 - threshold) / count)
    text = f"the standard error on {count:,} test digits is ±{error:.1%}".replace("%", " points")
    if abs(accuracy - threshold) < error:
        text += ", so this is within the noise of the mark: a new training run may land either side"
    return text


# ---------------------------------------------------------------- argmax_accuracy()


def _cases(context: Context) -> list[Case]:
    if "cases" not in context.state:
        context.state["cases"] = make_cases(context.state.get("seed"))
    return context.state["cases"]


def _call_on(context: Context, exercise: Exercise, case: Case, kinds=("int64", "float32")) -> dict:
    arguments = [argument_spec(case.y_true, kinds[0]), argument_spec(case.y_prob, kinds[1])]
    return context.learner.call(exercise.function, arguments)


def check_returns_float(context: Context, exercise: Exercise) -> str:
    case = _cases(context)[0]
    result = _call_on(context, exercise, case)
    if result["is_tensor"]:
        raise CheckFailed("returns_tensor", type=result["type"])
    if result["shape"]:
        raise CheckFailed("returns_array", shape=tuple(result["shape"]))
    value = result["value"]
    if value is not None and value == case.wrong_versions()["returns_count"] != case.expected:
        raise CheckFailed("returns_count", value=_number(value))
    if not result["is_float"] or result["is_bool"]:
        type_name = result["type"].removeprefix("builtins.")
        raise CheckFailed("returns_non_float", type=type_name, value=_number(value))
    _judge_uses_inputs(context, exercise)
    return "returns a Python float"


def _judge_uses_inputs(context: Context, exercise: Exercise) -> None:
    """A function that returns one value whatever the inputs earns nothing for its exercise:
    judged in its first check, so no later check gives it points."""
    values = set()
    for case in _cases(context):
        try:
            values.add(_call_on(context, exercise, case)["value"])
        except LearnerFailure:
            return  # a later check reports the error
    expected = {case.expected for case in _cases(context)}
    if len(values) == 1 and len(expected) > 1:
        _raise_constant(values.pop())


def _raise_constant(value) -> None:
    if value == 0.0:
        raise CheckFailed("no_match")
    raise CheckFailed("hard_coded", value=_number(value))


def check_range(context: Context, exercise: Exercise) -> str:
    case = _cases(context)[0]
    value = _call_on(context, exercise, case)["value"]
    if 0.0 <= value <= 1.0:
        return "the value is in [0, 1]"
    wrong = case.wrong_versions()
    if np.isclose(value, wrong["returns_percentage"]):
        raise CheckFailed("returns_percentage", value=_number(value))
    if np.isclose(value, wrong["returns_count"]):
        raise CheckFailed("returns_count", value=_number(value))
    raise CheckFailed("out_of_range", value=_number(value))


def check_values(context: Context, exercise: Exercise) -> str:
    cases = _cases(context)
    values = [_call_on(context, exercise, case)["value"] for case in cases]
    expected = [case.expected for case in cases]
    if len(set(values)) == 1 and len(set(expected)) > 1:
        _raise_constant(values[0])
    for case, value in zip(cases, values, strict=True):
        if value is not None and np.isclose(value, case.expected, rtol=0, atol=1e-6):
            continue
        for mistake, wrong in case.wrong_versions().items():
            if value is not None and np.isclose(value, wrong, rtol=0, atol=1e-6):
                raise CheckFailed(mistake, value=_number(value))
        raise CheckFailed(
            "wrong_value", value=_number(value), case=case.name, expected=_number(case.expected)
        )
    return f"right on {len(cases)} random cases"


INPUT_KINDS = [
    ("y_true and y_prob are Python lists", ("list", "list")),
    ("y_true is uint8", ("uint8", "float32")),
    ("y_true is int32", ("int32", "float32")),
    ("y_prob is float64", ("int64", "float64")),
]


def check_input_types(context: Context, exercise: Exercise) -> str:
    case = _cases(context)[0]
    for name, kinds in INPUT_KINDS:
        try:
            value = _call_on(context, exercise, case, kinds)["value"]
        except LearnerFailure as failure:
            if failure.kind != "error":
                raise
            message, _ = explain_failure(failure, exercise.function)
            raise CheckFailed("fails_on_input_type", case=name, problem=message) from None
        if value is None or not np.isclose(value, case.expected, rtol=0, atol=1e-6):
            raise CheckFailed(
                "wrong_value", value=_number(value), case=name, expected=_number(case.expected)
            )
    return "works with lists, uint8/int32/int64 labels, float32/float64 probabilities"


def _number(value) -> str:
    return "None" if value is None else f"{value:.6g}"


# ---------------------------------------------------------------- the exercises


EXERCISES = [
    Exercise(
        function="build_model",
        notebook="01_build_model.ipynb",
        model_file="handwritten.keras",
        model_kind="dense",
        checks=[
            Check("build_model.returns_model", "returns a Keras model", 1, check_returns_model),
            Check("build_model.architecture", "layers and shapes", 2, check_architecture),
            Check("build_model.compile", "optimizer, loss, metric", 1, check_compile),
            Check("build_model.saved_model", "handwritten.keras", 1, check_saved_model, True),
            Check("build_model.reload", "same predictions after reload", 1, check_reload, True),
            Check("build_model.accuracy", "test accuracy", 2, check_accuracy, True),
        ],
    ),
    Exercise(
        function="argmax_accuracy",
        notebook="02_argmax_accuracy.ipynb",
        checks=[
            Check("argmax_accuracy.returns_float", "returns a float", 1, check_returns_float),
            Check("argmax_accuracy.range", "a fraction in [0, 1]", 1, check_range),
            Check("argmax_accuracy.values", "right on random inputs", 2, check_values),
            Check("argmax_accuracy.input_types", "lists and dtypes", 1, check_input_types),
        ],
    ),
    Exercise(
        function="build_cnn",
        notebook="03_cnn.ipynb",
        model_file="handwritten_cnn.keras",
        model_kind="cnn",
        bonus=True,
        checks=[
            Check("build_cnn.returns_model", "returns a Keras model", 1, check_returns_model),
            Check("build_cnn.architecture", "a CNN for 28x28 images", 1, check_architecture),
            Check("build_cnn.compile", "loss and metric", 1, check_compile),
            Check("build_cnn.saved_model", "handwritten_cnn.keras", 1, check_saved_model, True),
            Check("build_cnn.accuracy", "test accuracy", 1, check_accuracy, True),
        ],
    ),
]
EXERCISES_BY_FUNCTION = {exercise.function: exercise for exercise in EXERCISES}


# ---------------------------------------------------------------- the runner


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
            result = run_check(check, exercise, context)
            if result.outcome != PASSED:
                blocker = result
        else:
            result = _blocked(check, exercise, blocker)
        results.append(result)
    return results


def run_check(check: Check, exercise: Exercise, context: Context) -> CheckResult:
    result = CheckResult(
        check.check_id, exercise.function, check.title, check.points, PASSED, bonus=exercise.bonus
    )
    try:
        result.message = check.run(context, exercise)
    except CheckFailed as failure:
        result.outcome, result.mistake = FAILED, failure.mistake_id
        result.message, result.hint = failure.message, failure.hint
    except LearnerFailure as failure:
        parameters = context.learner.parameters(exercise.function)
        result.outcome = NOT_ATTEMPTED if failure.kind == NOT_ATTEMPTED else ERROR
        result.message, result.hint = explain_failure(failure, exercise.function, parameters)
        result.mistake, result.details = mistake_of(failure, parameters), failure.traceback
    except Exception as error:  # a bug or a limit of the grader, not the learner's fault
        result.outcome = ERROR
        result.message = f"the grader could not run this check: {type(error).__name__}: {error}"
        result.hint = "Run with --verbose and report the traceback to your instructor."
        result.details = traceback.format_exc()
    return result


def _blocked(check: Check, exercise: Exercise, blocker: CheckResult) -> CheckResult:
    outcome = NOT_ATTEMPTED if blocker.outcome == NOT_ATTEMPTED else SKIPPED
    if outcome == NOT_ATTEMPTED:
        message = blocker.message
    else:
        message = f"skipped: fix {blocker.check_id} first"
    return CheckResult(
        check.check_id, exercise.function, check.title, check.points, outcome, message,
        bonus=exercise.bonus,
    )  # fmt: skip


# Error texts (regular expressions, on the message without spaces after commas) that name a
# catalogued mistake; tests/test_autograder_messages.py checks each against its look-alikes.
KNOWN_ERRORS = [
    (r"Classification metrics can't handle a mix", "accuracy_score_on_probabilities"),
    (r"axis 1 is out of bounds for array of dimension 1", "argmax_of_labels"),
    (r"shapes \(10,\) \(\d+,\)|shapes \(\d+,\) \(10,\)", "argmax_axis_0"),
    (r"inconsistent numbers of samples", "argmax_axis_0"),
    (r"shapes \(\d+,10\) \(\d+,\)|shapes \(\d+,\) \(\d+,10\)", "one_hot_comparison"),
    (r"expected min_ndim=4,found ndim=3", "no_channel_axis"),
]
LABEL_NAMES = ("true", "label", "target")


def _mistake_id(failure: LearnerFailure) -> str:
    if failure.exc_type == MISSING:
        return "not_found"
    simple = {NOT_ATTEMPTED: "not_attempted", TIMEOUT: "timeout", EXITED: "exited", DIED: "died"}
    if failure.kind in simple:
        return simple[failure.kind]
    if failure.exc_type == "SyntaxError" or failure.exc_type == "IndentationError":
        return "syntax_error"
    if failure.exc_type == "NameError":
        return "name_from_outside_cell"
    for pattern, mistake in KNOWN_ERRORS:
        if re.search(pattern, failure.message.replace(", ", ",")):
            return mistake
    return "cell_raised" if failure.stage == "cell" else "raised"


def swapped_parameters(names: list[str]) -> bool:
    """Whether a function's parameters put the labels second (argmax_accuracy(y_prob, y_true))."""
    return len(names) == 2 and any(word in names[1].lower() for word in LABEL_NAMES)


def explain_failure(
    failure: LearnerFailure, function: str, parameters: list[str] | None = None
) -> tuple[str, str]:
    """A learner's exception, hang or exit, in words a beginner can act on."""
    mistake = mistake_of(failure, parameters)
    where = f" (line {failure.line} of your cell)" if failure.line else ""
    message, hint = describe(
        mistake,
        function=function,
        exc_type=failure.exc_type,
        message=_error_text(failure),
        where=where,
        limit=failure.limit,
        problem=failure.message,
        value="",
        name=_undefined_name(failure.message),
        names=", ".join(parameters or []),
    )
    if mistake not in SELF_EXPLAINED and failure.kind == ERROR:
        at_line = f" at line {failure.line} of your cell" if failure.line else ""
        message += f" (your function raised {failure.exc_type}{at_line})"
    return message, hint


SELF_EXPLAINED = ("raised", "cell_raised", "syntax_error", "name_from_outside_cell")


def mistake_of(failure: LearnerFailure, parameters: list[str] | None = None) -> str:
    mistake = _mistake_id(failure)
    if mistake == "argmax_of_labels" and swapped_parameters(parameters or []):
        return "swapped_arguments"
    return mistake


def _error_text(failure: LearnerFailure) -> str:
    """The error's first line; for a SyntaxError without Python's "(<cell>, line N)", which the
    message gives once, as the line of the learner's cell."""
    text = _first_line(failure.message)
    if failure.exc_type in ("SyntaxError", "IndentationError"):
        text = re.sub(r" \([^()]*, line \d+\)$", "", text)
    return text


def _undefined_name(message: str) -> str:
    found = re.search(r"name '([^']+)' is not defined", message)
    return found.group(1) if found else "a name"


MESSAGE_LIMIT = 200  # characters of an error text in a message (Keras can write 1,500)


def _first_line(error) -> str:
    text = str(error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    return line if len(line) <= MESSAGE_LIMIT else line[: MESSAGE_LIMIT - 3] + "..."
