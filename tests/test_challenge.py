"""Exercise 6, a challenge under a budget: the parameter count is checked in the function's model
and in the saved file, the mark is calibrated, and the class report ranks the class."""

from __future__ import annotations

import csv

import keras
import pytest
from test_autograder_messages import compiled, results_of

from autograder.exercises import EXERCISES_BY_FUNCTION
from autograder.exercises.build_challenge_model import PARAMETER_BUDGET
from autograder.exercises.models import SEEN_TEST_SET
from autograder.instructor.batch import Grade, _check_mistakes
from autograder.instructor.class_report import class_numbers, leaderboard, write_class_report
from autograder.instructor.similarity import Flag
from autograder.results import Outcome
from autograder.thresholds import SAMPLE_MARGIN, THRESHOLDS, WORST_SEEDS, sample_mark

EXERCISE = EXERCISES_BY_FUNCTION["build_challenge_model"]


def dense(units: int):
    def build_challenge_model():
        return compiled(
            keras.Sequential(
                [
                    keras.Input(shape=(28, 28)),
                    keras.layers.Flatten(),
                    keras.layers.Dense(units, activation="relu"),
                    keras.layers.Dense(10, activation="softmax"),
                ]
            )
        )

    return build_challenge_model


def test_a_model_over_the_budget_fails_with_its_count_and_the_budget():
    results = results_of(dense(64), "build_challenge_model")  # 784 x 64 + 64 + 650 = 50,890
    budget = next(result for result in results if result.check_id.endswith(".budget"))
    assert budget.outcome is Outcome.FAILED and budget.mistake == "over_budget"
    assert "50,890 parameters" in budget.message and "fewer than 50,000" in budget.message
    assert "891 too many" in budget.message


def test_a_model_under_the_budget_passes_with_its_count():
    results = results_of(dense(62), "build_challenge_model")  # 49,300 parameters
    assert [result.outcome for result in results] == [Outcome.PASSED] * 3
    assert results[1].message.startswith("49,300 parameters (budget: fewer than 50,000)")


def test_the_saved_file_is_held_to_the_budget_too(tmp_path):
    """A file saved from a bigger model than the function now builds is not graded as if it
    were the function's: the file itself is over the budget."""
    dense(64)().save(tmp_path / "challenge.keras")
    results = results_of(dense(62), "build_challenge_model", tmp_path)
    saved = next(result for result in results if result.check_id.endswith(".saved_model"))
    assert saved.outcome is Outcome.FAILED
    assert "50,890 parameters" in saved.message and saved.mistake == "model_file_out_of_date"


def test_the_challenge_mark_follows_the_calibration_rule():
    assert PARAMETER_BUDGET == 50_000
    assert THRESHOLDS["mnist-sample"]["challenge"] == sample_mark(
        WORST_SEEDS["mnist-sample"]["challenge"]
    )
    assert SAMPLE_MARGIN == 0.02
    assert (
        THRESHOLDS["mnist"]["challenge"] == 0.941
        and THRESHOLDS["mnist-sample"]["challenge"] == 0.87
    )


# ---------------------------------------------------------------- the leaderboard


def challenger(
    student: str, accuracy: str, parameters: str, passed: bool = True, seen: bool = False
) -> Grade:
    """A student's grade as batch keeps it, with the challenge checks' messages as the grader
    writes them (passed, below the mark, or a model that has seen the test set)."""
    if passed:
        measured = f"{accuracy} on the 10,000 test digits of mnist (mark 94.1%; the standard error)"
    elif seen:
        measured = (
            f"The model in challenge.keras scores {accuracy} on the 10,000 test digits but 93.0% "
            "on 10,000 digits it trained on: 6.1 points higher on digits it should never have seen"
        )
    else:
        measured = f"The model in challenge.keras reaches {accuracy} test accuracy on 10,000 test"
    mistake = SEEN_TEST_SET if seen else "accuracy_too_low"
    return Grade(
        student,
        f"f-{student}",
        "graded",
        15,
        13,
        {"build_challenge_model.accuracy": 1.0 if passed else 0.0},
        messages={
            "build_challenge_model.budget": f"{parameters} parameters (budget: fewer than 50,000)",
            "build_challenge_model.accuracy": measured,
        },
        mistakes={} if passed else {"build_challenge_model.accuracy": mistake},
    )


