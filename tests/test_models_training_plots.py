"""The reference models, the shared trained model, and the plotting helpers."""

import json
import warnings

import keras
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from digits import models, plots, training  # noqa: E402
from digits.data import normalize  # noqa: E402

# The loader warns, once per call site, that it uses the offline sample: expected in tests.
pytestmark = pytest.mark.filterwarnings("ignore:(No network|MNIST_OFFLINE=1):UserWarning")
BUILDERS = [models.build_dense_model, models.build_dropout_model, models.build_cnn_model]


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITS_MODELS_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture(autouse=True)
def close_figures():
    yield
    matplotlib.pyplot.close("all")


def test_dense_model_is_the_classic_notebook_model():
    model = models.build_dense_model()
    assert model.input_shape == (None, 28, 28)
    assert [type(layer).__name__ for layer in model.layers] == [
        "Flatten",
        "Dense",
        "Dense",
        "Dense",
    ]
    assert [layer.units for layer in model.layers[1:]] == [128, 128, 10]
    assert model.count_params() == 28 * 28 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10
    assert model.layers[-1].activation is keras.activations.softmax


@pytest.mark.parametrize("builder", BUILDERS)
def test_every_model_outputs_ten_probabilities(builder, mnist_sample):
    (x_train, _), _ = mnist_sample
    model = builder()
    probabilities = model.predict(normalize(x_train[:4]), verbose=0)
    assert probabilities.shape == (4, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert model.loss == "sparse_categorical_crossentropy"
    assert isinstance(model.optimizer, keras.optimizers.Adam)


def test_dropout_model_adds_dropout_without_parameters():
    dropout = models.build_dropout_model()
    assert sum(isinstance(layer, keras.layers.Dropout) for layer in dropout.layers) == 2
    assert dropout.count_params() == models.build_dense_model().count_params()


@pytest.mark.slow
def test_trained_model_trains_once_then_loads(models_dir, monkeypatch, mnist_sample):
    model = training.trained_model("dense")
    record = training.training_record("dense")
    saved = models_dir / "dense-mnist-sample.keras"
    assert saved.is_file() and saved.with_suffix(".json").is_file()
    assert record["source"] == "mnist-sample" and record["epochs"] == training.EPOCHS
    assert len(record["history"]["val_accuracy"]) == training.EPOCHS
    assert record["seconds"] > 0
    assert record["history"]["val_accuracy"][-1] > 0.5  # far above chance (0.1)

    def no_training(*args, **kwargs):
        raise AssertionError("trained again instead of loading the saved model")

    monkeypatch.setattr(training, "train", no_training)
    reloaded = training.trained_model("dense")
    (_, _), (x_test, _) = mnist_sample
    images = normalize(x_test[:50])
    np.testing.assert_array_equal(
        model.predict(images, verbose=0), reloaded.predict(images, verbose=0)
    )


def test_validation_drop_measures_a_collapse_once_training_has_settled():
    assert training.validation_drop([0.5, 0.8, 0.9, 0.95]) == 0.0
    assert training.validation_drop([0.9, 0.5, 0.95]) == 0.0  # the first two epochs may wobble
    assert training.validation_drop([0.28, 0.82, 0.36, 0.30, 0.93]) == pytest.approx(0.52)


@pytest.mark.slow
def test_seeded_training_is_reproducible(mnist_sample):
    first, _ = training.train("dense", mnist_sample)
    second, _ = training.train("dense", mnist_sample)
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.slow
def test_model_trained_by_older_code_is_retrained(models_dir, monkeypatch):
    training.trained_model("dense")
    record_path = models_dir / "dense-mnist-sample.json"
    record = json.loads(record_path.read_text())
    record["fingerprint"] = "made-by-older-code"
    record_path.write_text(json.dumps(record))
    calls = []
    real_train = training.train
    monkeypatch.setattr(training, "train", lambda *a: calls.append(a) or real_train(*a))
    training.trained_model("dense")
    assert len(calls) == 1
    assert json.loads(record_path.read_text())["fingerprint"] != "made-by-older-code"


def test_unknown_kind_names_the_known_ones(models_dir):
    with pytest.raises(ValueError, match="Unknown model kind 'mlp'.*cnn, dense"):
        training.trained_model("mlp")


def test_show_digits_titles_wrong_predictions_in_red(mnist_sample):
    (x_train, y_train), _ = mnist_sample
    predictions = y_train[:12].copy()
    predictions[3] = (predictions[3] + 1) % 10
    fig = plots.show_digits(x_train[:12], labels=y_train[:12], predictions=predictions, columns=6)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == 12 and len(shown) == 12
    assert shown[3].get_title() == f"{y_train[3]} / {predictions[3]}"
    colors = [ax.title.get_color() for ax in shown]
    assert colors[3] == "tab:red" and colors.count("black") == 11


def test_show_misclassified_shows_only_the_errors(mnist_sample):
    (x_train, y_train), _ = mnist_sample
    predictions = y_train[:30].copy()
    predictions[[2, 7]] = (predictions[[2, 7]] + 1) % 10
    fig = plots.show_misclassified(x_train[:30], y_train[:30], predictions)
    assert sum(bool(ax.images) for ax in fig.axes) == 2
    assert "2 misclassified" in fig._suptitle.get_text()


def test_plot_history_draws_training_and_validation_curves():
    history = {"loss": [1.0, 0.5, 0.3], "accuracy": [0.7, 0.85, 0.9]}
    history |= {"val_loss": [0.9, 0.6, 0.5], "val_accuracy": [0.75, 0.8, 0.82]}
    fig = plots.plot_history(history)
    loss_ax, accuracy_ax = fig.axes
    assert [line.get_label() for line in loss_ax.lines] == ["training loss", "validation loss"]
    np.testing.assert_allclose(accuracy_ax.lines[1].get_ydata(), history["val_accuracy"])


def test_plot_history_labels_at_most_ten_epochs_so_that_they_do_not_overlap():
    for epochs, expected in ((3, [1, 2, 3]), (15, [1, 3, 5, 7, 9, 11, 13, 15])):
        history = {"loss": [1.0] * epochs, "accuracy": [0.5] * epochs}
        loss_ax, _ = plots.plot_history(history).axes
        assert list(loss_ax.get_xticks()) == expected


def test_plot_probabilities_marks_the_prediction(mnist_sample):
    (x_train, y_train), _ = mnist_sample
    probabilities = np.full((2, 10), 0.01)
    probabilities[0, y_train[0]] = 0.91  # right
    probabilities[1, (y_train[1] + 1) % 10] = 0.91  # wrong
    fig = plots.plot_probabilities(x_train[:2], probabilities, labels=y_train[:2])
    bars_right, bars_wrong = fig.axes[1], fig.axes[3]
    assert bars_right.get_title().startswith(f"predicted {y_train[0]}")
    assert bars_wrong.get_title().startswith(f"predicted {(y_train[1] + 1) % 10}")
    right_color = bars_right.patches[y_train[0]].get_facecolor()
    wrong_color = bars_wrong.patches[(y_train[1] + 1) % 10].get_facecolor()
    assert right_color == matplotlib.colors.to_rgba("tab:green")
    assert wrong_color == matplotlib.colors.to_rgba("tab:red")


def test_confusion_matrix_counts_each_pair():
    labels = np.array([0, 1, 1, 2, 2, 2])
    predictions = np.array([0, 1, 2, 2, 2, 1])
    fig = plots.plot_confusion_matrix(labels, predictions)
    cells = {text.get_text() for text in fig.axes[0].texts}
    assert {"0", "1", "2"} <= cells
    assert len(fig.axes[0].texts) == 100


def test_class_balance_and_save_figure(tmp_path, mnist_sample):
    (_, y_train), _ = mnist_sample
    fig = plots.plot_class_balance(y_train)
    heights = [bar.get_height() for bar in fig.axes[0].patches]
    assert heights == np.bincount(y_train).tolist()
    saved = plots.save_figure(fig, tmp_path / "reports" / "balance.png")
    assert saved.read_bytes().startswith(b"\x89PNG") and saved.stat().st_size > 1000


def test_an_empty_history_says_that_model_fit_trained_for_0_epochs():
    """epochs=0 gave a raw KeyError: 'loss' from digits/plots.py."""
    from digits.plots import plot_history

    with pytest.raises(ValueError, match="0 epochs") as caught:
        plot_history({})
    assert "epochs=3" in str(caught.value)


def test_every_digit_is_drawn_as_mnist_stores_it_white_ink_on_black(mnist_sample):
    """One colormap on the whole site, MNIST's own: a high value (ink) is light, 0 is black; the
    same value gets the same gray whether the pixels are 0-255 or normalized."""
    (x_train, y_train), _ = mnist_sample
    figures = [
        plots.show_digits(x_train[:3], labels=y_train[:3]),
        plots.show_digits(normalize(x_train[:3])),
        plots.plot_probabilities(x_train[:1], np.full((1, 10), 0.1)),
        plots.show_pixel_values(x_train[0]),
    ]
    for fig in figures:
        for image in (image for ax in fig.axes for image in ax.images):
            assert image.get_cmap().name == plots.DIGIT_CMAP == "gray"
            assert image.norm.vmin == 0 and image.norm.vmax in (1, 255)
    sources = [plots.__file__, __import__("digits.handwriting").handwriting.__file__]
    for source in sources:
        assert "gray_r" not in open(source).read()


def test_show_pixel_values_writes_each_value_of_the_patch_beside_a_colour_bar(mnist_sample):
    (x_train, _), _ = mnist_sample
    fig = plots.show_pixel_values(x_train[0], rows=(10, 14), columns=(12, 15))
    whole, patch, colour_bar = fig.axes
    assert colour_bar.get_ylabel() == "pixel value"
    values = [int(text.get_text()) for text in patch.texts]
    assert values == x_train[0][10:14, 12:15].ravel().tolist()
    assert min(text.get_fontsize() for text in patch.texts) >= 9


def test_show_confident_errors_shows_the_surest_wrong_answers_first(mnist_sample):
    (x_train, y_train), _ = mnist_sample
    probabilities = np.full((6, 10), 0.0)
    probabilities[np.arange(6), y_train[:6]] = 1.0  # all right...
    for index, confidence in ((1, 0.6), (4, 0.9), (5, 0.7)):  # ...but three, wrong
        probabilities[index] = (1 - confidence) / 9
        probabilities[index, (y_train[index] + 1) % 10] = confidence
    fig = plots.show_confident_errors(x_train[:6], y_train[:6], probabilities, limit=2)
    titles = [ax.get_title() for ax in fig.axes if ax.patches]
    assert titles == [
        f"predicted {(y_train[4] + 1) % 10} (90%)",
        f"predicted {(y_train[5] + 1) % 10} (70%)",
    ]


def test_per_digit_accuracy_and_softmax_figures():
    labels = np.repeat(np.arange(10), 2)
    predictions = labels.copy()
    predictions[0] = 1  # one 0 of two wrong
    fig = plots.plot_per_digit_accuracy(labels, predictions)
    heights = [bar.get_height() for bar in fig.axes[0].patches]
    assert heights == [0.5] + [1.0] * 9
    fig = plots.plot_softmax(np.zeros(10))
    scores_ax, probabilities_ax, loss_ax = fig.axes
    np.testing.assert_allclose([bar.get_height() for bar in probabilities_ax.patches], 0.1)
    assert loss_ax.get_ylabel() == "loss -log(p)"


def test_first_layer_weights_are_drawn_one_28_by_28_image_per_unit():
    weights = np.random.default_rng(0).normal(size=(784, 20))
    fig = plots.show_first_layer_weights(weights, units=10)
    images = [image for ax in fig.axes for image in ax.images]
    assert len(images) == 10 and images[0].get_array().shape == (28, 28)
    assert images[0].norm.vmin == -images[0].norm.vmax  # 0 is the middle of the colormap


def test_show_network_draws_the_digit_then_one_column_per_layer(mnist_sample):
    (x_train, _), _ = mnist_sample
    probabilities = np.full(10, 0.1)
    layers = [("Flatten", normalize(x_train[0]).ravel()), ("Dense 128", np.arange(128.0))]
    fig = plots.show_network(x_train[0], [*layers, ("Dense 10, softmax", probabilities)])
    columns = [image.get_array().shape for ax in fig.axes[:4] for image in ax.images]
    assert columns == [(28, 28), (784, 1), (128, 1), (10, 1)]
    labels = [tick.get_text() for tick in fig.axes[3].get_yticklabels()]
    assert labels == [f"{digit}: 10%" for digit in range(10)]


def test_plot_agreement_puts_each_probability_against_the_original():
    original = np.array([[0.9, 0.1], [0.2, 0.8]])
    fig = plots.plot_agreement(original, {"a.keras": original, "b.h5": original[::-1]})
    assert [ax.get_title() for ax in fig.axes] == ["a.keras", "b.h5"]
    points = fig.axes[1].collections[0].get_offsets()
    np.testing.assert_allclose(points[:, 0], original.ravel())


def test_asking_for_a_trained_model_does_not_repeat_the_offline_notice(models_dir, mnist_sample):
    """A chapter loads the data (one notice), then asks for the shared model: no second notice."""
    from digits.data import DataNotice, load_mnist

    (x_train, y_train), _ = mnist_sample
    model = models.build_dense_model()
    history = model.fit(normalize(x_train[:64]), y_train[:64], epochs=1, verbose=0)
    with pytest.warns(DataNotice):
        load_mnist()  # what the chapter itself calls, and sees once
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        training.share_model("dense", model, history, seconds=1.0)
        training.trained_model("dense")
        training.training_record("dense")
    assert not [w for w in caught if issubclass(w.category, DataNotice)]


def test_the_overfitting_runs_differ_only_by_their_remedy():
    runs = [training.RECIPES[kind] for kind in ("dense-20", "dropout", "early-stopping")]
    assert {recipe.epochs for recipe in runs} == {training.LONG_EPOCHS}
    assert runs[0].build is runs[2].build is models.build_dense_model
    assert [recipe.early_stopping for recipe in runs] == [False, False, True]


def test_kept_epoch_is_the_last_or_early_stoppings_best():
    history = {"loss": [0.9, 0.5, 0.4, 0.3], "val_loss": [0.6, 0.4, 0.45, 0.5]}
    assert training.kept_epoch({"kind": "dense-20", "history": history}) == 4
    assert training.kept_epoch({"kind": "early-stopping", "history": history}) == 2


def test_plot_loss_curves_rings_the_lowest_validation_loss_or_the_kept_epoch():
    history = {"loss": [0.9, 0.5, 0.3, 0.2], "val_loss": [0.6, 0.4, 0.45, 0.5]}
    fig = plots.plot_loss_curves({"a": history, "b": history}, kept={"b": 3})
    rings = [line for line in fig.axes[0].lines if line.get_marker() == "o"]
    assert [(list(ring.get_xdata()), list(ring.get_ydata())) for ring in rings] == [
        ([2], [0.4]),
        ([3], [0.45]),
    ]
    assert len(fig.legends[0].get_texts()) == 4  # validation and training per run


def test_show_convolution_draws_digit_filter_and_result(mnist_sample):
    (x_train, _), _ = mnist_sample
    kernel = np.array([[-1, 0, 1]] * 3)
    result = np.zeros((26, 26))
    fig = plots.show_convolution(normalize(x_train[0]), kernel, result)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == ["digit, 28 x 28", "3 x 3 filter", "result, 26 x 26"]
    assert [text.get_text() for text in fig.axes[1].texts] == ["-1", "0", "1"] * 3


def test_show_feature_maps_and_model_comparison():
    fig = plots.show_feature_maps(np.random.default_rng(0).random((26, 26, 32)), count=16)
    assert sum(bool(ax.images) for ax in fig.axes) == 16
    rows = [
        {"variant": "dense", "validation_accuracy": 0.9, "test_accuracy": 0.89},
        {"variant": "cnn", "validation_accuracy": 0.97, "test_accuracy": 0.96},
    ]
    labels = [t.get_text() for t in plots.plot_model_comparison(rows).axes[0].texts]
    assert labels == ["90.0%", "97.0%", "89.0%", "96.0%"]


@pytest.mark.parametrize("images", [4_000, 24_345, 60_000])
def test_the_record_counts_the_images_as_keras_splits_them(images):
    """Keras' validation_split trains on the first floor(n x 0.9) images: 21,910 of 24,345."""
    from keras.src.trainers.data_adapters.array_slicing import train_validation_split

    history = keras.callbacks.History()
    history.history = {"loss": [1.0]}
    record = training._record("dense", "mnist-file", images, history, seconds=1.0)
    (trained, _), (validated, _) = train_validation_split(
        (np.zeros(images), np.zeros(images)), validation_split=training.VALIDATION_SPLIT
    )
    assert (record["train_samples"], record["validation_samples"]) == (
        len(trained),
        len(validated),
    )
