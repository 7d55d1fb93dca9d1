"""A model that has seen the test set earns no accuracy points: attacks from a submission.

Two ways to score on the test digits without learning to read digits, each written as a learner
would: (a) `build_cnn()` returns a template matcher built from the test images (each test image
the weights of one unit of a softmax layer, its label the weights of the last layer, behind a
1x1 identity convolution), saved untrained; (b) the course's dense model trained on the training
and the test images. benchmarks/bench_memorised.py measures both beside honest models, from the
same code (`TEMPLATE_MATCHER`, `train_on_test_set`).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from autograder.exercises import EXERCISES_BY_FUNCTION
from autograder.instructor.batch import Grade
from autograder.instructor.class_report import class_numbers, write_class_report
from autograder.notebook import InProcessLearner
from autograder.results import CheckResult
from autograder.runner import Context, run_exercise
from digits.data import load_mnist_sample
from digits.models import build_dense_model

# (a) A nearest-neighbour lookup of the test digits, as a Keras model: the softmax layer picks
# the test image closest to the input (w.x - |w|^2 / 2 is largest for the nearest w), the last
# layer gives that image's label. No training: 100% on the test digits by construction.
TEMPLATE_MATCHER = """
import keras
import numpy as np
from digits import load_mnist, normalize


def build_cnn():
    _, (x_test, y_test) = load_mnist()
    templates = normalize(x_test).reshape(len(x_test), -1)
    sharpness = 50.0
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(1, 1, use_bias=False),
        keras.layers.Flatten(),
        keras.layers.Dense(len(templates), activation="softmax"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.layers[0].set_weights([np.ones((1, 1, 1, 1))])
    squared = (templates**2).sum(axis=1)
    model.layers[2].set_weights([sharpness * templates.T, -sharpness * squared / 2])
    model.layers[3].set_weights([sharpness * np.eye(10)[y_test], np.zeros(10)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
"""


def template_matcher() -> keras.Model:
    """The attacker's build_cnn(), from its cell (the notebook would then save it untrained)."""
    namespace: dict = {}
    exec(TEMPLATE_MATCHER, namespace)
    return namespace["build_cnn"]()


def train_on_test_set(build, data, epochs: int, seed: int = 0) -> keras.Model:
    """(b) The notebook's training cell, edited to fit on the training and the test images
    together (no validation split: every test digit is trained on)."""
    from digits.data import normalize

    (x_train, y_train), (x_test, y_test) = data
    keras.utils.set_random_seed(seed)
    model = build()
    images = normalize(np.concatenate([x_train, x_test]))
    model.fit(images, np.concatenate([y_train, y_test]), epochs=epochs, verbose=0)
    return model


def grade_locally(folder, exercise: str) -> dict:
    """`python -m autograder FOLDER --only EXERCISE --json`: each check's entry, by check id."""
    results = folder.parent / "results.json"
    command = [sys.executable, "-m", "autograder", str(folder), "--only", exercise]
    subprocess.run([*command, "--json", str(results)], capture_output=True, timeout=600)
    tests = json.loads(results.read_text())["tests"]
    return {test["extra_data"]["check_id"]: test for test in tests}


@pytest.mark.slow
def test_a_template_matcher_of_the_test_digits_earns_no_accuracy_points(submission_with):
    """Red team: build_cnn() returned the test images as the weights of a softmax layer and
    their labels as the last layer, saved untrained: 100% on the test digits and the whole
    bonus. Now its model passes every check but accuracy, which says what was measured."""
    folder = submission_with({"03_cnn.ipynb": TEMPLATE_MATCHER})
    template_matcher().save(folder / "handwritten_cnn.keras")  # as the notebook saves it

    checks = grade_locally(folder, "build_cnn")
    accuracy = checks.pop("build_cnn.accuracy")
    assert all(check["status"] == "passed" for check in checks.values()), checks
    assert (accuracy["status"], accuracy["score"]) == ("failed", 0)
    assert accuracy["extra_data"]["mistake"] == "seen_test_set"
    assert "scores 100.0% on the 1,000 test digits but" in accuracy["output"]
    assert "It has seen the test set" in accuracy["output"]


def graded_accuracy(folder, function: str, model: keras.Model, build) -> CheckResult:
    """The accuracy check's result for `model`, saved as the exercise's file in `folder`, graded
    on the offline sample in this process."""
    exercise = EXERCISES_BY_FUNCTION[function]
    model.save(folder / exercise.file)
    context = Context(InProcessLearner({function: build}), folder, load_mnist_sample)
    results = run_exercise(exercise, context)
    return next(result for result in results if result.check_id == f"{function}.accuracy")


@pytest.mark.slow
def test_an_honest_model_keeps_its_accuracy_points(tmp_path):
    """The exercise's recipe, trained on the training images only: no flag (its gaps over
    seeds and data sets: benchmarks/RESULTS.md, "A model that has seen the test set")."""
    (x_train, y_train), _ = load_mnist_sample()
    keras.utils.set_random_seed(0)
    model = build_dense_model()
    model.fit(x_train / 255.0, y_train, epochs=3, validation_split=0.1, verbose=0)
    result = graded_accuracy(tmp_path, "build_model", model, build_dense_model)
    assert result.outcome.value == "passed", result.message


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="not caught: trained on the training and test images alike, the model reads both "
    "equally well (gap -0.6 points on the sample, 3 epochs; see the README's integrity section)",
)
def test_the_dense_model_trained_on_the_test_digits_too_earns_no_accuracy_points(tmp_path):
    """Red team: the course's dense model fitted on x_train and x_test together (96.5% on the
    sample's test digits against about 90% honestly) keeps its points: the rule compares the
    test digits with the training digits, and this model has trained on both."""
    model = train_on_test_set(build_dense_model, load_mnist_sample(), epochs=3)
    result = graded_accuracy(tmp_path, "build_model", model, build_dense_model)
    assert result.mistake == "seen_test_set", result.message


@pytest.mark.slow
def test_batch_withholds_the_points_and_the_class_report_names_the_student(
    submission_with, tmp_path
):
    """The same attack in a class graded by batch: its points withheld in grades.csv, its
    student named in the class report's section, and no one else."""
    submissions = tmp_path / "class"
    mallory = submission_with({"03_cnn.ipynb": TEMPLATE_MATCHER}, submissions / "mallory")
    template_matcher().save(mallory / "handwritten_cnn.keras")
    submission_with({}, submissions / "ada")  # nothing written yet
    out, report = tmp_path / "grades.csv", tmp_path / "class.html"
    command = [sys.executable, "-m", "autograder.instructor.batch", str(submissions)]
    command += ["--out", str(out), "--report", str(report)]
    subprocess.run(command, check=True, capture_output=True, timeout=900)

    rows = {row["student"]: row for row in csv.DictReader(out.open())}
    assert rows["mallory"]["build_cnn.saved_model"] == "1"
    assert rows["mallory"]["build_cnn.accuracy"] == "0"
    section = report.read_text().split("<h2>Models that have seen the test set</h2>")[1]
    assert "<td>mallory</td>" in section and "ada" not in section


def memorised_grade(student: str, message: str) -> Grade:
    return Grade(
        student, "f", "graded", 13, 13, {"build_cnn.accuracy": 0},
        mistakes={"build_cnn.accuracy": "seen_test_set"},
        messages={"build_cnn.accuracy": message},
    )  # fmt: skip


def test_the_class_report_names_each_student_whose_model_has_seen_the_test_set(tmp_path):
    honest = Grade("ada", "f", "graded", 13, 13, {"build_cnn.accuracy": 1})
    message = "The model in handwritten_cnn.keras scores 100.0% on the 1,000 test digits"
    page = tmp_path / "class.html"
    write_class_report(class_numbers([honest, memorised_grade("mallory", message)]), page)

    text = page.read_text()
    section = text.split("<h2>Models that have seen the test set</h2>")[1]
    assert "<td>mallory</td>" in section and message in section and "ada" not in section
    rows = list(csv.reader(page.with_suffix(".csv").open()))
    assert ["seen test set", "mallory", "", "", message] in rows
