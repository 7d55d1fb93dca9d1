"""`python -m autograder [SUBMISSION_DIR] [--json PATH] [--verbose] [--train] [--only NAME]`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Grade the Handwritten Digits exercises and explain what to fix.",
    )
    parser.add_argument(
        "submission",
        nargs="?",
        help="folder of the notebooks (default: exercises/, or this folder if it holds them)",
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
        help="grade one exercise (build_model) or one check (build_model.compile, with the "
        "checks before it); exit 0 when all of it passes (one GitHub Classroom step each)",
    )
    return parser.parse_args(argv)


def default_submission() -> Path:
    """exercises/ when run from the repository, or the current folder when run inside it."""
    from autograder.checks import EXERCISES

    here = Path.cwd()
    if not (here / "exercises").is_dir() and (here / EXERCISES[0].notebook).is_file():
        return here
    return here / "exercises"


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    submission = Path(arguments.submission) if arguments.submission else default_submission()
    if not submission.is_dir():
        print(f"{submission} is not a folder: pass the folder that holds your exercise notebooks.")
        return 2
    from autograder.grader import grade, select
    from autograder.report import format_report, results_json

    try:
        select(arguments.only)
    except ValueError as error:
        print(f"--only {error}.")
        return 2
    report = grade(submission, train=arguments.train, only=arguments.only)
    print(format_report(report, verbose=arguments.verbose))
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(results_json(report), indent=2) + "\n")
    return 0 if report.full_marks else 1


if __name__ == "__main__":
    sys.exit(main())
