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

from autograder.submission import GRADED_TAG, fingerprint, holds_answers

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
# Right after a solution block, the bug the exercise plants in its place (exercise 5), each line
# commented out: the exercise gets these lines instead of a stub.
BUG_BEGIN = "### BEGIN BUG"
BUG_END = "### END BUG"
BUG = (BUG_BEGIN, BUG_END)
PLANTED = REPO / "autograder" / "exercises" / "planted.json"
SOLUTION_ONLY_TAG = "solution-only"
STUB = 'raise NotImplementedError("Write {name}(): replace this line with your code.")'
FUNCTION_NAME = re.compile(r"^\s*def\s+(\w+)\s*\(")


class MarkerError(ValueError):
    """A solution notebook whose markers the generator cannot turn into an exercise."""


SETUP_CELL_ID = "setup"  # the set-up cell that scripts/install_cell.py writes


def hint_cell_id(function: str) -> str:
    """The id of the markdown cell that holds an exercise's hints (after its check cell)."""
    return "hints-" + function.replace("_", "-")


def hint_markdown(function: str, hints: list[str]) -> str:
    """An exercise's hints as nested <details>: each opens the next, so they come one at a time
    (plain HTML: the site, Jupyter and Colab all show it, with nothing to install)."""
    opened = "".join(
        f"\n\n<details><summary>Hint {number}</summary>\n\n{hint}"
        for number, hint in enumerate(hints, start=1)
    )
    closed = "\n".join(["</details>"] * len(hints))
    ask = f"Open the hints one at a time, here or with `hint({function})` in a code cell."
    return f"**Stuck?** {ask}{opened}\n\n{closed}"


def with_hints(notebook: dict) -> dict:
    """The notebook (its JSON) with each exercise's hint cell written from the exercise's
    module (`Exercise.hints`): the one home of the hints."""
    from autograder.exercises import EXERCISES

    cells = {cell.get("id"): cell for cell in notebook.get("cells", [])}
    for exercise in EXERCISES:
        cell = cells.get(hint_cell_id(exercise.function))
        if cell is not None and exercise.hints:
            cell["source"] = hint_markdown(exercise.function, exercise.hints)
    return notebook


def solution_text(path: Path) -> str:
    """A solution notebook's text with its hint cells as the exercise modules write them."""
    notebook = with_hints(json.loads(path.read_text(encoding="utf-8")))
    for cell in notebook.get("cells", []):
        if isinstance(cell.get("source"), str):  # as Jupyter saves it: a list of lines
            cell["source"] = cell["source"].splitlines(keepends=True)
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def generate_notebook(solution: nbformat.NotebookNode, name: str = "notebook") -> str:
    """The exercise notebook, serialized, for one solution notebook (read with nbformat)."""
    exercise = nbformat.from_dict(with_hints(solution))
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
    changes = []
    for path in sorted(solutions.glob("*.ipynb")):  # first, their hints from the modules
        text = solution_text(path)
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8", newline="\n")
            changes.append(f"wrote the hints of {_shown(path)}")
    expected = _expected(solutions)
    planted = frozenset(sum(read_planted().values(), []))  # the bugs of the last generation
    exercises.mkdir(parents=True, exist_ok=True)
    for name, text in expected.items():
        path = exercises / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            if not force and holds_answers(path, planted):
                changes.append(KEPT.format(path=_shown(path)))
                continue
            path.write_text(text, encoding="utf-8", newline="\n")
            changes.append(f"wrote {_shown(path)}")
    for path in sorted(exercises.glob("*.ipynb")):
        if path.name not in expected:
            if not force and holds_answers(path, planted):
                changes.append(KEPT.format(path=_shown(path)))
                continue
            path.unlink()
            changes.append(f"removed {_shown(path)} (no {path.name} in {_shown(solutions)}/)")
    fingerprints = _planted_text(expected)
    if solutions == SOLUTIONS and _read(PLANTED) != fingerprints:
        PLANTED.write_text(fingerprints, encoding="utf-8", newline="\n")
        changes.append(f"wrote {_shown(PLANTED)}")
    return changes


