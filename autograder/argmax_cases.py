"""Randomized inputs for argmax_accuracy() and the values of its common wrong versions."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np


@dataclass
class Case:
    name: str
    y_true: np.ndarray  # int64 labels, shape (n,)
    y_prob: np.ndarray  # float32 probabilities, shape (n, 10)

    @property
    def expected(self) -> float:
        return float(np.mean(np.argmax(self.y_prob, axis=1) == self.y_true))

    def wrong_versions(self) -> dict[str, float]:
        """What the common mistakes return on this case, when they return at all."""
        predicted = np.argmax(self.y_prob, axis=1)
        versions = {
            "returns_percentage": 100 * self.expected,
            "returns_count": float(np.sum(predicted == self.y_true)),
        }
        if len(self.y_true) == 10:
            versions["argmax_axis_0"] = float(
                np.mean(np.argmax(self.y_prob, axis=0) == self.y_true)
            )
            one_hot = np.eye(10)[self.y_true]
            versions["one_hot_comparison"] = float(np.mean(predicted == one_hot))
        return versions


def make_case(name: str, rows: int, correct: int, rng: np.random.Generator) -> Case:
    """`rows` random probability rows whose labels match the arg-max in exactly `correct` rows."""
    logits = rng.normal(scale=3.0, size=(rows, 10))
    y_prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    predicted = np.argmax(y_prob, axis=1)
    y_true = predicted.copy()
    wrong_rows = rng.choice(rows, size=rows - correct, replace=False)
    y_true[wrong_rows] = (predicted[wrong_rows] + rng.integers(1, 10, size=len(wrong_rows))) % 10
    return Case(name, y_true.astype(np.int64), y_prob.astype(np.float32))


def make_cases(seed: int | None = None) -> list[Case]:
    """A fresh random set each run (so a hard-coded answer fails), or a fixed one for a seed."""
    rng = np.random.default_rng(secrets.randbits(64) if seed is None else seed)
    rows = int(rng.integers(40, 90))
    return [
        make_case(f"{rows} random rows", rows, int(rng.integers(5, rows - 5)), rng),
        make_case("10 random rows", 10, int(rng.integers(3, 8)), rng),
        make_case("rows that are all right", 25, 25, rng),
        make_case("rows that are all wrong", 30, 0, rng),
        make_case("a single row", 1, 1, rng),
    ]
