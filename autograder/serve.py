"""A judge that grades many students in turn, for batch grading (one per batch slot).

    python -m autograder.serve [--hidden DIR] [--private DIR ...] [--empty DIR ...]

It imports Keras and reads the data once, and keeps one forking worker across students: each
notebook still gets a fresh fork, and between two students the fork is ended, everything it
started killed and its folder emptied before the next student's code runs (see
`WorkerSupply.next_student`). Without bubblewrap each student gets a new worker process instead.

Requests come on stdin, one JSON object a line: ``{"submission": DIR, "json": PATH}``. Once
PATH holds Gradescope's results.json, the answer ``{"done": PATH}`` goes to stdout (or
``{"failed": PATH}`` when nothing could be graded, the reason in the log, stderr). Learner code
never runs in this process, as in `python -m autograder`'s judge.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m autograder.serve")
    parser.add_argument("--hidden", type=Path, metavar="DIR", help="a folder of hidden checks")
    parser.add_argument(
        "--private",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a folder learner code must not see (batch: its temporary folder, with every "
        "student's copy)",
    )
    parser.add_argument(
        "--empty",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a folder learner code sees empty, as /tmp (batch: the submissions, the outputs); "
        "the grader's own Python files in it stay readable",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    from autograder.isolation.confinement import remove_tree

    arguments = parse_arguments(argv)
    hidden = arguments.hidden.resolve() if arguments.hidden else None
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # any print goes to the log, never into the answers
    scratch = Path(tempfile.mkdtemp(prefix="autograder-serve-"))
    tempfile.tempdir = str(scratch)  # the judge's folders, removed with it
    try:
        private = [path.resolve() for path in arguments.private]
        emptied = [path.resolve() for path in arguments.empty]
        return serve(sys.stdin, answers, scratch, hidden, private, emptied)
    finally:
        remove_tree(scratch)


def serve(requests, answers, scratch: Path, hidden: Path | None, private=(), emptied=()) -> int:
    from autograder.isolation.confinement import SandboxUnavailable, confinement
    from autograder.isolation.judge_client import ModelReader, WorkerSupply
    from autograder.isolation.processes import become_subreaper, reap_orphans

    become_subreaper()  # orphans of learner code come back here, to be ended
    learner_log_path = scratch / "learner.log"
    learner_log = open(learner_log_path, "a", encoding="utf-8")  # noqa: SIM115 (closed below)
    try:
        private = (*([hidden] if hidden else []), *private)
        how = replace(confinement(), private=private, emptied=tuple(emptied))
    except SandboxUnavailable as error:
        print(f"ERROR  Cannot grade: {error}.", file=sys.stderr, flush=True)
        return 2
    supply = WorkerSupply(learner_log, str(scratch), True, how)  # imports Keras meanwhile
    models = ModelReader(learner_log, str(scratch), how)  # the students' model files
    from autograder.grader import prepare_judge
    from autograder.report import results_json

    prepare_judge()
    try:
        for line in requests:
            request = json.loads(line)
            results = Path(request["json"])
            report = grade_one(Path(request["submission"]), supply, models, hidden)
            supply.next_student()  # every process of this student's code ended, folder emptied
            models.next_student()  # (each model file had a fork of its own already)
            supply.get()  # a replaced worker imports Keras while the results are written
            reap_orphans(keep=supply.pids() | models.pids())
            os.truncate(learner_log_path, 0)  # the output of one student's code only
            if report is not None:
                results.write_text(json.dumps(results_json(report), indent=2) + "\n")
            answer = {"done" if report is not None else "failed": str(results)}
            answers.write(json.dumps(answer) + "\n")
            answers.flush()
    finally:
        supply.close()
        models.close()
        reap_orphans()
        learner_log.close()
    return 0


def grade_one(submission: Path, supply, models, hidden: Path | None):
    """One student's Report, or None (and the reason in the log) when it cannot be graded."""
    from autograder.grader import GradingDataError, grade

    try:
        return grade(submission, train=True, supply=supply, models=models, hidden=hidden)
    except (GradingDataError, FileNotFoundError) as error:
        print(f"ERROR  Cannot grade: {error}.", file=sys.stderr, flush=True)
        return None
    finally:
        gc.collect()


if __name__ == "__main__":
    sys.exit(main())
