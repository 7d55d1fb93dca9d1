"""The GitHub Classroom workflow: valid, and in step with the grader's exercises and points."""

import importlib.util
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


def test_runs_on_push_and_installs_the_course_before_grading(workflow, steps):
    assert "push" in workflow["on"]
    runs = [step.get("run", "") for step in steps]
    install = runs.index("pip install -r requirements.txt")
    first_grader = steps.index(grader_steps(steps)[0])
    assert install < first_grader


def test_one_step_per_required_exercise_worth_its_points(steps):
    graders = grader_steps(steps)
    assert [step["id"] for step in graders] == [exercise.function for exercise in REQUIRED]
    for step, exercise in zip(graders, REQUIRED, strict=True):
        points = sum(check.points for check in exercise.checks)
        assert step["with"]["max-score"] == points, f"{step['id']}: max-score should be {points}"
        command = step["with"]["command"].split()
        assert command[:4] == ["python", "-m", "autograder", "exercises"]
        assert command[command.index("--only") + 1] == exercise.function


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


@pytest.mark.slow
def test_workflow_commands_pass_on_solutions_and_fail_on_stubs(repo, steps, executed_solutions):
    for step in grader_steps(steps):
        command = step["with"]["command"].split()
        grader = [sys.executable, *command[1:3]]  # "python" on the runner: this test's Python
        solved = subprocess.run([*grader, str(executed_solutions), *command[4:]])
        assert solved.returncode == 0, f"{step['id']} should pass on the reference solutions"
        stub = subprocess.run([*grader, str(repo / "exercises"), *command[4:]])
        assert stub.returncode == 1, f"{step['id']} should fail on the unwritten exercises"


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
    assert steps.index(guard) < install < steps.index(grader_steps(steps)[0])
    assert "vars.AUTOGRADER_SHA256" in guard["run"] and "AUTOGRADER_SHA256" in guard["if"]
