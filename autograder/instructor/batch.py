"""Grade a whole class: one folder per student, in parallel, each in its own limited process.

    python -m autograder.instructor.batch SUBMISSIONS_DIR --out grades.csv \
        [--workers N] [--timeout S]

Each student's graded files (notebooks, model files) are copied into a fresh temporary folder and
graded there as ``python -m autograder --train --json`` grades, by a long-lived judge per worker
slot (``autograder.serve``: Keras imported once, one sandboxed worker kept across
students, a fresh fork per notebook), with a wall-time limit per student and, on Linux, a memory
limit. A hanging, crashing or memory-hungry submission is stopped and recorded (its judge killed
and replaced); the others go on. Writes:

- ``grades.csv``: one row per student: ``student, total, max_score, status``, one column per check;
- ``feedback/<student>.md`` beside the CSV: the grader's report for that student;
- ``grades.state.json`` beside the CSV: what was graded, so a re-run skips every submission whose
  graded files are unchanged (``--force`` regrades all; ``--retry-failed`` retries timeouts and
  crashes). The CSV and state are rewritten after each student, so an interrupted run resumes.

Isolation: each grader runs learner code in the bubblewrap sandbox where Linux has it (see
``autograder.isolation``; ``--require-sandbox`` refuses to grade without it), where the
submissions folder and the folders of the outputs look empty (``serve --empty``). Linux also
gets both limits (``RLIMIT_AS``) and a process group killed as a whole. macOS ignores the memory
limit; Windows has neither ``resource`` nor process groups, so only the time limit applies there
(``taskkill /T`` stops the process tree). Without the sandbox, learner code can read and write the
instructor's files: batch then stops as soon as the grader's own files change.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder.hidden import hidden_files
from autograder.instructor.canvas import (
    DEFAULT_ASSIGNMENT,
    DEFAULT_ID_COLUMN,
    ID_CHOICES,
    write_canvas_csv,
)
from autograder.instructor.collect import collect_submission, fingerprint
from autograder.isolation.confinement import (
    SANDBOX_SETTING,
    SandboxUnavailable,
    confinement,
    remove_tree,
)
from autograder.isolation.modelfile import keras_too_old
from autograder.isolation.supervisor import (
    DEFAULT_MEMORY_MB,
    ChannelClosed,
    Supervised,
    limited_command,
)
from autograder.results import shown_name
from digits.quiet import cores, quiet_environment, share_cores, threads_per_process

GRADER = (sys.executable, "-m", "autograder", "--train")
GRADED = "graded"
TIMEOUT = "timeout"
CRASHED = "crashed"
FAILED_STATUSES = (TIMEOUT, CRASHED)
DEFAULT_TIMEOUT_S = 600
LOG_LINES_IN_FEEDBACK = 15
PACKAGES = Path(__file__).resolve().parents[2]
# Instructor tools that do not change a grade: editing them regrades no one.
NOT_GRADING = {"batch", "gradescope", "generate"}


@dataclass
class Grade:
    """One student's result, as kept in the state file and written to the CSV."""

    student: str
    fingerprint: str
    status: str
    score: float = 0.0
    max_score: float = 0.0
    checks: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    mistakes: dict[str, str] = field(default_factory=dict)  # check id -> catalogued mistake id
    # check id -> the first line of its message (what it measured, passed or failed)
    messages: dict[str, str] = field(default_factory=dict)

    @property
    def shown(self) -> str:
        """The student's name as every report can write it (see `shown_name`)."""
        return shown_name(self.student)


@dataclass
class Limits:
    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_mb: int | None = DEFAULT_MEMORY_MB
    threads: int = 1  # TensorFlow threads per child, so workers do not fight over cores


def student_folders(submissions: Path) -> list[Path]:
    """Every non-hidden folder directly inside ``submissions``: one per student."""
    return sorted(
        path for path in submissions.iterdir() if path.is_dir() and not path.name.startswith(".")
    )


