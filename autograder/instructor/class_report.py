"""What the class gets wrong: one self-contained HTML page (figures embedded) and the same
numbers as a CSV, written by ``python -m autograder.instructor.batch ... --report class.html``."""

from __future__ import annotations

import base64
import csv
import html
import io
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from autograder.exercises.models import SEEN_TEST_SET
from autograder.results import shown_name

GRADED = "graded"
TOP_MISTAKES = 10


@dataclass
class ClassNumbers:
    """The numbers both the page and the CSV show."""

    students: int
    statuses: Counter
    scores: list[float]
    max_score: float
    pass_rates: dict[str, tuple[int, int]]  # check id -> (passed, graded)
    mistakes: list[tuple[str, int, str]]  # (mistake id, count, one example message)
    failures: list[tuple[str, str]]  # (student, timeout/crashed)
    seconds: list[tuple[str, float]]
    flags: list = field(default_factory=list)
    seen_test_set: list[tuple[str, str]] = field(default_factory=list)  # (student, message)
    leaderboard: list[LeaderboardRow] = field(default_factory=list)  # the challenge (exercise 6)


def shown(students) -> str:
    """A pair (or more) of students' names as one cell, in the names every report can write."""
    return " & ".join(map(shown_name, students))


def seen_test_set(grades) -> list[tuple[str, str]]:
    """Each student whose model the judge found to have seen the test set, with its message."""
    return [
        (grade.shown, grade.messages.get(check, ""))
        for grade in grades
        for check, mistake in grade.mistakes.items()
        if mistake == SEEN_TEST_SET
    ]


def class_numbers(grades, flags=()) -> ClassNumbers:
    graded = [grade for grade in grades if grade.status == GRADED]
    check_ids = list(dict.fromkeys(check for grade in graded for check in grade.checks))
    pass_rates = {}
    for check in check_ids:
        scored = [grade for grade in graded if check in grade.checks]
        passed = sum(not grade.mistakes.get(check) and grade.checks[check] > 0 for grade in scored)
        pass_rates[check] = (passed, len(scored))
    counts: Counter = Counter()  # submissions that made each mistake, once each
    examples: dict[str, str] = {}
    for grade in graded:
        made: set[str] = set()
        for check, mistake in grade.mistakes.items():
            # A check without a catalogued mistake carries its outcome ("not attempted"), which
            # names the same thing as the first check's mistake id ("not_attempted").
            mistake = mistake.replace(" ", "_")
            if mistake and mistake != "skipped" and mistake not in made:
                made.add(mistake)
                examples.setdefault(mistake, grade.messages.get(check, ""))
        counts.update(made)
    return ClassNumbers(
        students=len(grades),
        statuses=Counter(grade.status for grade in grades),
        scores=[grade.score for grade in graded],
        max_score=max((grade.max_score for grade in graded), default=0.0),
        pass_rates=pass_rates,
        mistakes=[(m, n, examples[m]) for m, n in counts.most_common(TOP_MISTAKES)],
        failures=[(grade.shown, grade.status) for grade in grades if grade.status != GRADED],
        seconds=[(grade.shown, grade.seconds) for grade in grades],
        flags=list(flags),
        seen_test_set=seen_test_set(graded),
        leaderboard=leaderboard(graded, flags),
    )


# ---------------------------------------------------------------- the challenge's leaderboard

CHALLENGE = "build_challenge_model"  # exercise 6: accuracy under a parameter budget
ACCURACY_CHECK = f"{CHALLENGE}.accuracy"
BUDGET_CHECK = f"{CHALLENGE}.budget"
# What the checks' messages say they measured: "97.8% on the 10,000 test digits..." (passed),
# "The model in challenge.keras reaches 91.2% test accuracy..." (below the mark), and
# "... scores 100.0% on the 1,000 test digits but ..." (seen the test set) and
# "30,762 parameters (budget: ...".
MEASURED_ACCURACY = re.compile(
    r"^(\d+(?:\.\d+)?)% on the |reaches (\d+(?:\.\d+)?)% test accuracy"
    r"|scores (\d+(?:\.\d+)?)% on the "  # a model that has seen the test set
)
MEASURED_PARAMETERS = re.compile(r"^([\d,]+) parameters \(budget")
# Flags that take a student off the leaderboard: any about the challenge's own files, and any
# that is not about one exercise's answer (a model that memorised the test set).
CHALLENGE_MARKS = ("challenge.keras", "06_challenge.ipynb", CHALLENGE)
FLAGS_OF_ONE_ANSWER = ("model", "code")


