"""Generate the learner's exercises/ from the reference solutions/ (the single source).

    python -m autograder.instructor.generate           # write exercises/ from solutions/
    python -m autograder.instructor.generate --check   # exit 1: exercises/ stale or leaks solutions

An exercise notebook that holds a learner's answers (a graded cell without its stub) is kept,
never overwritten or removed, unless ``--force``.

In a code cell tagged ``graded``, the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION``
become one ``raise NotImplementedError("...")`` at the same indentation, which the grader reports
as "not attempted". Cells tagged ``solution-only`` are left out. Outputs and execution counts are
cleared; everything else is copied, so a notebook without markers comes out unchanged. The output
is deterministic: the same solutions always give the same bytes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import nbformat

from autograder.submission import GRADED_TAG, holds_answers

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
SOLUTION_ONLY_TAG = "solution-only"
STUB = 'raise NotImplementedError("Write {name}(): replace this line with your code.")'
FUNCTION_NAME = re.compile(r"^\s*def\s+(\w+)\s*\(")


class MarkerError(ValueError):
    """A solution notebook whose markers the generator cannot turn into an exercise."""


SETUP_CELL_ID = "setup"  # the set-up cell that scripts/install_cell.py writes


def generate_notebook(solution: nbformat.NotebookNode, name: str = "notebook") -> str:
    """The exercise notebook, serialized, for one solution notebook (read with nbformat)."""
    exercise = nbformat.from_dict(solution)
    exercise.cells = [
        _exercise_cell(cell, f"{name}, cell {cell.get('id', index)}")
        for index, cell in enumerate(exercise.cells)
        if SOLUTION_ONLY_TAG not in _tags(cell)
    ]
    for cell in exercise.cells:
        if cell.get("id") == SETUP_CELL_ID:  # the pip set-up: opens collapsed in JupyterLab
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
    nbformat.validate(exercise)
    return nbformat.writes(exercise) + "\n"


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a notebook; cells without an id get ``cell-<index>``, not nbformat's random one."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if (data.get("nbformat"), data.get("nbformat_minor", 0)) >= (4, 5):
        for index, cell in enumerate(data.get("cells", [])):
            cell.setdefault("id", f"cell-{index}")
    return nbformat.reads(json.dumps(data), as_version=4)


def solution_lines(solution: nbformat.NotebookNode) -> list[str]:
    """The meaningful lines between markers (stripped; brackets and blank lines left out)."""
    lines = []
    for cell in solution.cells:
        if cell.cell_type != "code":
            continue
        inside = False
        for line in cell.source.splitlines():
            if line.strip() in (BEGIN, END):
                inside = line.strip() == BEGIN
            elif inside and re.search(r"\w", line):
                lines.append(line.strip())
    return lines


def leaked_lines(solution: nbformat.NotebookNode, exercise: nbformat.NotebookNode) -> list[str]:
    """Solution lines that appear anywhere in the exercise notebook's cells."""
    text = "\n".join(cell.source for cell in exercise.cells)
    return [line for line in solution_lines(solution) if line in text]


KEPT = "kept {path}: it holds a learner's answers (rerun with --force to overwrite them)"


def generate(
    solutions: Path = SOLUTIONS, exercises: Path = EXERCISES, force: bool = False
) -> list[str]:
    """Write every exercise notebook; return what changed, for the user. A notebook with a
    learner's answers is kept unless `force`."""
    expected = _expected(solutions)
    exercises.mkdir(parents=True, exist_ok=True)
    changes = []
    for name, text in expected.items():
        path = exercises / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            if not force and holds_answers(path):
                changes.append(KEPT.format(path=_shown(path)))
                continue
            path.write_text(text, encoding="utf-8", newline="\n")
            changes.append(f"wrote {_shown(path)}")
    for path in sorted(exercises.glob("*.ipynb")):
        if path.name not in expected:
            if not force and holds_answers(path):
                changes.append(KEPT.format(path=_shown(path)))
                continue
            path.unlink()
            changes.append(f"removed {_shown(path)} (no {path.name} in {_shown(solutions)}/)")
    return changes


