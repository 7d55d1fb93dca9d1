"""Messages that must never mislead: each case here once got a wrong or confusing message.

Most drive the judging in this process (fast); the ones about how the grader runs a cell use a
worker process, as `python -m autograder` does.
"""

import functools
import json
import pickle
import re
import time
from pathlib import Path
from unittest import mock

import keras
import numpy as np
import pytest

from autograder import thresholds
from autograder.exercises import EXERCISES_BY_FUNCTION, models
from autograder.grader import grade
from autograder.isolation.judge_client import WorkerSupply
from autograder.isolation.learner import Learner
from autograder.notebook import InProcessLearner
from autograder.results import Outcome
from autograder.runner import (
    Check,
    Context,
    Exercise,
    prepare_exercise,
    prepare_in_background,
    run_exercise,
)
from digits.data import MnistData, load_mnist_sample, normalize
from digits.record import record_training


def compiled(model):
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def dense_model():
    return compiled(
        keras.Sequential(
            [
                keras.Input(shape=(28, 28)),
                keras.layers.Flatten(),
                keras.layers.Dense(128, activation="relu"),
                keras.layers.Dense(128, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
    )


def results_of(function, name: str, submission=None):
    """The check results of `function` graded as `name`, in this process."""
    exercise = EXERCISES_BY_FUNCTION[name]
    context = Context(InProcessLearner({name: function}), submission, load_mnist_sample, seed=1)
    return run_exercise(exercise, context, functions_only=submission is None)


def first_failure(function, name: str, submission=None):
    results = results_of(function, name, submission)
    return next(result for result in results if result.outcome != Outcome.PASSED)


# ---------------------------------------------------------------- argmax_accuracy()


def test_np_max_instead_of_argmax_says_what_the_zero_means():
    def argmax_accuracy(y_true, y_prob):
        return float(np.mean(np.max(np.asarray(y_prob), axis=1) == np.asarray(y_true)))

    failure = first_failure(argmax_accuracy, "argmax_accuracy")
    assert failure.mistake == "no_match"
    assert "grader uses random inputs" not in failure.message
    assert "no row" in failure.message and "np.max" in failure.hint


def test_a_constant_answer_earns_nothing_for_its_exercise():
    results = results_of(lambda y_true, y_prob: 0.98, "argmax_accuracy")
    assert sum(result.score for result in results) == 0
    assert results[0].mistake == "hard_coded"


def skipped_argmax(y_true, y_prob):
    return float(np.mean(np.asarray(y_prob) == np.asarray(y_true)))


def one_hot_labels(y_true, y_prob):
    predicted = np.argmax(np.asarray(y_prob), axis=1)
    return float(np.mean(predicted == np.eye(10)[np.asarray(y_true)]))


def labels_first_in_the_comparison(y_true, y_prob):
    return float(np.mean(np.asarray(y_true) == np.argmax(np.asarray(y_prob), axis=0)))


def skipped_argmax_one_hot(y_true, y_prob):
    return float(np.mean(np.asarray(y_prob) == np.eye(10)[np.asarray(y_true)]))


def swapped(y_prob, y_true):
    return float(np.mean(np.argmax(np.asarray(y_prob), axis=1) == np.asarray(y_true)))


def argmax_of_labels(y_true, y_prob):
    predicted = np.argmax(np.asarray(y_prob), axis=1)
    return float(np.mean(predicted == np.argmax(np.asarray(y_true), axis=1)))


# Each text match of KNOWN_ERRORS, with the mistakes that raise the same error text.
CONFUSABLE = [
    (skipped_argmax, "one_hot_comparison", "probabilities"),
    (one_hot_labels, "one_hot_comparison", "one-hot"),
    (labels_first_in_the_comparison, "argmax_axis_0", "axis 0"),
    (skipped_argmax_one_hot, "no_match", "np.argmax"),
    (swapped, "swapped_arguments", "argmax_accuracy(y_true, y_prob)"),
    (argmax_of_labels, "argmax_of_labels", "arg-max of y_true"),
]


@pytest.mark.parametrize(
    ("function", "mistake", "text"), CONFUSABLE, ids=[case[0].__name__ for case in CONFUSABLE]
)
def test_errors_with_the_same_text_name_their_own_cause(function, mistake, text):
    failure = first_failure(function, "argmax_accuracy")
    assert failure.mistake == mistake, failure.message
    assert text in failure.message + failure.hint


def test_swapped_arguments_are_not_called_an_arg_max_of_y_true():
    failure = first_failure(swapped, "argmax_accuracy")
    assert "arg-max of y_true" not in failure.message
    assert "labels first" in failure.message


# ---------------------------------------------------------------- build_model() / build_cnn()


def test_cnn_without_a_channel_axis_names_the_reshape():
    def build_cnn():
        model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Conv2D(8, 3)])
        return compiled(model)

    failure = first_failure(build_cnn, "build_cnn")
    assert failure.mistake == "no_channel_axis"
    assert "Reshape((28, 28, 1))" in failure.message + failure.hint
    assert "min_ndim" not in failure.message


def test_a_model_without_an_input_shape_is_a_learner_mistake():
    def build_model():
        layers = [keras.layers.Flatten(), keras.layers.Dense(128, "relu")]
        layers += [keras.layers.Dense(128, "relu"), keras.layers.Dense(10, "softmax")]
        return compiled(keras.Sequential(layers))

    failure = first_failure(build_model, "build_model")
    assert failure.outcome == "failed" and failure.mistake == "no_input_shape"
    assert "keras.Input(shape=(28, 28))" in failure.hint
    assert "instructor" not in failure.hint


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.flatten = keras.layers.Flatten()
        self.dense = keras.layers.Dense(10, activation="softmax")

    def call(self, inputs):
        return self.dense(self.flatten(inputs))


def test_a_subclassed_model_gets_a_short_message():
    def build_model():
        model = compiled(Subclassed())
        model(np.zeros((1, 28, 28)))
        return model

    failure = first_failure(build_model, "build_model")
    assert failure.mistake == "subclassed_model"
    assert len(failure.message) < 300 and "Subclassed" in failure.message


def with_lambda_layer():
    model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Lambda(lambda x: x / 255)])
    model.add(keras.layers.Flatten())
    model.add(keras.layers.Dense(10, activation="softmax"))
    return compiled(model)


