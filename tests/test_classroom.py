"""The GitHub Classroom workflow: valid, and in step with the grader's exercises and points."""

import importlib.util
import json
import os
import py_compile
import shlex
import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import set_graded_cell

from autograder.exercises import EXERCISES

WORKFLOW = ".github/workflows/classroom.yml"
COMMAND_GRADER = "classroom-resources/autograding-command-grader@v1"
REPORTER = "classroom-resources/autograding-grading-reporter@v1"
REQUIRED = [exercise for exercise in EXERCISES if not exercise.bonus]


def validate(path) -> subprocess.CompletedProcess:
    """Check a workflow file against GitHub's workflow schema (vendored: works offline)."""
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema"]
    command += ["vendor.github-workflows", str(path)]
    return subprocess.run(command, capture_output=True, text=True)


@pytest.fixture(scope="module")
def workflow(repo) -> dict:
    return yaml.safe_load((repo / WORKFLOW).read_text())


@pytest.fixture(scope="module")
def steps(workflow) -> list[dict]:
    [job] = workflow["jobs"].values()
    return job["steps"]


def grader_steps(steps) -> list[dict]:
    return [step for step in steps if step.get("uses") == COMMAND_GRADER]


def test_workflow_matches_github_schema(repo):
    result = validate(repo / WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_workflow(repo, tmp_path):
    broken = tmp_path / "classroom.yml"
    text = (repo / WORKFLOW).read_text()
    broken.write_text(text.replace("runs-on:", "runs_on:"))
    assert validate(broken).returncode != 0


def grading_step(steps) -> dict:
    [grading] = [step for step in steps if "-m autograder" in step.get("run", "")]
    return grading


def test_runs_on_push_and_installs_the_course_before_grading(workflow, steps):
    assert "push" in workflow["on"]
    runs = [step.get("run", "") for step in steps]
    install = runs.index("pip install -r requirements.txt")
    assert install < steps.index(grading_step(steps))


RESULTS = "${{ runner.temp }}/autograder-results.json"


def test_the_grader_runs_once_and_each_step_reads_its_exercise_from_that_run(steps):
    """Issue 28: one grading run per exercise let the first run's learner code change the
    grader that the next run imported. The grader runs once, before every step that gives
    points; those steps run no file of the learner's repository, only the workflow's reader."""
    grading = grading_step(steps)
    command = shlex.split(grading["run"].split("||")[0])
    assert command[:4] == ["python", "-m", "autograder", "exercises"] and "--only" not in command
    assert command[command.index("--json") + 1] == "$RUNNER_TEMP/autograder-results.json"
    graders = grader_steps(steps)
    assert steps.index(grading) < min(map(steps.index, graders))
    readers = {step["with"]["command"].replace(step["id"], "EXERCISE") for step in graders}
    [reader] = readers  # one reader, each step with its own exercise
    assert reader.startswith("python -I -S -c ") and reader.endswith(f'"{RESULTS}" EXERCISE')


def test_one_step_per_required_exercise_worth_its_points(steps):
    graders = grader_steps(steps)
    assert [step["id"] for step in graders] == [exercise.function for exercise in REQUIRED]
    for step, exercise in zip(graders, REQUIRED, strict=True):
        points = sum(check.points for check in exercise.checks)
        assert step["with"]["max-score"] == points, f"{step['id']}: max-score should be {points}"
        assert shlex.split(step["with"]["command"])[-1] == exercise.function


def test_max_scores_add_up_to_the_graders_maximum(steps):
    grader_maximum = sum(check.points for exercise in REQUIRED for check in exercise.checks)
    assert sum(step["with"]["max-score"] for step in grader_steps(steps)) == grader_maximum


def test_reporter_reads_every_grader_step(steps):
    ids = [step["id"] for step in grader_steps(steps)]
    reporter = steps[-1]
    assert reporter["uses"] == REPORTER
    assert reporter["with"]["runners"].split(",") == ids
    for step_id in ids:
        expected = f"${{{{ steps.{step_id}.outputs.result }}}}"
        assert reporter["env"][f"{step_id.upper()}_RESULTS"] == expected


def test_only_rejects_an_unknown_part_and_lists_the_choices(repo):
    result = subprocess.run(
        [sys.executable, "-m", "autograder", str(repo / "exercises"), "--only", "build_modle"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "no such exercise or check" in result.stdout and "build_model.compile" in result.stdout


def git(folder, *args) -> str:
    command = [
        "git",
        "-C",
        str(folder),
        "-c",
        "user.name=test",
        "-c",
        "user.email=test@example.org",
    ]
    return subprocess.run([*command, *args], capture_output=True, text=True, check=True).stdout


TAMPER_SCRIPT = "autograder/instructor/tamper.py"


def workflow_check(steps, fingerprint: str) -> list[str]:
    """The workflow's check, as the runner runs it in the learner's repository."""
    [guard] = [step for step in steps if TAMPER_SCRIPT in step.get("run", "")]
    run = guard["run"].replace("${{ vars.AUTOGRADER_SHA256 }}", fingerprint)
    python, *arguments = shlex.split(run)
    assert python == "python"
    return [sys.executable, *arguments]


def tamper(*args, cwd) -> subprocess.CompletedProcess:
    """The instructor's check, run outside the repositories it reads (as the README says)."""
    command = [sys.executable, "-m", "autograder.instructor.tamper", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def classroom(repo, tmp_path) -> dict:
    """A Classroom template (this repository's files without solutions/, as the README says),
    a learner's clone of it, and the fingerprint the instructor records from the template."""
    template = tmp_path / "template"
    for name in git(repo, "ls-files", "-z").split("\0"):
        if name and not name.startswith("solutions/") and (repo / name).is_file():
            (template / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / name, template / name)
    git(template.parent, "init", "-q", str(template))
    git(template, "add", "-A")
    git(template, "commit", "-q", "-m", "template")
    learner = tmp_path / "learner"
    git(tmp_path, "clone", "-q", str(template), str(learner))
    recorded = tamper(template, cwd=tmp_path).stdout.strip()
    return dict(template=template, learner=learner, recorded=recorded, outside=tmp_path)


def test_an_honest_learners_repository_passes_the_check(classroom, steps):
    learner = classroom["learner"]
    set_graded_cell(learner / "exercises", "01_build_model.ipynb", "def build_model():\n    ...")
    (learner / "exercises" / "handwritten.keras").write_bytes(b"a model")
    git(learner, "add", "-A")
    git(learner, "commit", "-q", "-m", "my work")
    # What the runner's install, the book and Windows' checkout leave, none of it committed:
    for junk in ("autograder/__pycache__/grader.cpython-312.pyc", "x.egg-info/PKG-INFO"):
        (learner / junk).parent.mkdir(parents=True, exist_ok=True)
        (learner / junk).write_text("not in the commit")
    readme = learner / "README.md"
    readme.write_bytes(readme.read_bytes().replace(b"\n", b"\r\n"))

    checked = tamper(learner, "--expect", classroom["recorded"], cwd=classroom["outside"])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Every file outside exercises/ is the instructor's" in checked.stdout
    listed = tamper(learner, "--template", classroom["template"], cwd=classroom["outside"])
    assert listed.returncode == 0 and "Nothing outside exercises/ differs" in listed.stdout
    on_the_runner = subprocess.run(
        workflow_check(steps, classroom["recorded"]), capture_output=True, text=True, cwd=learner
    )
    assert on_the_runner.returncode == 0, on_the_runner.stdout + on_the_runner.stderr


def forge_compiled_module(learner):
    """A compiled module that Python loads in place of the grader's source without comparing
    the two (an unchecked-hash .pyc, PEP 552), committed beside the untouched source."""
    source = learner / "autograder" / "instructor" / "__init__.py"
    forged = learner / "forged.py"
    forged.write_text('print("FORGED GRADER CODE")\n')
    py_compile.compile(
        str(forged),
        cfile=importlib.util.cache_from_source(str(source)),
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    forged.unlink()
    git(learner, "add", "-f", "autograder")
    return ["-c", "import autograder.instructor"], "FORGED GRADER CODE"


def shadow_a_module_the_grader_imports(learner):
    """`python -m autograder` imports from the repository's root first: an `argparse.py` there
    prints a full score and exits 0, which is all a Classroom step asks for."""
    (learner / "argparse.py").write_text('print("Total: 13/13")\nraise SystemExit(0)\n')
    return ["-m", "autograder", "exercises", "--only", "build_model"], "Total: 13/13"


def append(path: str, text: str):
    def edit(learner):
        with open(learner / path, "a") as file:
            file.write(text)

    return edit


def remove_the_check_from_the_workflow(learner):
    workflow = learner / WORKFLOW
    text = workflow.read_text()
    check = next(line for line in text.splitlines() if TAMPER_SCRIPT in line)
    workflow.write_text(text.replace(check, '        run: "true"'))


EDITS = {
    "a module beside the grader": (shadow_a_module_the_grader_imports, "added: argparse.py"),
    "a compiled grader module": (forge_compiled_module, "added: autograder/instructor/__pycache__"),
    "the data loader": (
        append("digits/data.py", "\nload_mnist = None\n"),
        "changed: digits/data.py",
    ),
    "a course configuration": (
        append("course.toml", "[time_limits]\ncall = 600\n"),
        "added: course.toml",
    ),
    "the install files": (
        append("requirements.txt", "\nmy-package\n"),
        "changed: requirements.txt",
    ),
    "the grader": (
        append("autograder/thresholds.py", "\nTHRESHOLDS = {}\n"),
        "changed: autograder/thresholds.py",
    ),
    "the workflow": (remove_the_check_from_the_workflow, f"changed: {WORKFLOW}"),
}


@pytest.mark.parametrize("edit", EDITS, ids=lambda name: name.replace(" ", "_"))
def test_a_file_changed_or_added_outside_exercises_is_reported_instead_of_a_score(
    classroom, steps, edit
):
    learner = classroom["learner"]
    change, listed_line = EDITS[edit]
    attack = change(learner)
    git(learner, "add", "-A")
    git(learner, "commit", "-q", "-m", "a small change")
    if attack is not None:  # what the change does when the learner's repository is graded
        arguments, shown = attack
        run = subprocess.run(
            [sys.executable, *arguments], capture_output=True, text=True, cwd=learner
        )
        assert run.returncode == 0 and shown in run.stdout, run.stdout + run.stderr

    checked = tamper(learner, "--expect", classroom["recorded"], cwd=classroom["outside"])
    assert checked.returncode == 1 and "EDITED COURSE FILES" in checked.stdout
    assert "Only exercises/ is yours to change" in checked.stdout
    listed = tamper(learner, "--template", classroom["template"], cwd=classroom["outside"])
    assert listed.returncode == 1 and listed_line in listed.stdout, listed.stdout
    # The workflow's own check, in the learner's repository: not fooled by a module beside it.
    on_the_runner = subprocess.run(
        workflow_check(steps, classroom["recorded"]), capture_output=True, text=True, cwd=learner
    )
    assert on_the_runner.returncode == 1 and "EDITED COURSE FILES" in on_the_runner.stdout


def test_a_template_with_uncommitted_changes_is_fingerprinted_as_committed_and_says_so(
    classroom,
):
    """Newcomer: `rm -rf solutions` then the fingerprint, without a commit, printed the
    fingerprint of the commit (solutions/ included) without a word; every learner's run would
    then have stopped with EDITED COURSE FILES."""
    template = classroom["template"]
    (template / "README.md").unlink()
    printed = tamper(template, cwd=classroom["outside"])
    assert printed.stdout.strip() == classroom["recorded"]
    assert "1 file(s) outside exercises/ differ from the last commit" in printed.stderr
    assert "README.md" in printed.stderr and "commit them first" in printed.stderr
    git(template, "commit", "-q", "-a", "-m", "without the README")
    printed = tamper(template, cwd=classroom["outside"])
    assert printed.stdout.strip() != classroom["recorded"] and printed.stderr == ""


def test_a_downloaded_folder_without_git_gets_the_same_fingerprint(classroom):
    plain = classroom["outside"] / "downloaded"
    shutil.copytree(classroom["learner"], plain, ignore=shutil.ignore_patterns(".git"))
    checked = tamper(plain, "--expect", classroom["recorded"], cwd=classroom["outside"])
    assert checked.returncode == 0, checked.stdout + checked.stderr

    os.mkfifo(plain / "a_pipe")  # read as a file, it would wait forever
    checked = tamper(plain, "--template", classroom["template"], cwd=classroom["outside"])
    assert checked.returncode == 1 and "added: a_pipe" in checked.stdout


def test_the_check_runs_before_the_install_and_before_any_score(steps):
    [guard] = [step for step in steps if TAMPER_SCRIPT in step.get("run", "")]
    install = [step.get("run") for step in steps].index("pip install -r requirements.txt")
    # Before the install, which runs the repository's install files (the check needs only the
    # standard library), and before any grading step.
    assert steps.index(guard) < install < steps.index(grading_step(steps))
    assert "vars.AUTOGRADER_SHA256" in guard["run"] and "AUTOGRADER_SHA256" in guard["if"]


# ------------------------------------------------ the grading steps, as the runner runs them

RESULTS_IN_RUNNER_TEMP = ("$RUNNER_TEMP", "${{ runner.temp }}")


def run_the_workflow(steps, learner, runner_temp) -> dict[str, float]:
    """The steps after the install, run in the learner's repository as GitHub's runner runs
    them, without a sandbox (none is installed there): a `run` step in bash -e, a grader step's
    command in sh, each step once and in order; a failed step skips the rest. Returns the points
    of each grader step, as the reporter adds them."""
    shim = runner_temp / "bin"  # "python" on the runner: this test's Python
    shim.mkdir()
    (shim / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (shim / "python").chmod(0o755)
    environment = dict(
        os.environ,
        PATH=f"{shim}{os.pathsep}{os.environ['PATH']}",
        RUNNER_TEMP=str(runner_temp),
        AUTOGRADER_SANDBOX="off",
    )
    environment.pop("PYTHONPATH", None)  # the runner's Python imports the learner's checkout
    points = {step["id"]: 0.0 for step in grader_steps(steps)}
    install = [step.get("run") for step in steps].index("pip install -r requirements.txt")
    for step in steps[install + 1 :]:
        if step.get("uses") == COMMAND_GRADER:
            command = step["with"]["command"].replace("${{ runner.temp }}", str(runner_temp))
            shell = ["sh", "-c", command]
        elif "run" in step:
            shell = ["bash", "-e", "-c", step["run"]]
        else:
            continue  # the reporter
        completed = subprocess.run(shell, cwd=learner, env=environment, timeout=900)
        if step.get("uses") == COMMAND_GRADER and completed.returncode == 0:
            points[step["id"]] = float(step["with"]["max-score"])
        elif completed.returncode != 0 and "uses" not in step:
            break  # a failed `run` step: GitHub skips the steps after it
    return points


ARGMAX_ANSWER = """
import numpy as np

def argmax_accuracy(y_true, y_prob):
    return float(np.mean(np.argmax(np.asarray(y_prob), axis=1) == np.asarray(y_true)))
"""

UNWRITTEN_BUILD_MODEL = """
def build_model():
    raise NotImplementedError("Write build_model()")
"""

# What a graded cell does on the runner, where nothing confines it; {repository} is the
# learner's checkout, {runner_temp} the runner's temporary folder (both on GitHub's pages).
EDIT_THE_GRADER = """
from pathlib import Path

# The issue: the next grading step's fresh grader imports this and exits 0 ("5/5").
with open(Path({repository!r}, "autograder", "grader.py"), "a") as grader:
    grader.write("\\nimport sys\\nprint('Score: 0/5')\\nsys.exit(0)\\n")
# And a module beside whatever reads the result, which Python imports from the current folder.
Path({repository!r}, "json.py").write_text("raise SystemExit(0)\\n")
"""

FORGED_RESULTS = """
import glob, json, os

forged = {{"score": 13, "max_score": 13, "tests": [
    {{"name": name, "score": 1, "max_score": 1, "status": "passed",
      "extra_data": {{"exercise": name, "outcome": "passed"}}}}
    for name in ("build_model", "argmax_accuracy")
]}}
for path in [os.path.join({runner_temp!r}, "autograder-results.json"),
             *glob.glob(os.path.join({runner_temp!r}, "*.json"))]:
    with open(path, "w") as file:
        json.dump(forged, file)
"""

KILL_THE_GRADER = """
import os, signal
from pathlib import Path

grader = os.getppid()
if b"autograder.isolation.worker" in Path(f"/proc/{{grader}}/cmdline").read_bytes():  # a fork
    grader = int(Path(f"/proc/{{grader}}/stat").read_text().rsplit(")", 1)[1].split()[1])
os.kill(grader, signal.SIGKILL)
"""

ATTACKS = {
    "edits the grader and plants a module": EDIT_THE_GRADER,
    "writes the results": FORGED_RESULTS,
    "writes the results and kills the grader": FORGED_RESULTS + KILL_THE_GRADER,
}


def commit_graded_cells(learner, cells: dict[str, str]) -> None:
    for notebook, source in cells.items():
        set_graded_cell(learner / "exercises", notebook, source)
    git(learner, "add", "-A")
    git(learner, "commit", "-q", "-m", "my work")


@pytest.mark.slow
@pytest.mark.parametrize("attack", ATTACKS, ids=lambda name: name.replace(" ", "_"))
def test_a_graded_cell_earns_no_points_for_an_unwritten_exercise(
    classroom, steps, tmp_path, attack
):
    """Issue 28: the build_model cell, graded by the first step, appended to the checkout's
    grader; the next step's fresh grader imported it and exited 0: 5 points for an
    argmax_accuracy never written. Every file it touched is outside what the fingerprint
    checks saw (they ran before)."""
    learner, runner_temp = classroom["learner"], tmp_path / "runner-temp"
    runner_temp.mkdir()
    cell = ATTACKS[attack].format(repository=str(learner), runner_temp=str(runner_temp))
    commit_graded_cells(learner, {"01_build_model.ipynb": UNWRITTEN_BUILD_MODEL + cell})
    assert run_the_workflow(steps, learner, runner_temp) == {
        "build_model": 0.0,
        "argmax_accuracy": 0.0,
    }


@pytest.mark.slow
def test_an_honest_learner_earns_the_points_of_each_exercise_written(classroom, steps, tmp_path):
    learner, runner_temp = classroom["learner"], tmp_path / "runner-temp"
    runner_temp.mkdir()
    commit_graded_cells(learner, {"02_argmax_accuracy.ipynb": ARGMAX_ANSWER})
    points = run_the_workflow(steps, learner, runner_temp)
    assert points == {"build_model": 0.0, "argmax_accuracy": 5.0}


@pytest.mark.slow
def test_the_reference_solutions_earn_every_point(classroom, steps, tmp_path, executed_solutions):
    learner, runner_temp = classroom["learner"], tmp_path / "runner-temp"
    runner_temp.mkdir()
    for path in executed_solutions.iterdir():
        if path.suffix in (".ipynb", ".keras"):
            shutil.copy(path, learner / "exercises" / path.name)
    points = run_the_workflow(steps, learner, runner_temp)
    assert points == {step["id"]: step["with"]["max-score"] for step in grader_steps(steps)}


def test_results_replace_a_link_that_learner_code_left_instead_of_writing_through_it(tmp_path):
    """On the runner, learner code can leave a link to a read-only file of its own where the
    results go: written through, the grader's results would fail to replace the forged ones."""
    from autograder.__main__ import write_results

    forged = tmp_path / "forged.json"
    forged.write_text('{"tests": []}')
    results = tmp_path / "autograder-results.json"
    results.symlink_to(forged)
    write_results(results, {"score": 0})
    assert not results.is_symlink() and json.loads(results.read_text()) == {"score": 0}
    assert forged.read_text() == '{"tests": []}'
    assert sorted(path.name for path in tmp_path.iterdir()) == [results.name, forged.name]
