"""`python -m autograder [SUBMISSION_DIR] [--json PATH] [--verbose] [--train] [--only NAME]`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Grade the Handwritten Digits exercises and explain what to fix.",
    )
    parser.add_argument(
        "submission", nargs="?", default="exercises", help="folder of the notebooks (exercises/)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write Gradescope's results.json")
    parser.add_argument("--verbose", action="store_true", help="show full tracebacks and logs")
    parser.add_argument(
        "--train",
        action="store_true",
        help="train from build_model() when handwritten.keras is missing (slower)",
    )
    parser.add_argument(
        "--only",
        metavar="NAME",
        help="report one exercise (build_model) or one check (build_model.compile); exit 0 "
        "when all of it passes (one GitHub Classroom step each)",
    )
    parser.add_argument(
        "--only",
        metavar="PART",
        help="grade one exercise (build_model, argmax_accuracy, build_cnn) or one check id; "
        "exit 0 when all of it passes",
    )
    return parser.parse_args(argv)


def only(report, name: str):
    """The report restricted to one exercise or one check."""
    chosen = [result for result in report.results if name in (result.exercise, result.check_id)]
    return dataclasses.replace(report, results=chosen)


def unknown_part(name: str) -> str | None:
    """A message for learners when --only names no exercise and no check, else None."""
    from autograder.checks import EXERCISES

    names = [exercise.function for exercise in EXERCISES]
    names += [check.check_id for exercise in EXERCISES for check in exercise.checks]
    if name in names:
        return None
    return f"--only {name}: no such exercise or check. Choose one of: {', '.join(names)}."


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    submission = Path(arguments.submission)
    if not submission.is_dir():
        print(f"{submission} is not a folder: pass the folder that holds your exercise notebooks.")
        return 2
    problem = arguments.only and unknown_part(arguments.only)
    if problem:
        print(problem)
        return 2
    from autograder.grader import grade, select
    from autograder.report import format_report, results_json

    try:
        select(arguments.only)
    except ValueError as error:
        print(error)
        return 2
    report = grade(submission, train=arguments.train, only=arguments.only)
    if arguments.only:
        report = only(report, arguments.only)
    print(format_report(report, verbose=arguments.verbose))
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(results_json(report), indent=2) + "\n")
    passed = all(result.outcome == "passed" for result in report.results)
    return 0 if (passed if arguments.only else report.full_marks) else 1


if __name__ == "__main__":
    sys.exit(main())
