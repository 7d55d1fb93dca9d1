"""Shared fixtures. Tests never touch the network: MNIST comes from the offline sample."""

import os
from pathlib import Path

import pytest

from digits.quiet import quiet_environment, share_cores, threads_per_process

os.environ["MNIST_OFFLINE"] = "1"  # before any test imports the loader
quiet_environment()
if "PYTEST_XDIST_WORKER" in os.environ:
    # The test processes of `pytest -n auto` run side by side, as batch grading's graders do:
    # each (with the graders, kernels and builds it starts) gets its share of the cores.
    share_cores(threads_per_process(int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))

REPO = Path(__file__).resolve().parent.parent

# `pytest -n auto --dist loadgroup` (pytest-xdist, the README's test command) runs the tests in
# parallel processes. The tests that use an expensive session fixture of a group run in one of
# them, so that each fixture is made once.
SHARED_FIXTURE_GROUPS = {
    "book": ("book",),  # the course site built three times (tests/test_book.py)
    "hosted": ("wheel", "wheel_venv", "hosted_run", "executed_solutions", "graded_solutions"),
}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items):
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        groups = [
            group for group, fixtures in SHARED_FIXTURE_GROUPS.items() if used & set(fixtures)
        ]
        if groups and (len(groups) > 1 or item.get_closest_marker("xdist_group")):
            # xdist would run it in a group of both names, where both fixtures are made again
            raise pytest.UsageError(f"{item.nodeid} is in two process groups: split the test")
        if groups:
            item.add_marker(pytest.mark.xdist_group(groups[0]))


@pytest.fixture(scope="session")
def load_script():
    """``load_script(name)``: the module scripts/NAME.py (tools that tests share with benchmarks
    and instructors), loaded by its path."""
    import importlib.util

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def book(tmp_path_factory, load_script) -> dict:
    """The course site, for tests/test_book.py and tests/test_drawing_pad.py: build a copy of the
    book clean, again with nothing changed, and after a prose edit."""
    bench = load_script("book_build")
    book_dir = bench.copy_repository(tmp_path_factory.mktemp("book") / "course")
    clean, _ = bench.build_book(book_dir)
    assert clean.returncode == 0, f"book build failed:\n{clean.stdout[-6000:]}\n{clean.stderr}"
    cached, _ = bench.build_book(book_dir)
    assert cached.returncode == 0, f"cached rebuild failed:\n{cached.stdout[-6000:]}"
    bench.edit_prose(book_dir)
    edited, _ = bench.build_book(book_dir)
    assert edited.returncode == 0, f"rebuild after a prose edit failed:\n{edited.stdout[-6000:]}"
    return dict(
        dir=book_dir,
        html=book_dir / "_build" / "html",
        clean=clean,
        cached=cached,
        edited=edited,
        executed=executed_notebooks(book_dir),
    )


def executed_notebooks(book_dir: Path) -> dict[str, dict]:
    """chapter -> the executed notebook in the build's execution cache (glue values included)."""
    from jupyter_cache import get_cache

    cache = get_cache(book_dir / "_build" / ".jupyter_cache")
    notebooks = {}
    for record in cache.list_cache_records():
        chapter = Path(record.uri).relative_to(book_dir).with_suffix("").as_posix()
        notebooks[chapter] = cache.get_cache_bundle(record.pk).nb
    return notebooks


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def mnist_sample():
    from digits.data import load_mnist_sample

    return load_mnist_sample()


def execute_notebook(path: Path, timeout: int = 900) -> None:
    """Run a notebook top to bottom in its own folder, offline; save it with its outputs."""
    import nbclient
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": path.parent}},
    )
    try:
        client.execute()
    finally:
        nbformat.write(notebook, path)  # outputs up to the failing cell, if one fails


@pytest.fixture(scope="session")
def run_notebook():
    """``run_notebook(path)`` executes a notebook in place (see ``execute_notebook``)."""
    return execute_notebook


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The course's wheel, built from a copy of the repository."""
    from fresh_env import build_wheel

    return build_wheel(REPO, tmp_path_factory)


@pytest.fixture(scope="session")
def wheel_venv(wheel, tmp_path_factory) -> dict:
    """A fresh virtual environment outside the repository with the wheel installed (not
    editable); see tests/fresh_env.py."""
    from fresh_env import install_in_fresh_venv

    return install_in_fresh_venv(wheel, REPO, tmp_path_factory)


@pytest.fixture(scope="session")
def hosted_run(wheel_venv) -> dict:
    """The chapter and every solution notebook executed once per session in the fresh
    environment, from an empty folder, as on Colab (slow: trains the models)."""
    from fresh_env import run_hosted

    return run_hosted(wheel_venv, REPO)


@pytest.fixture(scope="session")
def executed_solutions(hosted_run, tmp_path_factory) -> Path:
    """A copy of solutions/ with every notebook executed in order, as a learner's finished
    exercises/ holds them, including handwritten.keras and handwritten_cnn.keras.

    The notebooks are the ones the hosted run executed (the wheel's `digits` and `autograder`,
    a fresh kernel each), so the models are trained once per test session.
    """
    import shutil

    result = hosted_run["result"]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    folder = tmp_path_factory.mktemp("executed") / "solutions"
    shutil.copytree(REPO / "solutions", folder)
    for path in hosted_run["folder"].iterdir():
        if path.suffix in (".ipynb", ".keras", ".h5") and (
            path.suffix != ".ipynb" or (folder / path.name).exists()
        ):
            shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(scope="session")
def graded_solutions(executed_solutions, tmp_path_factory) -> dict:
    """The executed reference solutions graded once per session, the way a learner grades:
    ``python -m autograder DIR --json results.json``. Its ``completed`` process (exit code,
    stdout, stderr) and its ``results`` (results.json, or None if none was written)."""
    import json
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("graded")
    results = folder / "results.json"
    command = [sys.executable, "-m", "autograder", str(executed_solutions), "--json", str(results)]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=folder, timeout=600)
    written = json.loads(results.read_text()) if results.is_file() else None
    return {"completed": completed, "results": written}


def set_graded_cell(folder: Path, notebook: str, source: str) -> None:
    """Replace the source of the notebook's cell tagged `graded`, as a learner would."""
    import json

    from autograder.submission import GRADED_TAG

    path = folder / notebook
    content = json.loads(path.read_text())
    cell = next(c for c in content["cells"] if GRADED_TAG in c["metadata"].get("tags", []))
    cell["source"] = source
    path.write_text(json.dumps(content))


@pytest.fixture
def submission_with(tmp_path):
    """``submission_with({notebook: source})``: a copy of exercises/ with those graded cells."""

    def make(cells: dict[str, str], folder: Path | None = None) -> Path:
        import shutil

        folder = folder or tmp_path / "submission"
        folder.mkdir(parents=True)
        for notebook in (REPO / "exercises").glob("*.ipynb"):
            shutil.copy(notebook, folder / notebook.name)
        for notebook, source in cells.items():
            set_graded_cell(folder, notebook, source)
        return folder

    return make
