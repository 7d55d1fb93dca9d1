"""Read a submission's notebooks: the graded cells, and the cell that writes a model file.

Plain JSON reading: the judge never executes a notebook.
"""

from __future__ import annotations

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


def find_cell(notebook: Path, *texts: str) -> int | None:
    """The number (1-based, among code cells) of the first code cell containing all texts."""
    try:
        cells = code_cells(notebook)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    for number, cell in enumerate(cells, start=1):
        if all(text in cell_source(cell) for text in texts):
            return number
    return None
