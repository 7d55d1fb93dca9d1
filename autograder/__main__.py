"""`python -m autograder [SUBMISSION_DIR] [--json PATH] [--verbose] [--train] [--only NAME]`."""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import signal
import sys
import tempfile
from pathlib import Path

JUDGE_SETTING = "AUTOGRADER_JUDGE"  # set in the judge process that the supervisor starts


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
        "checks before it); exit 0 when all of it passes",
    )
    parser.add_argument(
        "--hidden",
        metavar="DIR",
        help="instructors: a folder of hidden checks (checks.py), graded but never shown",
    )
    return parser.parse_args(argv)


def default_submission() -> Path:
    """exercises/ when run from the repository, or the current folder when run inside it."""
    from autograder.exercises import EXERCISES

    here = Path.cwd()
    if not (here / "exercises").is_dir() and (here / EXERCISES[0].notebook).is_file():
        return here
    return here / "exercises"


def main(argv=None) -> int:
    """Supervise: the judge runs in a child process, so that whatever learner code does to it
    (killing it included) ends in a readable line and leaves no temporary files behind."""
    argv = sys.argv[1:] if argv is None else argv
    missing = missing_packages()
    if missing:
        print(missing_packages_message(missing), flush=True)
        return 2
    from autograder.isolation.modelfile import keras_too_old  # needs NumPy: checked above

    unsafe = keras_too_old()
    if unsafe:
        print(f"ERROR  Cannot grade: {unsafe}", flush=True)
        return 2
    if os.environ.get(JUDGE_SETTING) == "1":
        return judge(argv)
    from autograder.isolation.confinement import remove_tree
    from autograder.isolation.processes import become_subreaper, reap_orphans
    from autograder.isolation.supervisor import Supervised

    results = parse_arguments(argv).json
    become_subreaper()  # what learner code leaves running when the judge dies comes back here
    scratch = tempfile.mkdtemp(prefix="autograder-")
    environment = dict(os.environ, **{JUDGE_SETTING: "1", "TMPDIR": scratch})
    judge_process = Supervised([sys.executable, "-m", "autograder", *argv], env=environment)
    try:
        exit_code = judge_process.wait(None)
    except KeyboardInterrupt:
        return 130
    finally:
        judge_process.end()  # the judge's session: on Ctrl-C, or whatever it left running
        remove_tree(scratch)
    assert exit_code is not None  # waited without a limit
    if exit_code not in (0, 1) and results:
        # The judge did not finish: a results file there now is not its own (learner code can
        # write one, then kill the judge). Nothing of that code is left running to write again.
        reap_orphans()
        Path(results).unlink(missing_ok=True)
    if exit_code < 0:
        print(judge_stopped_message(-exit_code), flush=True)
        return 1
    return exit_code


REQUIRED_PACKAGES = ("keras", "numpy")  # what grading imports, from the course's environment


def missing_packages() -> list[str]:
    """The packages grading needs that this Python cannot import (checked without importing)."""
    return [name for name in REQUIRED_PACKAGES if importlib.util.find_spec(name) is None]


def missing_packages_message(missing: list[str]) -> str:
    return (
        f"ERROR  Cannot grade: this Python ({sys.executable}) has no {' or '.join(missing)}. "
        "Activate the course's environment first, in each new terminal (source .venv/bin/activate; "
        r"on Windows .venv\Scripts\activate), or install the course into this Python: "
        "pip install -r requirements.txt."
    )


def judge_stopped_message(signal_number: int) -> str:
    try:
        name = signal.Signals(signal_number).name
    except ValueError:
        name = f"signal {signal_number}"
    return (
        f"ERROR  The grader was stopped by {name} while your code ran, so nothing was graded. "
        "Does a cell of yours stop or kill processes (os.kill, signal, subprocess)? Remove that, "
        "run the notebooks again from the top, then grade again."
    )


def judge(argv) -> int:
    arguments = parse_arguments(argv)
    submission = Path(arguments.submission) if arguments.submission else default_submission()
    if not submission.is_dir():
        print(f"{submission} is not a folder: pass the folder that holds your exercise notebooks.")
        return 2
    from autograder.grader import GradingDataError, grade, select
    from autograder.isolation.confinement import SandboxUnavailable
    from autograder.isolation.processes import become_subreaper
    from autograder.report import format_report, results_json

    try:
        select(arguments.only)
    except ValueError as error:
        print(f"--only {error}.")
        return 2
    become_subreaper()  # orphans of learner code come back here, to be ended before results
    try:
        report = grade(
            submission, train=arguments.train, only=arguments.only, hidden=arguments.hidden
        )
    except (SandboxUnavailable, GradingDataError, FileNotFoundError) as error:
        print(f"ERROR  Cannot grade: {error}.")
        return 2
    unwritten = None  # results are written before the report, so exit 0 or 1 means written
    if arguments.json:
        try:
            write_results(Path(arguments.json), results_json(report))
        except OSError as error:
            unwritten = f"ERROR  Cannot write the results to {arguments.json}: {error}."
    print(format_report(report, verbose=arguments.verbose), flush=True)
    if unwritten:
        print(unwritten, flush=True)
        return 2
    exit_without_collecting()
    return 0 if report.full_marks else 1


def write_results(path: Path, results: dict) -> None:
    """Write results.json as a new file in place of whatever is at `path`: never through it (a
    link, or a read-only file that learner code left there, would keep its forged content)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(json.dumps(results, indent=2) + "\n")
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def exit_without_collecting() -> None:
    """Let the judge end at once: at exit Python collects every object Keras and TensorFlow
    made, about 1 s of nothing for the learner (benchmarks/RESULTS.md, "Autograder speed").
    Frozen objects are left to the operating system; exit handlers still run."""
    gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
