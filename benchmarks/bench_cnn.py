"""Measure CNN recipes: test accuracy against training time, epoch by epoch, over seeds.

Each recipe is trained as the exercise notebook trains (``validation_split=0.1``, batches of
128), and after every epoch the test and validation accuracy and the training time so far are
printed: one run gives a recipe's whole accuracy-against-time curve (no schedule here depends on
the number of epochs). Recipes run seed by seed, in turn, so that each is timed beside
keras.io's convnet under the same load.

    MNIST_PATH=../shared/data/mnist-real-24k.npz python benchmarks/bench_cnn.py --seeds 0 1 2
    MNIST_OFFLINE=1 python benchmarks/bench_cnn.py --seeds 0 1 2

Record the output in benchmarks/RESULTS.md ("Reference CNN: accuracy against training time").
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from digits.quiet import quiet_environment  # noqa: E402 (imports nothing heavy)

quiet_environment()

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from digits import models  # noqa: E402
from digits.data import load_mnist, normalize  # noqa: E402
from digits.training import validation_drop  # noqa: E402


def convnet(shifts=False, batchnorm=None, hidden=0, filters=(32, 64)) -> keras.Model:
    """keras.io's "Simple MNIST convnet" (Conv 32, MaxPool, Conv 64, MaxPool, Flatten,
    Dropout 0.5, Dense 10 softmax), plus random shifts by whole pixels, up to 2 (`shifts`;
    nearest-pixel shifts cost almost nothing, bilinear ones a quarter more time an epoch),
    BatchNormalization with this momentum after each convolution (`batchnorm`), and a hidden
    Dense layer of this size before the last (`hidden`)."""
    stack = [keras.Input(shape=(28, 28)), layers.Reshape((28, 28, 1))]
    if shifts:
        stack.append(
            layers.RandomTranslation(0.08, 0.08, fill_mode="constant", interpolation="nearest")
        )
    for count in filters:
        stack.append(layers.Conv2D(count, kernel_size=3, activation="relu"))
        if batchnorm:
            stack.append(layers.BatchNormalization(momentum=batchnorm))
        stack.append(layers.MaxPooling2D(pool_size=2))
    stack += [layers.Flatten(), layers.Dropout(0.5)]
    if hidden:
        stack.append(layers.Dense(hidden, activation="relu"))
    stack.append(layers.Dense(10, activation="softmax"))
    return models.compile_for_digits(keras.Sequential(stack))


def previous_reference() -> keras.Model:
    """The reference CNN before issue 27: blended (bilinear) shifts, BatchNormalization with
    Keras' default momentum (0.99), Dense 128, the learning rate halving every 500 batches."""
    stack = [keras.Input(shape=(28, 28)), layers.Reshape((28, 28, 1))]
    stack.append(layers.RandomTranslation(0.08, 0.08, fill_mode="constant"))
    for count in (32, 64):
        stack.append(layers.Conv2D(count, kernel_size=3, activation="relu"))
        stack += [layers.BatchNormalization(), layers.MaxPooling2D(pool_size=2)]
    stack += [layers.Flatten(), layers.Dropout(0.5), layers.Dense(128, activation="relu")]
    stack.append(layers.Dense(10, activation="softmax"))
    schedule = keras.optimizers.schedules.ExponentialDecay(0.001, decay_steps=500, decay_rate=0.5)
    return models.compile_for_digits(keras.Sequential(stack), keras.optimizers.Adam(schedule))


@dataclass(frozen=True)
class Recipe:
    build: Callable[[], keras.Model]
    decay: float = 1.0  # the learning rate is multiplied by this after every epoch


RECIPES = {
    "keras-example": Recipe(convnet),
    "shifts": Recipe(lambda: convnet(shifts=True)),
    "shifts-dense": Recipe(lambda: convnet(shifts=True, hidden=128)),
    "shifts-dense-decay0.9": Recipe(lambda: convnet(shifts=True, hidden=128), decay=0.9),
    "shifts-decay0.8": Recipe(lambda: convnet(shifts=True), decay=0.8),
    "shifts-dense-decay0.8": Recipe(lambda: convnet(shifts=True, hidden=128), decay=0.8),
    "shifts-bn-decay0.8": Recipe(lambda: convnet(shifts=True, batchnorm=0.9), decay=0.8),
    "previous-reference": Recipe(previous_reference),
    "reference": Recipe(models.build_cnn_model),
}


def learning_rate_callbacks(recipe: Recipe) -> list:
    if recipe.decay == 1.0:
        return []
    return [keras.callbacks.LearningRateScheduler(lambda epoch, rate: 1e-3 * recipe.decay**epoch)]


class TestAccuracy(keras.callbacks.Callback):
    """After each epoch: the training time so far (evaluation excluded), as wall-clock and as
    CPU seconds of this process (which other jobs on the machine hardly change), and the test
    and validation accuracy."""

    def __init__(self, x_test, y_test):
        super().__init__()
        self.x_test, self.y_test = x_test, y_test
        self.rows: list[tuple[int, float, float, float]] = []
        self.seconds = self.cpu_seconds = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.started, self.cpu_started = time.perf_counter(), time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds += time.perf_counter() - self.started  # validation included, as in fit
        self.cpu_seconds += time.process_time() - self.cpu_started
        probabilities = self.model.predict(self.x_test, verbose=0, batch_size=1000)
        accuracy = float(np.mean(np.argmax(probabilities, axis=1) == self.y_test))
        validation = float(logs["val_accuracy"])
        self.rows.append((epoch + 1, self.seconds, accuracy, validation))
        print(
            f"  epoch {epoch + 1:2d}: {self.seconds:6.1f} s ({self.cpu_seconds:6.1f} s CPU)  "
            f"test {accuracy:.4f}  "
            f"validation {validation:.4f}",
            flush=True,
        )


def run(name: str, seed: int, data, epochs: int, batch_size: int) -> list:
    (x_train, y_train), (x_test, y_test) = data
    recipe = RECIPES[name]
    keras.utils.set_random_seed(seed)
    model = recipe.build()
    callback = TestAccuracy(normalize(x_test), y_test)
    print(f"{name}, seed {seed}, {model.count_params():,} parameters", flush=True)
    model.fit(
        normalize(x_train), y_train, epochs=epochs, batch_size=batch_size,
        validation_split=0.1, verbose=0, callbacks=[*learning_rate_callbacks(recipe), callback],
    )  # fmt: skip
    print(f"CPU {name} seed {seed}: {callback.cpu_seconds:.0f} s of CPU", flush=True)
    return callback.rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES)[:4], choices=list(RECIPES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=128)
    arguments = parser.parse_args()
    data = load_mnist()
    print(f"data: {data.source}, {len(data[0][0]):,} training images; load {os.getloadavg()}")
    for seed in arguments.seeds:
        for name in arguments.recipes:
            rows = run(name, seed, data, arguments.epochs, arguments.batch_size)
            epoch, seconds, accuracy, _ = rows[-1]
            drop = 100 * validation_drop([row[3] for row in rows])
            at_10 = rows[min(9, len(rows) - 1)]
            print(
                f"RESULT {name} seed {seed}: {accuracy:.4f} after {epoch} epochs, {seconds:.0f} s; "
                f"{at_10[2]:.4f} after {at_10[0]} epochs, {at_10[1]:.0f} s; "
                f"validation drop {drop:.1f} points; load {os.getloadavg()[0]:.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
