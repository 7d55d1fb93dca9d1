"""The autograder grades whole submissions: the reference solutions, the untouched exercises,
each catalogued mistake injected into a copy of the solutions, and attempts to cheat.

Learner code runs in worker processes; the tests share one worker supply where no test code
tampers with the worker, to keep the suite within a few minutes.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

from autograder.exercises import BONUS_POINTS, CATALOGUE, EXERCISES
from autograder.grader import grade
from autograder.isolation.judge_client import WorkerSupply
from autograder.isolation.learner import Learner
from autograder.mistakes import fixed_text
from autograder.report import format_report
from autograder.results import Outcome
from autograder.runner import Context
from autograder.submission import GRADED_TAG

GOLDEN = "tests/golden/autograder_results.json"


@pytest.fixture(scope="module")
def supply(tmp_path_factory):
    folder = tmp_path_factory.mktemp("workers")
    with open(folder / "worker.log", "w+") as log:
        supply = WorkerSupply(log, str(folder))
        yield supply
        supply.close()


@pytest.fixture
def submission(executed_solutions, tmp_path):
    """A fresh copy of the executed reference solutions, to inject a mistake into."""
    return shutil.copytree(executed_solutions, tmp_path / "submission")


def edit_graded_cell(folder, notebook, old, new):
    path = folder / notebook
    content = json.loads(path.read_text())
    cells = [cell for cell in content["cells"] if GRADED_TAG in cell["metadata"].get("tags", [])]
    source = "".join(cells[0]["source"])
    assert old in source, f"{old!r} is not in the graded cell of {notebook}"
    cells[0]["source"] = source.replace(old, new)
    path.write_text(json.dumps(content))


def result_of(report, check_id):
    return next(result for result in report.results if result.check_id == check_id)


def exercise_of(check_id: str) -> str:
    """The exercise a check belongs to: grading only it is enough to see its mistakes."""
    return check_id.split(".")[0]


def fixed_start(mistake_id):
    """The fixed text of a catalogued message (mistakes.fixed_text), never empty."""
    text = fixed_text(CATALOGUE[mistake_id].message)
    assert text, f"{mistake_id}: its message is a bare placeholder"
    return text


@pytest.mark.slow
def test_reference_solutions_get_full_marks(graded_solutions):
    completed, results = graded_solutions["completed"], graded_solutions["results"]
    assert completed.returncode == 0, completed.stdout + completed.stderr
    failing = [
        (test["name"], test["output"])
        for test in results["tests"]
        if test["extra_data"]["outcome"] != Outcome.PASSED
    ]
    assert failing == []
    assert results["score"] == results["max_score"] + BONUS_POINTS  # the bonus on top of them
    assert {test["extra_data"]["exercise"] for test in results["tests"]} == {
        exercise.function for exercise in EXERCISES
    }
    assert "mnist-sample" in results["output"]


@pytest.mark.slow
def test_results_json_matches_the_golden_file_structurally(graded_solutions, repo):
    produced = graded_solutions["results"]
    golden = json.loads((repo / GOLDEN).read_text())

    def structure(results):
        keep = ("name", "score", "max_score", "status", "visibility", "extra_data")
        tests = [{key: test[key] for key in keep} for test in results["tests"]]
        return sorted(results), results["score"], results["max_score"], tests

    assert structure(produced) == structure(golden)
    assert produced["output_format"] == "md" and "mnist-sample" in produced["output"]
    assert all(set(test) >= {"output"} for test in produced["tests"])


@pytest.mark.slow
def test_untouched_exercises_get_zero_all_not_attempted(repo):
    report = grade(repo / "exercises")
    assert report.score == 0
    assert {result.outcome for result in report.results} == {Outcome.NOT_ATTEMPTED}
    assert all("is not written yet" in result.message for result in report.results)
    text = format_report(report)  # names the file read: a learner may copy it, or not save it
    for exercise in EXERCISES:
        assert f"== {exercise.function} (" in text and f"from {exercise.notebook})" in text
    assert "then save the notebook" in text


# ---------------------------------------------------------------- mistakes in the graded cells

B = "01_build_model.ipynb"
A = "02_argmax_accuracy.ipynb"
ANSWER = "return float(np.mean(predicted == np.asarray(y_true)))"
CELL_MISTAKES = [
    # (mistake, notebook, old text, new text, check that fails)
    ("no_flatten", B, "keras.layers.Flatten(),", "", "build_model.architecture"),
    ("wrong_input_shape", B, "shape=(28, 28)", "shape=(784,)", "build_model.architecture"),
    ("last_layer_units", B, "Dense(10,", "Dense(9,", "build_model.architecture"),
    (
        "last_layer_not_softmax",
        B,
        'Dense(10, activation="softmax")',
        "Dense(10)",
        "build_model.architecture",
    ),
    (
        "softmax_from_logits",
        B,
        'loss="sparse_categorical_crossentropy"',
        "loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)",
        "build_model.compile",
    ),
    (
        "categorical_with_integer_labels",
        B,
        'loss="sparse_categorical_crossentropy"',
        'loss="categorical_crossentropy"',
        "build_model.compile",
    ),
    ("not_a_model", B, "return model", "pass", "build_model.returns_model"),
    ("argmax_axis_0", A, "axis=1", "axis=0", "argmax_accuracy.returns_float"),
    (
        "one_hot_comparison",
        A,
        "predicted == np.asarray(y_true)",
        "predicted == np.eye(10)[np.asarray(y_true)]",
        "argmax_accuracy.returns_float",
    ),
    ("returns_percentage", A, "return float(", "return 100 * float(", "argmax_accuracy.range"),
    ("returns_count", A, "np.mean(", "np.sum(", "argmax_accuracy.returns_float"),
    (
        "returns_tensor",
        A,
        ANSWER,
        "import tensorflow as tf\n    return tf.reduce_mean(tf.cast(predicted == y_true, 'int8'))",
        "argmax_accuracy.returns_float",
    ),
    (
        "returns_array",
        A,
        ANSWER,
        "return predicted == np.asarray(y_true)",
        "argmax_accuracy.returns_float",
    ),
    (
        "accuracy_score_on_probabilities",
        A,
        ANSWER,
        "from sklearn.metrics import accuracy_score\n    return accuracy_score(y_true, y_prob)",
        "argmax_accuracy.returns_float",
    ),
    (
        "argmax_of_labels",
        A,
        "np.asarray(y_true)",
        "np.argmax(np.asarray(y_true), axis=1)",
        "argmax_accuracy.returns_float",
    ),
    ("hard_coded", A, ANSWER, "return 0.9", "argmax_accuracy.returns_float"),
    (
        "fails_on_input_type",
        A,
        "np.argmax(np.asarray(y_prob), axis=1)",
        "y_prob.argmax(axis=1)",
        "argmax_accuracy.input_types",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mistake", "notebook", "old", "new", "check_id"),
    CELL_MISTAKES,
    ids=[case[0] for case in CELL_MISTAKES],
)
def test_cell_mistake_fails_its_check_with_its_message(
    submission, supply, mistake, notebook, old, new, check_id
):
    edit_graded_cell(submission, notebook, old, new)
    report = grade(submission, supply=supply, only=exercise_of(check_id))
    result = result_of(report, check_id)
    assert result.outcome in (Outcome.FAILED, Outcome.ERROR) and result.mistake == mistake, (
        result.message
    )
    assert fixed_start(mistake) in result.message
    results = [r for r in report.results if r.exercise == result.exercise]
    later = results[results.index(result) + 1 :]
    assert all(r.outcome == "skipped" and check_id in r.message for r in later)
    assert not report.full_marks


# ---------------------------------------------------------------- mistakes in the model files


def train_dense(x_train, y_train, epochs=1):
    from digits.models import build_dense_model

    model = build_dense_model()
    model.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0)
    return model


def pixels_not_scaled(folder, data):
    (x_train, y_train), _ = data
    train_dense(x_train.astype("float32"), y_train).save(folder / "handwritten.keras")


def saved_before_training(folder, data):
    from digits.models import build_dense_model

    build_dense_model().save(folder / "handwritten.keras")


def missing_file(folder, data):
    (folder / "handwritten.keras").unlink()


def not_a_keras_file(folder, data):
    (folder / "handwritten.keras").write_text("print('hello')")


def h5_from_another_model(folder, data):
    from digits.models import build_dense_model

    build_dense_model().save(folder / "handwritten.h5")


def nan_weights(folder, data):
    from autograder.isolation.modelfile import load_model_file

    model = load_model_file(folder / "handwritten.keras")
    last = model.layers[-1]
    last.set_weights([np.full_like(weights, np.nan) for weights in last.get_weights()])
    model.save(folder / "handwritten.keras")


def another_input_size(folder, data):
    import keras

    model = keras.Sequential(
        [keras.Input((32, 32)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.save(folder / "handwritten.keras")


FILE_MISTAKES = [
    ("pixels_not_scaled", pixels_not_scaled, "build_model.accuracy"),
    ("accuracy_near_chance", saved_before_training, "build_model.accuracy"),
    ("model_file_missing", missing_file, "build_model.saved_model"),
    ("model_file_invalid", not_a_keras_file, "build_model.saved_model"),
    ("predictions_change_after_reload", h5_from_another_model, "build_model.reload"),
    ("invalid_probabilities", nan_weights, "build_model.saved_model"),
    ("model_file_out_of_date", another_input_size, "build_model.saved_model"),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mistake", "inject", "check_id"), FILE_MISTAKES, ids=[case[0] for case in FILE_MISTAKES]
)
def test_model_file_mistake_fails_its_check_with_its_message(
    submission, supply, mnist_sample, mistake, inject, check_id
):
    inject(submission, mnist_sample)
    result = result_of(grade(submission, supply=supply, only=exercise_of(check_id)), check_id)
    assert result.outcome == Outcome.FAILED and result.mistake == mistake, result.message
    assert fixed_start(mistake) in result.message


@pytest.mark.slow
def test_missing_model_file_names_the_cell_that_writes_it(submission, supply):
    missing_file(submission, None)
    report = grade(submission, supply=supply, only="build_model")
    result = result_of(report, "build_model.saved_model")
    assert "handwritten.keras was not found beside 01_build_model.ipynb" in result.message
    assert (
        "Run 01_build_model.ipynb top to bottom: the code cell with "
        '`model.save("handwritten.keras")` (code cell' in result.hint
    )


@pytest.mark.slow
def test_train_option_grades_a_model_trained_from_build_model(submission, supply):
    missing_file(submission, None)
    report = grade(submission, train=True, supply=supply)
    assert result_of(report, "build_model.accuracy").outcome == Outcome.PASSED
    assert any("--train" in note for note in report.notes)


# ---------------------------------------------------------------- cheating earns nothing

CHEATS = {
    "sys_exit": (A, ANSWER, "import sys\n    sys.exit(0)", "exited"),
    "os_exit": (A, ANSWER, "import os\n    os._exit(0)", "died"),
    "infinite_loop": (A, ANSWER, "while True:\n        pass", "timeout"),
}


@pytest.mark.slow
@pytest.mark.parametrize("cheat", CHEATS)
def test_exits_and_hangs_earn_nothing_and_grading_goes_on(submission, cheat):
    notebook, old, new, mistake = CHEATS[cheat]
    edit_graded_cell(submission, notebook, old, new)
    report = grade(submission, limits={"call": 3.0})
    results = [result for result in report.results if result.exercise == "argmax_accuracy"]
    assert results[0].outcome == Outcome.ERROR and results[0].mistake == mistake
    assert sum(result.score for result in results) == 0
    assert result_of(report, "build_cnn.accuracy").outcome == Outcome.PASSED  # the run went on


@pytest.mark.slow
def test_a_function_that_only_waits_is_stopped_long_before_its_time_limit(submission):
    edit_graded_cell(submission, A, ANSWER, "import time\n    time.sleep(10**6)")
    started = time.monotonic()
    report = grade(submission, limits={"call": 120.0}, only="argmax_accuracy")
    assert (
        time.monotonic() - started < 60
    )  # stopped once idle (judge_client.IDLE_LIMIT), not at 120 s
    first = report.results[0]
    assert first.outcome == Outcome.ERROR and first.mistake == "timeout"
    assert "time.sleep()" in first.message


WORKS_IN_A_CHILD_FIRST = """import os
import subprocess
import sys
import time

