"""The Gradescope autograder zip: its layout, and its run_autograder run as Gradescope would."""

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from autograder.instructor.gradescope import build_zip, grade_submission, grading_requirements

SCRIPTS = ("setup.sh", "run_autograder")


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    build_zip(out)
    return out


def unpack_as_gradescope(zip_path: Path, root: Path) -> Path:
    """Lay out ``root`` like Gradescope's /autograder: source/, submission/, results/."""
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
    (root / "submission").mkdir()
    script = root / "run_autograder"  # Gradescope copies it next to source/
    shutil.copy(root / "source" / "run_autograder", script)
    script.chmod(0o755)
    return script


def run_autograder(script: Path, root: Path) -> subprocess.CompletedProcess:
    """Run it with this test's Python (setup.sh would install one) from another folder."""
    env = dict(os.environ, AUTOGRADER_ROOT=str(root))
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    env.pop("MNIST_PATH", None)
    return subprocess.run(
        [str(script)], cwd=root, env=env, capture_output=True, text=True, timeout=600
    )


def test_zip_has_gradescope_scripts_at_its_root_executable_with_unix_newlines(built_zip):
    with zipfile.ZipFile(built_zip) as archive:
        for name in SCRIPTS:
            info = archive.getinfo(name)
            assert stat.S_IMODE(info.external_attr >> 16) & stat.S_IXUSR, f"{name} not executable"
            text = archive.read(name).decode()
            assert text.startswith("#!/usr/bin/env bash\n") and "\r" not in text


def test_zip_ships_the_grader_its_data_and_no_caches(built_zip):
    with zipfile.ZipFile(built_zip) as archive:
        names = set(archive.namelist())
    expected = {
        "requirements.txt",
        "autograder/__main__.py",
        "autograder/exercises/build_model.py",
        "autograder/instructor/gradescope_files/run_autograder",
        "digits/data.py",
        "digits/resources/mnist_sample.npz",
        "digits/resources/README.md",
    }
    assert expected <= names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert "data/mnist.npz" not in names


def test_grading_requirements_are_the_packages_dependencies_without_extras(repo):
    from packaging.requirements import Requirement

    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    course = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["dependencies"]
    kept = [line for line in grading_requirements().splitlines() if not line.startswith("#")]
    assert sorted(map(str, map(Requirement, kept))) == sorted(map(str, map(Requirement, course)))
    names = " ".join(kept)
    assert "tensorflow" in names and "keras" in names
    for tool in ("jupyter-book", "pytest", "ruff", "-e"):
        assert tool not in names


def test_scripts_are_valid_bash(built_zip, tmp_path):
    with zipfile.ZipFile(built_zip) as archive:
        archive.extractall(tmp_path)
    for name in SCRIPTS:
        result = subprocess.run(
            ["bash", "-n", str(tmp_path / name)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
    if shutil.which("shellcheck"):
        result = subprocess.run(
            ["shellcheck", *(str(tmp_path / name) for name in SCRIPTS)],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout


def test_mnist_option_ships_the_file_and_points_mnist_path_at_it(tmp_path, mnist_sample):
    (x_train, y_train), (x_test, y_test) = mnist_sample
    mnist = tmp_path / "mnist.npz"
    np.savez(mnist, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    names = build_zip(tmp_path / "autograder.zip", mnist)
    assert "data/mnist.npz" in names
    with zipfile.ZipFile(tmp_path / "autograder.zip") as archive:
        script = archive.read("run_autograder").decode()
    assert 'export MNIST_PATH="$SOURCE/data/mnist.npz"' in script


def test_a_bad_mnist_file_is_refused_before_building(tmp_path):
    bad = tmp_path / "mnist.npz"
    bad.write_text("not numpy")
    result = subprocess.run(
        [sys.executable, "-m", "autograder.instructor.gradescope", "--out", str(tmp_path / "a.zip"),
         "--mnist", str(bad)],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 2 and "not a NumPy .npz file" in result.stderr
    assert not (tmp_path / "a.zip").exists()


def test_a_grader_that_dies_still_leaves_results_that_say_what_to_do(tmp_path):
    (tmp_path / "submission").mkdir()
    results = grade_submission(tmp_path, grader=(sys.executable, "-c", "raise SystemExit(3)"))
    report = json.loads(results.read_text())
    assert report["score"] == 0 and "exit code 3" in report["output"]
    assert "submit again" in report["output"]


@pytest.mark.slow
def test_run_autograder_grades_a_complete_submission_offline(
    tmp_path, executed_solutions, mnist_sample
):
    (x_train, y_train), (x_test, y_test) = mnist_sample
    mnist = tmp_path / "mnist.npz"
    np.savez(mnist, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    build_zip(tmp_path / "autograder.zip", mnist)
    root = tmp_path / "autograder"
    script = unpack_as_gradescope(tmp_path / "autograder.zip", root)
    for path in executed_solutions.iterdir():  # uploaded as loose files
        if path.suffix in (".ipynb", ".keras"):
            shutil.copy(path, root / "submission")

    result = run_autograder(script, root)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((root / "results" / "results.json").read_text())
    assert report["score"] >= report["max_score"] > 0
    assert "mnist-file" in report["output"]  # graded on the shipped file, not a download
    assert {test["extra_data"]["outcome"] for test in report["tests"]} == {"passed"}


@pytest.mark.slow
def test_run_autograder_grades_unwritten_exercises_as_zero(tmp_path, built_zip, repo):
    root = tmp_path / "autograder"
    script = unpack_as_gradescope(built_zip, root)
    shutil.copytree(repo / "exercises", root / "submission" / "exercises")  # a whole folder

    result = run_autograder(script, root)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((root / "results" / "results.json").read_text())
    assert report["score"] == 0 and report["max_score"] > 0
    outcomes = {test["extra_data"]["outcome"] for test in report["tests"]}
    assert "not attempted" in outcomes
