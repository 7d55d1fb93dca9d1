"""Canvas' gradebook import format, written by ``python -m autograder.instructor.batch ...
--canvas CSV``.

Canvas matches rows by one of its identity columns (``ID``, ``SIS User ID`` or ``SIS Login ID``)
and reads one column per assignment, named as in Canvas. The row ``Points Possible`` gives the
assignment's maximum; a score above it is extra credit, which is how the bonus CNN counts.
Submissions that were not graded (timeout, crash) get an empty cell: Canvas leaves those alone.
"""

from __future__ import annotations

import csv
from pathlib import Path

IDENTITY_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
ID_CHOICES = IDENTITY_COLUMNS[1:4]
DEFAULT_ID_COLUMN = "SIS User ID"
DEFAULT_ASSIGNMENT = "Handwritten Digits"


def write_canvas_csv(
    grades,
    path: Path,
    assignment: str = DEFAULT_ASSIGNMENT,
    id_column: str = DEFAULT_ID_COLUMN,
) -> None:
    """One row per student; the student folder's name goes in `id_column`."""
    if id_column not in ID_CHOICES:
        raise ValueError(f"the Canvas id column is one of {', '.join(ID_CHOICES)}")
    points = max((grade.max_score for grade in grades if grade.status == "graded"), default=0)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*IDENTITY_COLUMNS, assignment])
        writer.writerow(["Points Possible", "", "", "", "", f"{points:g}"])
        for grade in grades:
            row = {column: "" for column in IDENTITY_COLUMNS}
            row["Student"] = grade.shown
            row[id_column] = grade.shown
            score = f"{grade.score:g}" if grade.status == "graded" else ""
            writer.writerow([*row.values(), score])