@dataclass
class LeaderboardRow:
    student: str
    accuracy: float  # a fraction, as the grader's message shows it (0.1 point)
    parameters: int
    passed: bool  # reached the accuracy mark
    flagged: str = ""  # why the student is not ranked: the integrity flags that name them
    rank: str = ""  # "1", "2"... ("" for a flagged student)

    def cells(self) -> list[str]:
        mark = "reached" if self.passed else "missed"
        return [self.rank or "-", self.student, f"{self.accuracy:.1%}", f"{self.parameters:,}",
                mark, self.flagged]  # fmt: skip


def leaderboard(grades, flags=()) -> list[LeaderboardRow]:
    """The challenge's results, best first: higher accuracy, then fewer parameters. Students
    the integrity rules flag are listed after the ranked ones, marked and not ranked; students
    whose saved model was not measured (no file, over the budget) are not listed."""
    rows = []
    for grade in grades:
        accuracy = _measured(MEASURED_ACCURACY, grade.messages.get(ACCURACY_CHECK, ""))
        parameters = _measured(MEASURED_PARAMETERS, grade.messages.get(BUDGET_CHECK, ""))
        if accuracy is None or parameters is None:
            continue
        passed = grade.checks.get(ACCURACY_CHECK, 0) > 0
        reasons = [flag.detail for flag in flags if _flags_challenge(flag, grade.student)]
        if grade.mistakes.get(ACCURACY_CHECK) == SEEN_TEST_SET:
            reasons.append("its model has seen the test set")
        why = "; ".join(reasons)
        rows.append(LeaderboardRow(grade.shown, accuracy / 100, int(parameters), passed, why))
    rows.sort(key=lambda row: (bool(row.flagged), -row.accuracy, row.parameters, row.student))
    for rank, row in enumerate((row for row in rows if not row.flagged), start=1):
        row.rank = str(rank)
    return rows


def _measured(pattern: re.Pattern, message: str) -> float | None:
    found = pattern.search(message)
    if found is None:
        return None
    number = next(group for group in found.groups() if group is not None)
    return float(number.replace(",", ""))


def _flags_challenge(flag, student: str) -> bool:
    if student not in flag.students:
        return False
    about_challenge = any(mark in flag.detail for mark in CHALLENGE_MARKS)
    return about_challenge or flag.kind not in FLAGS_OF_ONE_ANSWER


def _leaderboard_section(rows: list[LeaderboardRow]) -> list[str]:
    if not rows:
        return []
    header = ["rank", "student", "test accuracy", "parameters", "mark", "not ranked because"]
    return [
        "<h2>Challenge leaderboard</h2>",
        "<p>Exercise 6: the test accuracy of each saved <code>challenge.keras</code> under the "
        "parameter budget, best first (fewer parameters first on a tie). Students that an "
        "integrity flag names are listed last, not ranked, until a person has looked.</p>",
        _table(header, [row.cells() for row in rows]),
    ]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")


