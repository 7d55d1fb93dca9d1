"""Helpers shared by the Handwritten Digits course, its exercises and its autograder."""

from digits.data import MnistData, MnistDataError, load_mnist, load_mnist_sample, normalize
from digits.record import record_training

__all__ = [
    "MnistData",
    "MnistDataError",
    "load_mnist",
    "load_mnist_sample",
    "normalize",
    "record_training",
]