def test_tensorflow_tutorial_activations_get_full_marks():
    import tensorflow as tf

    def build_model():
        model = keras.Sequential(
            [
                keras.Input(shape=(28, 28)),
                keras.layers.Flatten(),
                keras.layers.Dense(128, activation=tf.nn.relu),
                keras.layers.Dense(128, activation=tf.nn.relu),
                keras.layers.Dense(10, activation=tf.nn.softmax),
            ]
        )
        return compiled(model)

    results = results_of(build_model, "build_model")
    assert [result.outcome for result in results] == [Outcome.PASSED] * 3, results[0].message


# ---------------------------------------------------------------- the saved model files


def test_a_pickle_named_handwritten_keras_is_not_called_missing(tmp_path):
    (tmp_path / "handwritten.keras").write_bytes(pickle.dumps({"weights": [1, 2]}))
    failure = first_failure(dense_model, "build_model", tmp_path)
    assert failure.mistake == "model_file_invalid"
    assert "File not found" not in failure.message and "a Python pickle" in failure.message


def test_an_h5_file_with_a_lambda_layer_is_not_told_to_save_the_same_way(tmp_path):
    dense_model().save(tmp_path / "handwritten.keras")
    with_lambda_layer().save(tmp_path / "handwritten.h5")
    failure = first_failure(dense_model, "build_model", tmp_path)
    assert failure.check_id == "build_model.reload" and failure.mistake == "model_file_has_code"
    assert "handwritten.h5 holds a Lambda layer" in failure.message
    assert 'model.save("handwritten.h5")' not in failure.hint


class NoLearnerCode(Learner):
    """A learner whose code must not run: every request fails the test."""

    def save_model(self, function: str, path: str) -> dict:
        raise AssertionError("a preparation ran learner code")

    def call(self, function: str, arguments: list[dict]) -> dict:
        raise AssertionError("a preparation ran learner code")


