"""Read a submission's notebooks: the graded cells, and the cell that writes a model file.

Plain JSON reading: the judge never executes a notebook.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

GRADED_TAG = "graded"


@dataclass
class GradedCell:
    function: str
    source: str
    filename: str  # what tracebacks show, so that "line N of your cell" is the cell's line N


def code_cells(notebook: Path) -> list[dict]:
    cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    return [cell for cell in cells if cell.get("cell_type") == "code"]


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def graded_cell(notebook: Path, function: str) -> GradedCell | str:
    """The graded cell that defines `function`, or a sentence saying why there is none.

    A cell tagged `graded` comes first; an untagged cell that defines the function is accepted
    too (tags get lost when cells are copied).
    """
    if not notebook.is_file():
        return f"{notebook.name} was not found in {notebook.parent}."
    try:
        cells = code_cells(notebook)
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as error:
        return f"{notebook.name} is not a readable notebook ({error})."
    definition = f"def {function}("
    defining = [cell for cell in cells if definition in cell_source(cell)]
    tagged = [cell for cell in defining if GRADED_TAG in cell.get("metadata", {}).get("tags", [])]
    chosen = (tagged or defining)[-1:]
    if not chosen:
        return f"{notebook.name} has no cell that defines {function}()."
    return GradedCell(function, cell_source(chosen[0]), f"<cell {function}>")


def find_cell(notebook: Path, *texts: str) -> tuple[int, str] | None:
    """The first code cell containing all texts: its number (1-based, among code cells) and its
    first line containing texts[0]."""
    try:
        cells = code_cells(notebook)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
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
