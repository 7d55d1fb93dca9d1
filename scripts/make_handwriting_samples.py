"""The non-MNIST digits of the "Your own handwriting" chapter: write them, or measure a model.

The images come from `digits.handwriting_samples.make_samples()` (seeded, no internet); the book
makes them at build time, so nothing generated is committed except the one example photo.

    python scripts/make_handwriting_samples.py --out samples/  # the PNGs and labels.csv
    python scripts/make_handwriting_samples.py --example       # rewrite the example photo
    python scripts/make_handwriting_samples.py --evaluate      # accuracy table, dense and CNN

The example photo is digits/resources/handwriting/example_digit.png, package data of `digits`
(a test checks that it is reproduced).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from digits.handwriting_samples import (
    EXAMPLE_IMAGE,
    GROUPS,
    METHODS,
    evaluate,
    make_example,
    make_samples,
)


def write_samples(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "labels.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["file", "label", "kind", "light_on_dark", "style"])
        for index, sample in enumerate(make_samples()):
            name = f"{index:03d}_{sample.label}_{sample.kind}.png"
            sample.image.save(folder / name)
            writer.writerow([name, sample.label, sample.kind, sample.light_on_dark, sample.style])
    print(f"wrote {index + 1} images and labels.csv to {folder}")


def write_example(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    make_example().save(path)
    print(f"wrote {path}")


def print_accuracy_table() -> None:
    from digits.training import trained_model

    samples = make_samples()
    print(f"{len(samples)} images; accuracy of the model on them, prepared three ways\n")
    print("| model | images | " + " | ".join(METHODS) + " |")
    print("| --- | --- |" + " ---: |" * len(METHODS))
    for kind in ("dense", "cnn"):
        results = evaluate(trained_model(kind), samples)
        for group in ("all", *GROUPS):
            cells = " | ".join(f"{results[method][group]:.1%}" for method in METHODS)
            print(f"| {kind} | {group} | {cells} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the sample images and labels.csv here")
    parser.add_argument(
        "--example", action="store_true", help=f"rewrite the example photo {EXAMPLE_IMAGE}"
    )
    parser.add_argument(
        "--evaluate", action="store_true", help="print the accuracy table (trains if needed)"
    )
    args = parser.parse_args()
    if not (args.out or args.example or args.evaluate):
        parser.error("say what to do: --out FOLDER, --example and/or --evaluate")
    if args.out:
        write_samples(args.out)
    if args.example:
        write_example(EXAMPLE_IMAGE)
    if args.evaluate:
        print_accuracy_table()


if __name__ == "__main__":
    main()