def prepared_results(submission) -> tuple[list, bool]:
    """build_model's results, its saved file prepared first (as `python -m autograder` does
    while the worker starts), and whether the preparation loaded and predicted with it."""
    exercise = EXERCISES_BY_FUNCTION["build_model"]
    context = Context(NoLearnerCode(), submission, load_mnist_sample, seed=1)
    prepare_exercise(exercise, context)
    prepared = bool(context.saved_models)  # read and predicted with, in one go
    context.learner = InProcessLearner({"build_model": dense_model})
    return run_exercise(exercise, context), prepared


SAVED_FILES = [
    lambda path: dense_model().save(path),  # loads, but untrained: near chance
    lambda path: path.write_bytes(pickle.dumps({"weights": [1, 2]})),  # does not load
    lambda path: None,  # missing
]


@pytest.mark.parametrize("write_file", SAVED_FILES, ids=["untrained", "not_a_model", "missing"])
def test_saved_files_are_prepared_without_learner_code_and_graded_the_same(tmp_path, write_file):
    write_file(tmp_path / "handwritten.keras")
    results, prepared = prepared_results(tmp_path)
    assert prepared == (write_file is SAVED_FILES[0])  # only a loadable file is predicted with
    assert [(r.outcome, r.mistake, r.message) for r in results] == [
        (r.outcome, r.mistake, r.message) for r in results_of(dense_model, "build_model", tmp_path)
    ]


def test_a_check_waits_for_its_preparation_in_the_background():
    """A check that reads what its preparation makes runs only once that is made, while a check
    of the learner's function does not wait for it."""
    order = []

    def prepare(context, exercise):
        time.sleep(0.3)
        context.saved_models["slow"] = "prepared"
        order.append("prepared")

    def learner_check(context, exercise):
        order.append("learner check")
        return "ok"

    def file_check(context, exercise):
        return context.saved_models["slow"]

    checks = [
        Check("slow.learner", "the function", 1, learner_check),
        Check("slow.file", "the saved file", 1, file_check, needs_files=True, prepare=prepare),
    ]
    exercise = Exercise("slow", "slow.ipynb", checks)
    context = Context(NoLearnerCode())
    thread = prepare_in_background([(exercise, context)])
    results = run_exercise(exercise, context)
    thread.join()
    assert [result.message for result in results] == ["ok", "prepared"]
    assert order == ["learner check", "prepared"]


# ---------------------------------------------------------------- cells run as the grader runs them


@pytest.fixture(scope="module")
def grade_cell(tmp_path_factory):
    """grade_cell(function, source): the results of grading a notebook whose graded cell is
    `source`, in a worker process, as `python -m autograder --only function` does."""
    folder = tmp_path_factory.mktemp("cells")
    log = open(folder / "worker.log", "w+")
    supply = WorkerSupply(log, str(folder), preload=False)

    def grade_it(function: str, source: str, before: tuple[str, ...] = ()):
        """`before`: the sources of the notebook's code cells above the graded one."""
        exercise = EXERCISES_BY_FUNCTION[function]
        submission = folder / function
        submission.mkdir(exist_ok=True)
        cells = [{"cell_type": "code", "metadata": {}, "source": text} for text in before]
        cells += [{"cell_type": "code", "metadata": {"tags": ["graded"]}, "source": source}]
        notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        (submission / exercise.notebook).write_text(json.dumps(notebook))
        return grade(submission, supply=supply, only=function, seed=1).results

    yield grade_it
    supply.close()
    log.close()


def test_a_syntax_error_names_its_line_once_and_not_imports(grade_cell):
    source = "import numpy as np\n\ndef argmax_accuracy(y_true, y_prob)\n    return 1.0\n"
    [first, *_] = grade_cell("argmax_accuracy", source)
    assert first.mistake == "syntax_error"
    assert first.message.count("line 3") == 1, first.message
    assert "imports" not in first.hint


def test_a_name_from_another_cell_is_named_as_such(grade_cell):
    source = "def argmax_accuracy(y_true, y_prob):\n    return float(accuracy_from_notebook)\n"
    [first, *_] = grade_cell("argmax_accuracy", source)
    assert first.mistake == "name_from_outside_cell"
    assert "uses the name accuracy_from_notebook, which its cell does not define" in first.message


