"""A fresh environment with the course's wheel, as Colab, Kaggle or Binder have it, and the
reference solutions executed there: shared by conftest's fixtures and tests/test_package.py.

The fresh environment borrows this one's dependencies (TensorFlow and the rest) through a `.pth`
file that adds their folder to `sys.path`: Python does not read the `.pth` files of a folder added
that way, so the repository's own editable install does not come along.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HOSTED_CHAPTER = "book/04_train.ipynb"
COPY_IGNORE = shutil.ignore_patterns(
    ".git", "_build", "build", "dist", ".venv*", "*.egg-info", "__pycache__", ".*_cache"
)


def build_wheel(repo: Path, tmp_path_factory) -> Path:
    """The wheel, built from a copy of the repository (setuptools leaves build/ in the tree)."""
    source = tmp_path_factory.mktemp("source") / "course"
    shutil.copytree(repo, source, ignore=COPY_IGNORE)
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*command, "-w", str(out), str(source)], check=True, cwd=out)
    (path,) = out.glob("handwritten_digits-*.whl")
    return path


def install_in_fresh_venv(wheel: Path, repo: Path, tmp_path_factory) -> dict:
    """A fresh virtual environment outside the repository with the wheel installed (not
    editable) and this environment's dependencies borrowed through a `.pth` path line."""
    root = tmp_path_factory.mktemp("fresh")
    assert repo not in root.parents
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    start = time.perf_counter()
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        env=env,
    )
    install_seconds = time.perf_counter() - start
    # After the install: pip would take the borrowed editable install for this package.
    borrowed = [path for path in sys.path if Path(path).name in ("site-packages", "dist-packages")]
    (Path(site) / "borrowed-dependencies.pth").write_text("\n".join(borrowed) + "\n")
    env.update(MNIST_OFFLINE="1", XDG_CACHE_HOME=str(root / "cache"), MPLBACKEND="Agg")
    env.pop("DIGITS_MODELS_DIR", None)
    work = root / "work"
    work.mkdir()
    where = subprocess.run(
        [
            str(python),
            "-c",
            "import autograder, digits; print(digits.__file__); print(autograder.__file__)",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        check=True,
    ).stdout.split()
    for path in where:
        assert Path(path).is_relative_to(site), f"{path} is not from the wheel"
    return dict(
        python=python,
        env=env,
        site=Path(site),
        root=root,
        work=work,
        install_seconds=install_seconds,
    )


def run_in(venv: dict, *args, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(venv["python"]), *args],
        capture_output=True,
        text=True,
        env=venv["env"],
        cwd=cwd,
        timeout=timeout,
    )


HOSTED_RUNNER = """
import json
import sys
from pathlib import Path

import nbclient
import nbformat

PROBE = "import json, sys, digits; print(json.dumps([sys.executable, digits.__file__]))"
GRADE = "from autograder.hosted import grade\\n\\ngrade()"
report = {}
for path in map(Path, sys.argv[1:]):
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.insert(1, nbformat.v4.new_code_cell(PROBE))  # right after the set-up cell
    graded = any("graded" in cell.metadata.get("tags", []) for cell in notebook.cells)
    if graded:
        notebook.cells.append(nbformat.v4.new_code_cell(GRADE))
    # The kernel runs in the current folder, where the notebook file is not (as on Colab).
    nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3").execute()
    printed = None
    if graded:
        printed = "".join(output.get("text", "") for output in notebook.cells.pop().outputs)
    probe = json.loads(notebook.cells.pop(1).outputs[0]["text"])
    report[path.name] = dict(probe=probe, graded=printed)
    nbformat.write(notebook, Path.cwd() / path.name)  # saved beside its files, as on Binder
print(json.dumps(report))
"""


def run_hosted(venv: dict, repo: Path) -> dict:
    """An empty folder, the wheel installed, no clone: the chapter and every solution notebook
    run there, each in a fresh kernel (the notebook file elsewhere, as on Colab); graded
    exercises grade themselves from a last cell (`autograder.hosted.grade()`). The notebooks are
    then saved there with their outputs, beside the model files they wrote (as on Binder).

    Returns the folder, the notebooks run, the runner's process and its report per notebook.
    """
    folder = venv["root"] / "hosted"
    folder.mkdir()
    notebooks = [repo / HOSTED_CHAPTER, *sorted((repo / "solutions").glob("*.ipynb"))]
    runner = venv["root"] / "run_notebooks.py"
    runner.write_text(HOSTED_RUNNER)
    result = run_in(venv, str(runner), *map(str, notebooks), cwd=folder, timeout=1800)
    report = json.loads(result.stdout.splitlines()[-1]) if result.returncode == 0 else None
    return dict(folder=folder, notebooks=notebooks, result=result, report=report)
