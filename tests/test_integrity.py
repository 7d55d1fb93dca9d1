"""Integrity of the grade: attacks from inside a graded cell, in every mode where a grade counts.

Each attack runs in a disposable copy of the grader and its data (on PYTHONPATH), from a graded
cell of a submission whose honest grade is known: argmax_accuracy() is right (5 points), the
other exercises are unfinished (0). The cell tries to rewrite the grader, poison the offline
sample, forge the result file after the grader ends, read a secret in the instructor's home, write
outside its folder, reach a server on the host's loopback and kill its parent.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from conftest import set_graded_cell

from autograder.instructor.gradescope import build_zip
from autograder.isolation.confinement import (
    KEYRING_CALLS,
    as_user,
    bubblewrap_problem,
    remove_tree,
)
from autograder.submission import graded_cell
from digits.quiet import QUIET_TENSORFLOW

PACKAGES = ("autograder", "digits")
HONEST_SCORE = 5.0  # argmax_accuracy right, the rest not attempted
SECRET = "instructor-secret-4f1c"
MARKER = "integrity-attack-marker"
# One parallel test process runs them all: a test ends every process of MARKER, and of the
# user nobody, on the machine (see SHARED_FIXTURE_GROUPS in conftest.py).
pytestmark = pytest.mark.xdist_group("integrity")
FORGED = '{"score": 999, "max_score": 13, "tests": []}'

ARGMAX_ANSWER = """
def argmax_accuracy(y_true, y_prob):
    predicted = np.argmax(np.asarray(y_prob), axis=1)
    return float(np.mean(predicted == np.asarray(y_true)))
"""

ATTACK = (
    """
import os, signal, socket, subprocess, sys
from pathlib import Path

import numpy as np

TARGETS = {targets!r}


def attempt(action):
    try:
        action()
    except BaseException:
        pass


def rewrite_grader():
    import autograder.exercises.models, autograder.thresholds, digits.data
    for module in (autograder.exercises.models, autograder.thresholds, digits.data):
        with open(module.__file__, "a") as handle:
            handle.write("\\nPWNED = True\\n")


def poison_sample():
    import digits.data
    Path(str(digits.data.SAMPLE_RESOURCE)).write_bytes(b"poisoned")


def forge_results_later():
    code = (
        "import sys, time, pathlib; time.sleep(3)\\n"
        "for p in sys.argv[2:]: pathlib.Path(p).write_text(sys.argv[1])"
    )
    subprocess.Popen(
        [sys.executable, "-c", code, {forged!r}, "{marker}", *TARGETS["results"]],
        start_new_session=True, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def write_outside():
    Path(TARGETS["outside"]).write_text("pwned")


def phone_home():
    with socket.create_connection(("127.0.0.1", TARGETS["port"]), timeout=2) as connection:
        connection.sendall(b"pwned")


def kill_parent():
    os.kill(os.getppid(), signal.SIGKILL)


for action in (rewrite_grader, poison_sample, forge_results_later, write_outside, phone_home,
               kill_parent):
    attempt(action)
"""
    + ARGMAX_ANSWER
)

READ_SECRETS = """
from pathlib import Path


def build_cnn():
    read = []
    for path in map(Path, {secrets!r}):
        if path.is_dir():  # the notebooks found there, at any depth
            read.append(f"{{len(list(path.rglob('*.ipynb')))}} notebooks")
            continue
        try:
            read.append(path.read_text())
        except OSError as error:
            read.append(type(error).__name__)
    raise RuntimeError("read: " + ", ".join(read))
"""

needs_bubblewrap = pytest.mark.skipif(
    bubblewrap_problem() is not None, reason=f"no sandbox here: {bubblewrap_problem()}"
)


def tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


class Listener:
    """A TCP server on the host's loopback that records whatever reaches it."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.received: list[bytes] = []
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            with connection:
                self.received.append(connection.recv(100))

    def close(self):
        self.running = False
        self.thread.join()
        self.server.close()


class Scene:
    """The attacker's world: a disposable grader install, an instructor's home with a secret,
    a folder outside the submission, a listening server, and the result files to forge."""

    def __init__(self, root: Path, repo: Path):
        self.root = root
        self.install = root / "install"
        for package in PACKAGES:  # with their data: the offline sample is in digits/resources
            shutil.copytree(repo / package, self.install / package, ignore=_no_caches)
        self.home = root / "home"
        self.home.mkdir()
        (self.home / "secret.txt").write_text(SECRET)
        self.outside = root / "outside.txt"
        self.listener = Listener()
        self.results: list[Path] = []

    def submission(self, folder: Path, repo: Path, secrets: tuple[Path, ...] = ()) -> Path:
        folder.mkdir(parents=True)
        for notebook in sorted((repo / "exercises").glob("*.ipynb")):
            shutil.copy(notebook, folder / notebook.name)
        targets = {
            "results": [str(path) for path in self.results],
            "outside": str(self.outside),
            "port": self.listener.port,
        }
        set_graded_cell(
            folder,
            "02_argmax_accuracy.ipynb",
            ATTACK.format(targets=targets, forged=FORGED, marker=MARKER),
        )
        secrets = [str(path) for path in (self.home / "secret.txt", *secrets)]
        set_graded_cell(folder, "03_cnn.ipynb", READ_SECRETS.format(secrets=secrets))
        return folder

    def environment(self, **extra) -> dict:
        env = dict(os.environ, PYTHONPATH=str(self.install), HOME=str(self.home))
        env.update(MNIST_OFFLINE="1", **QUIET_TENSORFLOW, **extra)
        env.pop("MNIST_PATH", None)
        return env

    def assert_nothing_got_through(
        self, install_hash: str, *reports: str, network_blocked: bool = True
    ) -> None:
        time.sleep(4)  # the forger sleeps 3 s before writing, if it survived
        self.listener.close()
        assert tree_hash(self.install) == install_hash, "the grader or its data was rewritten"
        assert not self.outside.exists(), "learner code wrote outside its folder"
        if network_blocked:
            assert self.listener.received == [], "learner code reached a server on the host"
        for report in reports:
            assert SECRET not in report, "learner code read the instructor's home"
        assert not leftover_processes(), "a process started by learner code outlived grading"


def _no_caches(folder, names):
    return [name for name in names if name == "__pycache__"]


def leftover_processes() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if MARKER.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.fixture
def scene(tmp_path, repo):
    scene = Scene(tmp_path, repo)
    yield scene
    scene.listener.running = False
    for pid in leftover_processes():
        os.kill(pid, 9)


@pytest.fixture
def instructor_tmpdir():
    """A temporary folder outside the ones the sandbox hides whatever they hold (/tmp, /var/tmp,
    homes), as an instructor's TMPDIR may be; None where none is writable (CI runs as root)."""
    for place in (Path("/srv"), Path("/opt"), Path("/mnt")):
        if os.access(place, os.W_OK):
            folder = Path(tempfile.mkdtemp(prefix="autograder-test-", dir=place))
            yield folder
            shutil.rmtree(folder, ignore_errors=True)
            return
    yield None


@pytest.mark.slow
@needs_bubblewrap
def test_attacks_fail_in_local_mode(scene, repo, tmp_path):
    results = tmp_path / "results.json"
    scene.results.append(results)
    submission = scene.submission(tmp_path / "submission", repo)
    before = tree_hash(scene.install)
    completed = subprocess.run(
        [sys.executable, "-m", "autograder", str(submission), "--json", str(results)],
        capture_output=True, text=True, cwd=tmp_path, env=scene.environment(), timeout=600,
    )  # fmt: skip
    report = completed.stdout + completed.stderr
    scene.assert_nothing_got_through(before, report, results.read_text())
    assert json.loads(results.read_text())["score"] == HONEST_SCORE, report
    assert "read: FileNotFoundError" in report  # the secret was not there


@pytest.mark.slow
@needs_bubblewrap
def test_attacks_fail_in_batch_mode_and_spare_the_next_student(
    scene, repo, tmp_path, submission_with, instructor_tmpdir
):
    """Batch copies every student into its temporary folder: here, where possible, under an
    instructor's TMPDIR outside /tmp (where the sandbox shows nothing anyway)."""
    grades = tmp_path / "out" / "grades.csv"
    scene.results.append(grades)
    tmpdir = instructor_tmpdir or Path(tempfile.gettempdir())
    scene.submission(tmp_path / "class" / "a_attacker", repo, (tmpdir,))
    answer = {"02_argmax_accuracy.ipynb": "import numpy as np\n" + ARGMAX_ANSWER}
    submission_with(answer, tmp_path / "class" / "b_honest")
    before = tree_hash(scene.install)
    command = [sys.executable, "-m", "autograder.instructor.batch", str(tmp_path / "class"),
               "--out", str(grades), "--workers", "1", "--require-sandbox"]  # fmt: skip
    env = scene.environment(TMPDIR=str(tmpdir))
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    feedback = (grades.parent / "feedback" / "a_attacker.md").read_text()
    assert "read: FileNotFoundError, 0 notebooks" in feedback  # not even its own copy
    scene.assert_nothing_got_through(before, feedback)
    rows = {row["student"]: row for row in csv.DictReader(grades.open())}
    assert float(rows["a_attacker"]["total"]) == HONEST_SCORE
    assert float(rows["b_honest"]["total"]) == HONEST_SCORE


def gradescope_layout(root: Path, submission_source: Path) -> Path:
    build_zip(root / "autograder.zip")
    import zipfile

    with zipfile.ZipFile(root / "autograder.zip") as archive:
        archive.extractall(root / "source")
    shutil.copytree(submission_source, root / "submission")
    script = root / "source" / "run_autograder"
    script.chmod(0o755)
    return script


def run_gradescope(scene: Scene, root: Path, **settings) -> subprocess.CompletedProcess:
    env = scene.environment(AUTOGRADER_ROOT=str(root), **settings)
    env["PYTHONPATH"] = ""  # run_autograder puts the zip's source first, as on Gradescope
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    return subprocess.run(
        [str(root / "source" / "run_autograder")],
        capture_output=True, text=True, cwd=root, env=env, timeout=600,
    )  # fmt: skip


@pytest.mark.slow
@needs_bubblewrap
def test_attacks_fail_in_gradescope_mode(scene, repo, tmp_path):
    root = tmp_path / "autograder"
    results = root / "results" / "results.json"
    scene.results.append(results)
    submission = scene.submission(tmp_path / "upload", repo)
    gradescope_layout(root, submission)
    scene.install = root / "source"  # the grader Gradescope runs is the zip's copy
    before = tree_hash(scene.install)
    completed = run_gradescope(scene, root)
    scene.assert_nothing_got_through(before, results.read_text())
    assert json.loads(results.read_text())["score"] == HONEST_SCORE, completed.stdout


def user_can_run_python(user: str) -> bool:
    if os.geteuid() != 0:
        return False
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "import numpy"], capture_output=True, timeout=60, **as_user(user)
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(
    not user_can_run_python("nobody"),
    reason="needs root and a Python that the user nobody can run (as setup.sh makes on Gradescope)",
)
def test_gradescope_without_bubblewrap_runs_learner_code_as_an_unprivileged_user(
    scene, repo, tmp_path
):
    root = tmp_path / "autograder"
    results = root / "results" / "results.json"
    scene.results.append(results)
    submission = scene.submission(tmp_path / "upload", repo)
    gradescope_layout(root, submission)
    scene.install = root / "source"
    tmp_path.chmod(0o755)  # as Gradescope's /autograder: readable, not writable, by others
    scene.home.chmod(0o700)  # as root's home
    before = tree_hash(scene.install)
    completed = run_gradescope(
        scene, root, AUTOGRADER_SANDBOX="off", AUTOGRADER_WORKER_USER="nobody"
    )
    # Another user alone does not cut the network: only bubblewrap does (see the README).
    scene.assert_nothing_got_through(before, results.read_text(), network_blocked=False)
    assert json.loads(results.read_text())["score"] == HONEST_SCORE, completed.stdout


