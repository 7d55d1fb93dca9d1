"""Batch grading: every student gets a row and feedback, whatever another submission does.

Most tests use a stand-in grader (a tiny script obeying the grader's command line) so that they
exercise the batch runner's process isolation in seconds; the slow test uses the real grader.
"""

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.instructor import batch
from autograder.instructor.batch import Limits, grade_class
from autograder.instructor.canvas import write_canvas_csv
from autograder.instructor.class_report import class_numbers, write_class_report
from autograder.instructor.collect import collect_submission, fingerprint
from autograder.isolation.confinement import remove_tree

LINUX = sys.platform.startswith("linux")

# Reads what to do from the submission's notebook: "score N", "hang", "crash" or "memory".
FAKE_GRADER = r"""
import json, os, subprocess, sys, time
from pathlib import Path

work, results = Path(sys.argv[1]), Path(sys.argv[3])
action, *values = (work / "01_build_model.ipynb").read_text().split()
if action == "hang":
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    (Path(os.environ["PID_FOLDER"]) / str(sleeper.pid)).touch()
    time.sleep(600)
if action == "crash":
    os.abort()
if action == "memory":
    hog = bytearray(3 * 1024**3)
score = float(values[0]) if values else 0.0
tests = [
    {"name": "build_model() model", "score": min(score, 2), "max_score": 2, "output": "ok",
     "extra_data": {"check_id": "build_model"}},
    {"name": "argmax_accuracy()", "score": max(score - 2, 0), "max_score": 1, "output": "",
     "extra_data": {"check_id": "argmax_accuracy"}},
]
report = {"score": score, "max_score": 3, "output": f"Report for {work}", "tests": tests}
results.write_text(json.dumps(report))
"""


@pytest.fixture
def fake_grader(tmp_path, monkeypatch):
    script = tmp_path / "fake_grader.py"
    script.write_text(FAKE_GRADER)
    pids = tmp_path / "pids"
    pids.mkdir()
    monkeypatch.setenv("PID_FOLDER", str(pids))
    monkeypatch.setattr(batch, "grader_fingerprint", lambda hidden=None: "the fake grader")
    return (sys.executable, str(script))


def make_class(root: Path, behaviours: dict[str, str]) -> Path:
    submissions = root / "submissions"
    for student, behaviour in behaviours.items():
        folder = submissions / student / "exercises"  # as a cloned GitHub Classroom repository
        folder.mkdir(parents=True)
        (folder / "01_build_model.ipynb").write_text(behaviour)
    return submissions


def is_running(pid: int, grace_s: float = 2.0) -> bool:
    """Still running after `grace_s` (a SIGKILL takes a moment to land on a busy machine)."""
    deadline = time.monotonic() + grace_s
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        stat = Path(f"/proc/{pid}/stat")  # a killed orphan may linger as a zombie until reaped
        if stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z":
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.05)


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def run(submissions, out, grader, messages=None, **options):
    options.setdefault("limits", Limits(timeout_s=5, memory_mb=1024))
    log = messages.append if messages is not None else (lambda message: None)
    return grade_class(submissions, out, workers=2, grader=grader, log=log, **options)


def test_hanging_and_crashing_submissions_do_not_stop_the_others(tmp_path, fake_grader):
    behaviours = {"ada": "score 3", "bob": "hang", "cy": "crash", "dee": "score 1"}
    submissions = make_class(tmp_path, behaviours)
    out = tmp_path / "grades" / "grades.csv"
    start = time.monotonic()
    run(submissions, out, fake_grader)
    assert time.monotonic() - start < 30  # the hanging one was stopped at its limit

    rows = read_csv(out)
    assert list(rows) == ["ada", "bob", "cy", "dee"]
    assert (rows["ada"]["total"], rows["ada"]["status"]) == ("3", "graded")
    assert (rows["ada"]["build_model"], rows["ada"]["argmax_accuracy"]) == ("2", "1")
    assert (rows["dee"]["total"], rows["dee"]["build_model"]) == ("1", "1")
    assert rows["bob"]["status"] == "timeout" and rows["bob"]["build_model"] == ""
    assert rows["cy"]["status"] == "crashed" and rows["cy"]["total"] == "0"

    feedback = out.parent / "feedback"
    assert "Score: 3 / 3" in (feedback / "ada.md").read_text()
    assert "stopped after 5 seconds" in (feedback / "bob.md").read_text()
    crashed = (feedback / "cy.md").read_text()
    assert "could finish: it was stopped by SIGABRT" in crashed and "memory" not in crashed
    assert not (submissions / "ada" / "exercises" / "results.json").exists()