import numpy as np


def argmax_accuracy(y_true, y_prob):
    if not os.path.exists("warmed-up"):  # the first call: 6 s of work in a child, 6 s more here
        open("warmed-up", "w").close()
        busy = "import time\\nend = time.process_time() + 6\\nwhile time.process_time() < end: pass"
        subprocess.run([sys.executable, "-c", busy], check=True)
        end = time.process_time() + 6
        while time.process_time() < end:
            pass
    predicted = np.argmax(np.asarray(y_prob), axis=1)
    return float(np.mean(predicted == np.asarray(y_true)))
"""


@pytest.mark.slow
def test_work_done_in_a_child_process_is_not_mistaken_for_waiting(submission):
    edit_graded_cell(submission, A, "", "")
    path = submission / A
    content = json.loads(path.read_text())
    cell = next(c for c in content["cells"] if GRADED_TAG in c["metadata"].get("tags", []))
    cell["source"] = WORKS_IN_A_CHILD_FIRST
    path.write_text(json.dumps(content))
    report = grade(submission, limits={"call": 60.0}, only="argmax_accuracy.returns_float")
    assert report.results[0].outcome == Outcome.PASSED, report.results[0].message


TAMPERING = """
import numpy as np
import autograder.exercises.argmax_accuracy
import autograder.thresholds
for kind in autograder.thresholds.THRESHOLDS.values():
    kind.update(dense=0.0, cnn=0.0)
