"""The reference CNN: one home (digits.models), shown by exercise 3's solution, accepted by the
grader, and safe to save and reload."""

import json

import keras
import numpy as np

from autograder.exercises import build_cnn
from autograder.exercises.models import judge_compile
from autograder.submission import graded_cell
from digits import models


def solution_cnn(repo) -> keras.Model:
    cell = graded_cell(repo / "solutions" / "03_cnn.ipynb", "build_cnn")
    namespace = {}
    exec(compile(cell.source, "<solutions/03_cnn.ipynb>", "exec"), namespace)
    return namespace["build_cnn"]()


def recipe(model: keras.Model) -> tuple:
    """Everything that decides how the model trains and predicts, names left out."""
    layers = [
        (type(layer).__name__, {k: v for k, v in layer.get_config().items() if k != "name"})
        for layer in model.layers
    ]
    optimizer = {k: v for k, v in model.optimizer.get_config().items() if k != "name"}
    return layers, optimizer, model.loss, model.count_params()


def test_the_solution_builds_the_reference_cnn_of_digits_models(repo):
    assert recipe(solution_cnn(repo)) == recipe(models.build_cnn_model())


def test_the_grader_accepts_the_reference_cnn():
    model = models.build_cnn_model()
    assert build_cnn.judge_cnn_architecture(model).startswith("2 Conv2D layer(s)")
    assert judge_compile(model, require_adam=True).startswith("Adam")


def test_the_reference_cnn_reloads_safely_with_the_same_predictions(tmp_path):
    model = models.build_cnn_model()
    images = np.random.default_rng(0).random((8, 28, 28)).astype("float32")
    model.fit(images, np.arange(8) % 10, epochs=1, verbose=0)
    model.save(tmp_path / "cnn.keras")
    reloaded = keras.models.load_model(tmp_path / "cnn.keras", safe_mode=True)
    np.testing.assert_allclose(
        reloaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6
    )
    shift = next(layer for layer in model.layers if type(layer).__name__ == "RandomTranslation")
    channels = images[..., np.newaxis]  # it only moves training images:
    np.testing.assert_array_equal(shift(channels, training=False), channels)
    shifted = np.asarray(shift(channels, training=True))
    assert not np.array_equal(shifted, channels)
    assert set(np.unique(shifted)) <= set(np.unique(channels)) | {0.0}  # whole pixels moved


def test_exercise_3_states_the_graders_full_mnist_mark(repo):
    from autograder.thresholds import THRESHOLDS

    cells = json.loads((repo / "solutions" / "03_cnn.ipynb").read_text())["cells"]
    intro = next(cell for cell in cells if cell["cell_type"] == "markdown")
    assert f"at least {THRESHOLDS['mnist']['cnn']:.1%} on full MNIST" in "".join(intro["source"])
