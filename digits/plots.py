"""Plotting helpers for the book and the exercises. Each returns a Matplotlib ``Figure``.

Every digit is drawn the way MNIST stores it, with one colormap on the whole course
(``DIGIT_CMAP``): white ink (high values) on black (0).

In a notebook, assign the result (``fig = show_digits(...)``) so the figure is drawn once;
in a script, call ``matplotlib.pyplot.show()`` or ``save_figure(fig, "name.png")``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import matplotlib.patches
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

DIGITS = list(range(10))
DIGIT_CMAP = "gray"  # MNIST's own look: 0 is black, the highest value white


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
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 0.69, rows * 1.1), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= len(images):
            continue
        ax.imshow(images[index], cmap=DIGIT_CMAP, **_pixel_range(images))
        ax.set_title(
            _caption(index, labels, predictions),
            fontsize=9,
            color=_color(index, labels, predictions),
        )
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_pixel_values(
    image: np.ndarray, rows: tuple[int, int] = (10, 18), columns: tuple[int, int] = (10, 18)
) -> Figure:
    """One digit as the heat map it is (a colour bar says which value each gray is), beside a
    zoom on a patch of it (``rows``, ``columns``: start and end) with each pixel's value."""
    image = np.asarray(image)
    fig, (whole_ax, patch_ax) = plt.subplots(
        1, 2, figsize=(6.9, 3.4), gridspec_kw={"width_ratios": [1, 1.15]}
    )
    shown = whole_ax.imshow(image, cmap=DIGIT_CMAP, **_pixel_range(image))
    fig.colorbar(shown, ax=whole_ax, fraction=0.046, pad=0.04, label="pixel value")
    (top, bottom), (left, right) = rows, columns
    whole_ax.add_patch(
        plt.Rectangle(
            (left - 0.5, top - 0.5),
            right - left,
            bottom - top,
            fill=False,
            color="tab:orange",
            lw=2,
        )
    )
    whole_ax.set_title(f"the whole {image.shape[0]} x {image.shape[1]} image", fontsize=11)
    whole_ax.set_xlabel("column", fontsize=10)
    whole_ax.set_ylabel("row", fontsize=10)
    patch = image[top:bottom, left:right]
    patch_ax.imshow(patch, cmap=DIGIT_CMAP, **_pixel_range(image))
    high = _pixel_range(image)["vmax"] / 2
    for (row, column), value in np.ndenumerate(patch):
        text = f"{value:.0f}" if np.issubdtype(patch.dtype, np.integer) else f"{value:.2f}"
        color = "black" if value > high else "white"
        patch_ax.text(column, row, text, ha="center", va="center", fontsize=9, color=color)
    patch_ax.set_xticks(range(right - left), [str(c) for c in range(left, right)], fontsize=9)
    patch_ax.set_yticks(range(bottom - top), [str(r) for r in range(top, bottom)], fontsize=9)
    patch_ax.set_title(f"rows {top}-{bottom - 1}, columns {left}-{right - 1}", fontsize=11)
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
    fig, (loss_ax, accuracy_ax) = plt.subplots(1, 2, figsize=(6.9, 2.9))
    for ax, metric in ((loss_ax, "loss"), (accuracy_ax, "accuracy")):
        ax.plot(epochs, history[metric], "o-", label=f"training {metric}")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], "s--", label=f"validation {metric}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_xticks(epochs[:: 1 + (len(epochs) - 1) // 10])  # at most 10 labels, kept apart
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def plot_loss_curves(runs: dict[str, dict], kept: dict[str, int] | None = None) -> Figure:
    """Loss per epoch of one or more training runs on one chart: validation loss solid, training
    loss dashed, one colour per run (``runs``: name -> ``history``). A ring marks each run's
    lowest validation loss; ``kept`` (name -> epoch) marks instead the epoch whose weights a run
    kept, where that is not its last (EarlyStopping's restored weights)."""
    fig, ax = plt.subplots(figsize=(6.9, 3.4 + 0.2 * len(runs)), layout="constrained")
    longest = 1
    for index, (name, history) in enumerate(runs.items()):
        color = f"C{index}"
        epochs = np.arange(1, len(history["loss"]) + 1)
        longest = max(longest, len(epochs))
        ax.plot(epochs, history["val_loss"], "-", color=color, label=f"{name}: validation")
        ax.plot(epochs, history["loss"], "--", color=color, alpha=0.7, label=f"{name}: training")
        best = (kept or {}).get(name, int(np.argmin(history["val_loss"])) + 1)
        ax.plot(best, history["val_loss"][best - 1], "o", ms=11, mfc="none", mec=color, mew=2)
    epochs = np.arange(1, longest + 1)
    ax.set_xticks(epochs[:: 1 + (longest - 1) // 10])
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    # Under the chart, two columns: inside it, the labels would hide the curves
    fig.legend(loc="outside lower center", ncol=2, fontsize=9)
    return fig


def show_convolution(image: np.ndarray, kernel: np.ndarray, result: np.ndarray) -> Figure:
    """A 3 x 3 filter at work: the digit, the filter with its nine weights, and what sliding the
    filter over the digit gives (red where the sum is positive, blue where negative)."""
    fig, (image_ax, kernel_ax, result_ax) = plt.subplots(
        1, 3, figsize=(6.9, 2.6), gridspec_kw={"width_ratios": [3, 1.6, 3]}
    )
    image_ax.imshow(image, cmap=DIGIT_CMAP, **_pixel_range(image))
    image_ax.set_title(f"digit, {image.shape[0]} x {image.shape[1]}", fontsize=10)
    limit = float(np.abs(kernel).max())
    kernel_ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
    for (row, column), weight in np.ndenumerate(kernel):
        kernel_ax.text(column, row, f"{weight:g}", ha="center", va="center", fontsize=11)
    kernel_ax.set_title("3 x 3 filter", fontsize=10)
    limit = float(np.abs(result).max()) or 1.0
    shown = result_ax.imshow(result, cmap="RdBu_r", vmin=-limit, vmax=limit)
    result_ax.set_title(f"result, {result.shape[0]} x {result.shape[1]}", fontsize=10)
    for ax in (image_ax, kernel_ax, result_ax):
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(shown, ax=result_ax, fraction=0.046, pad=0.04)
    return fig


def show_feature_maps(maps: np.ndarray, count: int = 16, columns: int = 8) -> Figure:
    """The first ``count`` feature maps of a convolution layer for one image (``maps``: height x
    width x filters), each on its own scale: bright where the filter found its pattern."""
    maps = np.asarray(maps)[..., :count]
    rows = math.ceil(maps.shape[-1] / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(6.9, 0.95 * rows + 0.3), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < maps.shape[-1]:
            ax.imshow(maps[..., index], cmap="viridis")
            ax.set_title(f"filter {index}", fontsize=9)
    fig.tight_layout()
    return fig


def plot_probabilities(
    images: np.ndarray, probabilities: np.ndarray, labels: Labels = None
) -> Figure:
    """Each image beside a bar chart of the model's 10 probabilities; the top bar is coloured
    green when it matches the label, red when it does not."""
    fig, axes = plt.subplots(len(images), 2, figsize=(6.9, 1.6 * len(images)), squeeze=False)
    for row, (image, probs) in enumerate(zip(images, probabilities, strict=True)):
        image_ax, bars_ax = axes[row]
        image_ax.imshow(image, cmap=DIGIT_CMAP, **_pixel_range(images))
        image_ax.axis("off")
        predicted = int(np.argmax(probs))
        true = None if labels is None else int(labels[row])
        image_ax.set_title("" if true is None else f"label {true}", fontsize=9)
        bars = bars_ax.bar(DIGITS, probs, color="lightgray")
        bars[predicted].set_color("tab:green" if true in (None, predicted) else "tab:red")
        bars_ax.set_ylim(0, 1)
        bars_ax.set_xticks(DIGITS)
        bars_ax.set_ylabel("probability", fontsize=9)
        bars_ax.set_title(f"predicted {predicted} ({probs[predicted]:.0%})", fontsize=9)
    fig.tight_layout()
    return fig


def show_confident_errors(
    images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, limit: int = 5
) -> Figure:
    """The ``limit`` wrong predictions the model was most sure of, each with its probabilities."""
    labels = np.asarray(labels)
    predicted = np.argmax(probabilities, axis=1)
    wrong = np.flatnonzero(predicted != labels)
    surest = wrong[np.argsort(-probabilities[wrong, predicted[wrong]], kind="stable")][:limit]
    fig = plot_probabilities(images[surest], probabilities[surest], labels=labels[surest])
    fig.suptitle(f"The {len(surest)} errors the model was surest of", fontsize=11)
    fig.tight_layout()
    return fig


def plot_per_digit_accuracy(labels: np.ndarray, predictions: np.ndarray) -> Figure:
    """The share of each digit's test images that the model reads right."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    accuracy = [np.mean(predictions[labels == digit] == digit) for digit in DIGITS]
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    bars = ax.bar(DIGITS, accuracy, color="tab:blue")
    for digit in np.flatnonzero(np.isclose(accuracy, min(accuracy))):
        bars[digit].set_color("tab:red")
    ax.set_ylim(min(accuracy) - 0.05, 1)
    ax.set_xticks(DIGITS)
    ax.set_xlabel("true digit")
    ax.set_ylabel("accuracy")
    ax.bar_label(bars, [f"{a:.0%}" for a in accuracy], fontsize=9)
    ax.set_title("Share of each digit read right (lowest in red)")
    fig.tight_layout()
    return fig


def show_network(image: np.ndarray, layers: Sequence[tuple[str, np.ndarray]]) -> Figure:
    """A digit going through a network, left to right: the image, then each layer's output for it
    (``layers``: (name, 1-D values) pairs, short names such as "Dense 128\\nrelu"), one thin
    column of small squares per layer, coloured by value (each layer on its own scale, 0 to its
    largest output). The last layer's 10 squares are labelled with their digit and probability."""
    image = np.asarray(image)
    fig, axes = plt.subplots(
        1,
        len(layers) + 1,
        figsize=(6.9, 4.2),
        gridspec_kw={"width_ratios": [3] + [1] * len(layers), "wspace": 1.6},
    )
    axes[0].imshow(image, cmap=DIGIT_CMAP, **_pixel_range(image))
    axes[0].set_title(f"input\n{image.shape[0]} x {image.shape[1]} pixels", fontsize=10)
    axes[0].axis("off")
    shown = None
    for ax, (name, values) in zip(axes[1:], layers, strict=True):
        values = np.asarray(values, dtype="float64").ravel()
        if len(values) == image.size:  # the flattened image: pixels, drawn as pixels
            ax.imshow(values[:, None], cmap=DIGIT_CMAP, aspect="auto", **_pixel_range(values))
        else:
            largest = values.max() if values.max() > 0 else 1.0
            shown = ax.imshow(
                values[:, None] / largest, cmap="viridis", aspect="auto", vmin=0, vmax=1
            )
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        if len(values) <= 10:
            ax.set_yticks(range(len(values)), [f"{d}: {v:.0%}" for d, v in enumerate(values)])
            ax.yaxis.tick_right()
            ax.tick_params(axis="y", labelsize=9, length=0)
        else:
            ax.set_yticks([0, len(values) - 1], ["1", str(len(values))], fontsize=9)
    for left, right in zip(axes[:-1], axes[1:], strict=True):
        fig.add_artist(
            matplotlib.patches.ConnectionPatch(
                xyA=(1.05, 0.5),
                coordsA="axes fraction",
                axesA=left,
                xyB=(-0.1, 0.5),
                coordsB="axes fraction",
                axesB=right,
                arrowstyle="->",
                color="tab:gray",
                lw=1.5,
            )
        )
    if shown is not None:
        fig.colorbar(
            shown, ax=list(axes), fraction=0.02, pad=0.1, label="output / the layer's largest"
        )
    return fig


def plot_softmax(scores: np.ndarray) -> Figure:
    """Softmax at work: 10 raw scores (logits), then the probabilities they become, then the loss
    -log(p) for every probability the right digit could get."""
    scores = np.asarray(scores, dtype="float64")
    probabilities = np.exp(scores - scores.max())
    probabilities /= probabilities.sum()
    fig, (score_ax, prob_ax, loss_ax) = plt.subplots(1, 3, figsize=(6.9, 2.7))
    score_ax.bar(DIGITS, scores, color="tab:gray")
    score_ax.axhline(0, color="black", lw=0.8)
    score_ax.set_title("scores (logits)", fontsize=10)
    prob_ax.bar(DIGITS, probabilities, color="tab:blue")
    prob_ax.set_ylim(0, 1)
    prob_ax.set_title("softmax: probabilities", fontsize=10)
    for ax in (score_ax, prob_ax):
        ax.set_xticks(DIGITS)
        ax.set_xlabel("digit")
    p = np.linspace(0.005, 1, 200)
    loss_ax.plot(p, -np.log(p), color="tab:red")
    loss_ax.axvline(0.1, color="tab:gray", ls="--", lw=1)
    loss_ax.annotate(
        "p = 0.1: loss 2.3",
        (0.1, -np.log(0.1)),
        (0.3, 3.2),
        fontsize=9,
        arrowprops={"arrowstyle": "->"},
    )
    loss_ax.set_xlabel("p, the right digit's probability", fontsize=9)
    loss_ax.set_ylabel("loss -log(p)", fontsize=9)
    loss_ax.set_title("loss of one image", fontsize=10)
    loss_ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def show_first_layer_weights(weights: np.ndarray, units: int = 16) -> Figure:
    """The weights of a Dense layer on the 784 pixels, one 28 x 28 image per unit: red pixels push
    the unit's sum up, blue ones down (a diverging colormap: these are weights, not digits)."""
    weights = np.asarray(weights)[:, :units]
    limit = float(np.abs(weights).max())
    columns = 8
    rows = math.ceil(units / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(6.9, 0.95 * rows + 0.4), squeeze=False)
    shown = None
    for unit, ax in enumerate(axes.flat):
        ax.axis("off")
        if unit < weights.shape[1]:
            shown = ax.imshow(
                weights[:, unit].reshape(28, 28), cmap="RdBu_r", vmin=-limit, vmax=limit
            )
            ax.set_title(f"unit {unit}", fontsize=9)
    if shown is not None:
        fig.colorbar(shown, ax=list(axes.flat), fraction=0.02, pad=0.02, label="weight")
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


def plot_agreement(original: np.ndarray, others: dict[str, np.ndarray]) -> Figure:
    """Each model's probabilities against the original's, one point per (image, digit): on the
    diagonal when the two models agree."""
    original = np.asarray(original).ravel()
    fig, axes = plt.subplots(1, len(others), figsize=(3.4 * len(others), 3.4), squeeze=False)
    for ax, (name, probabilities) in zip(axes.flat, others.items(), strict=True):
        ax.plot([0, 1], [0, 1], color="tab:gray", lw=1, ls="--")
        ax.scatter(original, np.asarray(probabilities).ravel(), s=6, color="tab:blue")
        ax.set_xlabel("probability, original model")
        ax.set_ylabel(f"probability, {name}")
        ax.set_title(name)
        ax.set_aspect("equal")
    fig.tight_layout()
    return fig


def plot_model_comparison(rows: Sequence[dict]) -> Figure:
    """Validation and test accuracy of each model, side by side (``rows``: dicts with
    ``variant``, ``validation_accuracy`` and ``test_accuracy``, as chapter 10's metrics.json)."""
    names = [row["variant"] for row in rows]
    positions = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(6.9, 3.2), layout="constrained")
    for offset, key, label in (
        (-0.2, "validation_accuracy", "validation"),
        (0.2, "test_accuracy", "test"),
    ):
        values = [row[key] for row in rows]
        bars = ax.bar(positions + offset, values, width=0.4, label=label)
        ax.bar_label(bars, [f"{value:.1%}" for value in values], fontsize=9, padding=2)
    lowest = min(min(row["validation_accuracy"], row["test_accuracy"]) for row in rows)
    ax.set_ylim(max(0.0, lowest - 0.05), 1.0)
    ax.set_xticks(positions, names)
    ax.set_ylabel("accuracy")
    fig.legend(loc="outside upper center", ncol=2, fontsize=9)  # above the bars, hiding none
    return fig


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


def _pixel_range(images: np.ndarray) -> dict:
    """vmin and vmax for images of pixels 0-255 (raw MNIST, or their mean) or 0-1 (normalized), so
    that the same value is drawn in the same gray in every figure."""
    return {"vmin": 0, "vmax": 255 if np.max(images) > 1 else 1}


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
