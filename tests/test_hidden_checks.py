"""Hidden checks: graded with the public ones; learners see names, points and messages only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from autograder.instructor.gradescope import build_zip
from autograder.isolation.confinement import bubblewrap_problem

SECRET_CODE = "HIDDEN-CODE-7c1e"
HIDDEN_CHECKS = f"""
# {SECRET_CODE}: nothing of this file may reach a learner
from pathlib import Path

import numpy as np

from autograder.hidden import HiddenCheckFailed, hidden_check

HERE = Path(__file__).parent


@hidden_check("argmax_accuracy", "private_cases", "right on private cases", points=2)
def private_cases(learner):
    case = np.load(HERE / "private.npz")
    value = learner.call(case["y_true"], case["y_prob"])
    if value is None or abs(value - float(case["expected"])) > 1e-6:
        raise HiddenCheckFailed(f"wrong on a private case: {{value}}", hint="Check ties.")
    return "right on the private cases"


@hidden_check("argmax_accuracy", "stricter_mark", "a stricter mark", points=1)
def stricter_mark(learner):
    raise HiddenCheckFailed("the stricter mark is not met", hint="Ask in office hours.")

"""
ANSWER = """import numpy as np


def argmax_accuracy(y_true, y_prob):
    return float(np.mean(np.argmax(np.asarray(y_prob), axis=1) == np.asarray(y_true)))
"""
PEEK = """from pathlib import Path


def build_cnn():
    raise RuntimeError("peek: " + Path({path!r}).read_text()[:300])
"""


@pytest.fixture
def hidden(tmp_path) -> Path:
    folder = tmp_path / "hidden"
    folder.mkdir()
    (folder / "checks.py").write_text(HIDDEN_CHECKS)
    y_prob = np.eye(10, dtype=np.float32)[[3, 1, 4, 1, 5]]
    np.savez(folder / "private.npz", y_true=np.array([3, 1, 4, 1, 9]), y_prob=y_prob, expected=0.8)
    return folder


@pytest.mark.slow
@pytest.mark.skipif(bubblewrap_problem() is not None, reason=f"no sandbox: {bubblewrap_problem()}")
def test_hidden_checks_are_graded_and_show_names_points_and_messages_only(
    submission_with, hidden, tmp_path
):
    peek = PEEK.format(path=str(hidden / "checks.py"))
    submission = submission_with({"02_argmax_accuracy.ipynb": ANSWER, "03_cnn.ipynb": peek})
    results = tmp_path / "results.json"
    command = [sys.executable, "-m", "autograder", str(submission), "--hidden", str(hidden),
               "--json", str(results), "--verbose"]  # fmt: skip
    env = dict(os.environ, MNIST_OFFLINE="1")
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    shown = completed.stdout + completed.stderr + results.read_text()

    assert SECRET_CODE not in shown and "1 / 0" not in shown and "private.npz" not in shown
    assert "PASS argmax_accuracy.hidden.private_cases: right on the private cases" in shown
    assert "FAIL argmax_accuracy.hidden.stricter_mark: the stricter mark is not met" in shown
    assert "Hint: Ask in office hours." in shown
    report = json.loads(results.read_text())
    assert (report["score"], report["max_score"]) == (7, 16)  # 5 public + 2 hidden of 3


BROKEN = f"""
from autograder.hidden import hidden_check


@hidden_check("argmax_accuracy", "broken", "a check with a bug")
def broken(learner):
    return 1 / 0  # {SECRET_CODE}: a traceback would give the code away
