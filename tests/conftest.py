"""Shared fixtures. Tests never touch the network: MNIST comes from the offline sample."""

import os
from pathlib import Path

import pytest

os.environ["MNIST_OFFLINE"] = "1"  # before any test imports the loader
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def mnist_sample():
    from digits.data import load_mnist_sample

    return load_mnist_sample()
