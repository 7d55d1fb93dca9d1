"""Time one grading command with two checkouts of the course, alternating, in one run.

    python benchmarks/bench_before_after.py --before OLD/.venv/bin/python \\
        --after .venv/bin/python --rounds 5 -- SUBMISSION --only argmax_accuracy

Each round runs `python -m autograder ARGS` with the interpreter of the baseline (`--before`, an
environment where the old checkout is installed), then with the new one (`--after`), then a
bare `python -c "import keras"` (the least a grade that needs TensorFlow costs); it prints each
round and the medians. The commands run in an empty folder: `python -m` would otherwise import
the package of the current folder, whichever interpreter runs it (paths in ARGS are made
absolute).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def timed(command: list[str], folder: str) -> float:
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, cwd=folder)
    elapsed = time.perf_counter() - started
    if completed.returncode not in (0, 1):  # 1: a grade below full marks
        raise SystemExit(f"{' '.join(command)} failed:\n{completed.stdout}\n{completed.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the baseline's Python")
    parser.add_argument("--after", required=True, help="the new checkout's Python")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("grader_arguments", nargs="+", help="after --: python -m autograder ...")
    arguments = parser.parse_args()
    grader_arguments = [_absolute(argument) for argument in arguments.grader_arguments]
    commands = {
        "before": [arguments.before, "-m", "autograder", *grader_arguments],
        "after": [arguments.after, "-m", "autograder", *grader_arguments],
        "bare import": [arguments.after, "-c", "import keras"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    print(f"load average {os.getloadavg()[0]:.1f} before")
    folder = tempfile.mkdtemp(prefix="bench-before-after-")
    for round_number in range(1, arguments.rounds + 1):
        for name, command in commands.items():
            times[name].append(timed(command, folder))
        print(f"round {round_number}: " + ", ".join(f"{n} {t[-1]:.2f} s" for n, t in times.items()))
    medians = {name: statistics.median(values) for name, values in times.items()}
    print("medians: " + ", ".join(f"{name} {value:.2f} s" for name, value in medians.items()))
    print(f"before / after: {medians['before'] / medians['after']:.1f}x")
    print(f"load average {os.getloadavg()[0]:.1f} after")


def _absolute(argument: str) -> str:
    return str(Path(argument).resolve()) if Path(argument).exists() else argument


if __name__ == "__main__":
    main()