def as_text(cell: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula: learner code writes the
    messages quoted here (OWASP's advice on CSV injection: a leading apostrophe)."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def write_class_csv(numbers: ClassNumbers, path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["table", "name", "count", "out_of", "detail"])
        for status, count in sorted(numbers.statuses.items()):
            writer.writerow(["status", status, count, numbers.students, ""])
        for check, (passed, graded) in numbers.pass_rates.items():
            writer.writerow(["check passed", check, passed, graded, ""])
        for mistake, count, example in numbers.mistakes:
            writer.writerow(["mistake", mistake, count, len(numbers.scores), as_text(example)])
        for student, seconds in numbers.seconds:
            writer.writerow(["seconds", as_text(student), f"{seconds:.1f}", "", ""])
        for flag in numbers.flags:
            writer.writerow(
                ["similarity", as_text(shown(flag.students)), "", "", as_text(flag.detail)]
            )
        for student, message in numbers.seen_test_set:
            writer.writerow(["seen test set", as_text(student), "", "", as_text(message)])
        for row in numbers.leaderboard:
            detail = f"{row.parameters} parameters; mark {'reached' if row.passed else 'missed'}"
            detail += f"; not ranked: {row.flagged}" if row.flagged else ""
            student = as_text(row.student)
            writer.writerow(
                ["leaderboard", student, row.rank, f"{row.accuracy:.3f}", as_text(detail)]
            )


def write_class_report(numbers: ClassNumbers, path: Path) -> None:
    """The self-contained HTML page; the CSV beside it (same name, .csv)."""
    path.write_text(_page(numbers), encoding="utf-8")
    write_class_csv(numbers, path.with_suffix(".csv"))


def _page(numbers: ClassNumbers) -> str:
    scores = numbers.scores
    summary = ", ".join(f"{count} {status}" for status, count in sorted(numbers.statuses.items()))
    median = f"{statistics.median(scores):g}" if scores else "-"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Class report: Handwritten Digits</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Class report</h1>",
        f"<p>{numbers.students} submissions: {summary}. Median score {median} of "
        f"{numbers.max_score:g} (bonus points included in scores).</p>",
        "<h2>Scores</h2>",
        _figure(_score_histogram, numbers, "Score distribution"),
        "<h2>Checks</h2>",
        _figure(_pass_rate_bars, numbers, "Pass rate of each check"),
        _table(
            ["check", "passed", "pass rate"],
            [
                [check, f"{passed}/{graded}", f"{passed / graded:.0%}" if graded else "-"]
                for check, (passed, graded) in numbers.pass_rates.items()
            ],
        ),
        "<h2>Most common mistakes</h2>",
        _table(["mistake", "submissions", "example message"], numbers.mistakes)
        if numbers.mistakes
        else "<p>No catalogued mistake.</p>",
        "<h2>Not graded</h2>",
        _table(["student", "status"], numbers.failures)
        if numbers.failures
        else "<p>Every submission was graded.</p>",
        "<h2>Time per submission</h2>",
        _figure(_time_histogram, numbers, "Seconds per submission"),
        "<h2>Similarity</h2>",
        "<p>Evidence for a person to look at, never a penalty. Learners who ran the same "
        "notebook (with its fixed random seed) on the same data can get near-identical models "
        "honestly; short answers are not compared.</p>",
        _table(["students", "what matches"], [(shown(f.students), f.detail) for f in numbers.flags])
        if numbers.flags
        else "<p>No similar submissions found.</p>",
        "<h2>Models that have seen the test set</h2>",
        "<p>Models that read the test digits clearly better than the digits they trained on: "
        "trained on the test digits, or built from them. The grader gave them no accuracy "
        "points; the message says what it measured.</p>",
        _table(["student", "what the grader measured"], numbers.seen_test_set)
        if numbers.seen_test_set
        else "<p>None found.</p>",
        *_leaderboard_section(numbers.leaderboard),
        "</body></html>",
    ]
    return "\n".join(parts)


STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;"
    "text-align:left;vertical-align:top}img{max-width:100%}"
)


def _table(header, rows) -> str:
    head = "".join(f"<th>{html.escape(str(cell))}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(draw, numbers: ClassNumbers, title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 3.5))
    draw(axes, numbers)
    axes.set_title(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return f"<img alt='{html.escape(title)}' src='data:image/png;base64,{encoded}'>"


def _score_histogram(axes, numbers: ClassNumbers) -> None:
    top = max([numbers.max_score, *numbers.scores], default=1.0)
    axes.hist(numbers.scores, bins=range(int(top) + 2), color="#4c72b0", edgecolor="white")
    axes.axvline(numbers.max_score, color="#c44e52", linestyle="--", label="full marks")
    axes.set_xlabel("score")
    axes.set_ylabel("submissions")
    axes.legend()


def _pass_rate_bars(axes, numbers: ClassNumbers) -> None:
    checks = list(numbers.pass_rates)
    rates = [passed / graded if graded else 0 for passed, graded in numbers.pass_rates.values()]
    axes.barh(checks[::-1], rates[::-1], color="#55a868")
    axes.set_xlim(0, 1)
    axes.set_xlabel("fraction of graded submissions that pass")
    axes.tick_params(axis="y", labelsize=7)


def _time_histogram(axes, numbers: ClassNumbers) -> None:
    axes.hist([seconds for _, seconds in numbers.seconds], bins=10, color="#8172b2")
    axes.set_xlabel("seconds")
    axes.set_ylabel("submissions")