"""


def test_a_hidden_check_with_a_bug_says_so_without_its_traceback(tmp_path):
    from autograder.exercises import EXERCISES_BY_FUNCTION
    from autograder.hidden import load_hidden_checks, with_hidden
    from autograder.isolation.learner import Learner
    from autograder.runner import Context, run_check

    (tmp_path / "checks.py").write_text(BROKEN)
    exercise = with_hidden(
        [EXERCISES_BY_FUNCTION["argmax_accuracy"]], load_hidden_checks(tmp_path), tmp_path
    )[0]
    check = exercise.checks[-1]
    result = run_check(check, exercise, Context(Learner(), workdir=tmp_path))
    assert (check.check_id, result.outcome) == ("argmax_accuracy.hidden.broken", "failed")
    assert result.message == "this hidden check could not run on your submission"
    assert SECRET_CODE not in result.details + result.message + result.hint


def test_the_gradescope_zip_ships_hidden_checks_under_hidden(hidden, tmp_path):
    names = build_zip(tmp_path / "autograder.zip", hidden=hidden)
    assert {"hidden/checks.py", "hidden/private.npz"} <= set(names)
    with zipfile.ZipFile(tmp_path / "autograder.zip") as archive:
        assert SECRET_CODE in archive.read("hidden/checks.py").decode()


def test_a_missing_hidden_folder_is_one_clear_line(repo, tmp_path):
    command = [sys.executable, "-m", "autograder", str(repo / "exercises"),
               "--hidden", str(tmp_path / "nowhere")]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 2
    assert "Cannot grade: no hidden checks:" in completed.stdout
    assert "Traceback" not in completed.stdout + completed.stderr


def test_the_sandbox_masks_the_hidden_checks_folder_wherever_it_is(tmp_path):
    from autograder.isolation.confinement import Confinement, worker_command

    how = Confinement(True, None, "sandbox", private=(Path("/srv/course/hidden"),))
    command = worker_command(["python"], tmp_path / "worker", how)
    laid = [i for i, word in enumerate(command[1:]) if word == "/srv/course/hidden"]
    masked = max(i for i in laid if command[i] == "--tmpfs")  # the last empty folder laid there
    assert masked > max(i for i, word in enumerate(command) if word == "--ro-bind")
    assert masked < command.index("--chdir")  # after every read-only bind that could expose it


def test_a_worker_folder_inside_a_private_folder_is_the_only_thing_shown_there(tmp_path):
    """Batch grades in a folder of its own that the sandbox empties: each judge's worker folder
    lies inside it. An empty folder laid over a deeper one would hide it (and bubblewrap could
    not make the deeper one read-only: every worker died)."""
    from autograder.isolation.confinement import Confinement, worker_command

    private = tmp_path / "batch"
    worker = private / "judge" / "serve" / "worker"
    worker.mkdir(parents=True)
    how = Confinement(True, None, "sandbox", private=(private,))
    command = worker_command(["python"], worker, how)
    laid = [i + 1 for i, word in enumerate(command) if word == "--tmpfs"]
    first = {Path(command[i]): i for i in reversed(laid)}
    assert first[private] < first[worker.parent]  # shallowest first
    last_laid_over_private = max(i for i in laid if command[i] == str(private))
    assert command.index("--bind") > last_laid_over_private  # the worker's folder on top
    read_only = [Path(command[i + 1]) for i, word in enumerate(command) if word == "--remount-ro"]
    assert private in read_only and worker.parent not in read_only and worker not in read_only


ECHO = """
import numpy as np
from autograder.hidden import hidden_check


@hidden_check("argmax_accuracy", "private", "private cases")
def private(learner):
    return learner.call(np.array([7, 3, 3, 1]), np.eye(10)[[7, 3, 3, 1]])
"""


@pytest.mark.parametrize(
    ("kind", "exception", "shown"),
    [
        ("error", "ValueError", "error: ValueError"),  # its message holds the inputs
        ("error", "y_true_7_3_3_1", "error: an exception that is not one of Python's built-in"),
        ("timeout", "", "timeout"),
    ],
)
def test_a_learner_error_on_a_hidden_case_does_not_echo_the_hidden_inputs(
    tmp_path, kind, exception, shown
):
    from autograder.exercises import EXERCISES_BY_FUNCTION
    from autograder.hidden import load_hidden_checks, with_hidden
    from autograder.isolation.learner import Learner
    from autograder.isolation.protocol import LearnerFailure
    from autograder.runner import Context, run_check

    class Echoing(Learner):  # a function that raises with its inputs in the message
        def call(self, function, arguments):
            raise LearnerFailure(kind, exception, f"got {arguments[0]['data']}")

    (tmp_path / "checks.py").write_text(ECHO)
    exercise = with_hidden(
        [EXERCISES_BY_FUNCTION["argmax_accuracy"]], load_hidden_checks(tmp_path), tmp_path
    )[0]
    result = run_check(exercise.checks[-1], exercise, Context(Echoing(), workdir=tmp_path))
    assert result.outcome == "failed"
    assert f"did not return on a hidden case ({shown}" in result.message
    seen = result.message + result.hint + result.details
    assert "7, 3, 3, 1" not in seen and "7_3_3_1" not in seen