def check(solutions: Path = SOLUTIONS, exercises: Path = EXERCISES) -> list[str]:
    """The problems that make exercises/ differ from a fresh generation, or leak solution text."""
    problems = []
    for name, text in _expected(solutions).items():
        path = exercises / name
        if not path.exists():
            problems.append(f"{_shown(path)} is missing.")
            continue
        if path.read_text(encoding="utf-8") != text:
            problems.append(f"{_shown(path)} differs from what {_shown(solutions / name)} gives.")
        try:
            exercise = read_notebook(path)
        except ValueError:  # not a notebook at all: already reported as different
            continue
        for line in leaked_lines(read_notebook(solutions / name), exercise):
            problems.append(f"{_shown(path)} contains a line of the solution: {line!r}")
    for path in sorted(exercises.glob("*.ipynb")):
        if not (solutions / path.name).exists():
            problems.append(f"{_shown(path)} has no source {_shown(solutions / path.name)}.")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.instructor.generate",
        description="Generate exercises/ from solutions/ (never edit exercises/ by hand).",
    )
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if exercises/ is out of date"
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite notebooks that hold a learner's answers"
    )
    parser.add_argument("--solutions", type=Path, default=SOLUTIONS, help="default: solutions/")
    parser.add_argument("--exercises", type=Path, default=EXERCISES, help="default: exercises/")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check(args.solutions, args.exercises)
            for problem in problems:
                print(problem)
            if problems:
                print(
                    "Learners: your answers in exercises/ make this differ, as they should; "
                    "this is the project's own check, and `python -m autograder` grades your "
                    "work. Maintainers: run `python -m autograder.instructor.generate` (it keeps "
                    "a notebook with answers unless --force) and commit exercises/ with "
                    "solutions/."
                )
                return 1
            print(f"{_shown(args.exercises)}/ is up to date with {_shown(args.solutions)}/.")
            return 0
        changes = generate(args.solutions, args.exercises, args.force)
    except MarkerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for change in changes:
        print(change)
    print(f"{_shown(args.exercises)}/ is up to date ({len(changes)} file(s) changed).")
    return 0


def _expected(solutions: Path) -> dict[str, str]:
    paths = sorted(solutions.glob("*.ipynb"))
    if not paths:
        raise MarkerError(f"no notebooks in {_shown(solutions)}/.")
    return {path.name: generate_notebook(read_notebook(path), _shown(path)) for path in paths}


def _exercise_cell(cell: nbformat.NotebookNode, where: str) -> nbformat.NotebookNode:
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
        if BEGIN in cell.source or END in cell.source:
            if GRADED_TAG not in _tags(cell):
                raise MarkerError(f"{where}: solution markers in a cell not tagged {GRADED_TAG!r}.")
            cell.source = _replace_solutions(cell.source, where)
    return cell


def _replace_solutions(source: str, where: str) -> str:
    """Each BEGIN..END block becomes one stub naming the function it sits in."""
    kept, function, inside = [], None, False
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise MarkerError(f"{where}, line {number}: {BEGIN} inside another block.")
            if function is None:
                raise MarkerError(f"{where}, line {number}: {BEGIN} outside any function.")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            kept.append(indent + STUB.format(name=function))
        elif stripped == END:
            if not inside:
                raise MarkerError(f"{where}, line {number}: {END} without {BEGIN}.")
            inside = False
        elif not inside:
            match = FUNCTION_NAME.match(line)
            function = match.group(1) if match else function
            kept.append(line)
    if inside:
        raise MarkerError(f"{where}: {BEGIN} without {END}.")
    return "\n".join(kept)


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def _shown(path: Path) -> str:
    """A path relative to the repository when it is inside, for short messages."""
    try:
        return path.resolve().relative_to(REPO).as_posix()
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
