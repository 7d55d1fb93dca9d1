"""The course as a package: what a wheel holds, and what it does with no clone around it.

The slow tests build the wheel (`pip wheel --no-deps`), install it, not editable, into a fresh
virtual environment in a temporary folder outside the repository, and run everything there from
an empty folder: the offline sample, the grader on the executed reference solutions, the
Gradescope zip, and a simulated hosted kernel (Colab, Kaggle, Binder) that executes a chapter and
every exercise notebook. The fresh environment borrows this one's dependencies (TensorFlow and
the rest) through a `.pth` file that adds their folder to `sys.path`: Python does not read the
`.pth` files of a folder added that way, so the repository's own editable install does not come
along, and the tests check that `digits` and `autograder` come from the wheel.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml
from fresh_env import HOSTED_CHAPTER, run_in

from autograder.hosted import GRADED_HERE

PACKAGE_DATA = (
    "digits/resources/mnist_sample.npz",
    "digits/resources/README.md",
    "digits/resources/handwriting/example_digit.png",
    "digits/resources/handwriting/README.md",
    "digits/resources/web/draw_digit.js",
    "autograder/instructor/gradescope_files/setup.sh",
    "autograder/instructor/gradescope_files/run_autograder",
    "autograder/exercises/planted.json",  # exercise 5's planted bugs: "not attempted"
)


def load_install_cell_script(repo: Path):
    path = repo / "scripts" / "install_cell.py"
    spec = importlib.util.spec_from_file_location("install_cell", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def course_url(repo: Path) -> str:
    repository = yaml.safe_load((repo / "_config.yml").read_text())["repository"]
    return f"git+{repository['url']}@{repository['branch']}"


# --- the set-up cell that opens every notebook -------------------------------------------------


def test_every_chapter_and_exercise_opens_with_the_set_up_cell(repo):
    script = load_install_cell_script(repo)
    source = script.cell_source(repo / "_config.yml")
    assert course_url(repo) in source
    for folder in ("book", "solutions", "exercises"):
        for path in sorted((repo / folder).glob("*.ipynb")):
            first = nbformat.read(path, as_version=4).cells[0]
            assert first.cell_type == "code" and first.source == source, path
            assert "remove-cell" in first.metadata.get("tags", []), f"{path}: shown on the site"
    assert script.main(["--check", "--root", str(repo)]) == 0


def run_set_up_cell(repo, monkeypatch, digits_installed: bool) -> list:
    """Execute the set-up cell as a kernel would; return the commands it ran."""
    source = nbformat.read(repo / "solutions" / "01_build_model.ipynb", as_version=4).cells[0]
    commands = []
    real_run = subprocess.run

    def fake_run(command, *args, **kwargs):  # intercepts pip; TensorFlow's own calls go through
        if list(command[1:3]) != ["-m", "pip"]:
            return real_run(command, *args, **kwargs)
        commands.append(command)
        return subprocess.CompletedProcess(command, 0)

    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        if name == "digits" and not digits_installed:
            return None
        return real_find_spec(name, *args)

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    exec(compile(source.source, "<set-up cell>", "exec"), {})
    return commands


def test_set_up_cell_does_nothing_where_the_course_is_installed(repo, monkeypatch):
    assert run_set_up_cell(repo, monkeypatch, digits_installed=True) == []


def test_set_up_cell_installs_the_course_from_the_repository_when_missing(repo, monkeypatch):
    commands = run_set_up_cell(repo, monkeypatch, digits_installed=False)
    assert commands == [[sys.executable, "-m", "pip", "install", "--quiet", course_url(repo)]]


def test_quiet_tensorflow_sets_the_log_level_and_shows_why_tensorflow_failed_to_load(tmp_path):
    """The set-up cell hides TensorFlow's start-up log (the hosted run checks a real kernel's
    output), never the reason it could not load: here a TensorFlow that writes it and fails."""
    broken = tmp_path / "tensorflow"
    broken.mkdir()
    (broken / "__init__.py").write_text(
        "import os\nos.write(2, b'the reason it gives\\n')\nraise ImportError('no TensorFlow')\n"
    )
    code = (
        "import os\nfrom digits.quiet import quiet_tensorflow\n"
        "try:\n    quiet_tensorflow()\nexcept ImportError as error:\n    print('raised', error)\n"
        "print(os.environ['TF_CPP_MIN_LOG_LEVEL'])\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("TF_CPP")}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.stdout == "raised no TensorFlow\n3\n", result.stderr
    assert result.stderr == "the reason it gives\n"


def test_grade_from_a_cell_takes_the_last_attempt_and_the_model_files(tmp_path):
    """On Colab the notebook file is not beside the kernel: grade() rebuilds it from history."""
    from autograder.hosted import write_submission

    here, folder = tmp_path / "content", tmp_path / "graded"
    here.mkdir()
    folder.mkdir()
    (here / "handwritten.keras").write_bytes(b"model")
    cells = [
        "import keras",
        "def build_model():\n    return None  # first attempt",
        "def build_model():\n    return keras.Sequential()",
        "check(build_model)",
    ]
    assert write_submission(cells, here, folder) == ["build_model"]
    notebook = nbformat.read(folder / "01_build_model.ipynb", as_version=4)
    graded = [cell for cell in notebook.cells if "graded" in cell.metadata.get("tags", [])]
    assert [cell.source for cell in graded] == [cells[2]]
    assert "first attempt" not in "".join(cell.source for cell in notebook.cells)
    assert (folder / "handwritten.keras").read_bytes() == b"model"


ARGMAX_ANSWER = """import numpy as np