autograder.exercises.argmax_accuracy.check_values = lambda *args: "right"
np.isclose = lambda *args, **kwargs: True
np.mean = lambda *args, **kwargs: 0.9
"""


@pytest.mark.slow
def test_tampering_with_the_grader_or_numpy_from_the_notebook_earns_nothing(
    submission, mnist_sample
):
    edit_graded_cell(submission, A, "import numpy as np\n", TAMPERING)
    edit_graded_cell(submission, A, ANSWER, "return 0.9")
    edit_graded_cell(submission, B, "import keras\n", "import keras\n" + TAMPERING)
    saved_before_training(submission, mnist_sample)
    report = grade(submission)
    assert result_of(report, "argmax_accuracy.returns_float").mistake == "hard_coded"
    assert result_of(report, "build_model.accuracy").mistake == "accuracy_near_chance"


SAY_WHETHER_KERAS_IS_LOADED = (
    'print("Keras in the worker:", "keras" in __import__("sys").modules)\n'
)
NUMPY_ANSWER = """
def argmax_accuracy(y_true, y_prob):
    return float(np.mean(np.argmax(np.asarray(y_prob), axis=1) == np.asarray(y_true)))
"""
GRADE_IN_A_FRESH_PROCESS = """
import sys
from autograder.grader import grade
from autograder.report import format_report
print(format_report(grade(sys.argv[1], only="argmax_accuracy"), verbose=True))
print("Keras in the judge:", "keras" in sys.modules)
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("imports", "keras_loaded"),
    [("import numpy as np\n", False), ("import numpy as np\nimport tensorflow as tf\n", True)],
    ids=["numpy", "tensorflow"],
)
def test_exercise_2_alone_is_graded_without_tensorflow_unless_its_cell_imports_it(
    submission_with, imports, keras_loaded
):
    """Exercise 2 judges no model: its grade imported TensorFlow twice (judge and worker) only
    to read MNIST, 7 to 9 s here for a 1 s grade. A cell that imports TensorFlow itself still
    finds it imported, not counted in its time limit."""
    source = SAY_WHETHER_KERAS_IS_LOADED + imports + NUMPY_ANSWER
    submission = submission_with({"02_argmax_accuracy.ipynb": source})
    command = [sys.executable, "-c", GRADE_IN_A_FRESH_PROCESS, str(submission)]
    shown = subprocess.run(command, capture_output=True, text=True, timeout=300).stdout
    assert "Score: 5/5" in shown, shown
    assert f"Keras in the worker: {keras_loaded}" in shown
    assert "Keras in the judge: False" in shown
    assert "Data:" not in shown  # no model, no MNIST