# ---------------------------------------------------------------- without a sandbox


KILL_THE_GRADER = """
import os, signal
from pathlib import Path

grader = os.getppid()
if b"autograder.isolation.worker" in Path(f"/proc/{grader}/cmdline").read_bytes():  # forking worker
    grader = int(Path(f"/proc/{grader}/stat").read_text().rsplit(")", 1)[1].split()[1])
os.kill(grader, signal.SIGKILL)
"""


@pytest.mark.slow
def test_a_cell_that_kills_the_grader_leaves_a_readable_line_and_no_files(
    submission_with, tmp_path
):
    submission = submission_with({"02_argmax_accuracy.ipynb": KILL_THE_GRADER + ARGMAX_ANSWER})
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = dict(os.environ, AUTOGRADER_SANDBOX="off", TMPDIR=str(scratch), MNIST_OFFLINE="1")
    completed = subprocess.run(
        [sys.executable, "-m", "autograder", str(submission), "--only", "argmax_accuracy"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert completed.returncode == 1
    assert "The grader was stopped by SIGKILL while your code ran" in completed.stdout
    assert "Traceback" not in completed.stdout + completed.stderr
    assert list(scratch.iterdir()) == []


NEST_FOLDERS = """
import os

path = "d"
for _ in range(1100):  # deeper than Python's recursion limit
    os.mkdir(path)
    path += "/d"
"""


@pytest.mark.parametrize("sandbox", ["require", "off"])
def test_folders_nested_deeper_than_pythons_limit_neither_stop_the_grader_nor_stay(
    submission_with, tmp_path, sandbox
):
    """Red team: the judge removed the worker's folder with shutil.rmtree, which recurses, and
    stopped with a RecursionError traceback; batch removes its folders the same way."""
    if sandbox == "require" and bubblewrap_problem() is not None:
        pytest.skip(f"no sandbox here: {bubblewrap_problem()}")
    cell = "import numpy as np\n" + NEST_FOLDERS + ARGMAX_ANSWER
    submission = submission_with({"02_argmax_accuracy.ipynb": cell})
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = dict(os.environ, AUTOGRADER_SANDBOX=sandbox, TMPDIR=str(scratch), MNIST_OFFLINE="1")
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "autograder", str(submission), "--only", "argmax_accuracy"],
            capture_output=True, text=True, env=env, timeout=600,
        )  # fmt: skip
        assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
        assert "PASS argmax_accuracy.values" in completed.stdout
        assert list(scratch.iterdir()) == []
    finally:  # whatever was left: pytest's own clean-up of old tmp_path folders would recurse
        remove_tree(scratch)


DAEMON = f"""
import subprocess, sys
import numpy as np
daemon = ("import subprocess, sys; subprocess.Popen([sys.executable, '-c', "
          "'import time; time.sleep(60)', '{MARKER}'], start_new_session=True)")
subprocess.run([sys.executable, "-c", daemon])  # its child escapes into a session of its own
"""


@pytest.mark.slow
def test_without_a_sandbox_no_process_of_learner_code_outlives_the_grader(submission_with):
    submission = submission_with({"02_argmax_accuracy.ipynb": DAEMON + ARGMAX_ANSWER})
    env = dict(os.environ, AUTOGRADER_SANDBOX="off", MNIST_OFFLINE="1")
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "autograder", str(submission), "--only", "argmax_accuracy"],
            capture_output=True, text=True, env=env, timeout=600,
        )  # fmt: skip
        assert "No sandbox: AUTOGRADER_SANDBOX=off" in completed.stdout
        assert "Score: 5/5" in completed.stdout, completed.stdout
        assert leftover_processes() == []
    finally:
        for pid in leftover_processes():
            os.kill(pid, 9)


# ---------------------------------------------------------------- broken notebooks


