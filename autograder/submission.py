"""Read a submission's notebooks: the graded cells, and the cell that writes a model file.

Plain JSON reading: the judge never executes a notebook.
"""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

GRADED_TAG = "graded"


@dataclass
class GradedCell:
    function: str
    source: str
    filename: str  # what tracebacks show, so that "line N of your cell" is the cell's line N


class InvalidNotebook(ValueError):
    """The file is not a notebook the grader can read; the message says why."""


def code_cells(notebook: Path) -> list[dict]:
    """The code cells of a notebook, each with a text source and a list of tags.

    Raises InvalidNotebook for anything that is not a notebook the grader can read (not JSON,
    JSON beyond Python's limits, no list of cells, a cell that is not an object, a source that
    is not text)."""
    try:
        content = json.loads(notebook.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidNotebook(f"it is not JSON ({error})") from None
    except ValueError:  # valid JSON, but an integer longer than Python converts (4,300 digits)
        raise InvalidNotebook("it holds a number too long to read") from None
    except RecursionError:  # valid JSON nested deeper than Python's recursion limit
        raise InvalidNotebook("it is JSON nested too deeply to read") from None
    cells = content.get("cells") if isinstance(content, dict) else None
    if not isinstance(cells, list):
        raise InvalidNotebook("it has no list of cells")
    code = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            raise InvalidNotebook(f"cell {number} is not a cell")
        if cell.get("cell_type") == "code":
            code.append(_checked_code_cell(cell, number))
    return code


def _checked_code_cell(cell: dict, number: int) -> dict:
    source = cell.get("source", "")
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        source = "".join(source)
    if not isinstance(source, str):
        raise InvalidNotebook(f"the source of cell {number} is not text")
    metadata = cell.get("metadata")
    tags = metadata.get("tags") if isinstance(metadata, dict) else None
    tags = [tag for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else []
    return {"source": source, "tags": tags}


def parse_cell(source: str) -> ast.Module | None:
    """A learner's cell as a syntax tree, or None where Python cannot parse it: a syntax error,
    a null byte, or nesting beyond the parser's limits (which raises MemoryError or
    RecursionError from the parser itself, with memory to spare)."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def cell_source(cell: dict) -> str:
    return cell["source"]


def graded_cell(notebook: Path, function: str) -> GradedCell | str:
    """The graded cell that defines `function`, or a sentence saying why there is none.

    A cell tagged `graded` comes first; an untagged cell that defines the function is accepted
    too (tags get lost when cells are copied).
    """
    if not notebook.is_file():
        return f"{notebook.name} was not found in {notebook.parent}."
    try:
        cells = code_cells(notebook)
    except (OSError, InvalidNotebook) as error:
        return f"{notebook.name} is not a valid notebook: {error}."
    definition = f"def {function}("
    defining = [cell for cell in cells if definition in cell_source(cell)]
    tagged = [cell for cell in defining if GRADED_TAG in cell["tags"]]
    chosen = (tagged or defining)[-1:]
    if not chosen:
        graded = [cell for cell in cells if GRADED_TAG in cell["tags"]]
        others = [name for cell in graded for name in defined_functions(cell_source(cell))]
        if others:
            return (
                f"{notebook.name} has no cell that defines {function}(): its graded cell "
                f"defines {others[0]}() instead. Name it {function}, as the exercise asks."
            )
        return f"{notebook.name} has no cell that defines {function}()."
    return GradedCell(function, cell_source(chosen[0]), f"<cell {function}>")


def find_cell(notebook: Path, *texts: str) -> tuple[int, str] | None:
    """The first code cell containing all texts: its number (1-based, among code cells) and its
    first line containing texts[0]."""
    try:
        cells = code_cells(notebook)
    except (OSError, InvalidNotebook):
        return None
    for number, cell in enumerate(cells, start=1):
        source = cell_source(cell)
        if all(text in source for text in texts):
            line = next(line for line in source.splitlines() if texts[0] in line)
            return number, line.strip()
    return None


def fit_arguments(notebook: Path) -> dict | None:
    """The literal keyword arguments of the notebook's first `model.fit(...)` call, if any."""
    for cell in code_cells(notebook):
        try:
            tree = ast.parse(cell_source(cell))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "fit":
                return {
                    keyword.arg: ast.literal_eval(keyword.value)
                    for keyword in node.keywords
                    if keyword.arg != "verbose"
                }
    return None


def undefined_names(source: str) -> list[str]:
    """The names a cell reads but never defines, imports or takes as a parameter (nor Python
    has built in), in the order they first appear: what the cell needs from elsewhere. Scopes
    are not told apart: a name defined anywhere in the cell counts as defined."""
    import builtins

    tree = parse_cell(source)
    if tree is None:
        return []
    defined = set(dir(builtins)) | {"__name__", "__file__"}
    read = []
    for node in ast.walk(tree):
        defined |= _names_defined_by(node)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            read.append(node)
    read.sort(key=lambda node: (node.lineno, node.col_offset))
    return list(dict.fromkeys(node.id for node in read if node.id not in defined))


def _names_defined_by(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
        return {node.id}
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    if isinstance(node, ast.arg):
        return {node.arg}
    if isinstance(node, (ast.Global, ast.Nonlocal)):
        return set(node.names)
    if isinstance(node, ast.ExceptHandler) and node.name:
        return {node.name}
    return set()


def defining_cells(notebook: Path, names: list[str]) -> dict[str, tuple[int, str]]:
    """For each name, the first code cell of the notebook that defines or imports it: its number
    (1-based, among code cells) and the first line of the statement that does."""
    try:
        cells = code_cells(notebook)
    except (OSError, InvalidNotebook):
        return {}
    found: dict[str, tuple[int, str]] = {}
    for number, cell in enumerate(cells, start=1):
        tree = parse_cell(cell_source(cell))
        if tree is None:
            continue
        lines = cell_source(cell).splitlines()
        for statement in tree.body:
            for name in set(names) & _top_level_names(statement) - set(found):
                found[name] = (number, lines[statement.lineno - 1].strip())
    return found


def _top_level_names(statement: ast.stmt) -> set[str]:
    """The names a notebook-level statement defines (not the local names of a function)."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    return set().union(*map(_names_defined_by, ast.walk(statement)))


def module_names(module: Path) -> set[str]:
    """The names a Python file defines at its top level (read, never imported)."""
    try:
        tree = parse_cell(module.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return set()
    if tree is None:
        return set()
    return {name for statement in tree.body for name in _top_level_names(statement)}


def holds_answers(path: Path, planted: frozenset[str] = frozenset()) -> bool:
    """Whether an exercise notebook has a graded cell whose stub was replaced (a learner's
    answer, or the reference solution); a cell whose `fingerprint` is in `planted` (a planted
    bug as the exercise gives it) is not an answer."""
    try:
        cells = code_cells(path)
    except (OSError, InvalidNotebook):
        return False
    graded = [cell for cell in cells if GRADED_TAG in cell["tags"]]
    return any(
        "raise NotImplementedError(" not in cell["source"]
        and fingerprint(cell["source"]) not in planted
        for cell in graded
    )


def fingerprint(source: str) -> str:
    """The sha256 of a cell's code, blind to trailing spaces and to blank lines around it (as
    the notebook's editor and IPython keep them differently): how the grader recognizes a
    graded cell left as the exercise gave it."""
    lines = [line.rstrip() for line in source.strip("\n").splitlines()]
    return hashlib.sha256("\n".join(lines).strip("\n").encode("utf-8")).hexdigest()


def copies_with_answers(notebook: Path) -> list[str]:
    """Other notebooks beside `notebook` whose name starts like it (JupyterLab's
    "-Copy1.ipynb") and whose graded cell holds an answer."""
    found = sorted(notebook.parent.glob(notebook.stem + "*.ipynb"))
    return [path.name for path in found if path.name != notebook.name and holds_answers(path)]


def defined_functions(source: str) -> list[str]:
    """The names of the functions a cell defines at its top level."""
    tree = parse_cell(source)
    if tree is None:
        return []
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