def grader_fingerprint(hidden: Path | None = None) -> str:
    """A hash of the grader's code (and hidden checks): a changed grader regrades everyone."""
    digest = hashlib.sha256()
    for package in ("autograder", "digits"):
        for path in sorted((PACKAGES / package).rglob("*.py")):
            if path.stem not in NOT_GRADING:
                digest.update(path.name.encode() + path.read_bytes())
    for name, path in hidden_files(hidden):
        digest.update(name.encode() + path.read_bytes())
    return digest.hexdigest()


class GraderChanged(RuntimeError):
    """The grader's own files changed while a class was graded: no later grade can be trusted."""


def grade_class(
    submissions: Path,
    out: Path,
    workers: int | None = None,
    limits: Limits | None = None,
    force: bool = False,
    retry_failed: bool = False,
    grader: tuple[str, ...] = GRADER,
    log=print,
    hidden: Path | None = None,
    outputs: tuple[Path, ...] = (),
) -> list[Grade]:
    """Grade every student folder not graded yet; write the CSV, feedback and state.
    `hidden`: the instructor's hidden-checks folder, graded with the rest; `outputs`: the other
    files written for the class (--report, --canvas). Learner code sees the submissions folder
    and the folder of each output empty, wherever they are."""
    served = grader == GRADER
    if hidden is not None:
        grader = (*grader, "--hidden", str(Path(hidden).resolve()))
    limits = limits or Limits()
    workers = workers or cores()
    feedback = out.parent / "feedback"
    feedback.mkdir(parents=True, exist_ok=True)
    state_path = out.with_suffix(".state.json")
    grader_before = grader_fingerprint(hidden)
    state = _read_state(state_path, grader_before, force, log)
    students = student_folders(submissions)
    to_grade = []
    for folder in students:
        known = state["grades"].get(folder.name)
        current = fingerprint(folder)
        if known and known.fingerprint == current:
            if not (retry_failed and known.status in FAILED_STATUSES):
                continue
        to_grade.append((folder, current))
    log(
        f"{len(students)} submissions: {len(students) - len(to_grade)} unchanged since last "
        f"graded, {len(to_grade)} to grade with {workers} worker(s)."
    )
    emptied = (submissions, out.parent, *(path.parent for path in outputs))
    # The real grader: long-lived judges, Keras imported once per slot.
    runner = (
        _ServedRunner(hidden, limits, feedback, emptied)
        if served
        else _Runner(grader, limits, feedback)
    )
    start = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(runner.grade, *job) for job in to_grade]
        for done, future in enumerate(as_completed(futures), start=1):
            grade = future.result()
            if grader_fingerprint(hidden) != grader_before:
                raise GraderChanged(
                    f"the grader's files changed while {grade.student} was graded: a submission "
                    "may have rewritten them, or the course package was edited or upgraded "
                    "meanwhile. Grading stopped; if you changed nothing, reinstall the course "
                    "package, and grade untrusted work in a sandbox (--require-sandbox)."
                )
            state["grades"][grade.student] = grade
            _write_state(state_path, state)
            _write_csv(out, _known(state, students))
            log(f"[{done}/{len(to_grade)}] {_summary(grade)}")
    except KeyboardInterrupt:
        runner.stop_all()
        pool.shutdown(cancel_futures=True)
        log("Interrupted: what was graded is saved; run the same command again to resume.")
        raise
    except GraderChanged:
        runner.stop_all()
        pool.shutdown(cancel_futures=True)
        raise
    pool.shutdown()
    runner.stop_all()
    grades = _known(state, students)
    _write_csv(out, grades)
    elapsed = time.monotonic() - start
    if to_grade:
        rate = len(to_grade) / elapsed * 60
        log(f"Graded {len(to_grade)} in {elapsed:.1f} s ({rate:.1f} submissions/minute).")
    log(f"Wrote {out} and {feedback}{os.sep}")
    return grades


