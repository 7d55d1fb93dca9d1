"""Batch grading throughput: submissions per minute on a generated class of mixed quality.

    python benchmarks/bench_batch.py [--size 33] [--workers N] [--executed DIR]

Generates the class with make_class.py (in a temporary folder), grades it with
``python -m autograder.instructor.batch`` as an instructor would, then grades it again to time a
resume that has nothing to do. Prints the figures recorded in benchmarks/RESULTS.md. Set
MNIST_OFFLINE=1 to grade on the offline sample, as the recorded figures do.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from make_class import execute_solutions, make_class

from digits.quiet import quiet_environment


def grade(submissions: Path, out: Path, workers: int, timeout: float) -> float:
    command = [
        sys.executable,
        "-m",
        "autograder.instructor.batch",
        str(submissions),
        "--out",
        str(out),
    ]
    command += ["--workers", str(workers), "--timeout", str(timeout)]
    start = time.monotonic()
    subprocess.run(command, check=True)
    return time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=33, help="students in the class (default 33)")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="default: CPU count")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per submission")
    parser.add_argument("--executed", type=Path, help="a folder of executed solutions to reuse")
    args = parser.parse_args(argv)
    quiet_environment()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        executed = args.executed or execute_solutions(scratch / "solutions")
        kinds = make_class(scratch / "class", args.size, executed)
        out = scratch / "grades" / "grades.csv"
        load_before = os.getloadavg()[0]
        first = grade(scratch / "class", out, args.workers, args.timeout)
        load_after = os.getloadavg()[0]
        again = grade(scratch / "class", out, args.workers, args.timeout)
        with open(out, newline="") as handle:
            statuses = Counter(row["status"] for row in csv.DictReader(handle))
    print()
    print(f"class: {args.size} submissions {kinds}")
    print(f"machine: {os.cpu_count()} CPUs; 1-minute load average {load_before:.1f} before, ")
    print(f"         {load_after:.1f} after (other processes share the CPUs)")
    print(f"workers: {args.workers}; statuses: {dict(statuses)}")
    print(f"first run: {first:.0f} s = {args.size / first * 60:.1f} submissions/minute")
    print(f"re-run, nothing changed: {again:.1f} s (every submission skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