def generated_class() -> tuple[list[Grade], list[Flag]]:
    grades = [
        challenger("ada", "97.9%", "30,762"),
        challenger("bob", "98.3%", "45,000"),
        challenger("cy", "97.9%", "12,000"),  # ties with ada: fewer parameters first
        challenger("dee", "92.0%", "47,710", passed=False),
        challenger("eve", "98.3%", "30,762"),  # the same file as ada's: flagged
        challenger("fay", "99.1%", "49,000", passed=False, seen=True),  # seen the test set
        challenger("gus", "96.0%", "20,000"),  # a copied exercise 2 only: still ranked
        Grade("hal", "f-hal", "graded", 13, 13),  # no challenge.keras: not listed
    ]
    flags = [
        Flag("model", ("ada", "eve"), "challenge.keras: byte-identical files"),
        Flag("code", ("gus", "hal"), "02_argmax_accuracy.ipynb: the same program"),
    ]
    return grades, flags


def test_the_leaderboard_ranks_best_first_and_leaves_flagged_students_unranked():
    rows = leaderboard(*generated_class())
    assert [(row.rank, row.student) for row in rows] == [
        ("1", "bob"),
        ("2", "cy"),
        ("3", "gus"),
        ("4", "dee"),
        ("", "fay"),
        ("", "eve"),
        ("", "ada"),
    ]
    by_student = {row.student: row for row in rows}
    assert by_student["cy"].parameters == 12_000 and by_student["cy"].accuracy == pytest.approx(
        0.979
    )
    assert not by_student["dee"].passed
    assert by_student["ada"].flagged == "challenge.keras: byte-identical files"
    assert by_student["fay"].flagged == "its model has seen the test set"
    assert by_student["fay"].accuracy == pytest.approx(0.991)


def test_the_class_report_shows_the_leaderboard(tmp_path):
    grades, flags = generated_class()
    out = tmp_path / "class.html"
    write_class_report(class_numbers(grades, flags), out)
    page = out.read_text()
    assert "<h2>Challenge leaderboard</h2>" in page
    assert "<td>1</td><td>bob</td><td>98.3%</td><td>45,000</td><td>reached</td>" in page
    assert "<td>-</td><td>eve</td>" in page
    rows = [row for row in csv.reader(out.with_suffix(".csv").open()) if row[0] == "leaderboard"]
    assert rows[0] == ["leaderboard", "bob", "1", "0.983", "45000 parameters; mark reached"]
    assert rows[-1][1] == "ada" and rows[-1][2] == "" and "not ranked" in rows[-1][4]


@pytest.mark.slow
def test_the_graded_solution_is_on_the_leaderboard(graded_solutions):
    """The leaderboard reads what the real checks wrote (results.json, as batch keeps it)."""
    results = graded_solutions["results"]
    challenge = [t for t in results["tests"] if t["extra_data"]["exercise"] == EXERCISE.function]
    assert [test["status"] for test in challenge] == ["passed"] * len(EXERCISE.checks)
    mistakes, messages = _check_mistakes(results)
    grade = Grade("solutions", "f", "graded", results["score"], results["max_score"],
                  {t["extra_data"]["check_id"]: t["score"] for t in results["tests"]},
                  messages=messages, mistakes=mistakes)  # fmt: skip
    (row,) = leaderboard([grade])
    assert (
        row.rank == "1" and row.passed and row.accuracy >= THRESHOLDS["mnist-sample"]["challenge"]
    )
    assert 10_000 < row.parameters < PARAMETER_BUDGET
