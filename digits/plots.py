"""Plotting helpers for the book and the exercises. Each returns a Matplotlib ``Figure``.

In a notebook, assign the result (``fig = show_digits(...)``) so the figure is drawn once;
in a script, call ``matplotlib.pyplot.show()`` or ``save_figure(fig, "name.png")``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

DIGITS = list(range(10))


Labels = Sequence | np.ndarray | None  # digit labels, one per image


def show_digits(
    images: np.ndarray,
    labels: Labels = None,
    predictions: Labels = None,
    columns: int = 10,
    title: str | None = None,
) -> Figure:
    """A grid of digit images, each titled with its label (and prediction, red when wrong)."""
    rows = max(1, math.ceil(len(images) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.1, rows * 1.3), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= len(images):
            continue
        ax.imshow(images[index], cmap="gray_r")
        ax.set_title(
            _caption(index, labels, predictions),
            fontsize=9,
            color=_color(index, labels, predictions),
        )
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_class_balance(labels: np.ndarray, title: str = "Digits per class") -> Figure:
    """A bar chart of how many examples each digit 0-9 has."""
    counts = np.bincount(np.asarray(labels), minlength=10)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.bar(DIGITS, counts, color="tab:blue")
    ax.set_xticks(DIGITS)
    ax.set_xlabel("digit")
    ax.set_ylabel("examples")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_history(history: dict) -> Figure:
    """Loss and accuracy per epoch, for training and (when present) validation data.

    ``history`` is ``model.fit(...).history`` (or the ``"history"`` of a training record).
    """
    if not history.get("loss"):
        raise ValueError(
            "There is no training curve to plot: the history is empty, so model.fit trained for "
            "0 epochs. Set epochs to 1 or more (the exercises use epochs=3) in model.fit, then "
            "run the cell again."
        )
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (loss_ax, accuracy_ax) = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, metric in ((loss_ax, "loss"), (accuracy_ax, "accuracy")):
        ax.plot(epochs, history[metric], "o-", label=f"training {metric}")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], "s--", label=f"validation {metric}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def plot_probabilities(
    images: np.ndarray, probabilities: np.ndarray, labels: Labels = None
) -> Figure:
    """Each image beside a bar chart of the model's 10 probabilities; the top bar is coloured
    green when it matches the label, red when it does not."""
    fig, axes = plt.subplots(len(images), 2, figsize=(7, 1.6 * len(images)), squeeze=False)
    for row, (image, probs) in enumerate(zip(images, probabilities, strict=True)):
        image_ax, bars_ax = axes[row]
        image_ax.imshow(image, cmap="gray_r")
        image_ax.axis("off")
        predicted = int(np.argmax(probs))
        true = None if labels is None else int(labels[row])
        image_ax.set_title("" if true is None else f"label {true}", fontsize=9)
        bars = bars_ax.bar(DIGITS, probs, color="lightgray")
        bars[predicted].set_color("tab:green" if true in (None, predicted) else "tab:red")
        bars_ax.set_ylim(0, 1)
        bars_ax.set_xticks(DIGITS)
        bars_ax.set_ylabel("probability", fontsize=8)
        bars_ax.set_title(f"predicted {predicted} ({probs[predicted]:.0%})", fontsize=9)
    fig.tight_layout()
    return fig


def show_misclassified(
    images: np.ndarray, labels: np.ndarray, predictions: np.ndarray, limit: int = 20
) -> Figure:
    """The first ``limit`` digits whose prediction differs from the label."""
    wrong = np.flatnonzero(np.asarray(predictions) != np.asarray(labels))[:limit]
    return show_digits(
        images[wrong],
        labels=np.asarray(labels)[wrong],
        predictions=np.asarray(predictions)[wrong],
        title=f"{len(wrong)} misclassified digits (label / predicted)",
    )


def plot_confusion_matrix(labels: np.ndarray, predictions: np.ndarray) -> Figure:
    """Rows: true digit; columns: predicted digit; the diagonal counts the correct ones."""
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, ax = plt.subplots(figsize=(6, 5.5))
    ConfusionMatrixDisplay.from_predictions(
        labels, predictions, labels=DIGITS, ax=ax, colorbar=False, cmap="Blues"
    )
    ax.set_title("Confusion matrix")
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Save a figure as an image file (the format follows the suffix: .png, .svg, .pdf)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def _caption(index: int, labels: Labels, predictions: Labels) -> str:
    parts = []
    if labels is not None:
        parts.append(str(int(labels[index])))
    if predictions is not None:
        parts.append(str(int(predictions[index])))
    return " / ".join(parts)


def _color(index: int, labels: Labels, predictions: Labels) -> str:
    if labels is None or predictions is None:
        return "black"
    return "black" if int(labels[index]) == int(predictions[index]) else "tab:red"
