"""The exercise registry (autograder.exercises) against an independent oracle: the contract in
CONTRIBUTING.md, typed here once, and what the notebooks themselves define and save.

Everything else (tests, benchmarks, instructor tools) reads the registry; this file does not, so a
registry that drifts from the notebooks fails here.
"""

import re

import nbformat
import pytest

from autograder.exercises import (
    BONUS_POINTS,
    CATALOGUE,
    EXERCISES,
    FULL_MARKS,
    MODEL_FILES,
    NOTEBOOKS,
)

# notebook -> (graded function, model file it writes, bonus), as CONTRIBUTING.md states it.
CONTRACT = {
    "01_build_model.ipynb": ("build_model", "handwritten.keras", False),
    "02_argmax_accuracy.ipynb": ("argmax_accuracy", None, False),
    "03_cnn.ipynb": ("build_cnn", "handwritten_cnn.keras", True),
    "05_find_the_bug.ipynb": ("build_classifier", None, True),
    "06_challenge.ipynb": ("build_challenge_model", "challenge.keras", True),
}
POINTS = (13, 13)  # full marks and bonus points, as the README and classroom.yml give them


def test_the_registry_lists_the_contract_in_order():
    registered = {
        exercise.notebook: (exercise.function, exercise.model_file, exercise.bonus)
        for exercise in EXERCISES
    }
    assert registered == CONTRACT
    assert NOTEBOOKS == sorted(CONTRACT)
    assert MODEL_FILES == [file for _, file, _ in CONTRACT.values() if file]
    assert (FULL_MARKS, BONUS_POINTS) == POINTS


@pytest.mark.parametrize("folder", ["solutions", "exercises"])
@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_each_notebook_defines_its_function_in_one_graded_cell(repo, folder, name):
    function, model_file, _ = CONTRACT[name]
    cells = nbformat.read(repo / folder / name, as_version=4).cells
    graded = [cell for cell in cells if "graded" in cell.metadata.get("tags", [])]
    assert len(graded) == 1 and f"def {function}(" in graded[0].source
    saved = {
        match for cell in cells for match in re.findall(r'\.save\("([^"]+\.keras)"\)', cell.source)
    }
    assert saved == ({model_file} if model_file else set())


def test_every_check_id_is_its_exercise_s_and_unique():
    ids = [check.check_id for exercise in EXERCISES for check in exercise.checks]
    assert len(ids) == len(set(ids))
    for exercise in EXERCISES:
        assert all(check.check_id.startswith(exercise.function + ".") for check in exercise.checks)
        assert all(check.points > 0 for check in exercise.checks)


def test_every_mistake_has_a_message_and_a_hint_that_format():
    for mistake_id, mistake in CATALOGUE.items():
        assert mistake.message, mistake_id
        fields = set(re.findall(r"{(\w+)", mistake.message + mistake.hint))
        values = {field: 1 for field in fields}
        mistake.message.format(**values), mistake.hint.format(**values)


def _percent(mark: float) -> str:
    return f"{round(mark * 100, 1):g}%"


STATED_MARK = re.compile(
    r"at least \**(\d+(?:\.\d+)?%)\** on full MNIST(?:, \**(\d+(?:\.\d+)?%)\**)?"
)


@pytest.mark.parametrize(
    "exercise", [e for e in EXERCISES if e.model_kind], ids=lambda e: e.notebook
)
def test_the_marks_a_notebook_states_are_the_graders(repo, exercise):
    """A learner reads the mark in the notebook: it must be the one the grader applies (full
    MNIST, then the offline sample when the notebook gives it)."""
    from autograder.thresholds import FULL, SAMPLE, THRESHOLDS

    notebook = nbformat.read(repo / "solutions" / exercise.notebook, as_version=4)
    text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    for full, sample in STATED_MARK.findall(text):
        assert full == _percent(THRESHOLDS[FULL][exercise.kind]), exercise.notebook
        assert sample in ("", _percent(THRESHOLDS[SAMPLE][exercise.kind])), exercise.notebook
