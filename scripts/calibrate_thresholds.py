"""Calibrate the autograder's accuracy marks: full MNIST (the real file) and the offline sample.

Trains the reference solutions' build_model() and build_cnn(), read from solutions/, with the
notebooks' own model.fit settings (read from the notebooks: the same literals as
each exercise's train_settings, a test checks it), over several seeds; prints the worst, mean
and best test accuracy and the mark that the rule of autograder.thresholds recommends for the
data's test set (`full_mnist_mark` for MNIST's canonical test set, `sample_mark` for the
sample's). On the sample it then trains the catalogued mistakes that still produce a model file
and shows where they land (--mistakes / --no-mistakes to choose).

    MNIST_PATH=../shared/data/mnist-real-24k.npz python scripts/calibrate_thresholds.py --seeds 5
    MNIST_OFFLINE=1 python scripts/calibrate_thresholds.py --seeds 5 [--kinds dense cnn]

Record the output in benchmarks/RESULTS.md and the worst seeds in autograder/thresholds.py.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from digits.quiet import quiet_environment  # noqa: E402 (imports nothing heavy)

quiet_environment()
os.environ.setdefault("MNIST_OFFLINE", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from autograder import thresholds  # noqa: E402
from autograder.exercises import EXERCISES, models  # noqa: E402
from autograder.submission import fit_arguments, graded_cell  # noqa: E402
from digits.data import load_mnist, normalize  # noqa: E402

SOLUTIONS = Path(__file__).resolve().parent.parent / "solutions"
NOTEBOOKS = {  # model kind -> (notebook, function), from the registry
    exercise.kind: (exercise.notebook, exercise.function)
    for exercise in EXERCISES
    if exercise.model_kind
}


def reference_builder(kind: str):
    """The reference solution's function, executed from its graded cell (trusted code)."""
    notebook, function = NOTEBOOKS[kind]
    cell = graded_cell(SOLUTIONS / notebook, function)
    namespace = {}
    exec(compile(cell.source, f"<solutions/{notebook}>", "exec"), namespace)
    return namespace[function]


def dense_under_budget():
    """The challenge's second honest recipe: the dense network of Exercise 1 cut to one hidden
    layer of 60 units (47,710 parameters, under the budget)."""
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(60, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# Kinds whose mark must hold for several honest recipes: each is trained with the notebook's
# model.fit settings, and the worst seed of them all sets the mark.
OTHER_RECIPES = {"challenge": {"dense, 60 hidden units": dense_under_budget}}


def fit_settings(kind: str) -> dict:
    """The keyword arguments of the notebook's `model.fit(...)` call (epochs, batch size...)."""
    settings = fit_arguments(SOLUTIONS / NOTEBOOKS[kind][0])
    if settings is None:
        raise SystemExit(f"no model.fit(...) call found in {NOTEBOOKS[kind][0]}")
    return settings


def train_and_score(build, settings, data, seed, scale=True) -> tuple[float, bool]:
    """Build with this seed and train; test accuracy on scaled pixels, and whether the grader
    says "trained on raw pixels"."""
    (x_train, y_train), (x_test, y_test) = data
    keras.utils.set_random_seed(seed)  # before build(): the seed sets the initial weights too
    model = build()
    train_images = normalize(x_train) if scale else x_train.astype("float32")
    if settings.get("epochs", 0):
        model.fit(train_images, y_train, verbose=0, **settings)
    scaled = model.predict(normalize(x_test), verbose=0, batch_size=1000)
    raw = model.predict(x_test.astype("float32"), verbose=0, batch_size=1000)
    return models.accuracy_of(scaled, y_test), models.trained_on_raw_pixels(scaled, raw, y_test)


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
        model.compile(optimizer="adam", loss=models.SPARSE_LOSS, metrics=["accuracy"])
        return model

    logits = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return {
        "softmax with from_logits=True": (recompiled(loss=logits), True, None),
        "last layer without softmax": (without_softmax, True, None),
        "pixels not scaled": (build, False, None),
        "saved before training": (build, True, 0),
    }


def seed_accuracy(build, settings, data, seed: int) -> float:
    started = time.perf_counter()
    accuracy, _ = train_and_score(build, settings, data, seed)
    seconds = time.perf_counter() - started
    print(f"seed {seed}: {accuracy:.4f} ({seconds:.0f} s, load {os.getloadavg()[0]:.1f})")
    return accuracy


def recommended_mark(known: str | None, worst: float, kind: str) -> float | None:
    """The mark the rule of autograder.thresholds gives for this test set, if it has a rule."""
    if known == thresholds.FULL:
        return thresholds.full_mnist_mark(worst, kind)
    if known == thresholds.SAMPLE:
        return thresholds.sample_mark(worst)
    return None


def calibrate(kind: str, seeds: int, data, with_mistakes: bool) -> None:
    build = reference_builder(kind)
    settings = fit_settings(kind)
    recipes = {f"{NOTEBOOKS[kind][1]}() from solutions/": build, **OTHER_RECIPES.get(kind, {})}
    accuracies = []
    for name, builder in recipes.items():
        print(f"\n## {kind}: {name}, model.fit{settings}")
        mine = [seed_accuracy(builder, settings, data, seed) for seed in range(seeds)]
        row = " | ".join(f"{accuracy:.4f}" for accuracy in mine)
        summary = f"{min(mine):.4f} | {np.mean(mine):.4f} | {max(mine):.4f}"
        print(f"| {kind}: {name} | {row} | {summary} |")
        accuracies += mine
    worst, mean, best = min(accuracies), float(np.mean(accuracies)), max(accuracies)
    print(f"worst {worst:.4f}  mean {mean:.4f}  best {best:.4f}")
    known = thresholds.known_test_set(data)
    mark = recommended_mark(known, worst, kind)
    current = thresholds.THRESHOLDS[known].get(kind) if known else None
    print(f"test set: {known or 'not a calibrated one'}; recommended mark {mark}; ", end="")
    print(f"autograder/thresholds.py has {current}")
    row = " | ".join(f"{accuracy:.4f}" for accuracy in accuracies)
    print(f"| {kind} | {row} | {worst:.4f} | {mean:.4f} | {best:.4f} | {mark} |")
    if not with_mistakes:
        return
    print("\nmistake | test accuracy | below mark | caught by the raw-pixel rule")
    for name, (builder, scale, epochs) in mistakes(kind, build).items():
        mistake_settings = dict(settings, epochs=settings["epochs"] if epochs is None else epochs)
        accuracy, flagged = train_and_score(builder, mistake_settings, data, 0, scale)
        below = None if mark is None else accuracy < mark
        print(f"{name} | {accuracy:.4f} | {below} | {flagged}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--kinds", nargs="+", default=["dense", "cnn"], choices=list(NOTEBOOKS))
    parser.add_argument(
        "--mistakes",
        action=argparse.BooleanOptionalAction,
        help="train the catalogued mistakes too (default: on the sample only)",
    )
    arguments = parser.parse_args()
    data = load_mnist()
    (x_train, _), (x_test, _) = data
    print(
        f"data: {data.source} ({data.origin}): {len(x_train):,} training / {len(x_test):,} test "
        f"images; {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}"
    )
    with_mistakes = arguments.mistakes
    if with_mistakes is None:
        with_mistakes = thresholds.known_test_set(data) == thresholds.SAMPLE
    for kind in arguments.kinds:
        calibrate(kind, arguments.seeds, data, with_mistakes)


if __name__ == "__main__":
    main()
