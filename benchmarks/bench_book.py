"""Benchmark the course site: a clean build, a rebuild with nothing changed, and a rebuild after
a prose edit (the page is re-rendered from the execution cache, not re-executed).

    python benchmarks/bench_book.py            # prints a Markdown report
    python benchmarks/bench_book.py --json out.json

The book is built in a temporary copy of the repository (the repository's own `_build` is left
alone), offline (MNIST_OFFLINE=1: the sample), with its trained models inside the copy, so the
clean build includes training every model. The report also gives each model variant's training
time and test accuracy, read from that build. tests/test_book.py builds the book the same way.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLEAN_GOAL_S = 6 * 60
CACHED_GOAL_S = 30


def _load_book_build():
    """scripts/book_build.py, loaded by its path (shared with tests/test_book.py)."""
    path = REPO / "scripts" / "book_build.py"
    spec = importlib.util.spec_from_file_location("book_build", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


book_build = _load_book_build()
copy_repository, build_book, edit_prose = (
    book_build.copy_repository,
    book_build.build_book,
    book_build.edit_prose,
)


def variant_figures(book_dir: Path) -> dict[str, dict]:
    """Each trained variant's training time and test accuracy, from the build's saved models."""
    os.environ.update(MNIST_OFFLINE="1", DIGITS_MODELS_DIR=str(book_dir / "_build" / "models"))
    from digits import load_mnist, normalize
    from digits.training import RECIPES, trained_model, training_record

    _, (x_test, y_test) = load_mnist()
    figures = {}
    for kind in RECIPES:
        record = training_record(kind)
        _, accuracy = trained_model(kind).evaluate(normalize(x_test), y_test, verbose=0)
        figures[kind] = dict(
            epochs=record["epochs"],
            training_seconds=record["seconds"],
            test_accuracy=round(float(accuracy), 4),
        )
    return figures


def run() -> dict:
    with tempfile.TemporaryDirectory() as temporary:
        book_dir = copy_repository(Path(temporary) / "course")
        clean, clean_s = build_book(book_dir)
        if clean.returncode != 0:
            sys.exit(f"clean build failed:\n{clean.stdout[-4000:]}\n{clean.stderr[-2000:]}")
        cached, cached_s = build_book(book_dir)
        edit_prose(book_dir)
        edited, edited_s = build_book(book_dir)
        for name, result in (("cached rebuild", cached), ("rebuild after a prose edit", edited)):
            if result.returncode != 0 or "Executing notebook" in result.stdout:
                sys.exit(f"{name} failed or re-executed a notebook:\n{result.stdout[-4000:]}")
        return dict(
            clean_build_s=round(clean_s, 1),
            cached_rebuild_s=round(cached_s, 1),
            prose_edit_rebuild_s=round(edited_s, 1),
            variants=variant_figures(book_dir),
            machine=f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.system()}",
            python=platform.python_version(),
        )


def report(figures: dict) -> str:
    clean, cached = figures["clean_build_s"], figures["cached_rebuild_s"]
    lines = [
        f"Machine: {figures['machine']}, Python {figures['python']}; data: offline sample.",
        "",
        "| measure | seconds | goal |",
        "| --- | ---: | ---: |",
        f"| clean build (training included) | {clean} | <= {CLEAN_GOAL_S} |",
        f"| cached rebuild, nothing changed | {cached} | <= {CACHED_GOAL_S} |",
        f"| rebuild after a prose edit (from the execution cache) | "
        f"{figures['prose_edit_rebuild_s']} | <= {CACHED_GOAL_S} |",
        "",
        "| variant | epochs | training time (s) | test accuracy |",
        "| --- | ---: | ---: | ---: |",
    ]
    for kind, variant in figures["variants"].items():
        lines.append(
            f"| `{kind}` | {variant['epochs']} | {variant['training_seconds']} | "
            f"{variant['test_accuracy']:.2%} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    arguments = parser.parse_args()
    figures = run()
    print(report(figures))
    if arguments.json:
        arguments.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
