"""Similarity flags for a class: copied model files and copied graded cells.

A flag is evidence for a person to look at, never a penalty:

- **models**: two saved models whose weights are identical or nearly so (relative distance below
  `NEAR_IDENTICAL`), or a model that is the reference solution's. Weights are read from the
  `.keras` file (a zip holding `model.weights.h5`) without running any of its code.
- **code**: graded cells that are the same program once names, comments, docstrings and
  formatting are set aside (the standard library's `ast`). Short answers (fewer than
  `MIN_CODE_NODES` syntax-tree nodes) are not compared: many people write the same two lines;
  nor is the reference answer's own program, the one the exercise asks for.

Two learners who ran the same notebook (its fixed random seed included) on the same data can get
near-identical weights honestly; the report says so beside the flags.
"""

from __future__ import annotations

import ast
import hashlib
import io
import itertools
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autograder.instructor.collect import submission_files
from autograder.isolation.sandbox import MAX_MODEL_BYTES
from autograder.submission import GradedCell, graded_cell, parse_cell

NEAR_IDENTICAL = 1e-3  # relative L2 distance between two models' weights
MIN_CODE_NODES = 60  # argmax_accuracy's answer has about 45
REFERENCE = "reference solution"
UNFINISHED = "raise NotImplementedError"  # the exercise's stub, as handed out


@dataclass(frozen=True)
class Flag:
    kind: str  # "model" or "code"
    students: tuple[str, str]
    detail: str


def model_weights(path: Path) -> dict[str, np.ndarray] | None:
    """The weight arrays of a `.keras` file by name, or None when it is not one. This runs in the
    instructor's own process on files learners made: arrays that point to other files, or that
    would take more than a model file may (MAX_MODEL_BYTES), are left out."""
    import h5py

    try:
        with zipfile.ZipFile(path) as archive:
            if archive.getinfo("model.weights.h5").file_size > MAX_MODEL_BYTES:
                return None
            data = archive.read("model.weights.h5")
        with h5py.File(io.BytesIO(data), "r") as weights:
            datasets: dict[str, h5py.Dataset] = {}
            weights.visititems(
                lambda name, item: (
                    datasets.__setitem__(name, item) if isinstance(item, h5py.Dataset) else None
                )
            )
            arrays: dict[str, np.ndarray] = {}
            budget: float = MAX_MODEL_BYTES
            sized = sorted((_declared_bytes(item), name) for name, item in datasets.items())
            for size, name in sized:
                item = datasets[name]
                if item.is_virtual or item.external or size > budget:
                    continue  # never read what points elsewhere, or would fill the memory
                try:
                    arrays[name], budget = np.asarray(item, dtype=np.float64), budget - size
                except Exception:  # text, a corrupt chunk...: not a weight to compare
                    continue
            return arrays
    except Exception:  # whatever a crafted file makes zipfile or h5py raise: not comparable
        return None


def _declared_bytes(item) -> float:
    """What reading the dataset as float64 would take (smallest first: a model's weights before
    any padding), whatever it is stored as (a byte a value reads as eight); inf for what is not
    an array of numbers."""
    numeric = item.shape is not None and item.dtype.kind in "biuf"
    return item.size * np.dtype(np.float64).itemsize if numeric else float("inf")


def weight_distance(first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> float:
    """Relative L2 distance between two models' weights, over the arrays both files hold (an
    array added to a copied file does not hide the copy); inf when their layers differ."""
    common = sorted(first.keys() & second.keys())
    if not common or any(first[name].shape != second[name].shape for name in common):
        return float("inf")

    def norm(arrays) -> float:  # array by array: no copy of a whole model
        return math.sqrt(sum(float(np.vdot(array, array)) for array in arrays))

    scale = max(norm(first[name] for name in common), norm(second[name] for name in common), 1e-12)
    return norm(first[name] - second[name] for name in common) / scale


def model_flags(
    models: dict[str, Path], model_file: str, reference: Path | None = None
) -> list[Flag]:
    """Pairs of students (or a student and the reference) whose `model_file` weights match."""
    weights = {student: model_weights(path) for student, path in models.items()}
    if reference is not None:
        weights[REFERENCE] = model_weights(reference)
    loaded = {student: w for student, w in weights.items() if w}
    flags = []
    for first, second in itertools.combinations(sorted(loaded), 2):
        distance = weight_distance(loaded[first], loaded[second])
        if distance <= NEAR_IDENTICAL:
            how = "identical" if distance == 0 else f"near-identical (distance {distance:.1e})"
            pair = (second, first) if first == REFERENCE else (first, second)
            flags.append(Flag("model", pair, f"{model_file}: {how} weights"))
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
    folders: dict[str, Path], exercises, references: dict[str, Path] | None = None
) -> list[Flag]:
    """Every flag for a class: student folders by name; `exercises` from the registry;
    `references`: the reference solution's files by name (its notebooks and model files).
    Unfinished cells are skipped."""
    files = {student: submission_files(folder) for student, folder in folders.items()}
    references = references or {}
    flags = []
    for exercise in exercises:
        if exercise.model_file:
            name = exercise.model_file
            models = {student: found[name] for student, found in files.items() if name in found}
            flags += model_flags(models, name, references.get(name))
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
