"""The course's reference architectures: one home for the model code that chapters reuse.

Every builder returns a compiled model that takes ``(28, 28)`` float images in [0, 1] (see
``digits.data.normalize``) and outputs 10 probabilities, one per digit.
"""

from __future__ import annotations

import keras
from keras import layers

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10


def build_dense_model() -> keras.Model:
    """The classic notebook's model: Flatten, two Dense(128, relu), Dense(10, softmax)."""
    model = keras.Sequential(
        [
            keras.Input(shape=IMAGE_SHAPE),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(128, activation="relu"),
            layers.Dense(NUM_CLASSES, activation="softmax"),
        ],
        name="dense",
    )
    return compile_for_digits(model)


def build_dropout_model(rate: float = 0.2) -> keras.Model:
    """The dense model with Dropout after each hidden layer, against overfitting."""
    model = keras.Sequential(
        [
            keras.Input(shape=IMAGE_SHAPE),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(rate),
            layers.Dense(128, activation="relu"),
            layers.Dropout(rate),
            layers.Dense(NUM_CLASSES, activation="softmax"),
        ],
        name="dropout",
    )
    return compile_for_digits(model)


def build_cnn_model() -> keras.Model:
    """The reference CNN, exercise 3's answer: about 99% on MNIST after 15 epochs.

    Keras' "Simple MNIST convnet" (two blocks of Conv2D and MaxPooling2D, then Flatten and
    Dropout) with a hidden Dense layer of 128 units, and `RandomTranslation`, which shifts each
    training image by up to 2 whole pixels: more varied examples from the same images (it does
    nothing when predicting). Exercise 3 trains it for 15 epochs in batches of 128 (the
    ``train_settings`` of ``autograder.exercises.build_cnn``).
    """
    model = keras.Sequential(
        [
            keras.Input(shape=IMAGE_SHAPE),
            layers.Reshape((*IMAGE_SHAPE, 1)),  # Conv2D wants a channel axis
            # Up to 8% of 28 pixels (2 pixels), rounded to whole pixels: nearest-pixel shifts
            # cost next to nothing, blending neighbours (the default) a quarter of the training.
            layers.RandomTranslation(0.08, 0.08, fill_mode="constant", interpolation="nearest"),
            layers.Conv2D(32, kernel_size=3, activation="relu"),
            layers.MaxPooling2D(pool_size=2),
            layers.Conv2D(64, kernel_size=3, activation="relu"),
            layers.MaxPooling2D(pool_size=2),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(128, activation="relu"),
            layers.Dense(NUM_CLASSES, activation="softmax"),
        ],
        name="cnn",
    )
    return compile_for_digits(model)


def compile_for_digits(model: keras.Model, optimizer="adam") -> keras.Model:
    """Adam (by default), sparse categorical cross-entropy (integer labels) and accuracy.

    The loss keeps its default ``from_logits=False`` because the last layer already applies
    softmax: the model outputs probabilities, not logits.
    """
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
