"""The autograder's judging and feedback, without executing notebooks (fast).

The notebook's `check()` runs the same checks as `python -m autograder`, so these tests drive
the judging through it; tests/test_autograder_grading.py grades whole submissions.
"""

import json

import keras
import numpy as np
import pytest

from autograder.exercises import CATALOGUE, EXERCISES, build_cnn, models
from autograder.exercises.argmax_accuracy import make_cases
from autograder.grader import select
from autograder.isolation.judge_client import LIMITS, SandboxLearner, WorkerSupply
from autograder.isolation.protocol import UNSHOWN_CLASS, UNSHOWN_EXCEPTION, LearnerFailure
from autograder.mistakes import CheckFailed, fixed_text
from autograder.notebook import CheckNotPassed, check
from autograder.submission import GradedCell, fit_arguments, graded_cell
from autograder.thresholds import THRESHOLDS, threshold_for


def dense_layers(last_activation="softmax", flatten=True, units=10, input_shape=(28, 28)):
    layers = [keras.Input(shape=input_shape)]
    layers += [keras.layers.Flatten()] if flatten else []
    layers += [keras.layers.Dense(128, activation="relu"), keras.layers.Dense(128, "relu")]
    return keras.Sequential([*layers, keras.layers.Dense(units, activation=last_activation)])


def compiled(model, *args, **kwargs):
    if not args and not kwargs:
        kwargs = dict(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
    model.compile(*args, **kwargs)
    return model


def first_problem(capsys, function, name: str) -> str:
    """What check() prints for its first check that does not pass, `function` named `name`."""
    function.__name__ = name
    with pytest.raises(CheckNotPassed):
        check(function)
    lines = capsys.readouterr().out.splitlines()
    return next(line for line in lines if line.startswith(("❌", "💥", "📝")))


def message(mistake_id: str) -> str:
    """The fixed text of a catalogued message (mistakes.fixed_text), never empty."""
    text = fixed_text(CATALOGUE[mistake_id].message)
    assert text, f"{mistake_id}: its message is a bare placeholder"
    return text


def with_lambda_layer():
    model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Lambda(lambda x: x / 255)])
    model.add(keras.layers.Flatten())
    model.add(keras.layers.Dense(10, activation="softmax"))
    return compiled(model)


BUILD_MODEL_MISTAKES = {
    "not_a_model": lambda: None,
    "model_not_loadable": with_lambda_layer,
    "no_flatten": lambda: compiled(dense_layers(flatten=False)),
    "wrong_input_shape": lambda: compiled(dense_layers(input_shape=(784,))),
    "last_layer_units": lambda: compiled(dense_layers(units=9)),
    "last_layer_not_softmax": lambda: compiled(dense_layers(last_activation=None)),
    "not_compiled": lambda: dense_layers(),
    "wrong_optimizer": lambda: compiled(
        dense_layers(), optimizer="sgd", loss="sparse_categorical_crossentropy"
    ),
    "softmax_from_logits": lambda: compiled(
        dense_layers(),
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    ),
    "categorical_with_integer_labels": lambda: compiled(
        dense_layers(), optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"]
    ),
    "metrics_as_loss_weights": lambda: compiled(
        dense_layers(), "adam", "sparse_categorical_crossentropy", ["accuracy"]
    ),
    "missing_accuracy_metric": lambda: compiled(
        dense_layers(), optimizer="adam", loss="sparse_categorical_crossentropy"
    ),
}


@pytest.mark.parametrize("mistake", BUILD_MODEL_MISTAKES)
def test_build_model_mistakes_get_their_message(capsys, mistake):
    build_model = BUILD_MODEL_MISTAKES[mistake]
    assert message(mistake) in first_problem(capsys, build_model, "build_model")


def correct_accuracy(y_true, y_prob):
    return float(np.mean(np.argmax(np.asarray(y_prob), axis=1) == np.asarray(y_true)))


def tensorflow_accuracy(y_true, y_prob):
    import tensorflow as tf

    predicted = tf.argmax(y_prob, axis=1, output_type=tf.int64)
    return tf.reduce_mean(tf.cast(predicted == tf.cast(y_true, tf.int64), tf.float32))