def read_planted() -> dict[str, list[str]]:
    """Each exercise notebook's planted bugs: the fingerprints of its graded cells that the
    generator writes with a bug instead of a stub (see submission.fingerprint)."""
    return json.loads(_read(PLANTED) or "{}")


def _planted_text(expected: dict[str, str]) -> str:
    planted = {}
    for name, text in expected.items():
        cells = nbformat.reads(text, as_version=4).cells
        graded = [cell.source for cell in cells if GRADED_TAG in _tags(cell)]
        found = [fingerprint(source) for source in graded if STUB.split("(")[0] not in source]
        if found:
            planted[name] = found
    return json.dumps(planted, indent=1, sort_keys=True) + "\n"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def check(solutions: Path = SOLUTIONS, exercises: Path = EXERCISES) -> list[str]:
    """The problems that make exercises/ differ from a fresh generation, or leak solution text."""
    problems = []
    for path in sorted(solutions.glob("*.ipynb")):
        if path.read_text(encoding="utf-8") != solution_text(path):
            problems.append(f"{_shown(path)}: its hints differ from its exercise module's.")
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
    if solutions == SOLUTIONS and _read(PLANTED) != _planted_text(_expected(solutions)):
        problems.append(f"{_shown(PLANTED)} differs from the bugs {_shown(solutions)}/ plants.")
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
        if any(marker in cell.source for marker in (BEGIN, END, *BUG)):
            if GRADED_TAG not in _tags(cell):
                raise MarkerError(f"{where}: solution markers in a cell not tagged {GRADED_TAG!r}.")
            cell.source = _replace_solutions(cell.source, where)
    return cell


def _replace_solutions(source: str, where: str) -> str:
    """Each BEGIN..END block becomes one stub naming the function it sits in, or, when a
    BEGIN BUG..END BUG block follows it, that block's lines uncommented (a planted bug)."""
    kept, function, inside, in_bug = [], None, False, False
    lines = source.splitlines()
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise MarkerError(f"{where}, line {number}: {BEGIN} inside another block.")
            if function is None:
                raise MarkerError(f"{where}, line {number}: {BEGIN} outside any function.")
            inside = True
            if not _bug_follows(lines, number):
                indent = line[: len(line) - len(line.lstrip())]
                kept.append(indent + STUB.format(name=function))
        elif stripped == END:
            if not inside:
                raise MarkerError(f"{where}, line {number}: {END} without {BEGIN}.")
            inside = False
        elif stripped == BUG_BEGIN:
            if in_bug or number < 2 or lines[number - 2].strip() != END:
                raise MarkerError(f"{where}, line {number}: {BUG_BEGIN} not right after {END}.")
            in_bug = True
        elif stripped == BUG_END:
            if not in_bug:
                raise MarkerError(f"{where}, line {number}: {BUG_END} without {BUG_BEGIN}.")
            in_bug = False
        elif in_bug:
            kept.append(_uncommented(line, f"{where}, line {number}"))
        elif not inside:
            match = FUNCTION_NAME.match(line)
            function = match.group(1) if match else function
            kept.append(line)
    if inside:
        raise MarkerError(f"{where}: {BEGIN} without {END}.")
    if in_bug:
        raise MarkerError(f"{where}: {BUG_BEGIN} without {BUG_END}.")
    return "\n".join(kept)


def _bug_follows(lines: list[str], begin: int) -> bool:
    """Whether the solution block opened at line `begin` (1-based) is followed by a bug block."""
    end = next((i for i in range(begin, len(lines)) if lines[i].strip() == END), None)
    return end is not None and end + 1 < len(lines) and lines[end + 1].strip() == BUG_BEGIN


def _uncommented(line: str, where: str) -> str:
    """A planted bug's line, written commented out in the solution (`# ` after the indent)."""
    indent = line[: len(line) - len(line.lstrip())]
    if not line.lstrip().startswith("# "):
        raise MarkerError(f"{where}: a line of a bug block must be commented out with '# '.")
    return indent + line.lstrip()[2:]


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
