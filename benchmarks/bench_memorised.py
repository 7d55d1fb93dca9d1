"""Measure the gap behind `thresholds.has_seen_test_set`: test accuracy minus training accuracy,
for honest models and for models that have seen the test set.

Honest: every recipe of `digits.training.RECIPES` (dense, dropout, early-stopping, cnn with its
shifted images), trained as the book and the exercises train them, seed by seed. Attacks (their
code is the tests' own, tests/test_memorised.py): the template matcher built from the test
images, and the course's dense model trained on the training and test images. Each model is
read the judge's way: test accuracy on every test digit, training accuracy on the first
`training_digit_count` training images; for reference also on all of them and on the last 10%,
which the recipes' validation split never trains on.

    MNIST_OFFLINE=1 python benchmarks/bench_memorised.py --seeds 3
    MNIST_PATH=../shared/data/mnist-real-24k.npz python benchmarks/bench_memorised.py --seeds 3
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from functools import partial
from pathlib import Path

from digits.quiet import quiet_environment

quiet_environment()
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import numpy as np  # noqa: E402
from test_memorised import template_matcher, train_on_test_set  # noqa: E402

from autograder.exercises.models import accuracy_of  # noqa: E402
from autograder.isolation.modelfile import predict  # noqa: E402
from autograder.thresholds import (  # noqa: E402
    gap_standard_error,
    has_seen_test_set,
    seen_gap_limit,
    training_digit_count,
)
from digits.data import load_mnist, normalize  # noqa: E402
from digits.models import build_dense_model  # noqa: E402
from digits.training import RECIPES, VALIDATION_SPLIT, train  # noqa: E402

HEADER = (
    "| data | model | seed | train (judge's n) | train (all) | held out | test | gap | gap / SE "
    "| limit | flagged | s |"
)


def row(data, name: str, seed, model, seconds: float) -> tuple[float, bool]:
    """Print the model's table row; return its gap and whether the rule flags it."""
    (x_train, y_train), (x_test, y_test) = data
    count = training_digit_count(len(x_train), len(x_test))
    trained = predict(model, normalize(x_train))
    judged = accuracy_of(trained[:count], y_train[:count])
    held_out = int(len(x_train) * (1 - VALIDATION_SPLIT))
    test = accuracy_of(predict(model, normalize(x_test)), y_test)
    limit = seen_gap_limit(test, len(x_test), judged, count)
    error = gap_standard_error(test, len(x_test), judged, count)
    flagged = has_seen_test_set(test, len(x_test), judged, count)
    cells = [
        data.source,
        name,
        seed,
        f"{judged:.4f} ({count:,})",
        f"{accuracy_of(trained, y_train):.4f}",
        f"{accuracy_of(trained[held_out:], y_train[held_out:]):.4f}",
        f"{test:.4f}",
        f"{test - judged:+.4f}",
        f"{(test - judged) / error:+.1f}" if error else "-",
        f"{limit:.4f}",
        "yes" if flagged else "no",
        f"{seconds:.0f}",
    ]
    print("| " + " | ".join(map(str, cells)) + " |", flush=True)
    return test - judged, flagged


def timed(make):
    started = time.perf_counter()
    model = make()
    return model, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--kinds", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--attack-epochs", nargs="+", type=int, default=[3, 20])
    arguments = parser.parse_args()
    data = load_mnist()
    (x_train, _), (x_test, _) = data
    print(
        f"data: {data.source} ({data.origin}): {len(x_train):,} training / {len(x_test):,} test; "
        f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}\n"
    )
    print(HEADER)
    print("|" + " --- |" * (HEADER.count("|") - 1))
    honest = []
    for kind in arguments.kinds:
        for seed in range(arguments.seeds):
            (model, _), seconds = timed(partial(train, kind, data, seed=seed))
            honest.append(row(data, kind, seed, model, seconds))
    model, seconds = timed(template_matcher)
    row(data, "attack: template matcher (build_cnn)", "-", model, seconds)
    for epochs in arguments.attack_epochs:
        model, seconds = timed(partial(train_on_test_set, build_dense_model, data, epochs))
        row(data, f"attack: dense on train + test, {epochs} epochs", 0, model, seconds)
    gaps = [gap for gap, _ in honest]
    print(
        f"\nhonest models: {len(gaps)}, gap from {min(gaps):+.4f} to {max(gaps):+.4f} "
        f"(median {float(np.median(gaps)):+.4f}); flagged: {sum(flag for _, flag in honest)}"
    )


if __name__ == "__main__":
    main()
