"""Similarity flags for a class: copied model files and copied graded cells.

A flag is evidence for a person to look at, never a penalty:

- **models**: two saved model files that are the same file, or compute the same outputs on
  fixed probe images, or nearly (relative distance below `NEAR_IDENTICAL`), or pick the same
  digit on every probe image (`SAME_DIGITS`: a last layer scaled by a constant changes every
  output, no pick), or a model that computes the reference solution's: what a model computes,
  however its file stores it (`probe.py`: loaded with Keras' safe_mode, in confined child
  processes).
- **code**: graded cells that are the same program once names, comments, docstrings and
  formatting are set aside (the standard library's `ast`). Short answers (fewer than
  `MIN_CODE_NODES` syntax-tree nodes) are not compared: many people write the same two lines;
  nor is the reference answer's own program, the one the exercise asks for.

Two learners who ran the same notebook (its fixed random seed included) on the same data can get
near-identical models honestly; the report says so beside the flags.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autograder.instructor.collect import file_digest, submission_files
from autograder.instructor.probe import PROBE_PARTS, model_outputs
from autograder.isolation.supervisor import DEFAULT_MEMORY_MB
from autograder.submission import GradedCell, graded_cell, parse_cell

# Relative L2 distance between two models' log-probabilities on a probe part (probe.py): a copy
# with its hidden units reordered 1e-7, with noise of 0.2 on its last biases 0.013; models
# trained apart 0.11 at the least (benchmarks/calibrate_similarity.py, RESULTS.md).
NEAR_IDENTICAL = 0.02
# Share of each probe part's images on which two models pick the same digit (the arg-max of their
# outputs), which no scaling of the last layer (the softmax's temperature) moves: a copy scaled
# by 0.5, 1.1 or 3.0 100% on both parts (log-probabilities 0.09 to 0.57 apart); models trained
# apart 96 to 100% on the digits but 27 to 85% on the noise (benchmarks/calibrate_similarity.py).
SAME_DIGITS = 1.0
MIN_CODE_NODES = 60  # argmax_accuracy's answer has about 45
REFERENCE = "reference solution"
UNFINISHED = "raise NotImplementedError"  # the exercise's stub, as handed out


@dataclass(frozen=True)
class Flag:
    kind: str  # "model" or "code"
    students: tuple[str, str]
    detail: str


def part_distances(first: np.ndarray, second: np.ndarray) -> dict[str, float]:
    """Relative L2 distance between two models' outputs on each probe part (probe.PROBE_PARTS)
    where both are finite; none when their shapes differ."""
    if first.shape != second.shape:
        return {}
    distances = {}
    for name, part in PROBE_PARTS.items():
        a, b = first[part], second[part]
        if np.isfinite(a).all() and np.isfinite(b).all():
            scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(b)), 1e-12)
            distances[name] = float(np.linalg.norm(a - b)) / scale
    return distances


def output_distance(first: np.ndarray, second: np.ndarray) -> float:
    """The smallest part distance (a copy cannot be told apart on digits, or on noise); inf
    when nothing compares."""
    return min(part_distances(first, second).values(), default=float("inf"))


def part_agreements(first: np.ndarray, second: np.ndarray) -> dict[str, float]:
    """Share of each probe part's images (probe.PROBE_PARTS) on which two models pick the same
    digit, where both outputs are finite; none when their shapes differ."""
    if first.shape != second.shape:
        return {}
    agreements = {}
    for name, part in PROBE_PARTS.items():
        a, b = first[part], second[part]
        if np.isfinite(a).all() and np.isfinite(b).all():
            agreements[name] = float(np.mean(a.argmax(axis=1) == b.argmax(axis=1)))
    return agreements


def copy_evidence(first: np.ndarray, second: np.ndarray) -> str | None:
    """What shows that two models compute the same function, or None: the same outputs, or
    nearly (distance at most NEAR_IDENTICAL), or the same digit picked on at least SAME_DIGITS
    of every probe part (outputs scaled, or shifted, the picks kept)."""
    distance = output_distance(first, second)
    if distance == 0:
        return "identical outputs"
    if distance <= NEAR_IDENTICAL:
        return f"near-identical outputs (distance {distance:.1e})"
    agreements = part_agreements(first, second)
    if len(agreements) == len(PROBE_PARTS) and min(agreements.values()) >= SAME_DIGITS:
        picks = ", ".join(f"{share:.0%} of the {part}" for part, share in agreements.items())
        return f"the same digit picked on {picks} of the probe (outputs {distance:.1e} apart)"
    return None


def model_flags(
    outputs: dict[str, np.ndarray | None], digests: dict[str, bytes | None], model_file: str
) -> list[Flag]:
    """Pairs of students (or a student and the reference) whose `model_file`s are the same
    file (`digests`: sha256 by student), or compute the same outputs, or nearly (`outputs` by
    student, see `probe.model_outputs`)."""
    flags = []
    for first, second in itertools.combinations(sorted(digests), 2):
        if digests[first] is not None and digests[first] == digests[second]:
            how = "the same file"
        else:
            one, other = outputs.get(first), outputs.get(second)
            evidence = None if one is None or other is None else copy_evidence(one, other)
            if evidence is None:
                continue
            how = evidence
        pair = (second, first) if first == REFERENCE else (first, second)
        flags.append(Flag("model", pair, f"{model_file}: {how}"))
    return flags


def _program(tree: ast.AST) -> tuple[str, int]:
    """The tree in pre-order with names numbered by first appearance, and docstrings and
    annotations set aside; its number of nodes. Walked with a stack, not recursion: a valid
    cell may nest deeper than Python's recursion limit."""
    names: dict[str, str] = {}
    parts: list[str] = []
    stack: list[ast.AST] = [tree]
    nodes = 0
    while stack:
        node = stack.pop()
        nodes += 1
        parts.append(type(node).__name__)
        children: list[ast.AST] = []
        for field, value in ast.iter_fields(node):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and field == "body":
                if (
                    value
                    and isinstance(value[0], ast.Expr)
                    and isinstance(value[0].value, ast.Constant)
                ):
                    value = value[1:]  # the docstring
            if field == "annotation" or field == "returns":
                continue
            if isinstance(value, ast.AST):
                children.append(value)
            elif isinstance(value, list):
                parts.append(f"[{len(value)}")
                children += [item for item in value if isinstance(item, ast.AST)]
            elif (isinstance(node, ast.Name) and field == "id") or (
                isinstance(node, ast.arg) and field == "arg"
            ):
                parts.append(names.setdefault(value, f"name{len(names)}"))
            else:
                parts.append(repr(value))
        stack += reversed(children)
    return " ".join(parts), nodes


