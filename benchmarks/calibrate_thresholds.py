"""Calibrate the autograder's accuracy thresholds for the offline MNIST sample ("mnist-sample").

Trains the reference solutions' build_model() and build_cnn(), read from solutions/, with the
notebooks' own model.fit settings, over several seeds on the sample; prints the worst, mean and
best test accuracy and the threshold (worst minus a margin, rounded down to a point). Then trains
the catalogued mistakes that still produce a model file and shows where they land.

    MNIST_OFFLINE=1 python benchmarks/calibrate_thresholds.py [--seeds 5] [--kinds dense cnn]

Record the output in benchmarks/RESULTS.md and the thresholds in autograder/thresholds.py.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MNIST_OFFLINE", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from autograder import judges  # noqa: E402
from autograder.submission import fit_arguments, graded_cell  # noqa: E402
from autograder.thresholds import THRESHOLDS  # noqa: E402
from digits.data import load_mnist, normalize  # noqa: E402

SOLUTIONS = Path(__file__).resolve().parent.parent / "solutions"
NOTEBOOKS = {"dense": ("01_build_model.ipynb", "build_model"), "cnn": ("03_cnn.ipynb", "build_cnn")}
MARGIN = 0.02


def reference_builder(kind: str):
    """The reference solution's function, executed from its graded cell (trusted code)."""
    notebook, function = NOTEBOOKS[kind]
    cell = graded_cell(SOLUTIONS / notebook, function)
    namespace = {}
    exec(compile(cell.source, f"<solutions/{notebook}>", "exec"), namespace)
    return namespace[function]


def fit_settings(kind: str) -> dict:
    """The keyword arguments of the notebook's `model.fit(...)` call (epochs, batch size...)."""
    settings = fit_arguments(SOLUTIONS / NOTEBOOKS[kind][0])
    if settings is None:
        raise SystemExit(f"no model.fit(...) call found in {NOTEBOOKS[kind][0]}")
    return settings


def train_and_score(model, settings, data, seed, scale=True) -> tuple[float, bool]:
    """Test accuracy on scaled pixels, and whether the grader says "trained on raw pixels"."""
    (x_train, y_train), (x_test, y_test) = data
    keras.utils.set_random_seed(seed)
    train_images = normalize(x_train) if scale else x_train.astype("float32")
    if settings.get("epochs", 0):
        model.fit(train_images, y_train, verbose=0, **settings)
    scaled = model.predict(normalize(x_test), verbose=0, batch_size=1000)
    raw = model.predict(x_test.astype("float32"), verbose=0, batch_size=1000)
    return judges.accuracy(scaled, y_test), judges.trained_on_raw_pixels(scaled, raw, y_test)


def mistakes(kind: str, build) -> dict:
    """Catalogued mistakes that still train and save a model: (builder, scale pixels, epochs)."""

    def recompiled(**compile_arguments):
        def builder():
            model = build()
            model.compile(optimizer="adam", metrics=["accuracy"], **compile_arguments)
            return model

        return builder

    def without_softmax():
        model = build()
        model.layers[-1].activation = keras.activations.linear
        model.compile(optimizer="adam", loss=judges.SPARSE_LOSS, metrics=["accuracy"])
        return model

    logits = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return {
        "softmax with from_logits=True": (recompiled(loss=logits), True, None),
        "last layer without softmax": (without_softmax, True, None),
        "pixels not scaled": (build, False, None),
        "saved before training": (build, True, 0),
    }


def calibrate(kind: str, seeds: int, data) -> float:
    build = reference_builder(kind)
    settings = fit_settings(kind)
    print(f"\n## {kind}: {NOTEBOOKS[kind][1]}() from solutions/, model.fit{settings}")
    accuracies = []
    for seed in range(seeds):
        started = time.perf_counter()
        accuracy, _ = train_and_score(build(), settings, data, seed)
        accuracies.append(accuracy)
        print(f"seed {seed}: {accuracy:.4f} ({time.perf_counter() - started:.0f} s)")
    worst, mean, best = min(accuracies), float(np.mean(accuracies)), max(accuracies)
    threshold = math.floor((worst - MARGIN) * 100) / 100
    print(f"worst {worst:.4f}  mean {mean:.4f}  best {best:.4f}")
    print(f"threshold: worst - {MARGIN} rounded down = {threshold:.2f}")
    current = THRESHOLDS[data.source][kind] if data.source in THRESHOLDS else None
    print(f"autograder/thresholds.py has {current} for {data.source}")
    print("\nmistake | test accuracy | below threshold | caught by the raw-pixel rule")
    for name, (builder, scale, epochs) in mistakes(kind, build).items():
        mistake_settings = dict(settings, epochs=settings["epochs"] if epochs is None else epochs)
        accuracy, flagged = train_and_score(builder(), mistake_settings, data, 0, scale)
        print(f"{name} | {accuracy:.4f} | {accuracy < threshold} | {flagged}")
    return threshold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--kinds", nargs="+", default=["dense", "cnn"], choices=list(NOTEBOOKS))
    arguments = parser.parse_args()
    data = load_mnist()
    print(f"data: {data.source} ({data.description}); {os.cpu_count()} CPU cores")
    for kind in arguments.kinds:
        calibrate(kind, arguments.seeds, data)


if __name__ == "__main__":
    main()
