"""Generate a class of submissions of mixed quality, for trying and measuring batch grading.

    python benchmarks/make_class.py OUT_DIR [--size 33] [--executed DIR]

Each student folder is the reference solutions (executed, so with their model files) or the
generated exercises, with one small edit: complete, partial, not started, wrong, broken, crashing,
hanging, memory-hungry or empty. ``--executed`` reuses a folder of already executed solutions;
without it the solutions are executed once here (a minute or two: it trains both models).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import nbformat

from autograder.exercises import EXERCISES, MODEL_FILES

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = tuple(exercise.notebook for exercise in EXERCISES)
MODELS = tuple(MODEL_FILES)
BUILD, ARGMAX, CNN = NOTEBOOKS[:3]  # exercises 5 and 6 (bonus): only "complete" hands them in

# Small edits to a graded cell: (notebook, text in the reference solution, replacement).
EDITS = {
    "wrong_activation": (BUILD, 'Dense(10, activation="softmax")', 'Dense(10, activation="relu")'),
    "argmax_axis_0": (ARGMAX, "axis=1", "axis=0"),
    "syntax_error": (ARGMAX, "return float(", "return float(("),
    "exits_python": (ARGMAX, "predicted = ", "import os\n\n    os._exit(3)\n    predicted = "),
    "hangs_in_loop": (ARGMAX, "predicted = ", "while True:\n        pass\n    predicted = "),
    "hangs_building": (
        BUILD,
        "model = keras",
        "import time\n\n    time.sleep(10**6)\n    model = keras",
    ),
    "memory_hog": (BUILD, "model = keras", "hog = bytearray(2**40)\n    model = keras"),
}
# What each kind of student hands in: solution notebooks, exercise notebooks, model files, edit.
KINDS = {
    "complete": (NOTEBOOKS, (), MODELS, None),
    "complete_no_bonus": ((BUILD, ARGMAX), (CNN,), MODELS[:1], None),
    "partial": ((BUILD,), (ARGMAX, CNN), MODELS[:1], None),
    "not_started": ((), NOTEBOOKS, (), None),
    "no_model_file": ((BUILD, ARGMAX), (CNN,), (), None),
    "empty": ((), (), (), None),
    **{name: ((BUILD, ARGMAX), (CNN,), MODELS[:1], name) for name in EDITS},
}


def execute_solutions(destination: Path) -> Path:
    """A copy of solutions/, each notebook executed in its folder (writes the model files)."""
    shutil.copytree(REPO / "solutions", destination)
    for name in NOTEBOOKS:
        command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook"]
        command += ["--execute", "--inplace", "--ExecutePreprocessor.timeout=900", name]
        subprocess.run(command, cwd=destination, check=True, capture_output=True)
    return destination


def edit_graded_cell(notebook: Path, old: str, new: str) -> None:
    contents = nbformat.read(notebook, as_version=4)
    graded = [cell for cell in contents.cells if "graded" in cell.metadata.get("tags", [])]
    if not graded or old not in graded[0].source:
        raise ValueError(f"{notebook.name}: no graded cell containing {old!r}; update EDITS.")
    graded[0].source = graded[0].source.replace(old, new, 1)
    nbformat.write(contents, notebook)


def make_student(folder: Path, kind: str, executed: Path, exercises: Path) -> None:
    solved, unsolved, models, edit = KINDS[kind]
    work = folder / "exercises"  # as in a clone of the course repository
    work.mkdir(parents=True)
    for name in solved:
        shutil.copy(executed / name, work / name)
    for name in unsolved:
        shutil.copy(exercises / name, work / name)
    for name in models:
        shutil.copy(executed / name, work / name)
    if edit:
        notebook, old, new = EDITS[edit]
        edit_graded_cell(work / notebook, old, new)
    (folder / "README.md").write_text(f"A generated submission: {kind}.\n")


def make_class(out: Path, size: int, executed: Path, exercises: Path = REPO / "exercises") -> dict:
    """``size`` student folders in ``out``, cycling through the kinds; returns kind -> count."""
    out.mkdir(parents=True, exist_ok=True)
    kinds = list(KINDS)
    counts: Counter = Counter()
    for number in range(size):
        kind = kinds[number % len(kinds)]
        make_student(out / f"student{number + 1:02d}_{kind}", kind, executed, exercises)
        counts[kind] += 1
    return dict(counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the folder to fill with student folders")
    parser.add_argument("--size", type=int, default=33, help="number of students (default 33)")
    parser.add_argument("--executed", type=Path, help="a folder of executed solutions to reuse")
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"{args.out} is not empty: choose a new folder.")
    with tempfile.TemporaryDirectory() as scratch:
        executed = args.executed or execute_solutions(Path(scratch) / "solutions")
        counts = make_class(args.out, args.size, executed)
    print(f"Wrote {args.size} submissions to {args.out}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