def argmax_accuracy(y_true, y_prob):
    return float(np.mean(np.argmax(y_prob, axis=1) == np.asarray(y_true)))
"""


def test_grade_in_a_notebook_reads_no_course_toml_from_the_shared_temporary_folder(
    tmp_path, monkeypatch, capsys
):
    """Red team: grade() graded a folder made directly in the temporary folder, so a course.toml
    there (in /tmp, any user of a shared machine can write one) set the points and time limits,
    without a word in the report."""
    import tempfile
    from types import SimpleNamespace

    import IPython

    from autograder.hosted import grade

    shared, here = tmp_path / "shared-tmp", tmp_path / "content"
    shared.mkdir()
    here.mkdir()
    (shared / "course.toml").write_text(
        '[points]\n"argmax_accuracy.values" = 0\n"argmax_accuracy.returns_float" = 0\n'
    )
    monkeypatch.setenv("TMPDIR", str(shared))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    monkeypatch.chdir(here)
    shell = SimpleNamespace(user_ns={"In": ["", ARGMAX_ANSWER, "grade()"]})
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    grade()
    shown = capsys.readouterr().out
    assert "course configuration" not in shown
    assert "Score: 5/5" in shown, shown


# --- package data, read wherever the package is ------------------------------------------------


def test_runtime_code_computes_no_path_from_the_repository_layout(repo):
    files = [*(repo / "digits").glob("*.py"), repo / "autograder" / "instructor" / "gradescope.py"]
    for path in files:
        text = path.read_text()
        assert "parent.parent" not in text and "__file__" not in text, path


def test_models_are_cached_per_user_unless_digits_models_dir_says(monkeypatch, tmp_path):
    from digits import training

    monkeypatch.delenv("DIGITS_MODELS_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    expected = tmp_path / "cache" / "handwritten-digits" / "models" / "dense-mnist.keras"
    assert training.model_path("dense", "mnist") == expected
    monkeypatch.setenv("DIGITS_MODELS_DIR", str(tmp_path / "book"))
    assert training.model_path("dense", "mnist") == tmp_path / "book" / "dense-mnist.keras"


def keras_load_data_that_prints_then(outcome):
    def load_data():
        print("Downloading data from https://storage.googleapis.com/mnist.npz")
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return load_data


def test_offline_no_downloading_line_is_printed(monkeypatch, capsys):
    import keras

    from digits import load_mnist

    monkeypatch.delenv("MNIST_OFFLINE", raising=False)
    monkeypatch.delenv("MNIST_PATH", raising=False)
    failure = Exception("URL fetch failure on https://storage.googleapis.com/mnist.npz: None")
    monkeypatch.setattr(
        keras.datasets.mnist, "load_data", keras_load_data_that_prints_then(failure)
    )
    with pytest.warns(UserWarning, match="offline MNIST sample"):
        assert load_mnist().source == "mnist-sample"
    assert "Downloading data" not in capsys.readouterr().out


def test_a_download_that_works_or_fails_otherwise_shows_keras_line(monkeypatch, capsys):
    import keras
    import numpy as np

    from digits import load_mnist

    monkeypatch.delenv("MNIST_OFFLINE", raising=False)
    monkeypatch.delenv("MNIST_PATH", raising=False)
    arrays = ((np.zeros((2, 28, 28), np.uint8), np.zeros(2, np.uint8)),) * 2
    monkeypatch.setattr(keras.datasets.mnist, "load_data", keras_load_data_that_prints_then(arrays))
    assert load_mnist().source == "mnist"
    assert "Downloading data from" in capsys.readouterr().out

    broken = RuntimeError("corrupted cache")
    monkeypatch.setattr(keras.datasets.mnist, "load_data", keras_load_data_that_prints_then(broken))
    with pytest.raises(RuntimeError, match="corrupted cache"):
        load_mnist()
    assert "Downloading data from" in capsys.readouterr().out


# --- the wheel, installed alone outside the repository (slow) ----------------------------------


@pytest.mark.slow
def test_wheel_holds_the_package_data(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert set(PACKAGE_DATA) <= names
    metadata = next(name for name in names if name.endswith(".dist-info/METADATA"))
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(metadata).decode()
    assert "Requires-Dist: tensorflow" in text and "Provides-Extra: dev" in text


@pytest.mark.slow
def test_wheel_installs_a_command_for_the_grader_and_each_instructor_tool(wheel_venv):
    """Each console script of pyproject.toml runs its tool: the grader refuses an unknown
    --only in one line, and every instructor tool shows its own help."""
    from autograder.config import tomllib  # tomli on Python 3.10

    scripts = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    bin_folder = Path(wheel_venv["python"]).parent
    for name, target in scripts["project"]["scripts"].items():
        grader = [str(wheel_venv["work"]), "--only", "nope"]
        result = subprocess.run(
            [str(bin_folder / name), *(grader if name == "autograder" else ["--help"])],
            capture_output=True,
            text=True,
            env=wheel_venv["env"],
            cwd=wheel_venv["work"],
        )
        if name == "autograder":
            assert result.returncode == 2 and "no such exercise or check: nope" in result.stdout
        else:
            module = target.split(":")[0]
            assert result.returncode == 0, result.stderr
            assert f"python -m {module}" in result.stdout  # its own parser, not another's


@pytest.mark.slow
def test_wheel_loads_the_offline_sample_with_its_warning(wheel_venv):
    code = "import digits; d = digits.load_mnist(); print(d.source, d.origin)"
    result = run_in(wheel_venv, "-c", code, cwd=wheel_venv["work"])
    assert result.returncode == 0, result.stderr
    source, origin = result.stdout.split()
    assert source == "mnist-sample" and Path(origin).is_relative_to(wheel_venv["site"])
    assert "MNIST_OFFLINE=1: using the offline MNIST sample" in result.stderr  # fresh_env sets it


@pytest.mark.slow
def test_wheel_grades_the_executed_solutions_to_full_marks(wheel_venv, executed_solutions):
    submission = wheel_venv["root"] / "graded"
    shutil.copytree(executed_solutions, submission)
    result = run_in(wheel_venv, "-m", "autograder", str(submission), cwd=wheel_venv["work"])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Score" in result.stdout or "score" in result.stdout


@pytest.mark.slow
def test_wheel_builds_the_gradescope_zip(wheel_venv):
    out = wheel_venv["work"] / "autograder.zip"
    result = run_in(
        wheel_venv,
        "-m",
        "autograder.instructor.gradescope",
        "--out",
        str(out),
        cwd=wheel_venv["work"],
    )
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        requirements = archive.read("requirements.txt").decode()
    assert {"setup.sh", "run_autograder", "digits/resources/mnist_sample.npz"} <= names
    assert "tensorflow" in requirements and "pytest" not in requirements


@pytest.mark.slow
def test_a_fresh_hosted_kernel_runs_a_chapter_and_every_exercise_and_grades_them(
    hosted_run, wheel_venv
):
    """An empty folder, the wheel installed, no clone: what Colab, Kaggle or Binder give (see
    `fresh_env.run_hosted`); then, with the notebooks saved there (as on Binder),
    `python -m autograder .` grades the folder."""
    folder, result, report = hosted_run["folder"], hosted_run["result"], hosted_run["report"]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert len(report) == len(hosted_run["notebooks"])
    for name, ran in report.items():  # each kernel ran the fresh environment and the wheel
        python, digits_file = ran["probe"]
        assert Path(python).parent == wheel_venv["python"].parent, name
        assert Path(digits_file).is_relative_to(wheel_venv["site"]), name
        if ran["graded"] is not None:  # grade(): its exercise only, every check passed
            assert re.search(r"^PASS ", ran["graded"], re.MULTILINE), ran["graded"]
            assert ran["graded"].startswith(GRADED_HERE), ran["graded"]  # not a temporary folder
            assert not re.search(r"^(FAIL|ERROR|TODO) ", ran["graded"], re.MULTILINE), name

    chapter = nbformat.read(folder / Path(HOSTED_CHAPTER).name, as_version=4)
    printed = "".join(
        output.get("text", "") for cell in chapter.cells for output in cell.get("outputs", [])
    )
    assert "Epoch 3/3" in printed  # model.fit ran in the chapter
    assert "Downloading data" not in printed and "cuda" not in printed.lower()
    assert {"handwritten.keras", "handwritten_cnn.keras"} <= {p.name for p in folder.iterdir()}

    graded = run_in(wheel_venv, "-m", "autograder", ".", cwd=folder)
    assert graded.returncode == 0, graded.stdout[-4000:] + graded.stderr[-2000:]
