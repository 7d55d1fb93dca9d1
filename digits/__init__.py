"""Helpers shared by the Handwritten Digits course, its exercises and its autograder."""

from digits.data import MnistData, MnistDataError, load_mnist, load_mnist_sample, normalize

__all__ = ["MnistData", "MnistDataError", "load_mnist", "load_mnist_sample", "normalize"]
