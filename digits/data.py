"""Load MNIST: the one loader that the book, the exercises and the autograder use.

`load_mnist()` tries, in this order:

1. the `.npz` file named by the ``MNIST_PATH`` environment variable (for classrooms behind a
   firewall; the keys of Keras' ``mnist.npz``);
2. ``keras.datasets.mnist.load_data()``, the real download, cached under ``~/.keras/datasets/``
   (skipped when ``MNIST_OFFLINE=1``);
3. the offline sample of real MNIST digits shipped inside this package
   (``digits/resources/mnist_sample.npz``, read with ``importlib.resources``), with one warning.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np

SAMPLE_RESOURCE = resources.files("digits") / "resources" / "mnist_sample.npz"
KEYS = ("x_train", "y_train", "x_test", "y_test")
FULL_SOURCE = "mnist"
SAMPLE_SOURCE = "mnist-sample"
FILE_SOURCE = "mnist-file"
SOURCE_DESCRIPTIONS = {
    FULL_SOURCE: "full MNIST (60,000 training / 10,000 test digits)",
    SAMPLE_SOURCE: "offline sample of real MNIST digits (4,000 training / 1,000 test)",
    FILE_SOURCE: "custom MNIST-format file from MNIST_PATH",  # "built on the custom ..."
}
_USING_THE_SAMPLE = (
    "using the offline MNIST sample shipped with the course "
    "(4,000 training / 1,000 test real MNIST digits instead of 60,000 / 10,000), so accuracy "
    "figures are a few points lower than with full MNIST."
)
SAMPLE_WARNING = (
    f"No network: {_USING_THE_SAMPLE} To get the full data, connect to the internet and run "
    "again, or set MNIST_PATH to a copy of mnist.npz."
)
OFFLINE_WARNING = (
    f"MNIST_OFFLINE=1: {_USING_THE_SAMPLE} Unset MNIST_OFFLINE to download the full data, or "
    "set MNIST_PATH to a copy of mnist.npz."
)


class DataNotice(UserWarning):
    """Which data the course uses instead of full MNIST: a notice, not an error (a notebook's
    set-up cell prints it as plain text, see digits.quiet.quiet_tensorflow)."""


class MnistDataError(ValueError):
    """The file named by MNIST_PATH is not a usable MNIST .npz file."""


class MnistData(tuple):
    """``((x_train, y_train), (x_test, y_test))`` that also knows where it came from.

    Unpack it like Keras' ``mnist.load_data()``; read ``.source`` (``"mnist"``,
    ``"mnist-sample"`` or ``"mnist-file"``) and ``.origin`` (a path or URL) to tell which
    data it is.
    """

    source: str
    origin: str

    def __new__(cls, arrays: dict[str, np.ndarray], source: str, origin: str):
        self = super().__new__(
            cls, ((arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"]))
        )
        self.source = source
        self.origin = origin
        return self

    @property
    def description(self) -> str:
        return SOURCE_DESCRIPTIONS[self.source]

    def __repr__(self) -> str:
        (x_train, _), (x_test, _) = self
        return (
            f"MnistData(source={self.source!r}, train={len(x_train)}, test={len(x_test)}, "
            f"origin={self.origin!r})"
        )


def load_mnist() -> MnistData:
    """Return MNIST as ``(x_train, y_train), (x_test, y_test)``: uint8 images, integer labels.

    The result has a ``.source`` attribute that says which data it is (see the module docstring).
    """
    path = os.environ.get("MNIST_PATH")
    if path:
        return load_mnist_file(path)
    if os.environ.get("MNIST_OFFLINE") == "1":
        warnings.warn(OFFLINE_WARNING, DataNotice, stacklevel=2)
        return load_mnist_sample()
    downloaded = _download_mnist()
    if downloaded is not None:
        return downloaded
    warnings.warn(SAMPLE_WARNING, DataNotice, stacklevel=2)
    return load_mnist_sample()


def load_mnist_sample() -> MnistData:
    """The offline sample shipped in the package, without trying the network."""
    with resources.as_file(SAMPLE_RESOURCE) as path:
        return MnistData(_read_npz(path), SAMPLE_SOURCE, str(path))


def load_mnist_file(path: str | os.PathLike) -> MnistData:
    """Read and validate an MNIST ``.npz`` file with the keys of Keras' ``mnist.npz``."""
    arrays = _read_npz(Path(path))
    full = len(arrays["x_train"]) == 60_000 and len(arrays["x_test"]) == 10_000
    return MnistData(arrays, FULL_SOURCE if full else FILE_SOURCE, str(path))


def normalize(images: np.ndarray) -> np.ndarray:
    """Scale uint8 pixels from 0..255 to float32 in [0, 1], as the course's models expect."""
    return np.asarray(images, dtype="float32") / 255.0


def _download_mnist() -> MnistData | None:
    """Keras' own download (or its cache); None when there is no network.

    Keras prints "Downloading data from https://..." before it tries. That line is held back and
    shown only when the download works or fails for another reason than the network: offline,
    the sample's warning says what happened, and the line would only look like an error.
    """
    import keras

    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as error:  # Keras raises a bare Exception("URL fetch failure ...")
        if "URL fetch failure" in str(error) or isinstance(error, OSError):
            return None
        sys.stdout.write(printed.getvalue())
        raise
    sys.stdout.write(printed.getvalue())
    arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return MnistData(arrays, FULL_SOURCE, "keras.datasets.mnist (~/.keras/datasets/mnist.npz)")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    where = f"MNIST_PATH={path}"
    if not path.is_file():
        raise MnistDataError(f"{where}: no such file. Check the path, or unset MNIST_PATH.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in KEYS if key not in npz.files]
            if missing:
                raise MnistDataError(
                    f"{where}: missing key(s) {', '.join(missing)}; an MNIST .npz needs "
                    f"{', '.join(KEYS)} (the keys of Keras' mnist.npz)."
                )
            arrays = {key: npz[key] for key in KEYS}
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        if isinstance(error, MnistDataError):
            raise
        raise MnistDataError(f"{where}: not a NumPy .npz file ({error}).") from error
    _validate(arrays, where)
    return arrays


def _validate(arrays: dict[str, np.ndarray], where: str) -> None:
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise MnistDataError(
                f"{where}: x_{split} has shape {images.shape}; expected (n, 28, 28) images."
            )
        if images.dtype != np.uint8:
            raise MnistDataError(
                f"{where}: x_{split} has dtype {images.dtype}; expected uint8 pixels 0..255."
            )
        if labels.shape != (len(images),):
            raise MnistDataError(
                f"{where}: y_{split} has shape {labels.shape}; expected ({len(images)},), "
                f"one label per image in x_{split}."
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise MnistDataError(
                f"{where}: y_{split} has dtype {labels.dtype}; expected integer labels."
            )
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise MnistDataError(
                f"{where}: y_{split} has labels from {labels.min()} to {labels.max()}; "
                "expected digits 0 to 9."
            )
