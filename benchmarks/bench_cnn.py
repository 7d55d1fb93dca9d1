"""Measure CNN recipes: test accuracy against training time, epoch by epoch, over seeds.

Each recipe is trained as the exercise notebook trains (``validation_split=0.1``), and after
every epoch the test accuracy and the training time so far are printed: one run gives the whole
accuracy-against-time curve of a recipe (its learning rate does not depend on the epoch count).

    MNIST_PATH=../shared/data/mnist-real-24k.npz python benchmarks/bench_cnn.py \
        --recipes reference --seeds 0 1 2 3 4

Record the output in benchmarks/RESULTS.md ("Reference CNN: accuracy against training time").
"""

from __future__ import annotations

import argparse
import os
import time

from digits.quiet import quiet_environment  # noqa: E402 (imports nothing heavy)

quiet_environment()

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from digits import models  # noqa: E402
from digits.data import load_mnist, normalize  # noqa: E402


def variant(augment=False, batchnorm=False, decay=0, hidden=128) -> keras.Model:
    """The exercise's CNN of before issue 10 (Conv 32, Conv 64, Dropout 0.5, Dense 128), with
    random shifts of up to 2 pixels (augment), BatchNormalization after each convolution, a
    learning rate halved every `decay` batches; hidden=0 drops the Dense(128) layer (Keras'
    "Simple MNIST convnet")."""
    stack = [keras.Input(shape=(28, 28)), layers.Reshape((28, 28, 1))]
    if augment:
        stack.append(layers.RandomTranslation(0.08, 0.08, fill_mode="constant"))
    for filters in (32, 64):
        stack.append(layers.Conv2D(filters, kernel_size=3, activation="relu"))
        if batchnorm:
            stack.append(layers.BatchNormalization())
        stack.append(layers.MaxPooling2D(pool_size=2))
    stack += [layers.Flatten(), layers.Dropout(0.5)]
    if hidden:
        stack.append(layers.Dense(hidden, activation="relu"))
    stack.append(layers.Dense(10, activation="softmax"))
    model = keras.Sequential(stack)
    learning_rate = 1e-3
    if decay:
        learning_rate = keras.optimizers.schedules.ExponentialDecay(1e-3, decay, 0.5)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


RECIPES = {
    "keras-example": lambda: variant(hidden=0),
    "previous": variant,
    "batchnorm": lambda: variant(batchnorm=True),
    "augmented": lambda: variant(augment=True),
    "batchnorm-augmented": lambda: variant(augment=True, batchnorm=True),
    "augmented-decay": lambda: variant(augment=True, decay=1000),
    "batchnorm-augmented-decay": lambda: variant(augment=True, batchnorm=True, decay=1000),
    "batchnorm-augmented-decay500": lambda: variant(augment=True, batchnorm=True, decay=500),
    "reference": models.build_cnn_model,
}


class TestAccuracy(keras.callbacks.Callback):
    """After each epoch: the training time so far (test evaluation excluded) and test accuracy."""

    def __init__(self, x_test, y_test):
        super().__init__()
        self.x_test, self.y_test = x_test, y_test
        self.rows, self.seconds = [], 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds += time.perf_counter() - self.started
        probabilities = self.model.predict(self.x_test, verbose=0, batch_size=1000)
        accuracy = float(np.mean(np.argmax(probabilities, axis=1) == self.y_test))
        self.rows.append((epoch + 1, self.seconds, accuracy))
        print(f"  epoch {epoch + 1:2d}: {self.seconds:6.1f} s  test {accuracy:.4f}", flush=True)


def run(name: str, seed: int, data, epochs: int, batch_size: int) -> list:
    (x_train, y_train), (x_test, y_test) = data
    keras.utils.set_random_seed(seed)
    model = RECIPES[name]()
    callback = TestAccuracy(normalize(x_test), y_test)
    print(f"{name}, seed {seed}, {model.count_params():,} parameters", flush=True)
    model.fit(
        normalize(x_train), y_train, epochs=epochs, batch_size=batch_size,
        validation_split=0.1, verbose=0, callbacks=[callback],
    )  # fmt: skip
    return callback.rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=128)
    arguments = parser.parse_args()
    data = load_mnist()
    print(f"data: {data.source}, {len(data[0][0]):,} training images; load {os.getloadavg()}")
    for name in arguments.recipes:
        for seed in arguments.seeds:
            rows = run(name, seed, data, arguments.epochs, arguments.batch_size)
            best = max(rows, key=lambda row: row[2])
            epoch, seconds, accuracy = rows[-1]
            print(
                f"RESULT {name} seed {seed}: {accuracy:.4f} after {epoch} epochs, {seconds:.0f} s "
                f"(best {best[2]:.4f} at epoch {best[0]}); load {os.getloadavg()}",
                flush=True,
            )


if __name__ == "__main__":
    main()