def _known(state: dict, students: list[Path]) -> list[Grade]:
    return [state["grades"][folder.name] for folder in students if folder.name in state["grades"]]


class _Stopped(Exception):
    """The run was interrupted: this student's result is not recorded."""


class _Runner:
    """Grades one student at a time per thread; remembers live children to stop them on Ctrl-C."""

    def __init__(self, grader: tuple[str, ...], limits: Limits, feedback: Path):
        self.grader = grader
        self.limits = limits
        self.feedback = feedback
        # Every student's copy, and the judges' own folders, are made here: a folder that the
        # judges hide from learner code (`serve --private`), wherever TMPDIR puts it.
        self.scratch = Path(tempfile.mkdtemp(prefix="autograder-batch-"))
        self.children: set[Supervised] = set()
        self.lock = threading.Lock()
        self.stopping = False

    def grade(self, folder: Path, current_fingerprint: str) -> Grade:
        start = time.monotonic()
        with tempfile.TemporaryDirectory(
            prefix=f"grade-{shown_name(folder.name)}-", dir=self.scratch
        ) as scratch:
            work = Path(scratch) / "submission"
            collect_submission(folder, work)
            results = Path(scratch) / "results.json"
            log_path = Path(scratch) / "grader.log"
            status, exit_code = self._run(work, results, log_path)
            if self.stopping:
                raise _Stopped(folder.name)
            grade = Grade(folder.name, current_fingerprint, status)
            report = _read_results(results) if status == GRADED else None
            if status == GRADED and report is None:
                status = grade.status = CRASHED
            if report is not None:
                grade.score = float(report.get("score", 0))
                grade.max_score = float(report.get("max_score", 0))
                grade.checks = _check_scores(report)
                grade.mistakes, grade.messages = _check_mistakes(report)
                text = _feedback_from_results(grade.shown, report)
            else:
                text = _feedback_for_failure(grade.shown, status, self.limits, log_path, exit_code)
            (self.feedback / f"{folder.name}.md").write_text(text, encoding="utf-8")
        grade.seconds = round(time.monotonic() - start, 1)
        return grade

    def _run(self, work: Path, results: Path, log_path: Path) -> tuple[str, int | None]:
        command = limited_command(
            self.limits.memory_mb, [*self.grader, str(work), "--json", str(results)]
        )
        with open(log_path, "wb") as log_file:
            child = Supervised(
                command,
                cwd=work,
                env=_child_environment(self.limits.threads),
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            with self.lock:
                self.children.add(child)
                if self.stopping:
                    child.end()
            try:
                exit_code = child.wait(self.limits.timeout_s)
                return (TIMEOUT, None) if exit_code is None else (GRADED, exit_code)
            finally:
                child.end()  # also any kernel or worker the grader left behind
                with self.lock:
                    self.children.discard(child)

    def stop_all(self) -> None:
        with self.lock:
            self.stopping = True
            for child in list(self.children):
                child.end()
        remove_tree(self.scratch)


SERVER = (sys.executable, "-m", "autograder.serve")


class _Judge:
    """A long-lived judge (`autograder.serve`) that grades one student at a time."""

    def __init__(self, command: list[str], limits: Limits, log_path: Path, inside: Path):
        self.log_path = log_path
        # Its temporary files (the worker's folder among them) go here, removed once it is
        # stopped: a judge that is killed cannot remove its own.
        self.scratch = Path(tempfile.mkdtemp(prefix="batch-judge-", dir=inside))
        with open(log_path, "ab") as log_file:
            self.process = Supervised(
                command,
                env=dict(_child_environment(limits.threads), TMPDIR=str(self.scratch)),
                stderr=log_file,
                channel=True,  # requests on its stdin, answers on its stdout
            )

    def grade(self, work: Path, results: Path, timeout_s: float) -> tuple[str, int | None]:
        """GRADED (results written, or not when it could not grade), TIMEOUT or CRASHED."""
        try:
            self.process.send({"submission": str(work), "json": str(results)})
            answer = self.process.receive(timeout_s)
        except ChannelClosed:
            return CRASHED, self.process.wait(None)
        if answer is None:
            return TIMEOUT, None
        return GRADED, 0

    def stop(self) -> None:
        self.process.end()
        remove_tree(self.scratch)


class _ServedRunner(_Runner):
    """Grades with long-lived judges, one per slot: Keras is imported once per slot, not once
    per student. A judge that does not answer in time, or dies, is killed and replaced."""

    def __init__(
        self, hidden: Path | None, limits: Limits, feedback: Path, emptied: tuple[Path, ...] = ()
    ):
        command = [*SERVER] + (["--hidden", str(Path(hidden).resolve())] if hidden else [])
        for folder in emptied:  # the class's: every student's files, grades and feedback
            command += ["--empty", str(Path(folder).resolve())]
        command = limited_command(limits.memory_mb, command)
        super().__init__(tuple(command), limits, feedback)
        self.grader = (*self.grader, "--private", str(self.scratch))
        self.idle: list[_Judge] = []
        self.judges: set[_Judge] = set()
        self.logs = self.scratch / "judges"
        self.logs.mkdir()
        self.numbers = itertools.count()

    def _judge(self) -> _Judge:
        with self.lock:
            if self.stopping:
                raise _Stopped()
            if self.idle:
                return self.idle.pop()
            number = next(self.numbers)  # never reused: a replaced judge's log is its own
            log = self.logs / f"{number}.log"
            judge = _Judge(list(self.grader), self.limits, log, self.scratch)
            self.judges.add(judge)
            return judge

    def _run(self, work: Path, results: Path, log_path: Path) -> tuple[str, int | None]:
        judge = self._judge()
        start = judge.log_path.stat().st_size
        status, exit_code = judge.grade(work, results, self.limits.timeout_s)
        with open(judge.log_path, "rb") as log, open(log_path, "wb") as own:
            log.seek(start)
            own.write(log.read())  # what the judge said while grading this student
        with self.lock:
            if status == GRADED and not self.stopping:
                self.idle.append(judge)
                return status, exit_code
            self.judges.discard(judge)
        judge.stop()
        return status, exit_code

    def stop_all(self) -> None:
        with self.lock:
            self.stopping = True
            judges, self.judges, self.idle = list(self.judges), set(), []
        for judge in judges:
            judge.stop()
        super().stop_all()


def _child_environment(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    quiet_environment(env)
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("MALLOC_ARENA_MAX", "2")  # keeps TensorFlow's address space predictable
    share_cores(threads, env)
    return env


def _read_results(path: Path) -> dict | None:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) and "score" in report else None


def _check_scores(report: dict) -> dict[str, float]:
    scores = {}
    for test in report.get("tests", []):
        check_id = test.get("extra_data", {}).get("check_id") or test.get("name", "")
        scores[check_id] = float(test.get("score", 0))
    return scores


def _check_mistakes(report: dict) -> tuple[dict[str, str], dict[str, str]]:
    """The catalogued mistake of each check that failed, and the first line of each check's
    message (the leaderboard reads what a passed check measured)."""
    mistakes, messages = {}, {}
    for test in report.get("tests", []):
        extra = test.get("extra_data", {})
        check_id = extra.get("check_id") or test.get("name", "")
        if extra.get("outcome") not in (None, "passed"):
            mistakes[check_id] = extra.get("mistake") or extra.get("outcome", "")
        messages[check_id] = (test.get("output") or "").strip().split("\n")[0]
    return mistakes, messages


def _feedback_from_results(student: str, report: dict) -> str:
    lines = [
        f"# Feedback for {student}",
        "",
        f"**Score: {_number(report.get('score', 0))} / {_number(report.get('max_score', 0))}**",
        "",
    ]
    if report.get("output"):
        lines += [report["output"].rstrip(), ""]
    for test in report.get("tests", []):
        lines.append(
            f"## {test.get('name', '?')}: {_number(test.get('score', 0))} / "
            f"{_number(test.get('max_score', 0))}"
        )
        if test.get("output"):
            lines += ["", test["output"].rstrip()]
        lines.append("")
    return "\n".join(lines)


MEMORY_SIGNS = ("MemoryError", "bad_alloc", "Cannot allocate memory", "OOM", "out of memory")


def _feedback_for_failure(
    student: str, status: str, limits: Limits, log_path: Path, exit_code: int | None = None
) -> str:
    log_tail = _tail(log_path, LOG_LINES_IN_FEEDBACK)
    if status == TIMEOUT:
        problem = (
            f"Grading was stopped after {_number(limits.timeout_s)} seconds. A loop that never "
            "ends, or training for many more epochs than the exercise asks, can cause this. "
            "Restart the kernel, run all cells, check that each finishes quickly, and submit again."
        )
    else:
        problem = _crash_problem(exit_code, limits, _tail(log_path, 200))
    lines = [f"# Feedback for {student}", "", "**Score: 0 (not graded)**", "", problem, ""]
    if log_tail:
        lines += ["Last lines of the grader's output:", "", "```", log_tail, "```", ""]
    return "\n".join(lines)


def _crash_problem(exit_code: int | None, limits: Limits, log_text: str) -> str:
    """What ended the grader, as far as its exit code and its log say."""
    if limits.memory_mb and any(sign in log_text for sign in MEMORY_SIGNS):
        cause = f"it ran out of memory (memory limit: {limits.memory_mb} MB per submission)"
    elif exit_code is not None and exit_code < 0:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = f"signal {-exit_code}"
        cause = f"it was stopped by {name}"
    else:
        cause = f"it ended with exit code {exit_code} without writing a result"
    return (
        f"The grader stopped before it could finish: {cause}. Code that exits, kills processes "
        "or crashes Python can cause this. Restart the kernel, run all cells, fix any error, and "
        "submit again."
    )


def _tail(path: Path, count: int) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-count:])


