"""Build the course site in a copy of the repository, offline: the one home of "copy the
repository, build the book", shared by tests/test_book.py and benchmarks/bench_book.py (both load
this file by its path).

    python scripts/book_build.py DEST   # copy the repository to DEST and build its book there
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from digits.quiet import QUIET_TENSORFLOW

REPO = Path(__file__).resolve().parent.parent
COPY_IGNORE = shutil.ignore_patterns(
    "_build", ".venv*", ".git", ".pytest_cache", ".ruff_cache", "*.egg-info", "__pycache__"
)
PROSE_EDIT_CHAPTER = "book/05_evaluate.ipynb"


def copy_repository(destination: Path) -> Path:
    """A copy of the repository without build outputs, virtual environments or git history."""
    shutil.copytree(REPO, destination, ignore=COPY_IGNORE)
    return destination


def build_book(book_dir: Path) -> tuple[subprocess.CompletedProcess, float]:
    """`jupyter-book build -W -n --keep-going` (warnings fail it), offline; returns the result
    and its wall-clock seconds. Trained models go to `<book_dir>/_build/models`."""
    env = dict(
        os.environ,
        MNIST_OFFLINE="1",
        DIGITS_MODELS_DIR=str(book_dir / "_build" / "models"),
        **QUIET_TENSORFLOW,
    )
    beside_python = Path(sys.executable).with_name("jupyter-book")
    command = str(beside_python) if beside_python.exists() else "jupyter-book"
    start = time.perf_counter()
    result = subprocess.run(
        [command, "build", "-W", "-n", "--keep-going", str(book_dir)],
        capture_output=True,
        text=True,
        env=env,
    )
    return result, time.perf_counter() - start


def edit_prose(book_dir: Path, chapter: str = PROSE_EDIT_CHAPTER) -> None:
    """Change the text of a chapter's last Markdown cell, as an author fixing a typo would."""
    path = book_dir / chapter
    notebook = json.loads(path.read_text())
    last_markdown = [cell for cell in notebook["cells"] if cell["cell_type"] == "markdown"][-1]
    last_markdown["source"] = "".join(last_markdown["source"]) + "\n\nEdited for the benchmark."
    path.write_text(json.dumps(notebook, indent=1))


def main() -> None:
    destination = copy_repository(Path(sys.argv[1]))
    result, seconds = build_book(destination)
    print(result.stdout[-4000:], result.stderr[-2000:], sep="\n")
    print(f"built in {seconds:.0f} s: {destination / '_build' / 'html'}")
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