# A stand-in for `python -m autograder.serve`, obeying its protocol: one request a line on stdin,
# the results written, then {"done": PATH} on stdout. Each request's judge pid is recorded.
FAKE_SERVE = r"""
import json, os, sys, time
from pathlib import Path

for line in sys.stdin:
    request = json.loads(line)
    work, results = Path(request["submission"]), Path(request["json"])
    (Path(os.environ["PID_FOLDER"]) / f"{work.parent.name.split('-')[1]}.{os.getpid()}").touch()
    action, *values = (work / "01_build_model.ipynb").read_text().split()
    if action == "hang":
        time.sleep(600)
    if action == "crash":
        os.abort()
    score = float(values[0])
    tests = [{"name": "build_model()", "score": score, "max_score": 3, "output": "ok",
              "extra_data": {"check_id": "build_model"}}]
    results.write_text(json.dumps({"score": score, "max_score": 3, "output": "", "tests": tests}))
    print(json.dumps({"done": str(results)}), flush=True)
"""


def test_the_served_runner_replaces_a_judge_that_hangs_or_dies_and_keeps_one_that_answers(
    tmp_path, monkeypatch
):
    """batch's production path (long-lived judges over a pipe, `_ServedRunner`), with a judge
    that obeys serve's protocol without importing Keras."""
    script = tmp_path / "fake_serve.py"
    script.write_text(FAKE_SERVE)
    pids = tmp_path / "pids"
    pids.mkdir()
    monkeypatch.setenv("PID_FOLDER", str(pids))
    monkeypatch.setattr(batch, "SERVER", (sys.executable, str(script)))
    monkeypatch.setattr(batch, "grader_fingerprint", lambda hidden=None: "the fake judge")
    behaviours = {"ada": "score 3", "bob": "score 2", "cy": "hang", "dee": "crash"}
    behaviours["eve"] = "score 1"
    submissions = make_class(tmp_path, behaviours)
    out = tmp_path / "grades" / "grades.csv"
    grade_class(submissions, out, workers=1, limits=Limits(timeout_s=2, memory_mb=1024))
    rows = read_csv(out)
    assert [rows[name]["status"] for name in behaviours] == [
        "graded", "graded", "timeout", "crashed", "graded"
    ]  # fmt: skip
    assert [rows[name]["total"] for name in ("ada", "bob", "eve")] == ["3", "2", "1"]
    judge = {path.name.split(".")[0]: int(path.name.split(".")[1]) for path in pids.iterdir()}
    assert judge["ada"] == judge["bob"] == judge["cy"]  # kept while it answered
    assert len({judge["cy"], judge["dee"], judge["eve"]}) == 3  # replaced after each failure
    assert not is_running(judge["cy"]) and not is_running(judge["eve"])  # all ended at the end


@pytest.mark.skipif(os.name != "posix", reason="process groups are POSIX")
def test_a_timeout_also_kills_what_the_submission_started(tmp_path, fake_grader):
    submissions = make_class(tmp_path, {"bob": "hang"})
    run(submissions, tmp_path / "grades.csv", fake_grader, limits=Limits(timeout_s=3))
    [sleeper] = [int(path.name) for path in Path(os.environ["PID_FOLDER"]).iterdir()]
    assert not is_running(sleeper)