def test_a_cell_that_changes_the_working_folder_still_gets_its_model_graded(grade_cell):
    """The worker saved the returned model to a relative path, so into the folder the cell
    changed to: "could not be saved and reloaded ... no Lambda layers" for the course's model."""
    source = (
        "import os\n\nimport keras\n\nos.chdir('..')\n\n\ndef build_model():\n"
        "    model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(),\n"
        "        keras.layers.Dense(128, activation='relu'),\n"
        "        keras.layers.Dense(128, activation='relu'),\n"
        "        keras.layers.Dense(10, activation='softmax')])\n"
        "    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy',\n"
        "        metrics=['accuracy'])\n"
        "    return model\n"
    )
    results = grade_cell("build_model", source)[:3]
    assert [result.outcome for result in results] == [Outcome.PASSED] * 3, results[0].message


CHAPTER_3_CELL = """import keras


def build_model():
    model = keras.Sequential(
        [
            keras.Input(shape=IMAGE_SHAPE),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(128, activation="relu"),
            layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )
    model.fit(x_train, y_train, epochs=3)
    return compile_for_digits(model)
"""


def test_every_undefined_name_is_named_at_once_with_where_it_comes_from(grade_cell):
    """Chapter 3's code copied into the graded cell took one grading round per undefined name."""
    notebook_cell = "import digits\n\n(x_train, y_train), (x_test, y_test) = digits.load_mnist()\n"
    [first, *_] = grade_cell("build_model", CHAPTER_3_CELL, before=(notebook_cell,))
    assert first.mistake == "name_from_outside_cell", first.message
    names = ("IMAGE_SHAPE", "layers", "NUM_CLASSES", "x_train", "y_train", "compile_for_digits")
    assert all(name in first.message for name in names), first.message
    assert "from keras import layers" in first.hint
    assert "from digits.models import" in first.hint and "compile_for_digits" in first.hint
    assert "code cell 1" in first.hint  # x_train and y_train: the notebook's cell that makes them


# ---------------------------------------------------------------- what the saved model shows


