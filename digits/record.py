"""A record of how a saved model was trained, kept inside its .keras file.

The exercise notebooks call ``record_training(path, data, history)`` right after
``model.save(path)``. The record (which MNIST data, how many epochs, the training curve) is a JSON
entry added to the .keras zip archive, which Keras ignores when loading; the autograder reads it
as evidence for its messages (never to choose a mark). A later ``model.save`` replaces the whole
file, record included, so a record never outlives its model.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

RECORD_ENTRY = "digits_training.json"


def record_training(path: str | Path, data, history) -> None:
    """Add to the .keras file at `path` which data trained it (a digits.load_mnist() result)
    and its training curve (the History returned by model.fit, or its .history dict)."""
    curves = getattr(history, "history", history) or {}
    (x_train, _), (x_test, _) = data
    record = {
        "data_source": getattr(data, "source", "unknown"),
        "train_images": len(x_train),
        "test_images": len(x_test),
        "history": {name: [float(value) for value in values] for name, values in curves.items()},
    }
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(RECORD_ENTRY, json.dumps(record))
