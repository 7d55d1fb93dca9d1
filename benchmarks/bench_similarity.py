"""Time the class report's similarity flags on a generated class: models compared by what they
compute (`autograder.instructor.probe`), against a baseline revision's `similarity.py`,
alternating, in one run.

    python benchmarks/bench_similarity.py [--size 33] [--rounds 3] [--baseline 154007d] \\
        [--executed DIR]

The class comes from `make_class.py` (``--executed``: a folder of executed solutions to reuse),
each student's model files then made distinct (`make_models_distinct`); the reference
solution's model files are compared too, as with ``batch --report --reference``.
It prints each round, the medians and the model flags each version raised.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from make_class import REPO, execute_solutions, make_class

from autograder.exercises import EXERCISES
from autograder.instructor import similarity
from autograder.instructor.collect import submission_files

BASELINE_FILE = "autograder/instructor/similarity.py"


def baseline_module(revision: str, folder: Path):
    """The baseline revision's similarity.py, loaded by path beside today's package."""
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{revision}:{BASELINE_FILE}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = folder / "baseline_similarity.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("baseline_similarity", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def make_models_distinct(folders: dict) -> None:
    """Each student's model files made different from the others (noise of 1e-3 on the output
    biases, seeded per student), as in a class where everyone trained their own: the generated
    class copies the reference's files, which the report would flag as the same file unread."""
    import keras
    import numpy as np

    for seed, folder in enumerate(folders.values()):
        for path in sorted(folder.rglob("*.keras")):
            model = keras.models.load_model(path)
            *weights, bias = model.get_weights()
            noise = np.random.default_rng(seed).normal(0, 1e-3, bias.shape)
            model.set_weights([*weights, (bias + noise).astype(bias.dtype)])
            model.save(path)


def timed_flags(module, folders: dict, references: dict) -> tuple[float, int]:
    started = time.perf_counter()
    flags = module.class_flags(folders, EXERCISES, references)
    return time.perf_counter() - started, sum(flag.kind == "model" for flag in flags)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=33)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default="154007d", help="the revision to compare with")
    parser.add_argument("--executed", type=Path, help="executed solutions to reuse")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        executed = arguments.executed or execute_solutions(folder / "executed")
        make_class(folder / "class", arguments.size, executed)
        folders = {path.name: path for path in sorted((folder / "class").iterdir())}
        make_models_distinct(folders)
        models = sum(len(submission_files(path)) for path in folders.values())
        references = submission_files(executed)
        baseline = baseline_module(arguments.baseline, folder)
        versions = {arguments.baseline: baseline, "today": similarity}
        times: dict[str, list[float]] = {name: [] for name in versions}
        print(f"{len(folders)} students, {models} files; seconds per class report's flags:")
        for round_number in range(1, arguments.rounds + 1):
            line = []
            for name, module in versions.items():
                seconds, model_flags = timed_flags(module, folders, references)
                times[name].append(seconds)
                line.append(f"{name} {seconds:.1f} s ({model_flags} model flags)")
            print(f"round {round_number}: " + ", ".join(line), flush=True)
        medians = ", ".join(f"{name} {statistics.median(t):.1f} s" for name, t in times.items())
        print(f"medians: {medians}")


if __name__ == "__main__":
    main()
