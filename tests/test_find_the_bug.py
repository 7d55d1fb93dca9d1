"""Exercise 5, find the bugs: each planted bug is found on its own, named without its fix, and
the exercise as generated is "not attempted"; the generator plants the bugs and records them."""

import json
import re
import shutil

import keras
import nbformat
import numpy as np
import pytest
from conftest import REPO, set_graded_cell

from autograder.exercises import EXERCISES_BY_FUNCTION
from autograder.exercises.build_classifier import NOTEBOOK, planted_fingerprints
from autograder.grader import grade
from autograder.instructor import generate
from autograder.notebook import CheckNotPassed, InProcessLearner, check
from autograder.results import Outcome
from autograder.runner import Context, run_exercise
from autograder.submission import fingerprint, holds_answers

EXERCISE = EXERCISES_BY_FUNCTION["build_classifier"]


def scale_images(images):
    return np.asarray(images).astype("float32") / 255.0


def classifier(last_activation="softmax", from_logits=False):
    def build_classifier():
        model = keras.Sequential(
            [
                keras.Input(shape=(28, 28)),
                keras.layers.Flatten(),
                keras.layers.Dense(16, activation="relu"),
                keras.layers.Dense(10, activation=last_activation),
            ]
        )
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
        model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
        return model

    return build_classifier


def predicted_digits(probabilities):
    return np.argmax(np.asarray(probabilities), axis=1)


FIXED = {
    "scale_images": scale_images,
    "build_classifier": classifier(),
    "predicted_digits": predicted_digits,
}

# mistake -> (the function it is in, a version of that function that makes it)
BUGS = {
    "bug_raw_pixels": ("scale_images", lambda images: np.asarray(images).astype("float32")),
    "bug_wrong_scaling": ("scale_images", lambda images: np.asarray(images) / 256.0),
    "bug_not_an_array": ("scale_images", lambda images: print(images)),
    "bug_shape_changed": ("scale_images", lambda images: scale_images(images).reshape(3, -1)),
    "bug_softmax_twice": ("build_classifier", classifier(from_logits=True)),
    "bug_logits_as_probabilities": ("build_classifier", classifier(last_activation="linear")),
    "bug_argmax_wrong_axis": ("predicted_digits", lambda p: np.argmax(np.asarray(p), axis=0)),
    "bug_wrong_digits": ("predicted_digits", lambda p: np.max(np.asarray(p), axis=1)),
}
CHECK_OF = {  # each function's check
    "scale_images": "build_classifier.scale_images",
    "build_classifier": "build_classifier.output_and_loss",
    "predicted_digits": "build_classifier.predicted_digits",
}
THE_FIX = ["/ 255", "255.0", "axis=1", "from_logits=False", "remove", "delete"]


class SourcedLearner(InProcessLearner):
    """The functions of a graded cell, called here, with the cell's source (as the worker's
    learner has it)."""

    def __init__(self, functions: dict, source: str):
        super().__init__(functions)
        self.cell_source = source

    def source(self, function: str) -> str:
        return self.cell_source


def results(functions: dict, source: str = "") -> list:
    context = Context(SourcedLearner(functions, source), seed=1)
    return run_exercise(EXERCISE, context, functions_only=True)


def bug_result(mistake: str):
    """The result of the one check that a bug fails (a trigger for the catalogue's test)."""
    part, function = BUGS[mistake]
    failed = [r for r in results({**FIXED, part: function}) if r.outcome != Outcome.PASSED]
    assert len(failed) == 1, [result.message for result in failed]
    return failed[0]


def planted_cell(repo=REPO) -> str:
    cells = nbformat.read(repo / "exercises" / NOTEBOOK, as_version=4).cells
    (cell,) = [cell for cell in cells if "graded" in cell.metadata.get("tags", [])]
    return cell.source


def untouched_result():
    """The first result for the exercise's graded cell as generated (a catalogue trigger)."""
    source = planted_cell()
    namespace: dict = {}
    exec(source, namespace)
    return results({name: namespace[name] for name in FIXED}, source)[0]


def test_the_fixed_pipeline_passes_every_check():
    assert [result.outcome for result in results(FIXED)] == [Outcome.PASSED] * 3


@pytest.mark.parametrize("mistake", sorted(BUGS))
def test_each_bug_fails_its_own_check_only_and_names_no_fix(mistake):
    keras.utils.set_random_seed(0)
    result = bug_result(mistake)
    assert result.mistake == mistake
    assert result.check_id == CHECK_OF[BUGS[mistake][0]]
    assert BUGS[mistake][0] + "()" in result.message  # which part is still wrong
    shown = (result.message + " " + result.hint).lower()
    assert not [fix for fix in THE_FIX if fix in shown], shown


def test_the_messages_say_what_was_measured():
    assert "from 0 to 255" in bug_result("bug_raw_pixels").message
    wrong_axis = bug_result("bug_argmax_wrong_axis").message
    assert re.search(r"returned 10 values for \d\d images", wrong_axis)


