"""Train each reference model once and share it: the book's chapters all load the same file.

``trained_model("dense")`` returns the model saved in the models folder as
``dense-<data source>.keras`` when it exists and was trained by the current code; otherwise it
trains the model (seeded, so a rebuild gives the same numbers), saves it there with a JSON record
of its training history and time, and returns it. Chapter 4 trains the dense model in front of the
reader and hands it over with ``share_model``.

The models folder is ``DIGITS_MODELS_DIR`` when set (the book's build points it at
``_build/models``), else a per-user cache folder, ``$XDG_CACHE_HOME/handwritten-digits/models``
(``~/.cache/handwritten-digits/models``): it works wherever the package is installed, in a clone
or from a wheel on Colab.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from digits import models
from digits.data import DataNotice, MnistData, load_mnist, normalize

SEED = 42
EPOCHS = 3
LONG_EPOCHS = 20  # long enough for the dense model to overfit, on the sample and on MNIST
PATIENCE = 2  # EarlyStopping: epochs without a better validation loss before it stops
VALIDATION_SPLIT = 0.1
CACHE_FOLDER = "handwritten-digits"


@dataclass(frozen=True)
class Recipe:
    """How one kind of model is built and trained."""

    build: Callable[[], keras.Model]  # a builder from digits.models
    epochs: int = EPOCHS
    early_stopping: bool = False
    description: str = ""
    batch_size: int = 32


RECIPES = {
    "dense": Recipe(models.build_dense_model, description="Dense 128-128 (the classic notebook)"),
    # The overfitting chapter's three runs: 20 epochs of the dense model, the same with Dropout,
    # and the same stopped early. Same seed, so "early-stopping" is "dense-20" cut short.
    "dense-20": Recipe(
        models.build_dense_model, epochs=LONG_EPOCHS, description="Dense 128-128, 20 epochs"
    ),
    "dropout": Recipe(
        models.build_dropout_model,
        epochs=LONG_EPOCHS,
        description="Dense 128-128 with Dropout(0.2), 20 epochs",
    ),
    "early-stopping": Recipe(
        models.build_dense_model,
        epochs=LONG_EPOCHS,
        early_stopping=True,
        description="Dense 128-128, up to 20 epochs with EarlyStopping",
    ),
    # As exercise 3 trains it: its shifted images give it something new to learn at every epoch.
    "cnn": Recipe(
        models.build_cnn_model,
        epochs=15,
        batch_size=128,
        description="Small CNN (2 convolutions), 15 epochs in batches of 128",
    ),
}


def _data() -> MnistData:
    """``load_mnist()`` without its notice about the offline sample: the notebook that asks for
    a trained model has loaded the data itself and printed that notice once already."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataNotice)
        return load_mnist()


def trained_model(kind: str = "dense") -> keras.Model:
    """The trained model of this kind: loaded if already trained on this data, else trained now."""
    model, _ = _load_or_train(kind)
    return model


def training_record(kind: str = "dense") -> dict:
    """What happened when the model was trained: ``history`` (per-epoch metrics), ``seconds``,
    ``epochs``, ``source`` (the data), ``batch_size``, ``train_samples`` and ``validation_samples``.
    """
    record = _saved_record(kind, _data().source)
    if record is None:
        _, record = _load_or_train(kind)
    return record


def compare_models() -> list[dict]:
    """One row per kind of model, trained once on this data: its epochs, parameters, training
    seconds, the validation accuracy of the epoch whose weights it kept (the one to choose by),
    and its test accuracy (to report once, for the chosen model)."""
    (_, _), (x_test, y_test) = _data()
    rows = []
    for kind, recipe in RECIPES.items():
        model, record = _load_or_train(kind)
        _, accuracy = model.evaluate(normalize(x_test), y_test, verbose=0)
        rows.append(
            {
                "variant": kind,
                "model": recipe.description,
                "epochs": record["epochs"],
                "parameters": model.count_params(),
                "training_seconds": record["seconds"],
                "validation_accuracy": record["history"]["val_accuracy"][kept_epoch(record) - 1],
                "test_accuracy": round(float(accuracy), 4),
            }
        )
    return rows


def models_dir() -> Path:
    """The folder of the shared trained models: DIGITS_MODELS_DIR, else the user's cache."""
    if os.environ.get("DIGITS_MODELS_DIR"):
        return Path(os.environ["DIGITS_MODELS_DIR"])
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / CACHE_FOLDER / "models"


def model_path(kind: str, source: str) -> Path:
    """Where the trained model of this kind, trained on this data source, is saved."""
    return models_dir() / f"{kind}-{source}.keras"


def share_model(
    kind: str, model: keras.Model, history: keras.callbacks.History, seconds: float
) -> dict:
    """Save a model trained outside ``train`` (chapter 4 trains in front of the reader, with the
    recipe's seed and settings) as the shared model of this kind, so that ``trained_model(kind)``
    loads it; return its training record."""
    data = _data()
    (x_train, _), _ = data
    record = _record(kind, data.source, len(x_train), history, seconds)
    _save(model, record, model_path(kind, data.source))
    return record