BROKEN_NOTEBOOKS = {
    "cells is null": {"cells": None, "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
    "a source that is a number": {
        "cells": [{"cell_type": "code", "metadata": {}, "source": 5, "outputs": []}],
        "nbformat": 4,
    },
    "a cell that is a string": {"cells": ["def build_model():"], "nbformat": 4},
    "a list, not a notebook": [1, 2, 3],
}


def json_refuses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


# Red team: valid JSON, but Python's json refuses an integer of more than 4,300 digits with a
# ValueError that is not a JSONDecodeError: a raw traceback, and no class report in batch.
LONG_NUMBER = "9" * 5001
# Python 3.10.7 and later refuse it (unless PYTHONINTMAXSTRDIGITS=0 lifts the limit).
LONG_NUMBERS_REFUSED = json_refuses(LONG_NUMBER)
needs_refused_long_numbers = pytest.mark.skipif(
    not LONG_NUMBERS_REFUSED, reason="this Python reads integers of any length"
)
# Files that no notebook reader of the grader's can take, valid JSON or not.
UNREADABLE_NOTEBOOKS = {
    "a number of 5,001 digits": b'{"cells": [], "metadata": {"n": ' + LONG_NUMBER.encode() + b"}}",
    "JSON nested deeper than Python's limit": b"[" * 100_000 + b"]" * 100_000,
    "bytes that are not UTF-8": b'{"cells": [], "metadata": {"n": "\xff"}}',
}


@pytest.mark.parametrize("broken", [*BROKEN_NOTEBOOKS, *UNREADABLE_NOTEBOOKS])
def test_a_broken_notebook_gets_a_readable_verdict(broken, tmp_path):
    notebook = tmp_path / "01_build_model.ipynb"
    if broken == "a number of 5,001 digits" and not LONG_NUMBERS_REFUSED:
        pytest.skip("this Python reads integers of any length")
    if broken in UNREADABLE_NOTEBOOKS:
        notebook.write_bytes(UNREADABLE_NOTEBOOKS[broken])
    else:
        notebook.write_text(json.dumps(BROKEN_NOTEBOOKS[broken]))
    verdict = graded_cell(notebook, "build_model")
    assert isinstance(verdict, str)
    assert verdict.startswith("01_build_model.ipynb is not a valid notebook: ")


@pytest.mark.slow
def test_a_broken_notebook_fails_its_exercise_only_and_leaves_nothing_behind(
    submission_with, tmp_path
):
    submission = submission_with(
        {"02_argmax_accuracy.ipynb": "import numpy as np\n" + ARGMAX_ANSWER}
    )
    (submission / "01_build_model.ipynb").write_text(json.dumps({"cells": None}))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch), MNIST_OFFLINE="1")
    completed = subprocess.run(
        [sys.executable, "-m", "autograder", str(submission)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    output = completed.stdout + completed.stderr
    assert "Traceback" not in output
    assert "01_build_model.ipynb is not a valid notebook: it has no list of cells" in output
    assert "Score: 5/13" in output
    assert list(scratch.iterdir()) == []


# ---------------------------------------------------------------- one kernel per notebook

CHANNELS_FIRST = "import keras\nkeras.config.set_image_data_format('channels_first')\n"


@pytest.mark.slow
def test_global_settings_of_one_notebook_do_not_leak_into_the_next(repo, tmp_path):
    from autograder.grader import grade

    submission = tmp_path / "submission"
    shutil.copytree(repo / "solutions", submission, ignore=shutil.ignore_patterns("*.keras"))
    source = graded_cell(submission / "02_argmax_accuracy.ipynb", "argmax_accuracy").source
    set_graded_cell(submission, "02_argmax_accuracy.ipynb", CHANNELS_FIRST + source)
    report = grade(submission)
    outcomes = {result.check_id: result.outcome for result in report.results}
    assert outcomes["argmax_accuracy.values"] == "passed"
    assert outcomes["build_cnn.architecture"] == "passed", report.results


# ---------------------------------------------------------------- what the judge copies out


def test_the_judge_copies_only_a_regular_file_of_a_sane_size_out_of_the_worker(tmp_path):
    from autograder.isolation.confinement import copy_out
    from autograder.isolation.judge_client import MAX_MODEL_BYTES

    secret = tmp_path / "hidden.py"
    secret.write_text(SECRET)
    worker = tmp_path / "worker"
    worker.mkdir()
    (worker / "link.keras").symlink_to(secret)
    (worker / "huge.keras").write_bytes(b"")
    os.truncate(worker / "huge.keras", MAX_MODEL_BYTES + 1)
    (worker / "model.keras").write_bytes(b"a model")
    copy = tmp_path / "judge-copy.keras"

    assert not copy_out(worker / "link.keras", copy, MAX_MODEL_BYTES) and not copy.exists()
    assert not copy_out(worker / "huge.keras", copy, MAX_MODEL_BYTES) and not copy.exists()
    assert not copy_out(Path("/dev/zero"), copy, MAX_MODEL_BYTES) and not copy.exists()
    assert (
        copy_out(worker / "model.keras", copy, MAX_MODEL_BYTES) and copy.read_bytes() == b"a model"
    )


# ---------------------------------------------------------------- the judge's channel

FORGE = """
import json, os


def build_model():
    forged = [{"ready": True}, {"ok": True, "result": {"type": "builtins.float", "is_float": True,
              "is_bool": False, "is_tensor": False, "shape": [], "value": 0.5}}]
    for descriptor in range(3, 64):  # every pipe this process may write: the judge's channel too
        for message in forged * 4:
            try:
                os.write(descriptor, (json.dumps(message) + "\\n").encode())
            except OSError:
                break
    raise NotImplementedError("forged the channel, then stopped")
"""


@pytest.mark.slow
def test_answers_forged_in_one_notebook_earn_nothing_in_the_next(submission_with, tmp_path):
    submission = submission_with({"01_build_model.ipynb": FORGE})  # argmax_accuracy: a stub
    results = tmp_path / "results.json"
    env = dict(os.environ, MNIST_OFFLINE="1")
    subprocess.run(
        [sys.executable, "-m", "autograder", str(submission), "--json", str(results)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    report = json.loads(results.read_text())
    assert report["score"] == 0
    outcomes = {
        test["extra_data"]["check_id"]: test["extra_data"]["outcome"] for test in report["tests"]
    }
    assert outcomes["argmax_accuracy.returns_float"] == "not attempted"


# ---------------------------------------------------------------- one notebook to the next

PLANT = """
import os
from pathlib import Path


def build_model():
    for place in ("/dev/shm", "/tmp", "/var/tmp", ".", os.environ.get("HOME", ".")):
        try:
            Path(place, "carried.txt").write_text("CARRIED-4e2a")
        except OSError:
            pass
    try:
        with open(f"/proc/{os.getppid()}/mem", "r+b"):  # the process that forks every notebook
            pass
        verdict = "PARENT-MEMORY-OPEN"
    except OSError as error:
        verdict = f"parent memory refused: {type(error).__name__}"
    raise RuntimeError(verdict)
"""
LOOK = """
import glob


def build_cnn():
    found = []
    for pattern in ("/dev/shm/*", "/tmp/*", "/var/tmp/*", "./*", "../*", "../*/*", "~/*"):
        for path in glob.glob(os.path.expanduser(pattern)):
            found.append(os.path.basename(path))
            try:
                found.append(open(path, errors="replace").read(200))
            except OSError:
                pass
    raise RuntimeError("found: " + " | ".join(found)[:400])


import os
"""


@pytest.mark.slow
@needs_bubblewrap
def test_nothing_carries_from_one_notebook_to_the_next(submission_with):
    submission = submission_with({"01_build_model.ipynb": PLANT, "03_cnn.ipynb": LOOK})
    env = dict(os.environ, MNIST_OFFLINE="1")
    completed = subprocess.run(
        [sys.executable, "-m", "autograder", str(submission)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    report = completed.stdout
    assert "parent memory refused: PermissionError" in report, report
    assert "PARENT-MEMORY-OPEN" not in report
    assert "found: " in report and "CARRIED-4e2a" not in report
    assert "cudart" not in report.split("found: ")[1][:400]  # nor the grader's own logs


def test_the_judge_never_blocks_on_a_fifo_the_worker_left(tmp_path):
    from autograder.isolation.confinement import copy_out
    from autograder.isolation.judge_client import MAX_MODEL_BYTES

    os.mkfifo(tmp_path / "returned_build_model.keras")
    started = time.monotonic()
    assert not copy_out(
        tmp_path / "returned_build_model.keras", tmp_path / "copy.keras", MAX_MODEL_BYTES
    )
    assert time.monotonic() - started < 1


# ---------------------------------------------------------------- one student to the next

# Student A's last graded cell (batch grading keeps one forking worker across students): it
# plants files and a module, forges protocol lines, makes the shared channel non-blocking and
# leaves a daemon that answers every later request with a wrong value. B's grade must not move.
LEAVE_BEHIND = """
import json, os, time
from pathlib import Path


def pipes():
    found = []
    for fd in range(3, 256):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                found.append(fd)
        except OSError:
            pass
    return found


def plant():
    for place in ("/dev/shm", "/tmp", ".", os.environ.get("HOME", ".")):
        try:
            Path(place, "carried.txt").write_text("CARRIED-9b1d")
            Path(place, "carried_answers.py").write_text("MARK = 'CARRIED-9b1d'\\n")
        except OSError:
            pass


def sabotage(fds):
    wrong = {"type": "float", "is_float": True, "value": 0.0, "shape": []}
    deadline = time.time() + 120
    while time.time() < deadline:
        plant()
        for fd in fds:
            try:
                data = os.read(fd, 65536).decode(errors="replace")
            except OSError:
                continue
            for line in data.splitlines():
                try:
                    nonce = json.loads(line).get("nonce")
                except (ValueError, AttributeError):
                    continue
                answer = json.dumps({"ok": True, "result": wrong, "nonce": nonce}) + "\\n"
                for out in fds:
                    try:
                        os.write(out, answer.encode())
                    except OSError:
                        pass
        time.sleep(0.02)


def build_cnn():
    plant()
    fds = pipes()
    for fd in fds:
        try:
            os.set_blocking(fd, False)  # shared by every process that holds the channel
            os.write(fd, b'{"ok": false, "died": 1}\\n{"ready": true}\\n{"synced": true}\\n')
        except OSError:
            pass
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            sabotage(fds)
        os._exit(0)
    time.sleep(0.5)
    raise RuntimeError("left a daemon behind")
"""

# Student A' leaves only a folder that its owner cannot list or empty (a plain rmtree keeps it)
# and no process: the worker is kept for the next student, whose folder must still be empty.
LOCK_A_FOLDER = """
import os
from pathlib import Path


def build_cnn():
    Path("CARRIED-9b1d-locked").mkdir()
    Path("CARRIED-9b1d-locked", "inside.txt").write_text("CARRIED-9b1d")
    os.chmod("CARRIED-9b1d-locked", 0)
    raise RuntimeError("locked a folder")
"""

PICK_UP = """
import glob
import os


def build_cnn():
    found = []
    for pattern in ("/dev/shm/*", "/tmp/*", "./*", "~/*"):
        for path in glob.glob(os.path.expanduser(pattern)):
            found.append(os.path.basename(path))
            try:
                found.append(open(path, errors="replace").read(200))
            except OSError:
                pass
    try:
        import carried_answers

        found.append(carried_answers.MARK)
    except ImportError:
        pass
    raise RuntimeError("found: " + " | ".join(found)[:400])
"""


@pytest.mark.slow
@needs_bubblewrap
def test_what_one_student_leaves_behind_does_not_reach_the_next(tmp_path, submission_with):
    answer = "import numpy as np\n" + ARGMAX_ANSWER
    classroom = tmp_path / "class"
    hangs = LEAVE_BEHIND.replace('raise RuntimeError("left a daemon behind")', "while True: pass")
    leavers = (
        ("a_leaves", LEAVE_BEHIND),
        ("c_leaves_and_hangs", hangs),
        ("e_locks", LOCK_A_FOLDER),
    )
    for name, cell in leavers:
        cells = {"02_argmax_accuracy.ipynb": answer, "03_cnn.ipynb": cell}
        submission_with(cells, classroom / name)
    for name in ("b_honest", "d_honest", "f_honest"):
        cells = {"02_argmax_accuracy.ipynb": answer, "03_cnn.ipynb": PICK_UP}
        submission_with(cells, classroom / name)
    grades = tmp_path / "out" / "grades.csv"
    command = [sys.executable, "-m", "autograder.instructor.batch", str(classroom),
               "--out", str(grades), "--workers", "1", "--require-sandbox"]  # fmt: skip
    env = dict(os.environ, MNIST_OFFLINE="1", **QUIET_TENSORFLOW)
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    rows = {row["student"]: row for row in csv.DictReader(grades.open())}
    for honest in ("b_honest", "d_honest", "f_honest"):
        feedback = (grades.parent / "feedback" / f"{honest}.md").read_text()
        assert rows[honest]["status"] == "graded", feedback
        assert float(rows[honest]["total"]) == HONEST_SCORE, feedback
        assert "found: " in feedback and "CARRIED-9b1d" not in feedback, feedback


@pytest.fixture
def light_worker(tmp_path):
    """A sandboxed forking worker that does not import Keras (fast), closed after the test."""
    from autograder.isolation.judge_client import WorkerSupply

    with open(tmp_path / "worker.log", "w+") as log:
        supply = WorkerSupply(log, str(tmp_path), preload=False)
        yield supply
        supply.close()


def call_argmax_accuracy(supply, source: str) -> dict:
    """argmax_accuracy() of `source`, called once in the supply's worker."""
    from autograder.isolation.judge_client import SandboxLearner
    from autograder.submission import GradedCell

    cell = GradedCell("argmax_accuracy", source, "<cell>")
    arguments = [{"kind": "list", "data": [1]}, {"kind": "list", "data": [[0.0, 1.0]]}]
    return SandboxLearner({"argmax_accuracy": cell}, supply).call("argmax_accuracy", arguments)


def wait_for_state(pid: int, state: str) -> None:
    """Wait until the process is in `state` (its letter in /proc/PID/stat)."""
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}/stat").read_text().split()[2] != state:
        assert time.monotonic() < deadline, f"process {pid} never reached state {state}"
        time.sleep(0.01)


@needs_bubblewrap
def test_a_line_waiting_when_a_fork_ends_is_dropped_and_the_judges_next_request_is_answered(
    light_worker,
):
    """The judge writes nothing while a fork ends: it waits for "ended" (next_student, end_fork)
    or the next fork's "ready". So a line waiting when the fork is reaped was planted by learner
    code: it is dropped, and the forking process (which once took a waiting line for the end of
    the requests and quit) stays for the judge's next request."""
    from autograder.isolation.processes import children

    worker = light_worker.get()
    call_argmax_accuracy(light_worker, "def argmax_accuracy(y_true, y_prob):\n    return 0.5\n")
    (forking,) = children(worker.process.pid)  # bubblewrap's one child
    (fork,) = children(forking)
    os.kill(forking, signal.SIGSTOP)  # the fork ends while the forking process waits
    wait_for_state(forking, "T")  # a busy machine may run the fork's end before the stop
    worker._send({"op": "end"})
    wait_for_state(fork, "Z")
    worker._send({"op": "sync", "nonce": "planted"})  # waiting when the fork is reaped
    os.kill(forking, signal.SIGCONT)
    assert worker._control_until({"ended": 1}, 10)
    worker._send({"op": "sync", "nonce": "next"})
    answer = worker._receive(10, lambda message: message.get("nonce") in ("planted", "next"))
    assert answer is not None and answer["nonce"] == "next"
    assert worker.process.alive()


# Student A's graded cell, when its fork reads the judge's "end", reopens the request
# channel for writing (Linux opens a pipe's other end through /proc/self/fd) and plants a
# request whose source takes over the next fork: every later answer would be 0.0, whatever the
# next student's code returns.
TAKE_OVER = """
import sys

worker = sys.modules["__main__"]


def handle(request, functions):
    return {"type": "float", "is_float": True, "value": 0.0, "shape": []}


worker.handle = handle
argmax_accuracy = handle
"""
PLANT_A_REQUEST = """
import json
import os

REQUEST = {request!r}


read_request = json.loads


def plant():
    for fd in range(3, 256):
        try:
            if os.readlink(f"/proc/self/fd/{{fd}}").startswith("pipe:"):
                with open(f"/proc/self/fd/{{fd}}", "w") as channel:
                    channel.write(json.dumps(REQUEST) + "\\n")
        except OSError:
            pass


def read_and_plant_at_the_end(line):
    request = read_request(line)
    if isinstance(request, dict) and request.get("op") == "end":
        plant()
    return request


def argmax_accuracy(y_true, y_prob):
    json.loads = read_and_plant_at_the_end  # the fork's serve() reads the judge's lines with it
    return 1.0
""".format(
    request={
        "op": "call",
        "function": "argmax_accuracy",
        "source": TAKE_OVER,
        "filename": "<planted>",
        "arguments": [],
        "nonce": "planted",
    }
)


@needs_bubblewrap
def test_a_request_planted_by_one_student_never_runs_for_the_next(light_worker):
    """Red-team finding: the planted request ran in the next student's fresh fork, which then
    answered every request of every later student of that batch slot as it liked."""
    assert call_argmax_accuracy(light_worker, PLANT_A_REQUEST)["value"] == 1.0
    assert light_worker.worker is not None and light_worker.worker.next_student()
    honest = "def argmax_accuracy(y_true, y_prob):\n    return 0.75\n"
    assert call_argmax_accuracy(light_worker, honest)["value"] == 0.75
    light_worker.next_notebook()
    assert call_argmax_accuracy(light_worker, honest)["value"] == 0.75


# A System V shared memory segment outlives the process that made it, in the IPC namespace that
# every fork of a sandboxed worker shares: student A leaves one, student B looks for it.
LEAVE_SHARED_MEMORY = """
import ctypes


def argmax_accuracy(y_true, y_prob):
    libc = ctypes.CDLL(None, use_errno=True)
    return float(libc.shmget(0x9B1D, 4096, 0o1600) >= 0)  # IPC_CREAT | 0600
"""
FIND_SHARED_MEMORY = """
import ctypes


def argmax_accuracy(y_true, y_prob):
    libc = ctypes.CDLL(None, use_errno=True)
    return float(libc.shmget(0x9B1D, 0, 0) >= 0)
"""


# The same with a POSIX message queue (mq_open), another object of the IPC namespace.
LEAVE_A_MESSAGE_QUEUE = """
import ctypes
import os


def argmax_accuracy(y_true, y_prob):
    rt = ctypes.CDLL("librt.so.1", use_errno=True)
    return float(rt.mq_open(b"/carried9b1d", os.O_CREAT | os.O_RDWR, 0o600, None) >= 0)
"""
FIND_A_MESSAGE_QUEUE = """
import ctypes
import os


def argmax_accuracy(y_true, y_prob):
    rt = ctypes.CDLL("librt.so.1", use_errno=True)
    return float(rt.mq_open(b"/carried9b1d", os.O_RDWR) >= 0)
"""


@needs_bubblewrap
@pytest.mark.parametrize(
    "leave, find",
    [(LEAVE_SHARED_MEMORY, FIND_SHARED_MEMORY), (LEAVE_A_MESSAGE_QUEUE, FIND_A_MESSAGE_QUEUE)],
    ids=["system_v_shared_memory", "posix_message_queue"],
)
def test_shared_memory_one_student_leaves_is_gone_for_the_next(light_worker, leave, find):
    """Red-team finding: a segment left by one student was read by the next in batch mode."""
    assert call_argmax_accuracy(light_worker, leave)["value"] == 1.0
    light_worker.next_student()
    assert call_argmax_accuracy(light_worker, find)["value"] == 0.0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forking workers: Linux")
def test_without_a_sandbox_the_machines_own_shared_memory_does_not_end_the_worker(tmp_path):
    """Review finding: without bubblewrap the worker shares the machine's IPC namespace, where
    other programs make segments too; one made mid-grade ended the worker, and the next
    notebook's first request could be reported as the learner's code dying."""
    import ctypes

    from autograder.isolation.confinement import Confinement
    from autograder.isolation.judge_client import WorkerSupply

    libc = ctypes.CDLL(None, use_errno=True)
    answer = "def argmax_accuracy(y_true, y_prob):\n    return 0.75\n"
    with open(tmp_path / "worker.log", "w+") as log:
        supply = WorkerSupply(log, str(tmp_path), False, Confinement(False, None, "none"))
        segment = -1
        try:
            first = supply.get().process.pid
            assert call_argmax_accuracy(supply, answer)["value"] == 0.75
            segment = libc.shmget(0, 4096, 0o1600)  # IPC_PRIVATE, as another program would
            assert segment >= 0
            supply.next_notebook()
            assert call_argmax_accuracy(supply, answer)["value"] == 0.75
            assert supply.get().process.pid == first
        finally:
            if segment >= 0:
                libc.shmctl(segment, 0, None)  # IPC_RMID
            supply.close()


# The kernel keyring belongs to a user, not to a sandbox: a key added by one student's code was
# found by the next (and stayed in the grading user's keyring). The sandbox refuses its calls.
KEYRING_LEARNER = """
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def argmax_accuracy(y_true, y_prob):
    return float(libc.syscall({call}) > 0)
"""


@needs_bubblewrap
@pytest.mark.skipif(platform.machine() not in KEYRING_CALLS, reason="keyring calls: x86_64, arm64")
def test_a_key_one_student_adds_to_the_keyring_never_reaches_the_next(light_worker):
    _, (add_key, _, keyctl) = KEYRING_CALLS[platform.machine()]
    user_keyring, search = -4, 10  # KEY_SPEC_USER_KEYRING, KEYCTL_SEARCH
    add = f'{add_key}, b"user", b"carried9b1d", b"CARRIED", 7, {user_keyring}'
    find = f'{keyctl}, {search}, {user_keyring}, b"user", b"carried9b1d", 0'
    assert call_argmax_accuracy(light_worker, KEYRING_LEARNER.format(call=add))["value"] == 0.0
    light_worker.next_student()
    assert call_argmax_accuracy(light_worker, KEYRING_LEARNER.format(call=find))["value"] == 0.0


# Student A's cell changes what every fork shares: it clears O_APPEND on the log that is its
# stderr and stdout and moves the offset past the 512 MB file size limit, and it sets another
# signal on the channels. Student B's honest cell prints, and looks at the channels' signal.
SPOIL_THE_SHARED_FILES = """
import fcntl
import os


def argmax_accuracy(y_true, y_prob):
    fcntl.fcntl(2, fcntl.F_SETFL, 0)
    os.lseek(2, 2**40, os.SEEK_SET)
    for fd in range(3, 64):
        try:
            fcntl.fcntl(fd, 10, 37)  # F_SETSIG
        except OSError:
            pass
    return 1.0
"""
PRINT_AND_ANSWER = """
import fcntl
import os
import sys


def argmax_accuracy(y_true, y_prob):
    print("working on it", file=sys.stderr, flush=True)
    print("working on it", flush=True)
    signals = set()
    for fd in range(3, 64):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                signals.add(fcntl.fcntl(fd, 11))  # F_GETSIG
        except OSError:
            pass
    return 0.75 if signals == {0} else 0.25
"""


@needs_bubblewrap
def test_what_one_student_sets_on_the_shared_log_and_channels_spares_the_next(light_worker):
    """Red team: B's prints failed with "File too large" (graded as B's error), and the
    channels' settings carried data from A to B."""
    assert call_argmax_accuracy(light_worker, SPOIL_THE_SHARED_FILES)["value"] == 1.0
    light_worker.next_student()
    assert call_argmax_accuracy(light_worker, PRINT_AND_ANSWER)["value"] == 0.75


@needs_bubblewrap
def test_a_student_whose_last_notebook_made_no_request_hands_over_without_a_second_end(
    light_worker, monkeypatch
):
    """Review finding: after next_notebook() had ended the last fork (the student's next
    notebook made no request, e.g. it was missing), next_student() sent another "end". When it
    came after the drain, the fresh fork took it, the sync was dropped, and after 10 s the whole
    worker was replaced."""
    answer = "def argmax_accuracy(y_true, y_prob):\n    return 0.75\n"
    first = light_worker.get().process.pid
    assert call_argmax_accuracy(light_worker, answer)["value"] == 0.75
    light_worker.next_notebook()  # the next notebook is missing: no request follows
    worker = light_worker.get()
    sent: list[dict] = []
    send = worker._send
    monkeypatch.setattr(worker, "_send", lambda message: sent.append(message) or send(message))
    started = time.monotonic()
    light_worker.next_student()
    assert time.monotonic() - started < 5
    assert {"op": "end"} not in sent
    assert call_argmax_accuracy(light_worker, answer)["value"] == 0.75
    assert light_worker.get().process.pid == first


@needs_bubblewrap
def test_learner_code_that_exits_like_the_end_of_requests_is_reported_as_it_exited(light_worker):
    """A fork ends with worker.CLOSED when the judge's requests end; learner code that exits
    with the same code is reported with it, and the same worker serves the next notebook."""
    from autograder.isolation.protocol import FailureKind, LearnerFailure
    from autograder.isolation.worker import CLOSED

    first = light_worker.get().process.pid
    source = f"import os\ndef argmax_accuracy(y_true, y_prob):\n    os._exit({CLOSED})\n"
    with pytest.raises(LearnerFailure) as failure:
        call_argmax_accuracy(light_worker, source)
    assert failure.value.kind == FailureKind.DIED
    assert failure.value.message == f"exit code {CLOSED}"
    light_worker.next_notebook()
    assert light_worker.get().process.pid == first


@needs_bubblewrap
def test_a_worker_starts_with_the_judges_matplotlib_font_list(light_worker, monkeypatch, tmp_path):
    """`import keras` imports pyplot, which searched the system's fonts again in the worker's
    empty home (about 1 s of every cold grade) until the judge's font list was copied there."""
    judge_cache = tmp_path / "judge-matplotlib"
    judge_cache.mkdir()
    (judge_cache / "fontlist-v390.json").write_text('{"judge": true}')
    monkeypatch.setenv("MPLCONFIGDIR", str(judge_cache))
    light_worker.discard()  # the next worker starts with this judge's settings
    source = (
        "import os\n"
        "def argmax_accuracy(y_true, y_prob):\n"
        "    path = os.path.join(os.environ['MPLCONFIGDIR'], 'fontlist-v390.json')\n"
        "    return float(os.path.isfile(path) and open(path).read() == '{\"judge\": true}')\n"
    )
    assert call_argmax_accuracy(light_worker, source)["value"] == 1.0


def test_a_font_list_that_cannot_be_copied_only_costs_the_search(monkeypatch, tmp_path):
    from autograder.isolation.confinement import copy_font_list

    judge_cache = tmp_path / "judge-matplotlib"
    judge_cache.mkdir()
    (tmp_path / "secret.txt").write_text(SECRET)
    (judge_cache / "fontlist-v390.json").symlink_to(tmp_path / "secret.txt")  # a link
    (judge_cache / "fontlist-v391.json").mkdir()  # not a file
    monkeypatch.setenv("MPLCONFIGDIR", str(judge_cache))
    home = tmp_path / "worker"
    home.mkdir()
    copy_font_list(home / ".matplotlib")
    assert list((home / ".matplotlib").iterdir()) == []


# ---------------------------------------------------------------- text that no encoding writes

# Red team: a message with a lone surrogate (half of a UTF-16 pair, which UTF-8 cannot encode)
# stopped whatever printed or wrote it: the judge's report, check()'s output, and batch before
# any grades.csv or state was written, on every re-run.
SURROGATE_CELLS = {
    "chr(0xD800)": "def argmax_accuracy(y_true, y_prob):\n    raise ValueError(chr(0xD800))\n",
    "the escape \\ud800": 'def argmax_accuracy(y_true, y_prob):\n    raise ValueError("\\ud800")\n',
}
RAISED_A_SURROGATE = "raised ValueError: \ufffd"
# A notebook's cell that holds a lone surrogate itself (JSON allows the escape "\ud800"):
# Python cannot compile it.
SURROGATE_IN_NOTEBOOK = 'def argmax_accuracy(y_true, y_prob):\n    raise ValueError("\ud800")\n'


@pytest.mark.parametrize("cell", SURROGATE_CELLS)
def test_a_lone_surrogate_from_learner_code_is_reported_locally(submission_with, tmp_path, cell):
    submission = submission_with({"02_argmax_accuracy.ipynb": SURROGATE_CELLS[cell]})
    results = tmp_path / "results.json"
    completed = subprocess.run(
        [sys.executable, "-m", "autograder", str(submission), "--only", "argmax_accuracy",
         "--verbose", "--json", str(results)],
        capture_output=True, text=True, env=dict(os.environ, MNIST_OFFLINE="1"), timeout=600,
    )  # fmt: skip
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output
    assert "UnicodeEncodeError" not in output
    assert RAISED_A_SURROGATE in completed.stdout and "Score: 0/5" in completed.stdout
    written = json.loads(results.read_text(encoding="utf-8"))
    assert RAISED_A_SURROGATE in written["tests"][0]["output"]


HISTORY_CELLS = {**SURROGATE_CELLS, "a lone surrogate in the cell": SURROGATE_IN_NOTEBOOK}


@pytest.mark.parametrize("cell", HISTORY_CELLS)
def test_a_lone_surrogate_is_reported_by_grade_in_a_notebook(tmp_path, monkeypatch, capsys, cell):
    """hosted.grade(): the kernel's history holds the cell (a lone surrogate included, as a
    browser can send it), and the judge's report is printed under the cell."""
    from types import SimpleNamespace

    import IPython

    from autograder.hosted import grade

    monkeypatch.chdir(tmp_path)
    source = HISTORY_CELLS[cell]
    shell = SimpleNamespace(user_ns={"In": ["", "import numpy as np", source, "grade()"]})
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    grade()
    shown = capsys.readouterr().out
    assert "Traceback" not in shown and "Score: 0/5" in shown, shown
    expected = RAISED_A_SURROGATE if cell in SURROGATE_CELLS else "Python cannot read"
    assert expected in shown, shown


@pytest.mark.parametrize("cell", SURROGATE_CELLS)
def test_a_lone_surrogate_is_shown_by_check_in_a_notebook(capsys, cell):
    import linecache

    from autograder.notebook import CheckNotPassed, check

    source = SURROGATE_CELLS[cell]
    filename = f"/tmp/ipykernel_1/{abs(hash(source))}.py"  # as Jupyter names a cell
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {}
    exec(compile(source, filename, "exec"), namespace)
    with pytest.raises(CheckNotPassed):
        check(namespace["argmax_accuracy"])
    assert RAISED_A_SURROGATE in capsys.readouterr().out


NOT_READ = "02_argmax_accuracy.ipynb is not a valid notebook: it holds a number too long to read"


def hold_a_long_number(notebook: Path) -> None:
    """Put LONG_NUMBER in the notebook's metadata: still valid JSON, and a valid notebook."""
    text = notebook.read_text(encoding="utf-8")
    notebook.write_text(text.replace("{", '{"n": ' + LONG_NUMBER + ", ", 1), encoding="utf-8")


@needs_refused_long_numbers
def test_a_notebook_holding_a_long_number_is_not_a_valid_notebook_locally(submission_with):
    submission = submission_with({})
    hold_a_long_number(submission / "02_argmax_accuracy.ipynb")
    completed = subprocess.run(
        [sys.executable, "-m", "autograder", str(submission), "--only", "argmax_accuracy"],
        capture_output=True, text=True, env=dict(os.environ, MNIST_OFFLINE="1"), timeout=600,
    )  # fmt: skip
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stdout + completed.stderr
    assert NOT_READ in completed.stdout and "Score: 0/5" in completed.stdout


def unreadable_class(root: Path, submission_with) -> Path:
    """A class where each student but the last raises a lone surrogate (or holds one), or
    hands in a notebook that holds a long number."""
    for number, cell in enumerate([*SURROGATE_CELLS.values(), SURROGATE_IN_NOTEBOOK]):
        submission_with({"02_argmax_accuracy.ipynb": cell}, root / f"{number}_surrogate")
    hold_a_long_number(submission_with({}, root / "long_number") / "02_argmax_accuracy.ipynb")
    honest = {"02_argmax_accuracy.ipynb": "import numpy as np\n" + ARGMAX_ANSWER}
    submission_with(honest, root / "z_honest")
    return root


@pytest.mark.slow
def test_a_lone_surrogate_or_a_long_number_stops_no_one_in_batch(tmp_path, submission_with):
    submissions = unreadable_class(tmp_path / "class", submission_with)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "autograder.instructor.batch", str(submissions),
               "--out", str(out / "grades.csv"), "--workers", "1", "--report",
               str(out / "class.html"), "--canvas", str(out / "canvas.csv")]  # fmt: skip
    env = dict(os.environ, MNIST_OFFLINE="1")
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    rows = {row["student"]: row for row in csv.DictReader((out / "grades.csv").open())}
    assert {row["status"] for row in rows.values()} == {"graded"}
    assert float(rows.pop("z_honest")["total"]) == HONEST_SCORE
    assert [float(row["total"]) for row in rows.values()] == [0.0] * 4
    for student in ("0_surrogate", "1_surrogate"):
        assert RAISED_A_SURROGATE in (out / "feedback" / f"{student}.md").read_text()
    assert "Python cannot read" in (out / "feedback" / "2_surrogate.md").read_text()
    long_number = (out / "feedback" / "long_number.md").read_text()
    assert "Traceback" not in long_number
    assert NOT_READ in long_number or not LONG_NUMBERS_REFUSED
    assert (out / "class.html").is_file() and (out / "class.csv").is_file()
    assert "z_honest" in (out / "canvas.csv").read_text()


@pytest.mark.slow
def test_a_lone_surrogate_and_a_long_number_are_reported_in_the_gradescope_layout(
    tmp_path, submission_with
):
    submission = submission_with({"02_argmax_accuracy.ipynb": SURROGATE_CELLS["chr(0xD800)"]})
    hold_a_long_number(submission / "01_build_model.ipynb")
    root = tmp_path / "autograder"
    gradescope_layout(root, submission)
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), PYTHONPATH="", MNIST_OFFLINE="1")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    completed = subprocess.run(
        [str(root / "source" / "run_autograder")],
        capture_output=True, text=True, cwd=root, env=env, timeout=600,
    )  # fmt: skip
    results = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    outputs = {test["extra_data"]["check_id"]: test["output"] for test in results["tests"]}
    assert RAISED_A_SURROGATE in outputs["argmax_accuracy.returns_float"], completed.stdout
    not_read = NOT_READ.replace("02_argmax_accuracy", "01_build_model")
    assert not_read in outputs["build_model.returns_model"] or not LONG_NUMBERS_REFUSED
    assert results["score"] == 0


# ---------------------------------------------------------------- the class, wherever it is

# Red team: the sandbox emptied /tmp, the homes and its own folders, but not the submissions
# folder nor the --out folder: with both under /srv, a graded cell listed every classmate's
# folder and read their notebooks, feedback, scores and grades.csv.
SNOOP = """
import json, os
from pathlib import Path


def build_cnn():
    seen = []  # what each folder lists, and how many characters of each file it reads
    for path in map(Path, {targets!r}):
        try:
            seen.append(sorted(os.listdir(path)) if path.is_dir() else len(path.read_text()))
        except OSError:
            seen.append("-")
    raise RuntimeError("seen " + json.dumps(seen))
"""


@pytest.fixture
def class_place(repo):
    """A folder outside the ones the sandbox always empties (/tmp, /var/tmp, the homes), as an
    instructor's /srv, /data or /mnt/c; skipped where there is none to write."""
    emptied = [Path(path).resolve() for path in ("/tmp", "/var/tmp", "/home", "/root")]
    emptied += [Path(tempfile.gettempdir()).resolve(), Path.home().resolve()]
    for place in (Path("/srv"), Path("/data"), Path("/mnt"), Path("/opt"), repo.parent):
        place = place.resolve()
        inside = any(place == folder or folder in place.parents for folder in emptied)
        if place.is_dir() and os.access(place, os.W_OK) and not inside:
            folder = Path(tempfile.mkdtemp(prefix="autograder-class-", dir=place))
            yield folder
            remove_tree(folder)
            return
    pytest.skip("no writable folder outside /tmp, /var/tmp and the homes")


@pytest.mark.slow
@needs_bubblewrap
@pytest.mark.parametrize("layout", ["side by side", "in the grader's folder"])
def test_learner_code_in_batch_sees_nothing_of_the_class(
    class_place, repo, submission_with, layout
):
    """The submissions and the --out folder beside each other; or, as when batch runs in a clone
    of the course, both in the folder that holds the grader itself."""
    env = dict(os.environ, MNIST_OFFLINE="1", **QUIET_TENSORFLOW)
    if layout == "side by side":
        submissions, out = class_place / "class", class_place / "out"
    else:
        submissions, out = class_place / "class", class_place
        install = class_place / "install"
        for package in PACKAGES:
            shutil.copytree(repo / package, install / package, ignore=_no_caches)
        env["PYTHONPATH"] = str(install)
    answer = "import numpy as np\n" + ARGMAX_ANSWER
    submission_with({"02_argmax_accuracy.ipynb": answer}, submissions / "a_honest")
    targets = [submissions, out, out / "feedback", out / "grades.csv", out / "grades.state.json"]
    targets.append(submissions / "a_honest" / "02_argmax_accuracy.ipynb")
    snoop = {
        "02_argmax_accuracy.ipynb": answer,
        "03_cnn.ipynb": SNOOP.format(targets=list(map(str, targets))),
    }
    submission_with(snoop, submissions / "z_snoop")  # graded last: a_honest's files are there
    command = [sys.executable, "-m", "autograder.instructor.batch", str(submissions),
               "--out", str(out / "grades.csv"), "--workers", "1", "--require-sandbox"]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    feedback = (out / "feedback" / "z_snoop.md").read_text()
    [seen, *_] = re.findall(r"seen (\[.*\])", feedback) or [feedback]
    assert "a_honest" not in seen and "grades.csv" not in seen, seen
    [listed_class, listed_out, *files] = json.loads(seen)
    assert listed_class == [] and files == ["-"] * 4, seen
    assert set(listed_out) <= {"class", "install"}, seen  # a mount point; the grader's own copy
    rows = {row["student"]: row for row in csv.DictReader((out / "grades.csv").open())}
    assert float(rows["a_honest"]["total"]) == HONEST_SCORE
    assert float(rows["z_snoop"]["total"]) == HONEST_SCORE


# ---------------------------------------------------------------- learners' model files (issue 26)


@pytest.mark.parametrize("old", ["3.11.2", "3.6.0", "3.13.1"])
def test_the_grader_refuses_in_one_line_to_grade_with_a_keras_that_runs_model_files_code(
    old, monkeypatch, capsys, tmp_path
):
    """Keras before 3.11.3 runs an .h5 file's Lambda layer despite safe_mode (CVE-2025-9905):
    the grader, which loads learners' model files, refuses such a Keras in every mode."""
    from autograder import __main__ as command
    from autograder.grader import GradingDataError, grade
    from autograder.instructor import batch
    from autograder.isolation import modelfile

    if old == "3.13.1" and sys.version_info < (3, 11):
        pytest.skip("Python 3.10 has no Keras after 3.12: 3.12.1 has every safe_mode fix")
    monkeypatch.setattr(modelfile, "keras_version", lambda: old)
    assert command.main([str(tmp_path)]) == 2
    output = capsys.readouterr().out
    assert output.startswith(f"ERROR  Cannot grade: Keras {old} can run code hidden in a model")
    assert output.count("\n") == 1 and "Traceback" not in output, output
    with pytest.raises(GradingDataError, match=f"Keras {old}"):
        grade(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        batch.main([str(tmp_path), "--out", str(tmp_path / "grades.csv")])
    assert stopped.value.code == 2
    assert f"batch: Keras {old} can run code" in capsys.readouterr().err


def test_the_installed_keras_has_every_safe_mode_fix():
    from autograder.isolation import modelfile

    assert modelfile.keras_too_old() is None, modelfile.keras_version()


PWNED = "model-file-code-ran"  # the file a model file's Lambda layer writes if it runs


def lambda_h5(path: Path, marker: Path) -> None:
    """An .h5 file whose Lambda layer writes `marker` when Keras loads or runs it."""
    import keras

    code = f"lambda x: (__import__('pathlib').Path({str(marker)!r}).write_text('ran'), x)[1]"
    layer = keras.layers.Lambda(eval(code))
    model = keras.Sequential([keras.Input((28, 28)), layer, keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])  # fmt: skip
    model.save(path)
    marker.unlink()  # written here, as Keras built the layer: only a grader's run may write it


def memory_hog(path: Path) -> None:
    """A small CNN file that needs about 5 GB to predict 1,000 digits (UpSampling2D 40x)."""
    import keras

    model = keras.Sequential([
        keras.Input((28, 28)), keras.layers.Reshape((28, 28, 1)),
        keras.layers.UpSampling2D((40, 40)), keras.layers.Conv2D(1, 3, padding="same"),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10, activation="softmax"),
    ])  # fmt: skip
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.save(path)


def padded_keras(path: Path) -> None:
    """A .keras zip with a member of zeros that unpacks past the grader's limit."""
    import zipfile

    from autograder.isolation.modelfile import MAX_EXPANDED_BYTES

    memory_hog(path)
    chunk = bytes(2**20)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("padding.bin", "w", force_zip64=True) as member:
            for _ in range(MAX_EXPANDED_BYTES // len(chunk) + 1):
                member.write(chunk)


HOSTILE_CNN_FILES = {
    "model_needs_too_much_memory": memory_hog,
    "model_file_too_large": padded_keras,
}


@pytest.fixture(scope="module")
def honest_models(tmp_path_factory, repo) -> Path:
    """A submission with the solutions' build_model, argmax_accuracy and build_cnn cells and a
    dense model trained on the offline sample (full marks on the required exercises)."""
    from digits.data import load_mnist_sample, normalize

    folder = tmp_path_factory.mktemp("honest") / "submission"
    folder.mkdir()
    for notebook in (repo / "exercises").glob("*.ipynb"):
        shutil.copy(notebook, folder / notebook.name)
    for notebook, function in (
        ("01_build_model.ipynb", "build_model"),
        ("02_argmax_accuracy.ipynb", "argmax_accuracy"),
        ("03_cnn.ipynb", "build_cnn"),
    ):
        answer = graded_cell(repo / "solutions" / notebook, function)
        set_graded_cell(folder, notebook, answer.source)
    namespace: dict = {}
    exec(graded_cell(repo / "solutions" / "01_build_model.ipynb", "build_model").source, namespace)
    (x_train, y_train), _ = load_mnist_sample()
    model = namespace["build_model"]()
    model.fit(normalize(x_train), y_train, epochs=3, verbose=0)
    model.save(folder / "handwritten.keras")
    return folder


def hostile_submission(honest: Path, folder: Path, cnn_file: str, marker: Path) -> Path:
    """The honest submission with a code-carrying handwritten.h5 beside its handwritten.keras and
    a hostile handwritten_cnn.keras (HOSTILE_CNN_FILES)."""
    shutil.copytree(honest, folder)
    lambda_h5(folder / "handwritten.h5", marker)
    HOSTILE_CNN_FILES[cnn_file](folder / "handwritten_cnn.keras")
    return folder


def outcomes(results: dict) -> dict[str, tuple[str, str]]:
    return {
        test["extra_data"]["check_id"]: (
            test["extra_data"]["outcome"],
            test["extra_data"].get("mistake", ""),
        )
        for test in results["tests"]
    }


def assert_graded_honestly(results: dict, cnn_file: str, marker: Path, report: str) -> None:
    found = outcomes(results)
    assert found["build_model.reload"] == ("failed", "model_file_has_code"), report
    assert found["build_model.accuracy"][0] == "skipped", report
    assert found["build_cnn.saved_model"] == ("failed", cnn_file), report
    assert found["build_cnn.accuracy"][0] == "skipped", report
    assert results["score"] == 13 - 3 + 3, report  # reload, accuracy lost; 3 bonus points
    assert not marker.exists(), "a model file's code ran"
    assert "Traceback" not in report


@pytest.mark.slow
@needs_bubblewrap
@pytest.mark.parametrize("cnn_file", sorted(HOSTILE_CNN_FILES))
def test_hostile_model_files_are_graded_honestly_in_local_mode(honest_models, tmp_path, cnn_file):
    """Code in an .h5 file, a zip that unpacks past the limit, a model that needs more memory
    than the limit: each one check's verdict, read in a confined worker; nothing stays in the
    judge's temporary folder."""
    marker = tmp_path / PWNED
    submission = hostile_submission(honest_models, tmp_path / "submission", cnn_file, marker)
    results = tmp_path / "results.json"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = dict(os.environ, MNIST_OFFLINE="1", TMPDIR=str(scratch), **QUIET_TENSORFLOW)
    completed = subprocess.run(
        [sys.executable, "-m", "autograder", str(submission), "--json", str(results)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600,
    )  # fmt: skip
    report = completed.stdout + completed.stderr
    assert_graded_honestly(json.loads(results.read_text()), cnn_file, marker, report)
    assert list(scratch.iterdir()) == [], "the grader left files behind"


def grade_class_in_one_judge(classes: Path, grades: Path) -> dict[str, dict[str, str]]:
    """`batch` over the class with one judge and the sandbox required: each student's CSV row."""
    command = [sys.executable, "-m", "autograder.instructor.batch", str(classes),
               "--out", str(grades), "--workers", "1", "--require-sandbox"]  # fmt: skip
    env = dict(os.environ, MNIST_OFFLINE="1", **QUIET_TENSORFLOW)
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return {row["student"]: row for row in csv.DictReader(grades.open())}


@pytest.mark.slow
@needs_bubblewrap
def test_hostile_model_files_change_no_classmates_grade_in_batch_mode(honest_models, tmp_path):
    """The attacker's files are read in their own forks: the honest classmate graded after it,
    by the same judge, keeps full marks."""
    marker = tmp_path / PWNED
    classes = tmp_path / "class"
    hostile_submission(honest_models, classes / "a_attacker", "model_needs_too_much_memory", marker)
    shutil.copytree(honest_models, classes / "b_honest")
    grades = tmp_path / "out" / "grades.csv"
    rows = grade_class_in_one_judge(classes, grades)
    assert rows["a_attacker"]["status"] == "graded"
    assert float(rows["a_attacker"]["total"]) == 13
    assert rows["a_attacker"]["build_model.reload"] == "0"
    # Full marks, and the bonus CNN trained from build_cnn() (batch grades with --train)
    assert float(rows["b_honest"]["total"]) == 13 + 5
    assert not marker.exists(), "a model file's code ran"


@pytest.mark.slow
@needs_bubblewrap
@pytest.mark.parametrize("cnn_file", sorted(HOSTILE_CNN_FILES))
def test_hostile_model_files_are_graded_honestly_in_gradescope_mode(
    honest_models, tmp_path, cnn_file
):
    """The same files uploaded to Gradescope: run_autograder from the zip's own copy of the
    grader (as root there) reads them in confined forks and gives each its verdict."""
    marker = tmp_path / PWNED
    root = tmp_path / "autograder"
    upload = hostile_submission(honest_models, tmp_path / "upload", cnn_file, marker)
    gradescope_layout(root, upload)
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), MNIST_OFFLINE="1", **QUIET_TENSORFLOW)
    env["PYTHONPATH"] = ""  # run_autograder puts the zip's source first, as on Gradescope
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    env.pop("MNIST_PATH", None)
    completed = subprocess.run(
        [str(root / "source" / "run_autograder")],
        capture_output=True, text=True, cwd=root, env=env, timeout=900,
    )  # fmt: skip
    report = completed.stdout + completed.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert_graded_honestly(results, cnn_file, marker, report)


def lambda_keras(path: Path, marker: Path) -> None:
    """A .keras file whose config holds a Lambda layer that writes `marker` if it runs."""
    lambda_h5(path, marker)  # Keras writes the format the suffix names


@pytest.mark.slow
@needs_bubblewrap
def test_a_keras_file_holding_a_lambda_is_refused_and_changes_no_classmates_grade(
    honest_models, tmp_path
):
    """handwritten.keras with a Lambda layer in its config: safe_mode refuses it in the model
    reader's fork, the check says "holds a Lambda layer", and the classmate graded next by the
    same judge keeps full marks."""
    marker = tmp_path / PWNED
    classes = tmp_path / "class"
    shutil.copytree(honest_models, classes / "a_attacker")
    lambda_keras(classes / "a_attacker" / "handwritten.keras", marker)
    shutil.copytree(honest_models, classes / "b_honest")
    grades = tmp_path / "out" / "grades.csv"
    rows = grade_class_in_one_judge(classes, grades)
    feedback = (grades.parent / "feedback" / "a_attacker.md").read_text()
    assert rows["a_attacker"]["status"] == "graded"
    assert rows["a_attacker"]["build_model.saved_model"] == "0"
    assert "handwritten.keras holds a Lambda layer (Python code)" in feedback, feedback
    assert float(rows["b_honest"]["total"]) == 13 + 5
    assert not marker.exists(), "a model file's code ran"
