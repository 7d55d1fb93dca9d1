"""Speed of the autograder on a complete submission, against the floor and re-execution.

    MNIST_OFFLINE=1 python benchmarks/bench_grader.py [--repeats 3]

In one run, on a copy of solutions/:
1. re-execution: run the three notebooks top to bottom with nbclient, as otter-grader and
   nbgrader grade (this also writes the model files the next steps need);
2. floor: a fresh process that imports TensorFlow, loads handwritten.keras and evaluates it on
   the test set (and, as a second floor, both saved models);
3. cold grade: a fresh `python -m autograder` process on the executed copy, its workers forked
   from one process that imported Keras once (the default on Linux), and with a new worker
   process per notebook (AUTOGRADER_WORKER_FORK=0, as on macOS and Windows);
4. bare import: `python -c "import keras"`, the least any grading process costs;
5. exercise 2 alone (`--only argmax_accuracy`), a learner's feedback on the one exercise that
   judges no model: no process imports TensorFlow for it.
Steps 2 to 5 alternate `--repeats` times; the medians are printed with their ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.exercises import EXERCISES, MODEL_FILES
from digits.quiet import quiet_environment

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = [exercise.notebook for exercise in EXERCISES]
FLOOR = """
import sys
import keras
import tensorflow
from digits.data import load_mnist, normalize
_, (x_test, y_test) = load_mnist()
for path in sys.argv[1:]:
    keras.models.load_model(path).evaluate(normalize(x_test), y_test, verbose=0)
"""


def execute_notebooks(folder: Path) -> float:
    import nbclient
    import nbformat

    started = time.perf_counter()
    for name in NOTEBOOKS:
        notebook = nbformat.read(folder / name, as_version=4)
        resources = {"metadata": {"path": str(folder)}}
        nbclient.NotebookClient(notebook, timeout=900, resources=resources).execute()
    return time.perf_counter() - started


def timed(command: list[str], expect_success: bool = True, environment=None) -> float:
    started = time.perf_counter()
    env = dict(os.environ, **(environment or {}))
    completed = subprocess.run(command, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    if expect_success and completed.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{completed.stdout}\n{completed.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    quiet_environment()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary) / "submission"
        shutil.copytree(REPO / "solutions", folder)
        reexecution = execute_notebooks(folder)
        dense, cnn = (str(folder / name) for name in MODEL_FILES[:2])  # exercises 1 and 3
        floors, floors_both, grades, spawned, imports, alone = [], [], [], [], [], []
        grader = [sys.executable, "-m", "autograder", str(folder)]
        exercise_2 = [*grader, "--only", "argmax_accuracy"]
        for _ in range(arguments.repeats):
            imports.append(timed([sys.executable, "-c", "import keras"]))
            floors.append(timed([sys.executable, "-c", FLOOR, dense]))
            floors_both.append(timed([sys.executable, "-c", FLOOR, dense, cnn]))
            grades.append(timed(grader))
            spawned.append(timed(grader, environment={"AUTOGRADER_WORKER_FORK": "0"}))
            alone.append(timed(exercise_2))
    floor, floor_both, grade, spawn, bare, alone_s = map(
        statistics.median, (floors, floors_both, grades, spawned, imports, alone)
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{os.cpu_count()} CPU cores, load average {load:.1f} at the end; medians of {len(grades)}"
    )
    print(f"cold grade (python -m autograder):            {grade:6.1f} s  {_runs(grades)}")
    print(f"floor (import TF, load, evaluate dense):      {floor:6.1f} s  {_runs(floors)}")
    print(
        f"floor with both models (dense + CNN):         {floor_both:6.1f} s  {_runs(floors_both)}"
    )
    print(f"cold grade, a new worker process per notebook: {spawn:5.1f} s  {_runs(spawned)}")
    print(f"bare import (python -c 'import keras'):        {bare:5.1f} s  {_runs(imports)}")
    print(f"exercise 2 alone (--only argmax_accuracy):    {alone_s:6.1f} s  {_runs(alone)}")
    print(f"re-executing the three notebooks (nbclient):  {reexecution:6.1f} s")
    print(f"grade / bare import: {grade / bare:.2f}x (a process per notebook: {spawn / bare:.2f}x)")
    per_round = sorted(g / b for g, b in zip(grades, imports, strict=True))
    print(f"grade / bare import, round by round: {per_round[0]:.2f}x to {per_round[-1]:.2f}x")
    print(
        f"grade / floor: {grade / floor:.2f}x; grade / floor with both: {grade / floor_both:.2f}x"
    )
    print(
        f"grade / re-execution: {grade / reexecution:.2f}x (re-execution / grade: "
        f"{reexecution / grade:.1f}x)"
    )


def _runs(values: list[float]) -> str:
    return "(" + ", ".join(f"{value:.1f}" for value in values) + ")"


if __name__ == "__main__":
    main()
