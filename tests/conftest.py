"""Shared fixtures. Tests never touch the network: MNIST comes from the offline sample."""

import os
from pathlib import Path

import pytest

os.environ["MNIST_OFFLINE"] = "1"  # before any test imports the loader
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parent.parent


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
def executed_solutions(tmp_path_factory) -> Path:
    """A temporary copy of solutions/, every notebook executed in order (slow: trains the models).

    Each notebook is saved there with its outputs; the folder holds what a learner's finished
    exercises/ holds, including handwritten.keras and handwritten_cnn.keras.
    """
    import shutil

    folder = tmp_path_factory.mktemp("executed") / "solutions"
    shutil.copytree(REPO / "solutions", folder)
    for notebook in sorted(folder.glob("*.ipynb")):
        execute_notebook(notebook)
    return folder


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