def _read_state(path: Path, grader: str, force: bool, log) -> dict:
    empty = {"grader": grader, "grades": {}}
    if force or not path.exists():
        return empty
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        grades = {name: Grade(**grade) for name, grade in saved["grades"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        log(f"{path} is unreadable: grading every submission again.")
        return empty
    if saved.get("grader") != grader:
        log("The grader changed since the last run: grading every submission again.")
        return empty
    return {"grader": grader, "grades": grades}


def _write_state(path: Path, state: dict) -> None:
    grades = {name: asdict(grade) for name, grade in sorted(state["grades"].items())}
    _write_atomically(path, json.dumps({"grader": state["grader"], "grades": grades}, indent=1))


def _write_csv(path: Path, grades: list[Grade]) -> None:
    check_ids = list(dict.fromkeys(check for grade in grades for check in grade.checks))
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "total", "max_score", "status", *check_ids])
        for grade in grades:
            checks = [_number(grade.checks[c]) if c in grade.checks else "" for c in check_ids]
            writer.writerow(
                [grade.shown, _number(grade.score), _number(grade.max_score), grade.status] + checks
            )
    os.replace(temporary, path)


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)  # a crash mid-write never leaves half a file


def _number(value: float) -> str:
    return f"{value:g}"


def _summary(grade: Grade) -> str:
    score = f"{_number(grade.score)}/{_number(grade.max_score)}" if grade.status == GRADED else "-"
    return f"{grade.shown}: {score} ({grade.status}, {grade.seconds:.1f} s)"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="python -m autograder.instructor.batch",
        description="Grade every student folder in SUBMISSIONS_DIR in parallel, with limits.",
    )
    parser.add_argument("submissions", type=Path, metavar="SUBMISSIONS_DIR")
    parser.add_argument("--out", type=Path, required=True, help="the CSV gradebook to write")
    parser.add_argument(
        "--workers", type=int, help="parallel graders (default: the number of CPUs)"
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per submission"
    )
    parser.add_argument(
        "--memory-mb",
        type=int,
        default=DEFAULT_MEMORY_MB,
        help="address-space limit per submission, Linux only (0: none)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="HTML",
        help="also write what the class gets wrong: a self-contained page, and a CSV beside it",
    )
    parser.add_argument(
        "--reference",
        type=Path,
        metavar="DIR",
        help="the reference solution's folder, to flag models copied from it (with --report)",
    )
    parser.add_argument(
        "--hidden", type=Path, metavar="DIR", help="a folder of hidden checks to grade with"
    )
    parser.add_argument("--canvas", type=Path, metavar="CSV", help="also write Canvas' import CSV")
    parser.add_argument(
        "--canvas-id-column",
        default=DEFAULT_ID_COLUMN,
        choices=ID_CHOICES,
        help="the Canvas column that holds the student folder's name",
    )
    parser.add_argument(
        "--canvas-assignment",
        default=DEFAULT_ASSIGNMENT,
        help=f"the assignment's column name in Canvas (default: {DEFAULT_ASSIGNMENT})",
    )
    parser.add_argument(
        "--require-sandbox",
        action="store_true",
        help="refuse to grade unless learner code can run in the bubblewrap sandbox (Linux)",
    )
    parser.add_argument("--force", action="store_true", help="regrade every submission")
    parser.add_argument(
        "--retry-failed", action="store_true", help="regrade submissions that timed out or crashed"
    )
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder; pass the folder of student folders.")
    unsafe = keras_too_old()
    if unsafe:
        parser.exit(2, f"batch: {unsafe}\n")
    if args.require_sandbox:
        os.environ[SANDBOX_SETTING] = "require"  # the graders it starts refuse without one too
    try:
        print(confinement().description.split(";")[0] + ".")
    except SandboxUnavailable as error:
        parser.exit(2, f"batch: {error}. Install bubblewrap (Debian: apt install bubblewrap).\n")
    workers = args.workers or cores()
    threads = threads_per_process(workers)
    limits = Limits(args.timeout, args.memory_mb or None, threads)
    try:
        grades = grade_class(
            args.submissions,
            args.out,
            workers,
            limits,
            args.force,
            args.retry_failed,
            hidden=args.hidden,
            outputs=tuple(path for path in (args.report, args.canvas) if path is not None),
        )
    except GraderChanged as error:
        parser.exit(3, f"batch: {error}\n")
    if args.canvas:
        write_canvas_csv(grades, args.canvas, args.canvas_assignment, args.canvas_id_column)
        print(f"Wrote {args.canvas} (Canvas gradebook import).")
    if args.report:
        write_report(args.submissions, grades, args.report, args.reference, limits.memory_mb)
        print(f"Wrote {args.report} and {args.report.with_suffix('.csv')}.")
    return 0


def write_report(
    submissions: Path,
    grades: list[Grade],
    out: Path,
    reference: Path | None,
    memory_mb: int | None = DEFAULT_MEMORY_MB,
):
    """The class report, with the similarity flags of the graded submissions."""
    from autograder.exercises import EXERCISES
    from autograder.instructor.class_report import class_numbers, write_class_report
    from autograder.instructor.collect import submission_files
    from autograder.instructor.similarity import class_flags

    folders = {grade.student: submissions / grade.student for grade in grades}
    references = submission_files(reference) if reference else {}
    flags = class_flags(folders, EXERCISES, references, memory_mb)
    write_class_report(class_numbers(grades, flags), out)


if __name__ == "__main__":
    sys.exit(main())