def test_the_softmax_can_go_either_way():
    """Probabilities made once: by the last layer, or by the loss (from_logits=True)."""
    by_the_loss = classifier(last_activation="linear", from_logits=True)
    both_ways = results({**FIXED, "build_classifier": by_the_loss})
    assert [result.outcome for result in both_ways] == [Outcome.PASSED] * 3


def test_the_exercise_as_generated_is_not_attempted_and_any_edit_is_an_attempt(repo):
    source = planted_cell(repo)
    namespace: dict = {}
    exec(source, namespace)
    functions = {name: namespace[name] for name in FIXED}
    untouched = results(functions, source)
    assert [result.outcome for result in untouched] == [Outcome.NOT_ATTEMPTED] * 3
    assert "as the exercise gave it" in untouched[0].message
    resaved = "\n" + source.replace("\n", "  \n") + "\n\n"  # trailing spaces, blank lines
    assert all(r.outcome is Outcome.NOT_ATTEMPTED for r in results(functions, resaved))
    edited = source.replace('astype("float32")', 'astype("float32") / 255')
    namespace = {}
    exec(edited, namespace)
    attempted = results({name: namespace[name] for name in FIXED}, edited)
    outcomes = [result.outcome for result in attempted]
    assert outcomes == [Outcome.PASSED, Outcome.FAILED, Outcome.FAILED]


def test_the_generator_plants_each_bug_and_records_the_cell(repo):
    source = planted_cell(repo)
    assert 'return images.astype("float32")\n' in source  # the bug, uncommented
    assert "### BEGIN BUG" not in source and "# return" not in source
    assert planted_fingerprints() == {fingerprint(source)}
    assert json.loads((repo / "autograder/exercises/planted.json").read_text()) == {
        NOTEBOOK: [fingerprint(source)]
    }
    assert not holds_answers(repo / "exercises" / NOTEBOOK, planted_fingerprints())
    assert holds_answers(repo / "solutions" / NOTEBOOK, planted_fingerprints())


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("def f():\n    ### BEGIN BUG\n    # return 1\n    ### END BUG", "not right after"),
        (
            "def f():\n    ### BEGIN SOLUTION\n    return 2\n    ### END SOLUTION\n"
            "    ### BEGIN BUG\n    return 1\n    ### END BUG",
            "commented out",
        ),
    ],
    ids=["no-solution-before", "not-commented"],
)
def test_broken_bug_markers_are_named(cell, message):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    notebook.cells[0].metadata["tags"] = ["graded"]
    with pytest.raises(generate.MarkerError, match=message):
        generate.generate_notebook(notebook, "solutions/x.ipynb")


@pytest.mark.slow
def test_the_grader_gives_each_fix_its_point(repo, tmp_path):
    """Through the worker, as `python -m autograder` grades: untouched, one fix, all fixed."""
    untouched = tmp_path / "untouched"
    untouched.mkdir()
    shutil.copy(repo / "exercises" / NOTEBOOK, untouched)
    one_fix = shutil.copytree(untouched, tmp_path / "one_fix")
    source = planted_cell(repo).replace("axis=0", "axis=1")
    set_graded_cell(one_fix, NOTEBOOK, source)
    fixed = tmp_path / "fixed"
    fixed.mkdir()
    shutil.copy(repo / "solutions" / NOTEBOOK, fixed)
    scores = {}
    for folder in (untouched, one_fix, fixed):
        report = grade(folder, only="build_classifier", seed=1)
        scores[folder.name] = [result.outcome.value for result in report.results]
    assert scores == {
        "untouched": ["not attempted"] * 3,
        "one_fix": ["failed", "failed", "passed"],
        "fixed": ["passed"] * 3,
    }


@pytest.mark.slow
def test_check_in_the_notebook_says_not_attempted_then_names_what_is_left(repo, capsys):
    """check(build_classifier) in the learner's kernel, through the grader's worker: the cell as
    generated is not attempted (no stop), a cell with a bug left stops Run all with a hint."""
    from test_autograder_check import cell_function

    source = planted_cell(repo)
    check(cell_function(source, "build_classifier"))  # does not raise: nothing attempted yet
    shown = capsys.readouterr().out
    assert shown.count("TODO build_classifier.") == 3 and "hint(build_classifier)" in shown
    one_fix = source.replace("axis=0", "axis=1")
    with pytest.raises(CheckNotPassed, match=r"1 of 3 checks .* hint\(build_classifier\)"):
        check(cell_function(one_fix, "build_classifier"))
    shown = capsys.readouterr().out
    assert "FAIL build_classifier.scale_images: scale_images() returned values from 0" in shown


def test_the_same_fixes_are_no_copy_for_the_similarity_report(repo, tmp_path):
    """Every honest learner fixes the handed-out cell the same way: not evidence of a copy."""
    from autograder.instructor.similarity import class_flags

    folders = {}
    for student, folder in (("ann", "solutions"), ("ben", "solutions"), ("cy", "exercises")):
        folders[student] = tmp_path / student
        folders[student].mkdir()
        shutil.copy(repo / folder / NOTEBOOK, folders[student])
    assert class_flags(folders, [EXERCISE]) == []