@pytest.mark.parametrize(
    "body", ["-" * 1_000_000 + "1", "1\0"], ids=["beyond_the_parser", "null_byte"]
)
def test_a_cell_python_cannot_parse_fails_its_exercise_and_grading_goes_on(
    submission_with, supply, body
):
    """The judge reads the graded cell's parameters and imports: a cell beyond the parser's
    limits raised MemoryError in the judge itself, and grading stopped with a traceback."""
    source = "def argmax_accuracy(y_true, y_prob):\n    return " + body
    submission = submission_with({"02_argmax_accuracy.ipynb": source})
    first, *rest = grade(submission, supply=supply, only="argmax_accuracy").results
    assert first.outcome is Outcome.ERROR and "Python cannot read your cell" in first.message
    assert rest and all(result.outcome is Outcome.SKIPPED for result in rest)


@pytest.mark.slow
def test_command_line_exit_code_json_and_quiet_stderr(graded_solutions, repo):
    completed = graded_solutions["completed"]
    assert completed.returncode == 0, completed.stdout
    assert "Score: 13/13 (+13 bonus)" in completed.stdout
    assert "Summary" in completed.stdout and "mnist-sample" in completed.stdout
    assert "oneDNN" not in completed.stderr and "absl" not in completed.stderr
    assert graded_solutions["results"]["score"] == 26

    untouched = subprocess.run(
        [sys.executable, "-m", "autograder", str(repo / "exercises")],
        capture_output=True,
        text=True,
    )
    assert untouched.returncode == 1 and "Score: 0/13" in untouched.stdout