def train(
    kind: str = "dense", data: MnistData | None = None, seed: int = SEED
) -> tuple[keras.Model, dict]:
    """Train a fresh model of this kind (seeded: the book's models use SEED, calibration others)
    and return it with its training record."""
    recipe = _recipe(kind)
    data = _data() if data is None else data
    (x_train, y_train), _ = data
    keras.utils.set_random_seed(seed)
    model = recipe.build()
    callbacks = []
    if recipe.early_stopping:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=PATIENCE, restore_best_weights=True
            )
        )
    start = time.perf_counter()
    history = fit_model(
        model, x_train, y_train, recipe.epochs, callbacks, batch_size=recipe.batch_size
    )
    seconds = time.perf_counter() - start
    return model, _record(kind, data.source, len(x_train), history, seconds)


def _record(
    kind: str, source: str, images: int, history: keras.callbacks.History, seconds: float
) -> dict:
    # Keras trains on the first floor(n x (1 - split)) images and validates on the rest
    train_samples = int(images * (1.0 - VALIDATION_SPLIT))
    return {
        "kind": kind,
        "source": source,
        "fingerprint": _fingerprint(kind),
        "seconds": round(seconds, 2),
        "epochs": len(history.history["loss"]),
        "max_epochs": _recipe(kind).epochs,
        "batch_size": _recipe(kind).batch_size,
        "train_samples": train_samples,
        "validation_samples": images - train_samples,
        "history": {name: [float(v) for v in values] for name, values in history.history.items()},
    }


def fit_model(
    model: keras.Model, images, labels, epochs: int = EPOCHS, callbacks=(), batch_size: int = 32
) -> keras.callbacks.History:
    """Train on normalized images, keeping the last 10% of them aside to validate each epoch."""
    return model.fit(
        normalize(images),
        labels,
        epochs=epochs,
        batch_size=batch_size,
        validation_split=VALIDATION_SPLIT,
        callbacks=list(callbacks),
        verbose=0,
    )


def kept_epoch(record: dict) -> int:
    """The epoch (counted from 1) whose weights the trained model keeps: the last one, or, with
    EarlyStopping's ``restore_best_weights``, the one with the lowest validation loss."""
    history = record["history"]
    if not _recipe(record["kind"]).early_stopping:
        return len(history["loss"])
    return int(np.argmin(history["val_loss"])) + 1


def validation_drop(validation_accuracy: list[float], settle_epochs: int = 2) -> float:
    """How far the validation accuracy ever falls below its best so far once the first
    `settle_epochs` epochs are over: 0.0 for a curve that only rises. A model that learns
    steadily stays within a few points; a collapse (the curve falling by tens of points for
    several epochs) means something in training is broken, not that the model overfits."""
    best, drop = 0.0, 0.0
    for epoch, accuracy in enumerate(validation_accuracy, start=1):
        if epoch > settle_epochs:
            drop = max(drop, best - accuracy)
        best = max(best, accuracy)
    return drop


def _load_or_train(kind: str) -> tuple[keras.Model, dict]:
    _recipe(kind)  # fail early, before loading any data, on a misspelt kind
    data = _data()
    path = model_path(kind, data.source)
    record = _saved_record(kind, data.source)
    if record is not None:
        return keras.models.load_model(path), record
    model, record = train(kind, data)
    _save(model, record, path)
    return model, record


def _saved_record(kind: str, source: str) -> dict | None:
    """The saved training record, if its model file exists and the current code trained it."""
    path = model_path(kind, source)
    record_path = path.with_suffix(".json")
    if not (path.exists() and record_path.exists()):
        return None
    record = json.loads(record_path.read_text())
    return record if record.get("fingerprint") == _fingerprint(kind) else None


def _save(model: keras.Model, record: dict, path: Path) -> None:
    # Write to temporary names, then rename: a reader (another chapter, another process) never
    # sees a half-written file.
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = f".tmp{os.getpid()}"
    model_tmp = path.with_name(f"{path.stem}{suffix}.keras")
    record_tmp = path.with_name(f"{path.stem}{suffix}.json")
    model.save(model_tmp)
    record_tmp.write_text(json.dumps(record, indent=2))
    os.replace(model_tmp, path)
    os.replace(record_tmp, path.with_suffix(".json"))


def _fingerprint(kind: str) -> str:
    """Changes when the model code or the training settings change, so stale files are retrained."""
    recipe = _recipe(kind)
    text = "\n".join(
        [
            inspect.getsource(recipe.build),
            inspect.getsource(fit_model),
            inspect.getsource(models.compile_for_digits),
            repr((SEED, recipe.epochs, recipe.batch_size, recipe.early_stopping, VALIDATION_SPLIT)),
            repr(PATIENCE),
            keras.__version__,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _recipe(kind: str) -> Recipe:
    if kind not in RECIPES:
        raise ValueError(
            f"Unknown model kind {kind!r}; choose one of {', '.join(sorted(RECIPES))}."
        )
    return RECIPES[kind]
