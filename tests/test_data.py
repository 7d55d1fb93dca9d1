"""The MNIST loader: MNIST_PATH first, then Keras' download, then the offline sample."""

import numpy as np
import pytest

from digits import data
from digits.data import MnistDataError, load_mnist


def _write_npz(path, **overrides):
    arrays = dict(
        x_train=np.zeros((6, 28, 28), np.uint8),
        y_train=np.arange(6, dtype=np.uint8),
        x_test=np.zeros((3, 28, 28), np.uint8),
        y_test=np.arange(3, dtype=np.uint8),
    )
    arrays.update(overrides)
    arrays = {key: value for key, value in arrays.items() if value is not None}
    np.savez(path, **arrays)
    return path


def _write_text(path, text):
    path.write_text(text)
    return path


def test_offline_sample_is_real_stratified_mnist(mnist_sample):
    (x_train, y_train), (x_test, y_test) = mnist_sample
    assert mnist_sample.source == "mnist-sample"
    assert x_train.shape == (4000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert x_train.dtype == np.uint8 and 200 < x_train.max() <= 255
    assert np.bincount(y_train).tolist() == [400] * 10
    assert np.bincount(y_test).tolist() == [100] * 10


def test_without_network_returns_sample_with_one_warning(monkeypatch):
    monkeypatch.delenv("MNIST_OFFLINE", raising=False)
    monkeypatch.delenv("MNIST_PATH", raising=False)

    def no_network():
        raise Exception("URL fetch failure on https://example/mnist.npz: None -- Name not known")

    import keras

    monkeypatch.setattr(keras.datasets.mnist, "load_data", no_network)
    with pytest.warns(UserWarning) as caught:
        result = load_mnist()
    assert result.source == "mnist-sample"
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "offline MNIST sample" in message and "MNIST_PATH" in message


def test_mnist_offline_uses_the_sample_and_says_why(monkeypatch):
    """The learner chose MNIST_OFFLINE=1: the warning said "No network ... connect to the
    internet" instead (newcomer review)."""
    monkeypatch.setenv("MNIST_OFFLINE", "1")
    monkeypatch.delenv("MNIST_PATH", raising=False)
    with pytest.warns(UserWarning) as caught:
        assert load_mnist().source == "mnist-sample"
    message = str(caught[0].message)
    assert message.startswith("MNIST_OFFLINE=1: using the offline MNIST sample")
    assert "No network" not in message


def test_with_network_returns_keras_download(monkeypatch):
    monkeypatch.delenv("MNIST_OFFLINE", raising=False)
    monkeypatch.delenv("MNIST_PATH", raising=False)
    fake = ((np.zeros((2, 28, 28), np.uint8), np.zeros(2, np.uint8)),) * 2
    import keras

    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: fake)
    assert load_mnist().source == "mnist"


def test_other_download_errors_are_not_hidden(monkeypatch):
    monkeypatch.delenv("MNIST_OFFLINE", raising=False)
    monkeypatch.delenv("MNIST_PATH", raising=False)
    import keras

    def broken():
        raise RuntimeError("corrupted cache")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", broken)
    with pytest.raises(RuntimeError, match="corrupted cache"):
        load_mnist()


def test_mnist_path_is_used_first(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_PATH", str(_write_npz(tmp_path / "mnist.npz")))
    result = load_mnist()
    (x_train, _), (x_test, y_test) = result
    assert result.source == "mnist-file" and result.origin.endswith("mnist.npz")
    assert x_train.shape == (6, 28, 28) and y_test.tolist() == [0, 1, 2]


def test_full_size_file_counts_as_full_mnist(tmp_path, monkeypatch):
    path = _write_npz(
        tmp_path / "mnist.npz",
        x_train=np.zeros((60_000, 28, 28), np.uint8),
        y_train=np.zeros(60_000, np.uint8),
        x_test=np.zeros((10_000, 28, 28), np.uint8),
        y_test=np.zeros(10_000, np.uint8),
    )
    monkeypatch.setenv("MNIST_PATH", str(path))
    assert load_mnist().source == "mnist"


@pytest.mark.parametrize(
    ("make_file", "message"),
    [
        (lambda tmp: tmp / "absent.npz", "no such file"),
        (lambda tmp: _write_text(tmp / "text.npz", "hello"), "not a NumPy .npz"),
        (lambda tmp: _write_npz(tmp / "k.npz", y_test=None), "missing key(s) y_test"),
        (
            lambda tmp: _write_npz(tmp / "s.npz", x_train=np.zeros((6, 32, 32), np.uint8)),
            "x_train has shape (6, 32, 32)",
        ),
        (
            lambda tmp: _write_npz(tmp / "d.npz", x_test=np.zeros((3, 28, 28), np.float32)),
            "x_test has dtype float32",
        ),
        (
            lambda tmp: _write_npz(tmp / "n.npz", y_train=np.arange(5, dtype=np.uint8)),
            "y_train has shape (5,)",
        ),
        (
            lambda tmp: _write_npz(tmp / "l.npz", y_test=np.array([0, 3, 12], np.uint8)),
            "labels from 0 to 12",
        ),
        (
            lambda tmp: _write_npz(tmp / "f.npz", y_test=np.array([0.0, 1.0, 2.0])),
            "y_test has dtype float64",
        ),
    ],
    ids=[
        "missing",
        "not-npz",
        "missing-key",
        "shape",
        "dtype",
        "label-count",
        "label-range",
        "label-dtype",
    ],
)
def test_bad_mnist_path_names_the_problem(tmp_path, monkeypatch, make_file, message):
    monkeypatch.setenv("MNIST_PATH", str(make_file(tmp_path)))
    with pytest.raises(MnistDataError) as error:
        load_mnist()
    assert message in str(error.value)
    assert "MNIST_PATH=" in str(error.value)


def test_normalize_scales_to_unit_range():
    pixels = np.array([[0, 51, 255]], np.uint8)
    scaled = data.normalize(pixels)
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled, [[0.0, 0.2, 1.0]])


def test_in_a_notebook_the_offline_notice_is_plain_text_not_an_error_box(monkeypatch, capsys):
    """The offline-data warning, written to stderr, showed in JupyterLab as a pink error box.
    Every notebook's set-up cell calls quiet_tensorflow()."""
    import warnings

    from digits.quiet import quiet_tensorflow

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # restored after
    monkeypatch.setenv("MNIST_OFFLINE", "1")
    monkeypatch.delenv("MNIST_PATH", raising=False)
    quiet_tensorflow()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        load_mnist()
        warnings.warn("another warning", UserWarning, stacklevel=1)
    printed = capsys.readouterr()
    assert printed.out.startswith("Note: MNIST_OFFLINE=1: using the offline MNIST sample")
    assert "offline MNIST sample" not in printed.err
    assert "another warning" not in printed.out  # other warnings are shown as before