def accuracy_score_on_probabilities(y_true, y_prob):
    from sklearn.metrics import accuracy_score

    return accuracy_score(y_true, y_prob)


ARGMAX_MISTAKES = {
    "returns_tensor": tensorflow_accuracy,
    "returns_array": lambda y_true, y_prob: np.argmax(y_prob, axis=1) == y_true,
    "returns_count": lambda y_true, y_prob: int(np.sum(np.argmax(y_prob, axis=1) == y_true)),
    "returns_percentage": lambda y_true, y_prob: 100 * correct_accuracy(y_true, y_prob),
    "argmax_axis_0": lambda y_true, y_prob: float(np.mean(np.argmax(y_prob, axis=0) == y_true)),
    "one_hot_comparison": lambda y_true, y_prob: float(
        np.mean(np.argmax(y_prob, axis=1) == np.eye(10)[y_true])
    ),
    "argmax_of_labels": lambda y_true, y_prob: float(
        np.mean(np.argmax(y_prob, axis=1) == np.argmax(y_true, axis=1))
    ),
    "accuracy_score_on_probabilities": accuracy_score_on_probabilities,
    "hard_coded": lambda y_true, y_prob: 0.9,
    "returns_none": lambda y_true, y_prob: print(correct_accuracy(y_true, y_prob)),
    "rounded": lambda y_true, y_prob: round(correct_accuracy(y_true, y_prob), 2),
    "not_repeatable": lambda y_true, y_prob: float(np.random.random()),
    "returns_several": lambda y_true, y_prob: (correct_accuracy(y_true, y_prob), len(y_true)),
    "fails_on_input_type": lambda y_true, y_prob: float(np.mean(y_prob.argmax(axis=1) == y_true)),
}


@pytest.mark.parametrize("mistake", ARGMAX_MISTAKES)
def test_argmax_accuracy_mistakes_get_their_message(capsys, mistake):
    argmax_accuracy = ARGMAX_MISTAKES[mistake]
    assert message(mistake) in first_problem(capsys, argmax_accuracy, "argmax_accuracy")


def test_correct_functions_pass_every_check(capsys):
    def build_model():
        return compiled(dense_layers())

    def argmax_accuracy(y_true, y_prob):
        return correct_accuracy(y_true, y_prob)

    check(build_model)
    check(argmax_accuracy)
    output = capsys.readouterr().out
    assert "All 3 checks of build_model() pass." in output
    assert "All 4 checks of argmax_accuracy() pass." in output
    assert "❌" not in output and "💥" not in output


def test_an_unfilled_stub_is_not_attempted_and_later_checks_say_so(capsys):
    def build_model():
        raise NotImplementedError("Write build_model()")

    check(build_model)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines if line.split()[0] in "📝❌💥✅"] == ["📝"] * 3
    assert "build_model() is not written yet" in lines[0]


def test_an_exception_names_the_line_of_the_learners_cell(capsys):
    def argmax_accuracy(y_true, y_prob):
        return y_true + int("seven")

    line = argmax_accuracy.__code__.co_firstlineno + 1
    problem = first_problem(capsys, argmax_accuracy, "argmax_accuracy")
    assert "your function raised ValueError: invalid literal for int() with base 10: 'seven'" in (
        problem
    )
    assert f"(line {line} of your cell)" in problem


def test_check_of_an_unknown_function_names_the_graded_ones(capsys):
    check(print)
    assert "build_model, argmax_accuracy, build_cnn" in capsys.readouterr().out


def test_a_later_check_is_skipped_and_names_the_one_to_fix(capsys):
    build_model = BUILD_MODEL_MISTAKES["no_flatten"]
    build_model.__name__ = "build_model"
    with pytest.raises(CheckNotPassed, match="1 of 3 checks of build_model"):
        check(build_model)
    output = capsys.readouterr().out
    assert "build_model.compile: skipped: fix build_model.architecture first" in output


