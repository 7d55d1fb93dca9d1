"""The GitHub Classroom workflow: valid, and in step with the grader's exercises and points."""

import subprocess
import sys

import pytest
import yaml

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


def test_an_edited_grader_is_reported_instead_of_a_score(repo, tmp_path, steps):
    import shutil

    from autograder.instructor.tamper import grader_fingerprint

    learner = tmp_path / "learner-repository"
    caches = shutil.ignore_patterns("__pycache__")
    for folder in ("autograder", ".github"):
        shutil.copytree(repo / folder, learner / folder, ignore=caches)
    recorded = grader_fingerprint(learner)
    check = [
        sys.executable,
        "-m",
        "autograder.instructor.tamper",
        str(learner),
        "--expect",
        recorded,
    ]
    assert subprocess.run(check, capture_output=True).returncode == 0

    with open(learner / "autograder" / "thresholds.py", "a") as module:
        module.write("\nTHRESHOLDS = {}\n")
    edited = subprocess.run(check, capture_output=True, text=True)
    assert edited.returncode == 1 and "EDITED GRADER" in edited.stdout

    [guard] = [step for step in steps if "autograder.instructor.tamper" in step.get("run", "")]
    assert steps.index(guard) < steps.index(grader_steps(steps)[0])  # before any score
    assert "vars.AUTOGRADER_SHA256" in guard["run"] and "AUTOGRADER_SHA256" in guard["if"]