def test_an_unknown_only_is_refused_before_any_worker_or_folder_starts(repo, tmp_path, monkeypatch):
    from autograder.isolation import judge_client

    def no_worker(*args, **kwargs):
        raise AssertionError("a worker was started for an invalid --only")

    monkeypatch.setattr(judge_client, "WorkerSupply", no_worker)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    tempfile.tempdir = None  # read TMPDIR again
    try:
        with pytest.raises(ValueError, match="no such exercise or check: nope"):
            grade(repo / "exercises", only="nope")
    finally:
        tempfile.tempdir = None
    assert list(tmp_path.iterdir()) == []


def test_a_context_without_a_work_folder_removes_the_one_it_made():
    import gc

    context = Context(learner=Learner())
    folder = context.workdir
    (folder / "returned_build_model.keras").write_bytes(b"model")
    del context
    gc.collect()
    assert not folder.exists()


@pytest.mark.slow
def test_pytest_autograder_runs_one_test_per_check(executed_solutions, repo):
    environment = dict(os.environ, SUBMISSION_DIR=str(executed_solutions))
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "autograder", "-q", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=repo,
        env=environment,
    )
    checks = sum(len(exercise.checks) for exercise in EXERCISES)
    assert completed.returncode == 0, completed.stdout[-2000:]
    assert f"{checks} passed" in completed.stdout
