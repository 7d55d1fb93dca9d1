"""Write the set-up cell that opens every chapter (book/) and exercise (solutions/) notebook.

    python scripts/install_cell.py           # write or update the first cell of each notebook
    python scripts/install_cell.py --check   # exit 1 if a notebook's first cell is not up to date

The cell installs the course package (the `digits` helpers and the grader) from the repository
that `_config.yml` names (`repository.url`, `repository.branch`) when the kernel lacks it, as on
Colab, Kaggle or Binder, and does nothing in a clone where `pip install -r requirements.txt`
installed it. It is tagged `remove-cell`: the course site does not show it. Then run
`python -m autograder.instructor.generate` to copy it into exercises/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path.cwd()
FOLDERS = ("book", "solutions")
CELL_ID = "setup"
TAGS = ["remove-cell"]
TEMPLATE = """\
# Set-up: installs the course package (helpers and grader) when this kernel lacks it, as on
# Colab, Kaggle or Binder, and does nothing where it is installed; then quiets TensorFlow's log.
import importlib.util
import subprocess
import sys

COURSE = "git+{url}@{branch}"
if importlib.util.find_spec("digits") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", COURSE], check=True)
    importlib.invalidate_caches()
importlib.import_module("digits.quiet").quiet_tensorflow()"""


def cell_source(config: Path) -> str:
    """The set-up cell's code, for the repository that the site's _config.yml names."""
    repository = yaml.safe_load(config.read_text(encoding="utf-8"))["repository"]
    return TEMPLATE.format(url=repository["url"].rstrip("/"), branch=repository["branch"])


def notebooks(root: Path) -> list[Path]:
    return [path for folder in FOLDERS for path in sorted((root / folder).glob("*.ipynb"))]


def with_setup_cell(notebook: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    """The notebook with `source` as its first cell (replacing an older set-up cell)."""
    cell = nbformat.v4.new_code_cell(source, id=CELL_ID, metadata={"tags": list(TAGS)})
    cells = [old for old in notebook.cells if old.get("id") != CELL_ID]
    notebook.cells = [cell, *cells]
    return notebook


def is_up_to_date(path: Path, source: str) -> bool:
    first = nbformat.read(path, as_version=4).cells[0]
    return (
        first.get("id") == CELL_ID
        and first.cell_type == "code"
        and first.source == source
        and first.metadata.get("tags") == TAGS
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if stale")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: .)")
    args = parser.parse_args(argv)
    source = cell_source(args.root / "_config.yml")
    stale = [path for path in notebooks(args.root) if not is_up_to_date(path, source)]
    if args.check:
        for path in stale:
            print(f"{path}: its first cell is not the set-up cell; run scripts/install_cell.py")
        return 1 if stale else 0
    for path in stale:
        notebook = with_setup_cell(nbformat.read(path, as_version=4), source)
        path.write_text(nbformat.writes(notebook) + "\n", encoding="utf-8", newline="\n")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
