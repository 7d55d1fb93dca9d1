"""The grading report: the text a learner reads and Gradescope's results.json."""

from __future__ import annotations

from autograder.results import CheckResult, Outcome, bonus

TEXT_MARKS = {
    Outcome.PASSED: "PASS",
    Outcome.FAILED: "FAIL",
    Outcome.NOT_ATTEMPTED: "TODO",
    Outcome.ERROR: "ERROR",
    Outcome.SKIPPED: "SKIP",
}
SYMBOLS = {
    Outcome.PASSED: "✅",
    Outcome.FAILED: "❌",
    Outcome.NOT_ATTEMPTED: "📝",
    Outcome.ERROR: "💥",
    Outcome.SKIPPED: "⏭️",
}


def check_lines(results: list[CheckResult], symbols: bool = False, verbose: bool = False):
    """One line per check (and a hint line when there is one)."""
    for result in results:
        mark = TEXT_MARKS[result.outcome]  # in words too: some fonts show every emoji as a box
        if symbols:
            mark = f"{SYMBOLS[result.outcome]} {mark}"
        yield f"{mark} {result.check_id}: {result.message}"
        if result.hint and result.outcome in (Outcome.FAILED, Outcome.ERROR, Outcome.NOT_ATTEMPTED):
            yield f"    Hint: {result.hint}"
        if verbose and result.details:
            yield from ("    " + line for line in result.details.rstrip().splitlines())


def summary_rows(report) -> list[tuple[str, str, str, str]]:
    rows = []
    for result in report.results:
        points = f"{result.score:g}/{result.points:g}" + (" bonus" if result.bonus else "")
        rows.append((result.exercise, result.check_id, points, result.outcome))
    return rows


def score_line(report) -> str:
    counted_as_bonus = bonus(report.results, report.only)
    extra = sum(result.score for result in counted_as_bonus)
    line = f"Score: {report.score - extra:g}/{report.max_score:g}"
    if counted_as_bonus:
        line += f" (+{extra:g} bonus)"
    return line


def _from_notebook(function: str, bonus: bool) -> str:
    """The end of an exercise's header, such as " (bonus, from 03_cnn.ipynb)": it names the
    file the grader read, which a learner may have copied or not saved."""
    from autograder.exercises import EXERCISES_BY_FUNCTION

    found = EXERCISES_BY_FUNCTION.get(function)
    parts = (["bonus"] if bonus else []) + ([f"from {found.notebook}"] if found else [])
    return f" ({', '.join(parts)})" if parts else ""


def data_line(report, form: str = "Data: {} [{}]") -> str:
    """Which MNIST the models were graded on; no line where no model was graded."""
    return form.format(report.data_description, report.data_source) if report.data_source else ""


def format_report(report, verbose: bool = False) -> str:
    """The text a learner reads: checks per exercise with hints, then the summary table."""
    lines = [line for line in (f"Grading {report.submission}", data_line(report)) if line]
    lines += [f"Note: {note}" for note in report.notes]
    exercise = None
    for result in report.results:
        if result.exercise != exercise:
            exercise = result.exercise
            lines += ["", f"== {exercise}" + _from_notebook(exercise, result.bonus)]
        lines += check_lines([result], verbose=verbose)
    if verbose and report.worker_log.strip():
        lines += ["", "== output of your code and TensorFlow (--verbose)", report.worker_log]
    lines += [
        "",
        "Summary",
        *_table(("exercise", "check", "points", "status"), summary_rows(report)),
    ]
    lines += ["", score_line(report)]
    if report.full_marks:
        lines.append("Full marks. Well done!")
    else:
        lines.append("Fix the first FAIL/ERROR/TODO above, then run the autograder again.")
    return "\n".join(lines)


def _table(header: tuple, rows: list[tuple]) -> list[str]:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(row):
        return "  ".join(
            str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
        ).rstrip()

    return [line(header), line(tuple("-" * width for width in widths)), *map(line, rows)]


def results_json(report) -> dict:
    """Gradescope's results.json (see CONTRIBUTING.md)."""
    tests = []
    for result in report.results:
        output = result.message + (f"\n\nHint: {result.hint}" if result.hint else "")
        tests.append(
            {
                "name": f"{result.check_id}: {result.title}" + (" (bonus)" if result.bonus else ""),
                "score": result.score,
                "max_score": 0.0 if result.bonus else result.points,
                "status": "passed" if result.outcome == Outcome.PASSED else "failed",
                "output": output,
                "visibility": "visible",
                "extra_data": {
                    "check_id": result.check_id,
                    "exercise": result.exercise,
                    "outcome": result.outcome,
                    **({"mistake": result.mistake} if result.mistake else {}),
                },
            }
        )
    table = ["| exercise | check | points | status |", "| --- | --- | --- | --- |"]
    table += [f"| {' | '.join(row)} |" for row in summary_rows(report)]
    notes = [f"Note: {note}" for note in report.notes]
    parts = [data_line(report, "Graded on the {} (`{}`)."), *notes, "\n".join(table)]
    output = "\n\n".join([part for part in parts if part] + [f"**{score_line(report)}**"])
    return {
        "score": report.score,
        "max_score": report.max_score,
        "output": output,
        "output_format": "md",
        "visibility": "visible",
        "tests": tests,
    }