@pytest.mark.skipif(not LINUX, reason="RLIMIT_AS is enforced on Linux only")
def test_memory_limit_stops_a_memory_hog(tmp_path, fake_grader):
    submissions = make_class(tmp_path, {"hog": "memory", "ok": "score 2"})
    out = tmp_path / "grades.csv"
    run(submissions, out, fake_grader, limits=Limits(timeout_s=20, memory_mb=1024))
    rows = read_csv(out)
    assert rows["hog"]["status"] == "crashed" and rows["ok"]["total"] == "2"
    feedback = (tmp_path / "feedback" / "hog.md").read_text()
    assert "memory limit: 1024 MB" in feedback and "MemoryError" in feedback


def test_rerun_grades_only_changed_submissions(tmp_path, fake_grader):
    submissions = make_class(tmp_path, {"ada": "score 3", "bob": "score 1", "cy": "score 0"})
    out = tmp_path / "grades.csv"
    run(submissions, out, fake_grader)
    (submissions / "bob" / "exercises" / "01_build_model.ipynb").write_text("score 2")
    (submissions / "cy" / "notes.txt").write_text("not a graded file")

    messages = []
    run(submissions, out, fake_grader, messages)
    assert "2 unchanged since last graded, 1 to grade" in messages[0]
    assert any(message.startswith("[1/1] bob: 2/3") for message in messages)
    rows = read_csv(out)
    assert [rows[name]["total"] for name in ("ada", "bob", "cy")] == ["3", "2", "0"]

    messages = []
    run(submissions, out, fake_grader, messages, force=True)
    assert "0 unchanged since last graded, 3 to grade" in messages[0]


def test_retry_failed_regrades_timeouts_only_when_asked(tmp_path, fake_grader):
    submissions = make_class(tmp_path, {"ada": "score 3", "bob": "hang"})
    out = tmp_path / "grades.csv"
    run(submissions, out, fake_grader, limits=Limits(timeout_s=2))
    messages = []
    run(submissions, out, fake_grader, messages, limits=Limits(timeout_s=2))
    assert "0 to grade" in messages[0]
    messages = []
    run(submissions, out, fake_grader, messages, limits=Limits(timeout_s=2), retry_failed=True)
    assert "1 to grade" in messages[0] and "bob" in messages[1]


def test_a_changed_grader_regrades_everyone(tmp_path, fake_grader, monkeypatch):
    submissions = make_class(tmp_path, {"ada": "score 3"})
    out = tmp_path / "grades.csv"
    run(submissions, out, fake_grader)
    monkeypatch.setattr(batch, "grader_fingerprint", lambda hidden=None: "a new grader")
    messages = []
    run(submissions, out, fake_grader, messages)
    assert "The grader changed" in messages[0] and "1 to grade" in messages[1]


def test_a_grader_rewritten_during_the_run_stops_the_batch(tmp_path, fake_grader, monkeypatch):
    submissions = make_class(tmp_path, {"ada": "score 3", "bob": "score 1"})
    fingerprints = iter(["before", "before", "rewritten by ada", "rewritten by ada"])
    monkeypatch.setattr(batch, "grader_fingerprint", lambda hidden=None: next(fingerprints))
    with pytest.raises(batch.GraderChanged, match="changed while (ada|bob) was graded"):
        run(submissions, tmp_path / "grades.csv", fake_grader)