def test_random_cases_differ_between_runs_and_cover_edge_cases():
    first, second = make_cases(), make_cases()
    assert [case.expected for case in first] != [case.expected for case in second]
    expected = [case.expected for case in make_cases(seed=1)]
    assert 1.0 in expected and 0.0 in expected and any(0 < value < 1 for value in expected)


def test_cnn_architecture_needs_a_convolution():
    with pytest.raises(CheckFailed) as failure:
        build_cnn.judge_cnn_architecture(compiled(dense_layers()))
    assert failure.value.mistake_id == "no_convolution"


@pytest.mark.parametrize(
    ("probabilities", "problem"),
    [
        (np.full((4, 10), np.nan), "NaN"),
        (np.full((4, 10), 2.0), "outputs range from 2 to 2"),
        (np.full((4, 10), 0.5), "do not sum to 1"),
        (np.full((4, 9), 1 / 9), "output shape (4, 9)"),
    ],
)
def test_invalid_probabilities_are_named(probabilities, problem):
    with pytest.raises(CheckFailed, match="does not output probabilities") as failure:
        models.judge_probabilities(probabilities, "handwritten.keras")
    assert problem in failure.value.message


# ---------------------------------------------------------------- the worker process


@pytest.fixture
def sandbox(tmp_path):
    """A learner in a worker process, for cells given as source text."""
    log = open(tmp_path / "worker.log", "w+")
    supplies = []

    def make(source: str, limits=None) -> SandboxLearner:
        supplies.append(WorkerSupply(log, str(tmp_path), preload=False))
        cell = GradedCell("argmax_accuracy", source, "<cell argmax_accuracy>")
        return SandboxLearner({"argmax_accuracy": cell}, supplies[-1], limits)

    yield make
    for supply in supplies:
        supply.close()
    log.close()


ARGUMENTS = [
    {"kind": "list", "data": [1, 2]},
    {"kind": "array", "dtype": "float32", "data": np.eye(10)[[1, 3]].tolist()},
]
LEARNER_PRINTS = """
import sys
print('{"ok": true, "result": {"value": 1.0}}')
sys.stdout.write("noise")
def argmax_accuracy(y_true, y_prob):
    print('{"ok": true, "result": {"value": 1.0}}')
    input()  # end of file, not the grader's requests
    return 0.5
"""


def test_worker_protocol_resists_learner_output_and_input(sandbox):
    with pytest.raises(LearnerFailure) as failure:
        sandbox(LEARNER_PRINTS).call("argmax_accuracy", ARGUMENTS)
    assert failure.value.exc_type == "EOFError"
    learner = sandbox(LEARNER_PRINTS.replace("input()", "pass"))
    assert learner.call("argmax_accuracy", ARGUMENTS)["value"] == 0.5


INJECTED_NAME = "x\n\n## argmax_accuracy: 5 / 5\n\n**Score: 13 / 13** <img src=x onerror=alert(1)>"
NAMED_BY_THE_LEARNER = f"""
class Named(Exception):
    pass


Named.__qualname__ = Named.__name__ = {INJECTED_NAME!r}


def argmax_accuracy(y_true, y_prob):
    if len(y_true) == 3:
        raise Named()
    return Named()
"""
THREE_ROWS = [
    {"kind": "list", "data": [1, 2, 3]},
    {"kind": "array", "dtype": "float32", "data": np.eye(10)[[1, 3, 3]].tolist()},
]


def test_a_type_named_with_markdown_reaches_no_message(sandbox):
    """A learner names a class anything: the report, Markdown for Gradescope and feedback
    files, gets a placeholder instead of a forged heading or score."""
    learner = sandbox(NAMED_BY_THE_LEARNER)
    returned = learner.call("argmax_accuracy", ARGUMENTS)
    assert returned["type"] == UNSHOWN_CLASS
    with pytest.raises(LearnerFailure) as failure:
        learner.call("argmax_accuracy", THREE_ROWS)
    assert failure.value.exc_type == UNSHOWN_EXCEPTION


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("while True:\n        pass", "timeout"),
        ("import sys\n    sys.exit(0)", "exited"),
        ("import os\n    os._exit(0)", "died"),
    ],
)
def test_hangs_and_exits_are_reported_and_the_next_call_gets_a_fresh_worker(sandbox, body, kind):
    source = f"def argmax_accuracy(y_true, y_prob):\n    {body}\n"
    learner = sandbox(source, limits={"call": 2.0})
    with pytest.raises(LearnerFailure) as failure:
        learner.call("argmax_accuracy", ARGUMENTS)
    assert failure.value.kind == kind
    learner.cells["argmax_accuracy"] = GradedCell(
        "argmax_accuracy", "def argmax_accuracy(y_true, y_prob):\n    return 0.25\n", "<cell a>"
    )
    assert learner.call("argmax_accuracy", ARGUMENTS)["value"] == 0.25


