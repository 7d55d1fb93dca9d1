"""The notebook's check() runs a graded cell as the grader does: on its own, in the grader's
worker process, with its time limits; a failed check stops "Run all" with one line."""

import json
import linecache
import time

import pytest

from autograder.exercises import EXERCISES_BY_FUNCTION
from autograder.grader import grade
from autograder.isolation import judge_client
from autograder.notebook import CheckNotPassed, check, install_stub_handler, worker_supply

USES_A_NOTEBOOK_NAME = """import keras


def build_model():
    model = keras.Sequential([keras.Input(shape=x_train.shape[1:]), keras.layers.Flatten()])
    model.add(keras.layers.Dense(10, activation="softmax"))
    return model
"""


def cell_function(source: str, name: str, namespace: dict | None = None):
    """Define `name` as a Jupyter cell does: its source in linecache under the kernel's name."""
    filename = f"/tmp/ipykernel_1/{abs(hash(source))}.py"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = dict(namespace or {})
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name]


def graded_as_a_notebook(tmp_path, function: str, source: str):
    cell = {"cell_type": "code", "metadata": {"tags": ["graded"]}, "source": source}
    notebook = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / EXERCISES_BY_FUNCTION[function].notebook).write_text(json.dumps(notebook))
    return grade(tmp_path, supply=worker_supply(), only=function).results


@pytest.mark.slow
def test_check_and_the_grader_agree_on_a_name_from_another_cell(tmp_path, capsys):
    import numpy as np

    build_model = cell_function(
        USES_A_NOTEBOOK_NAME, "build_model", {"x_train": np.zeros((2, 28, 28))}
    )
    with pytest.raises(CheckNotPassed):
        check(build_model)
    output = capsys.readouterr().out
    assert "uses the name x_train, which its cell does not define" in output
    [first, *_] = graded_as_a_notebook(tmp_path, "build_model", USES_A_NOTEBOOK_NAME)
    assert first.mistake == "name_from_outside_cell"


def test_check_has_the_graders_time_limit(capsys, monkeypatch):
    monkeypatch.setitem(judge_client.LIMITS, "call", 2.0)
    source = "def argmax_accuracy(y_true, y_prob):\n    while True:\n        pass\n"
    started = time.monotonic()
    with pytest.raises(CheckNotPassed):
        check(cell_function(source, "argmax_accuracy"))
    assert time.monotonic() - started < 60
    assert "did not finish within 2 s" in capsys.readouterr().out


def test_a_failed_check_says_why_run_all_stops_for_its_own_exercise(capsys):
    """Exercise 2 trains no model; its check said Run all stopped "so that no wrong model is
    trained" (newcomer review)."""
    source = "def argmax_accuracy(y_true, y_prob):\n    return 'high'\n"
    with pytest.raises(CheckNotPassed) as stopped:
        check(cell_function(source, "argmax_accuracy"))
    assert "the cells below use it" in str(stopped.value)
    assert "model" not in str(stopped.value)


@pytest.mark.slow
def test_check_shows_the_error_where_the_hint_said_to_look_for_it(capsys):
    source = 'def argmax_accuracy(y_true, y_prob):\n    raise ValueError("no idea yet")\n'
    with pytest.raises(CheckNotPassed):
        check(cell_function(source, "argmax_accuracy"))
    output = capsys.readouterr().out
    assert "Run the cell and the check cell" not in output
    assert 'raise ValueError("no idea yet")' in output and "line 2" in output


def test_a_failed_check_stops_run_all_with_one_line(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    assert install_stub_handler()
    shell.run_cell("from autograder.notebook import check")
    shell.run_cell("def argmax_accuracy(y_true, y_prob):\n    return 42.0\n")
    capsys.readouterr()
    result = shell.run_cell("check(argmax_accuracy)")
    assert isinstance(result.error_in_exec, CheckNotPassed)
    output = capsys.readouterr().out
    errors = [line for line in output.splitlines() if "CheckNotPassed" in line]
    assert len(errors) == 1 and "Traceback" not in output
    assert "0 of 4 checks of argmax_accuracy() pass" in errors[0]
    assert output.count("0 of 4 checks") == 1  # said once, in the error line


def test_interrupting_check_gives_one_line_and_a_fresh_worker(monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(judge_client.SandboxLearner, "_request", interrupted)
    source = "def argmax_accuracy(y_true, y_prob):\n    return 0.5\n"
    with pytest.raises(CheckNotPassed, match="check\\(\\) was interrupted"):
        check(cell_function(source, "argmax_accuracy"))
    assert worker_supply().worker is None  # the next check starts a fresh one


def test_a_kernel_that_ends_leaves_no_worker_folder(tmp_path):
    """check()'s worker lives as long as the kernel; when the kernel ends, its folder goes too."""
    import os
    import subprocess
    import sys

    temporary = tmp_path / "tmp"
    temporary.mkdir()
    kernel = "from autograder.notebook import worker_supply; worker_supply().get()"
    environment = dict(os.environ, TMPDIR=str(temporary))
    subprocess.run([sys.executable, "-c", kernel], check=True, env=environment, timeout=120)
    assert list(temporary.iterdir()) == []