def test_require_sandbox_refuses_to_grade_without_one(tmp_path):
    (tmp_path / "class" / "ada").mkdir(parents=True)
    env = dict(os.environ, PATH="/nonexistent")  # no bwrap on the PATH
    result = subprocess.run(
        [sys.executable, "-m", "autograder.instructor.batch", str(tmp_path / "class"),
         "--out", str(tmp_path / "g.csv"), "--require-sandbox"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert result.returncode == 2
    assert "no sandbox: " in result.stderr and "apt install bubblewrap" in result.stderr
    assert not (tmp_path / "g.csv").exists()


def test_collect_finds_notebooks_at_any_depth_and_ignores_checkpoints(tmp_path):
    submission = tmp_path / "student"
    (submission / "exercises" / ".ipynb_checkpoints").mkdir(parents=True)
    (submission / "exercises" / "01_build_model.ipynb").write_text("mine")
    (submission / "exercises" / ".ipynb_checkpoints" / "02_argmax_accuracy.ipynb").write_text("x")
    (submission / "exercises" / "handwritten.keras").write_bytes(b"model")
    (submission / "exercises" / "handwritten.h5").write_bytes(b"legacy model")
    (submission / "old" / "deeper").mkdir(parents=True)
    (submission / "old" / "deeper" / "01_build_model.ipynb").write_text("an old copy")

    names = collect_submission(submission, tmp_path / "work")
    assert names == ["01_build_model.ipynb", "handwritten.h5", "handwritten.keras"]
    assert (tmp_path / "work" / "01_build_model.ipynb").read_text() == "mine"


@pytest.mark.skipif(not LINUX, reason="Linux file names may hold any bytes")
def test_a_file_name_that_is_not_text_or_a_folder_nested_deep_does_not_stop_the_class(
    tmp_path, fake_grader
):
    """Git keeps any bytes in a name and trees 4,096 deep: a student controls both."""
    submissions = make_class(tmp_path, {"ada": "score 3", "bob": "score 2"})
    bob = submissions / "bob" / "exercises"
    with open(os.fsencode(bob) + b"/\xff.ipynb", "wb") as not_text:
        not_text.write(b"{}")
    (bob / "line\nbreak.ipynb").write_text("{}")
    deep = os.fsencode(bob)
    for _ in range(1100):  # deeper than Python's recursion limit
        deep += b"/d"
        os.mkdir(deep)
    with open(deep + b"/02_argmax_accuracy.ipynb", "wb") as deepest:
        deepest.write(b"{}")

    try:
        out = tmp_path / "grades.csv"
        run(submissions, out, fake_grader)
        rows = read_csv(out)
        assert (rows["ada"]["total"], rows["bob"]["total"]) == ("3", "2")
        names = collect_submission(submissions / "bob", tmp_path / "work")
        assert names == ["01_build_model.ipynb", "02_argmax_accuracy.ipynb"]
    finally:  # without recursion: pytest's own clean-up of old tmp_path folders recurses
        remove_tree(submissions)


def test_fingerprint_changes_with_graded_files_only(tmp_path):
    submission = tmp_path / "student"
    submission.mkdir()
    notebook = submission / "01_build_model.ipynb"
    notebook.write_text("first")
    before = fingerprint(submission)
    (submission / "README.md").write_text("unrelated")
    assert fingerprint(submission) == before
    notebook.write_text("second")
    assert fingerprint(submission) != before


def test_command_line_rejects_a_missing_folder(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder.instructor.batch",
            str(tmp_path / "nope"),
            "--out",
            "g.csv",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "is not a folder" in result.stderr


@pytest.mark.slow
def test_real_grader_grades_a_generated_class(repo, tmp_path, executed_solutions):
    from autograder.exercises import EXERCISES

    points = {e.function: sum(check.points for check in e.checks) for e in EXERCISES}
    submissions = tmp_path / "class"
    make = [sys.executable, str(repo / "benchmarks" / "make_class.py"), str(submissions)]
    subprocess.run([*make, "--size", "4", "--executed", str(executed_solutions)], check=True)
    out = tmp_path / "grades.csv"
    command = [
        sys.executable,
        "-m",
        "autograder.instructor.batch",
        str(submissions),
        "--out",
        str(out),
    ]
    report, canvas = tmp_path / "class.html", tmp_path / "canvas.csv"
    extras = ["--report", str(report), "--canvas", str(canvas)]
    extras += ["--reference", str(executed_solutions)]
    temporary = tmp_path / "tmp"  # the instructor's temporary folder
    temporary.mkdir()
    environment = dict(os.environ, TMPDIR=str(temporary))
    subprocess.run([*command, "--workers", "2", *extras], check=True, env=environment)
    assert list(temporary.iterdir()) == []  # the judges' folders are gone with them

    rows = {name.split("_", 1)[1]: row for name, row in read_csv(out).items()}
    required = points["build_model"] + points["argmax_accuracy"]
    bonus = sum(points[exercise.function] for exercise in EXERCISES if exercise.bonus)
    assert float(rows["complete"]["total"]) == required + bonus
    assert float(rows["complete_no_bonus"]["total"]) == float(rows["complete"]["max_score"])
    assert float(rows["partial"]["total"]) == points["build_model"]
    assert float(rows["not_started"]["total"]) == 0
    assert "Class report" in report.read_text() and "not_attempted" in report.read_text()
    assert "reference solution" in report.read_text()  # the complete ones hand in its models
    assert canvas.read_text().splitlines()[1] == f"Points Possible,,,,,{required:g}"
    feedback = (tmp_path / "feedback" / "student04_not_started.md").read_text()
    assert "NotImplementedError" in feedback or "not written yet" in feedback

    again = subprocess.run(command, check=True, capture_output=True, text=True)
    assert "4 unchanged since last graded, 0 to grade" in again.stdout


def test_collect_never_follows_a_symbolic_link(tmp_path):
    secret = tmp_path / "grader-only" / "checks.py"
    secret.parent.mkdir()
    secret.write_text("the instructor's hidden checks")
    submission = tmp_path / "student"
    (submission / "exercises").mkdir(parents=True)
    (submission / "exercises" / "01_build_model.ipynb").write_text("mine")
    (submission / "exercises" / "handwritten.h5").symlink_to(secret)
    (submission / "linked").symlink_to(secret.parent, target_is_directory=True)
    (secret.parent / "03_cnn.ipynb").write_text("not the learner's")

    names = collect_submission(submission, tmp_path / "work")
    assert names == ["01_build_model.ipynb"]
    assert "instructor" not in " ".join(p.read_text() for p in (tmp_path / "work").iterdir())


def test_a_judge_replaced_while_another_grades_gets_a_log_and_folder_of_its_own(
    tmp_path, monkeypatch
):
    """After a timeout or a crash, a slot's judge is replaced while the other slot's still
    grades: the new one once took the busy one's number, mixing their logs (and then failed
    to make its folder, which stopped the batch)."""
    monkeypatch.setattr(batch, "SERVER", (sys.executable, "-c", "import sys; sys.stdin.read()"))
    runner = batch._ServedRunner(None, Limits(memory_mb=None), tmp_path)
    try:
        first, busy = runner._judge(), runner._judge()
        runner.judges.discard(first)  # what _run() does with a judge that timed out
        first.stop()
        replacement = runner._judge()
        assert replacement.log_path != busy.log_path and replacement.scratch != busy.scratch
        assert not first.scratch.exists()
    finally:
        runner.stop_all()
    assert not busy.scratch.exists() and not replacement.scratch.exists()
    assert not runner.scratch.exists()  # every student's copy was made there


@pytest.mark.skipif(not LINUX, reason="folder names of any bytes: Linux")
def test_a_folder_name_that_is_not_utf8_is_shown_escaped_and_stops_no_ones_grade(
    tmp_path, fake_grader
):
    """A submission folder named in Latin-1 (b"caf\\xe9") stopped batch's grades.csv for the
    whole class with a UnicodeEncodeError, on every re-run."""
    submissions = make_class(tmp_path, {"ada": "score 3", "dee": "score 1"})
    odd = submissions / os.fsdecode(b"caf\xe9") / "exercises"
    odd.mkdir(parents=True)
    (odd / "01_build_model.ipynb").write_text("score 2")
    out = tmp_path / "grades" / "grades.csv"
    grades = run(submissions, out, fake_grader)

    rows = read_csv(out)
    assert sorted(rows) == ["ada", "caf\\xe9", "dee"]
    assert [rows[name]["total"] for name in ("ada", "caf\\xe9", "dee")] == ["3", "2", "1"]
    assert (
        "# Feedback for caf\\xe9" in (out.parent / "feedback" / f"{odd.parent.name}.md").read_text()
    )
    write_class_report(class_numbers(grades), tmp_path / "class.html")  # --report
    write_canvas_csv(grades, tmp_path / "canvas.csv")  # --canvas
    assert "caf\\xe9" in (tmp_path / "class.csv").read_text()
    assert "caf\\xe9" in (tmp_path / "canvas.csv").read_text()