def test_an_out_of_date_file_is_called_out_of_date_not_wrong(tmp_path):
    old = compiled(
        keras.Sequential(
            [keras.Input(shape=(28, 28)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")]
        )
    )
    old.save(tmp_path / "handwritten.keras")
    failure = first_failure(dense_model, "build_model", tmp_path)
    assert failure.mistake == "model_file_out_of_date", failure.message
    assert "handwritten.keras holds an older model than the one build_model() builds now" in (
        failure.message
    )
    assert "Run 01_build_model.ipynb again" in failure.hint


def sample_with_source(source):
    (x_train, y_train), (x_test, y_test) = load_mnist_sample()
    arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return MnistData(arrays, source, "test")


@functools.cache  # the same training for the tests here and in test_autograder_catalogue.py
def trained(optimizer="adam", scale=normalize, epochs=1):
    (x_train, y_train), _ = load_mnist_sample()
    keras.utils.set_random_seed(0)  # before the model is built: its first weights are random too
    model = dense_model()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(scale(x_train), y_train, epochs=epochs, verbose=0)
    return model, history


def accuracy_result(folder, model, data=None, history=None, course=None):
    """The build_model.accuracy result for `model` saved as handwritten.keras, graded on `data`
    (the sample by default), with a record of its training on the sample when `history` is given,
    under the course configuration `course` (the defaults when None)."""
    model.save(folder / "handwritten.keras")
    if history is not None:
        record_training(folder / "handwritten.keras", load_mnist_sample(), history)
    exercise = EXERCISES_BY_FUNCTION["build_model"]
    load_data = (lambda: data) if data is not None else load_mnist_sample
    context = Context(InProcessLearner({"build_model": dense_model}), folder, load_data)
    context.course = course or context.course
    with mock.patch.object(thresholds, "known_test_set", known_by_source):  # any data may pose
        results = run_exercise(exercise, context)  # as full MNIST or the sample here
    return next(r for r in results if r.check_id == "build_model.accuracy")


def mark_of_97_percent(data, kind, course=None):
    """A mark the sample's 3-epoch models miss by far: from 85.6% to 90.2% over seeds 0-5."""
    return 0.97, ""


def known_by_source(data):
    """The marks that apply, by the data's declared source (the grader goes by its content)."""
    return data.source if data.source in ("mnist", "mnist-sample") else None


def test_an_untrained_model_is_called_near_chance(tmp_path):
    result = accuracy_result(tmp_path, dense_model())
    assert result.mistake == "accuracy_near_chance", result.message
    assert "about chance" in result.message and "after model.fit" in result.hint


def tiny_learning_rate():
    model = dense_model()
    optimizer = keras.optimizers.Adam(1e-6)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_a_tiny_learning_rate_is_named_not_epochs(tmp_path):
    result = accuracy_result(tmp_path, tiny_learning_rate())
    assert result.mistake == "learning_rate_too_small", result.message
    assert "learning rate is 1e-06" in result.message and "epochs" not in result.hint


def test_a_model_trained_on_the_sample_and_graded_on_full_mnist_says_so(tmp_path):
    model, history = trained()
    full = sample_with_source("mnist")
    result = accuracy_result(tmp_path, model, full)
    assert result.mistake == "accuracy_too_low"  # no record: nothing to say about the data
    result = accuracy_result(tmp_path, model, full, history)
    assert result.mistake == "trained_on_other_data", result.message
    assert "trained on the offline sample" in result.message
    assert "graded on full MNIST" in result.message


def keras_normalize(images):
    return keras.utils.normalize(images.astype("float32"), axis=1)


def test_a_model_trained_on_other_scaling_is_told_what_the_grader_feeds(tmp_path, monkeypatch):
    model, history = trained(scale=keras_normalize, epochs=3)
    monkeypatch.setattr(models, "accuracy_mark", mark_of_97_percent)
    result = accuracy_result(tmp_path, model)
    assert result.mistake == "other_scaling", result.message
    assert "divided by 255" in result.message and "keras.utils.normalize" in result.message


@pytest.mark.parametrize(
    ("accuracy", "threshold"), [(0.9899, 0.99), (0.99499, 0.995), (0.9599, 0.96), (0.941, 0.94)]
)
def test_accuracy_and_its_mark_are_never_printed_alike(accuracy, threshold):
    shown, mark = models.percentages(accuracy, threshold)
    assert shown != mark and (accuracy < threshold) == (float(shown[:-1]) < float(mark[:-1]))


def test_each_mark_says_how_it_relates_to_the_sampling_noise():
    assert "±0.8 points" in models.noise(0.941, 0.94, 1000)
    assert "within" in models.noise(0.941, 0.94, 1000)
    assert "within" not in models.noise(0.99, 0.94, 1000)
    assert "±0.2 points" in models.noise(0.97, 0.96, 10_000)


@pytest.mark.parametrize("exercise", ["build_model", "build_cnn"])
def test_the_training_notebooks_record_their_data_beside_the_model(repo, exercise):
    from autograder.submission import find_cell

    exercise = EXERCISES_BY_FUNCTION[exercise]
    for folder in ("solutions", "exercises"):
        found = find_cell(repo / folder / exercise.notebook, "record_training(")
        assert found and exercise.model_file in found[1], f"{folder}/{exercise.notebook}"


# ---------------------------------------------------------------- issue 29: what a new learner met


def cnn_without_flatten():
    layers = [keras.Input(shape=(28, 28, 1)), keras.layers.Conv2D(8, 3, activation="relu")]
    layers += [keras.layers.MaxPooling2D(), keras.layers.Dense(10, activation="softmax")]
    return compiled(keras.Sequential(layers))


def cnn_with_flatten_after_the_input():
    """What the dense exercise's hint led to: Flatten after the input, then Reshape back."""
    layers = [keras.Input(shape=(28, 28)), keras.layers.Flatten()]
    layers += [keras.layers.Reshape((28, 28, 1)), keras.layers.Conv2D(8, 3, activation="relu")]
    layers += [keras.layers.MaxPooling2D(), keras.layers.Dense(10, activation="softmax")]
    return compiled(keras.Sequential(layers))


@pytest.mark.parametrize("build_cnn", [cnn_without_flatten, cnn_with_flatten_after_the_input])
def test_a_cnn_without_flatten_is_told_to_put_it_after_the_convolutions(build_cnn):
    """It got the dense exercise's "Add Flatten right after keras.Input": following that gave
    the same message again, with a Flatten in the model (a loop)."""
    failure = first_failure(build_cnn, "build_cnn")
    assert failure.mistake == "cnn_no_flatten", failure.message
    assert "after keras.Input" not in failure.hint
    assert "after the last convolution block" in failure.hint
    assert "right before the first Dense layer" in failure.hint


def test_a_notebook_variable_used_for_a_parameter_names_the_parameter():
    """`y_test` for `y_true`: "Define or import y_test inside the graded cell" led the learner
    to load MNIST in the cell, and from there to a bare broadcast error."""

    def argmax_accuracy(y_true, y_prob):
        return float(np.mean(np.argmax(y_prob, axis=1) == y_test))  # noqa: F821

    failure = first_failure(argmax_accuracy, "argmax_accuracy")
    assert failure.mistake == "notebook_variable_for_parameter", failure.message
    assert "y_test" in failure.message and "parameter y_true" in failure.message
    assert "Define or import" not in failure.hint
    assert "use y_true" in failure.hint


def integer_division(y_true, y_prob):
    correct = int(np.sum(np.argmax(np.asarray(y_prob), axis=1) == np.asarray(y_true)))
    return correct // len(y_true)


def integer_division_as_float(y_true, y_prob):
    """What following "Hint: return float(...)" gave: 0.0, and a generic message."""
    return float(integer_division(y_true, y_prob))


@pytest.mark.parametrize("function", [integer_division, integer_division_as_float])
def test_integer_division_is_named(function):
    failure = first_failure(function, "argmax_accuracy")
    assert failure.mistake == "integer_division", failure.message
    assert "//" in failure.message and "use /" in failure.hint
    assert "return float(...)" not in failure.hint


def ignores_labels(y_true, y_prob):
    """Compares with MNIST's own test labels read from disk, whatever y_true holds."""
    _, (_, y_test) = load_mnist_sample()
    predicted = np.argmax(np.asarray(y_prob), axis=1)
    return float(np.mean(predicted == y_test[: len(predicted)]))


def test_a_function_that_ignores_its_labels_earns_nothing():
    """It earned 2 of 5: its output varies with y_prob, so the "uses its inputs" rule missed it."""
    results = results_of(ignores_labels, "argmax_accuracy")
    assert sum(result.score for result in results) == 0
    assert results[0].mistake == "ignores_labels", results[0].message
    assert "y_true" in results[0].hint


def tensorflow_softmax_model():
    import tensorflow as tf

    layers = [keras.Input(shape=(28, 28)), keras.layers.Flatten()]
    layers += [keras.layers.Dense(128, activation="relu"), keras.layers.Dense(128, "relu")]
    return compiled(keras.Sequential([*layers, keras.layers.Dense(10, activation=tf.nn.softmax)]))


def test_tf_nn_softmax_passes_and_says_what_plain_keras_cannot_load(tmp_path):
    """The grader passed the file, but the course's notebooks (Exercises 2 and 4) load it with a
    plain keras.models.load_model, which stops with Keras' "could not be deserialized"."""
    tensorflow_softmax_model().save(tmp_path / "handwritten.keras")
    with pytest.raises(TypeError, match="could not be deserialized"):
        keras.models.load_model(tmp_path / "handwritten.keras")
    results = results_of(tensorflow_softmax_model, "build_model", tmp_path)
    by_id = {result.check_id: result for result in results}
    for check_id in ("build_model.architecture", "build_model.saved_model"):
        assert by_id[check_id].outcome == Outcome.PASSED
        message = by_id[check_id].message
        assert "tf.nn.softmax" in message and "keras.models.load_model" in message, message
        assert 'activation="softmax"' in message


def test_a_python_without_keras_gets_one_line_on_how_to_activate_the_environment(tmp_path):
    """Without the course's environment activated, `python -m autograder` printed a 20-line
    traceback ending "No module named 'keras'"."""
    import subprocess
    import sys

    without_keras = (
        "import runpy, sys; sys.modules['keras'] = None; sys.argv = ['autograder']; "
        "runpy.run_module('autograder', run_name='__main__')"
    )
    printed = subprocess.run(
        [sys.executable, "-c", without_keras], capture_output=True, text=True, cwd=tmp_path
    )
    output = (printed.stdout + printed.stderr).strip()
    assert printed.returncode == 2
    assert len(output.splitlines()) == 1, output
    assert "Traceback" not in output and "keras" in output
    assert "activate" in output and "pip install -r requirements.txt" in output


def test_check_marks_each_line_in_words_as_well_as_with_a_symbol(capsys):
    """Emoji alone rendered as the same box for pass and fail on a learner's machine."""
    from autograder.notebook import CheckNotPassed, check

    def argmax_accuracy(y_true, y_prob):
        return integer_division_as_float(y_true, y_prob)

    with pytest.raises(CheckNotPassed):
        check(argmax_accuracy)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("✅ PASS argmax_accuracy.returns_float"), lines[0]
    assert any(line.startswith("❌ FAIL argmax_accuracy.") for line in lines), lines


@pytest.mark.parametrize("folder", ["solutions", "exercises"])
def test_exercise_2_says_what_the_input_check_passes_as_lists(repo, folder):
    """The text said only y_true may be a list; the check passes y_prob as a list too."""
    from autograder.exercises.argmax_accuracy import INPUT_KINDS

    listed = {name for name, kinds in INPUT_KINDS if "list" in kinds}
    assert listed == {"y_true and y_prob are Python lists"}
    cells = json.loads((repo / folder / "02_argmax_accuracy.ipynb").read_text())["cells"]
    text = "".join("".join(cell["source"]) for cell in cells)
    for parameter in ("y_true", "y_prob"):
        described = [line for line in text.splitlines() if line.startswith(f"- `{parameter}`")]
        assert described and "list" in described[0], (parameter, described)


def exercise_2_with(folder, answer: str, name="02_argmax_accuracy.ipynb"):
    """Exercise 2's notebook, its stub replaced with `answer`, saved in `folder` as `name`."""
    text = (REPO / "exercises" / "02_argmax_accuracy.ipynb").read_text()
    if answer:
        text = re.sub(r'raise NotImplementedError\(\\".*?\\"\)', answer, text)
    (folder / name).write_text(text)


REPO = Path(__file__).resolve().parents[1]


def test_a_jupyterlab_copy_with_the_answer_is_named(tmp_path):
    """The learner worked in 02_argmax_accuracy-Copy1.ipynb: "not written yet" said nothing
    of it."""
    exercise_2_with(tmp_path, "")
    exercise_2_with(tmp_path, "return 1.0", "02_argmax_accuracy-Copy1.ipynb")
    [first, *_] = grade(tmp_path, only="argmax_accuracy", seed=1).results
    assert first.mistake == "not_attempted"
    assert "02_argmax_accuracy-Copy1.ipynb" in first.message + first.hint


def test_a_misspelt_function_name_is_named(tmp_path):
    exercise_2_with(tmp_path, "return 1.0")
    notebook = tmp_path / "02_argmax_accuracy.ipynb"
    notebook.write_text(notebook.read_text().replace("def argmax_accuracy(", "def argmax_acuracy("))
    [first, *_] = grade(tmp_path, only="argmax_accuracy", seed=1).results
    assert "argmax_acuracy()" in first.message, first.message
    assert "not written yet" not in first.message


def test_a_model_file_from_an_earlier_run_is_named_when_the_notebook_trains_differently(tmp_path):
    """With epochs=0 the notebook stopped before saving, and the grader graded the file of an
    earlier run without a word."""
    model, history = trained()
    exercise_1 = (REPO / "exercises" / "01_build_model.ipynb").read_text()
    assert "epochs=3" in exercise_1
    (tmp_path / "01_build_model.ipynb").write_text(exercise_1.replace("epochs=3", "epochs=0"))
    model.save(tmp_path / "handwritten.keras")
    record_training(tmp_path / "handwritten.keras", load_mnist_sample(), history)
    exercise = EXERCISES_BY_FUNCTION["build_model"]
    context = Context(InProcessLearner({"build_model": dense_model}), tmp_path, load_mnist_sample)
    run_exercise(exercise, context)
    assert any("earlier run" in note and "epochs=0" in note for note in context.notes), (
        context.notes
    )