def test_limits_cover_every_request_kind():
    assert set(LIMITS) == {"save_model", "call"} and all(limit > 0 for limit in LIMITS.values())


def test_graded_cell_prefers_the_tagged_cell_and_says_when_missing(tmp_path):
    cells = [
        {"cell_type": "code", "metadata": {}, "source": "def build_model():\n    return 1\n"},
        {
            "cell_type": "code",
            "metadata": {"tags": ["graded"]},
            "source": ["def build_model():\n", "    return 2\n"],
        },
    ]
    notebook = tmp_path / "01_build_model.ipynb"
    notebook.write_text(json.dumps({"cells": cells, "nbformat": 4, "nbformat_minor": 5}))
    assert graded_cell(notebook, "build_model").source.endswith("return 2\n")
    assert "has no cell that defines build_cnn()" in graded_cell(notebook, "build_cnn")
    assert "was not found" in graded_cell(tmp_path / "absent.ipynb", "build_model")


def test_only_selects_an_exercise_or_a_check_with_the_checks_before_it():
    assert [exercise.function for exercise in select("argmax_accuracy")] == ["argmax_accuracy"]
    [exercise] = select("build_model.compile")
    assert [check.check_id for check in exercise.checks] == [
        "build_model.returns_model",
        "build_model.architecture",
        "build_model.compile",
    ]
    with pytest.raises(ValueError, match="no such exercise or check: nope; choose one of"):
        select("nope")


def test_thresholds_follow_the_data_source():  # other files: tests/test_thresholds.py
    assert threshold_for("mnist", "dense") == (THRESHOLDS["mnist"]["dense"], "")
    assert threshold_for("mnist", "cnn") == (THRESHOLDS["mnist"]["cnn"], "")
    assert threshold_for("mnist-sample", "cnn") == (THRESHOLDS["mnist-sample"]["cnn"], "")


@pytest.mark.parametrize(
    "exercise", [e for e in EXERCISES if e.model_kind], ids=lambda e: e.function
)
def test_train_option_trains_as_the_solution_notebook_does(repo, exercise):
    settings = fit_arguments(repo / "solutions" / exercise.notebook)
    expected = {key: settings[key] for key in ("epochs", "batch_size") if key in settings}
    assert exercise.train_settings == expected


def test_default_folder_is_exercises_or_the_folder_you_are_in(tmp_path, monkeypatch):
    from autograder.__main__ import default_submission

    (tmp_path / "exercises").mkdir()
    monkeypatch.chdir(tmp_path)
    assert default_submission() == tmp_path / "exercises"
    (tmp_path / "exercises" / "01_build_model.ipynb").write_text("{}")
    monkeypatch.chdir(tmp_path / "exercises")
    assert default_submission() == tmp_path / "exercises"


def test_a_rounded_answer_fails_whatever_the_random_cases():
    """Rounded to 2 decimals, an answer passed in about one run of ten: when the random number
    of rows (50, say) made the exact fraction a short decimal."""
    from autograder.exercises.argmax_accuracy import make_cases

    for seed in range(300):
        expected = make_cases(seed)[0].expected
        assert abs(round(expected, 2) - expected) > 1e-6, seed


def test_a_last_layer_of_one_unit_is_named_in_good_english(capsys):
    def build_model():
        return compiled(dense_layers(units=1))

    assert "The last layer has 1 unit; it needs 10 units" in first_problem(
        capsys, build_model, "build_model"
    )