def normalized_code(source: str) -> tuple[str, int]:
    """The cell's program with names, comments, docstrings and layout set aside; its size. A
    cell Python cannot parse (a syntax error, nesting beyond the parser's limits) is compared as
    text with its layout set aside, its size in characters."""
    tree = parse_cell(source)
    if tree is not None:
        return _program(tree)
    text = " ".join(source.split())
    return f"text: {text}", len(text.replace(" ", ""))


def code_flags(cells: dict[str, str], label: str, reference: str | None = None) -> list[Flag]:
    """Pairs of students whose cells are the same program (cells given by student). A cell
    that is the reference answer's program is the expected answer, not a copy of a peer."""
    expected = normalized_code(reference) if reference else None
    groups: dict[str, list[str]] = {}
    for student, source in sorted(cells.items()):
        normalized = normalized_code(source)
        if normalized[1] < MIN_CODE_NODES or normalized == expected:
            continue
        digest = hashlib.sha256(normalized[0].encode()).hexdigest()
        groups.setdefault(digest, []).append(student)
    return [
        Flag("code", pair, f"{label}: the same program after normalizing names and layout")
        for students in groups.values()
        for pair in itertools.combinations(students, 2)
    ]


def class_flags(
    folders: dict[str, Path],
    exercises,
    references: dict[str, Path] | None = None,
    memory_mb: int | None = DEFAULT_MEMORY_MB,
) -> list[Flag]:
    """Every flag for a class: student folders by name; `exercises` from the registry;
    `references`: the reference solution's files by name (its notebooks and model files);
    `memory_mb`: the limit of the processes that read the models. Unfinished cells are
    skipped."""
    files = {student: submission_files(folder) for student, folder in folders.items()}
    references = references or {}
    models = {  # model file -> who -> path
        exercise.model_file: {
            student: found[exercise.model_file]
            for student, found in {**files, REFERENCE: references}.items()
            if exercise.model_file in found
        }
        for exercise in exercises
        if exercise.model_file
    }
    contents = {path: file_digest(path) for group in models.values() for path in group.values()}
    # One file of each content is read, where a model file has two contents or more to compare:
    # byte-identical files are flagged as such.
    distinct: dict[bytes, Path] = {}
    for group in models.values():
        by_content = {digest: path for path in group.values() if (digest := contents[path])}
        if len(by_content) > 1:
            distinct.update(by_content)
    paths = list(distinct.values())
    outputs = dict(zip(distinct, model_outputs(paths, memory_mb), strict=True)) if paths else {}
    flags = []
    for exercise in exercises:
        if exercise.model_file:
            by_student = models[exercise.model_file]
            digests = {student: contents[path] for student, path in by_student.items()}
            computed = {student: outputs.get(digest or b"") for student, digest in digests.items()}
            flags += model_flags(computed, digests, exercise.model_file)
        if not exercise.compare_code:
            continue
        cells = {}
        for student, found in files.items():
            notebook = found.get(exercise.notebook)
            cell = graded_cell(notebook, exercise.function) if notebook else None
            if isinstance(cell, GradedCell) and UNFINISHED not in cell.source:
                cells[student] = cell.source
        reference = references.get(exercise.notebook)
        answer = graded_cell(reference, exercise.function) if reference else None
        expected = answer.source if isinstance(answer, GradedCell) else None
        flags += code_flags(cells, f"{exercise.function}()", expected)
    return flags
