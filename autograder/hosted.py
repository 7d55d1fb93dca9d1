"""Grade from a cell of the exercise notebook itself, on Colab, Kaggle, Binder or at home.

    from autograder.hosted import grade
    grade()

``python -m autograder .`` grades the notebooks and model files of a folder. On Colab and Kaggle
the notebook file is not in the kernel's folder (Colab keeps it in Drive or GitHub), only the
model files the notebook saved are. So ``grade()`` takes the cells this kernel has run (IPython's
history; for each graded function, the last cell that defined it), writes them as the exercise's
notebook into a temporary folder beside copies of the model files, and runs the same grader on
it: the same report, printed under the cell.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from autograder.exercises import EXERCISES
from autograder.submission import GRADED_TAG

MODEL_SUFFIXES = (".keras", ".h5")


def notebook_from_history(cells: list[str]) -> nbformat.NotebookNode:
    """The cells run so far as a notebook; of the cells defining one graded function, only the
    last one (the learner's latest attempt) is kept, tagged ``graded``."""
    latest = {}
    for index, source in enumerate(cells):
        for exercise in EXERCISES:
            if f"def {exercise.function}(" in source:
                latest[exercise.function] = index
    kept = []
    for index, source in enumerate(cells):
        defines = [name for name, last in latest.items() if f"def {name}(" in source]
        if defines and index not in latest.values():
            continue  # an earlier attempt
        metadata = {"tags": [GRADED_TAG]} if defines else {}
        kept.append(nbformat.v4.new_code_cell(source, metadata=metadata))
    return nbformat.v4.new_notebook(cells=kept)


def write_submission(cells: list[str], models_from: Path, folder: Path) -> list[str]:
    """Write the notebook of each exercise these cells define, and copy the model files, into
    ``folder``; return the graded functions found."""
    notebook = notebook_from_history(cells)
    source = "\n".join(cell.source for cell in notebook.cells)
    written = []
    # JSON in ASCII: a lone surrogate in a cell (a browser can send one; no UTF-8 writer takes
    # it) stays the escape \ud800, and the grader reports that cell as one it cannot compile.
    text = json.dumps(notebook, indent=1)
    for exercise in EXERCISES:
        if f"def {exercise.function}(" in source:
            (folder / exercise.notebook).write_text(text, encoding="utf-8")
            written.append(exercise.function)
    for path in sorted(models_from.iterdir()):
        if path.is_file() and path.suffix in MODEL_SUFFIXES:
            shutil.copy(path, folder / path.name)
    return written


GRADED_HERE = "Grading the cells run in this notebook and the model files beside it"


def grade(*options: str) -> None:
    """Grade the exercise of this notebook (the cells run so far, the model files saved in the
    current folder) and print the autograder's report.

    ``options`` are those of ``python -m autograder``, e.g. ``grade("--verbose")``. Without
    ``--only``, it grades the one exercise this notebook defines (``--only build_model``), since
    the other notebooks are not in this kernel.
    """
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        print("grade() runs inside a notebook; in a terminal, run: python -m autograder FOLDER")
        return
    cells = [source for source in shell.user_ns.get("In", [])[1:] if source.strip()]
    with tempfile.TemporaryDirectory(prefix="autograder-") as private:
        # Graded one level down: the grader reads a course.toml in the folder above the graded
        # one, which must be this private folder, not a temporary folder other users share.
        folder = os.path.join(private, "submission")
        os.mkdir(folder)
        written = write_submission(cells, Path.cwd(), Path(folder))
        if not written:
            functions = ", ".join(f"{exercise.function}()" for exercise in EXERCISES)
            print(f"No cell run in this notebook defines {functions}: run your exercise first.")
            return
        if len(written) == 1 and "--only" not in options:
            options = (*options, "--only", written[0])
        completed = subprocess.run(
            [sys.executable, "-m", "autograder", folder, *options],
            capture_output=True,
            text=True,
        )
    # The report's first line names the temporary folder: say what was graded instead.
    report = re.sub(r"\AGrading .*", GRADED_HERE, completed.stdout, count=1)
    print(report + completed.stderr, end="")
