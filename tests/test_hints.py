"""Hints live beside each exercise's checks (Exercise.hints): the generator writes them into the
notebooks, hint(function) shows them one at a time, and a failed check says how to ask."""

import json

import nbformat
import pytest

from autograder import notebook
from autograder.exercises import EXERCISES, EXERCISES_BY_FUNCTION
from autograder.instructor import generate
from autograder.notebook import CheckNotPassed, check, hint

WITH_HINTS = [exercise for exercise in EXERCISES if exercise.hints]


def test_every_graded_exercise_has_hints():
    assert WITH_HINTS == EXERCISES


@pytest.mark.parametrize("folder", ["solutions", "exercises"])
@pytest.mark.parametrize("exercise", WITH_HINTS, ids=lambda exercise: exercise.function)
def test_the_notebook_shows_the_modules_hints(repo, folder, exercise):
    cells = nbformat.read(repo / folder / exercise.notebook, as_version=4).cells
    (cell,) = [c for c in cells if c.get("id") == generate.hint_cell_id(exercise.function)]
    assert cell.cell_type == "markdown"
    for number, text in enumerate(exercise.hints, start=1):
        assert f"<summary>Hint {number}</summary>\n\n{text}\n\n" in cell.source
    assert f"hint({exercise.function})" in cell.source


def test_hint_gives_the_next_hint_at_each_call(capsys, monkeypatch):
    monkeypatch.setattr(notebook, "_HINTS_SHOWN", {})
    # Outside a notebook (an earlier test in this process may have started an IPython shell)
    monkeypatch.setattr("IPython.get_ipython", lambda: None)
    hints = EXERCISES_BY_FUNCTION["build_model"].hints

    def build_model():
        pass

    shown = []
    for _ in range(len(hints) + 1):
        hint(build_model)
        shown.append(capsys.readouterr().out)
    for number, text in enumerate(hints, start=1):
        assert shown[number - 1].startswith(f"**Hint {number} of {len(hints)}.** {text}")
    assert "Run hint(build_model) again for Hint 2." in shown[0]
    assert "That was the last hint" in shown[len(hints) - 1]
    assert shown[-1] == shown[0]  # round again


def test_in_a_notebook_the_hint_is_rendered_markdown(monkeypatch):
    monkeypatch.setattr(notebook, "_HINTS_SHOWN", {})
    monkeypatch.setattr("IPython.get_ipython", lambda: object())
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)

    def build_model():
        pass

    hint(build_model)
    (markdown,) = shown
    assert markdown.data.startswith("**Hint 1 of ")


def test_hint_names_the_functions_it_knows(capsys):
    hint(print)
    assert "hint() has hints for build_model, argmax_accuracy" in capsys.readouterr().out


def test_a_failed_check_says_how_to_get_a_hint():
    def argmax_accuracy(y_true, y_prob):
        return 0.5

    with pytest.raises(CheckNotPassed, match=r"Stuck\? hint\(argmax_accuracy\) shows a hint"):
        check(argmax_accuracy)


def test_the_check_fails_when_a_modules_hint_changes_until_generated(tmp_path, monkeypatch, repo):
    """The hints have one home: a changed hint makes --check fail until `generate` writes it."""
    solutions = tmp_path / "solutions"
    exercises = tmp_path / "exercises"
    for folder in ("solutions", "exercises"):
        (tmp_path / folder).mkdir()
        for name in ("01_build_model.ipynb",):
            (tmp_path / folder / name).write_text((repo / folder / name).read_text())
    exercise = EXERCISES_BY_FUNCTION["build_model"]
    monkeypatch.setattr(exercise, "hints", [*exercise.hints[:2], "Return the model."])
    problems = generate.check(solutions, exercises)
    assert any("its hints differ" in problem for problem in problems)
    generate.generate(solutions, exercises)
    assert generate.check(solutions, exercises) == []
    saved = json.loads((exercises / "01_build_model.ipynb").read_text())
    assert any("Return the model." in "".join(cell["source"]) for cell in saved["cells"])
