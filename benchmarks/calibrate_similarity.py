"""Measure the distances behind `similarity.NEAR_IDENTICAL`: copies of a reference model, edited
the ways a copier might, and models trained apart, each against the reference, on each part of
the probe images (`probe.PROBE_PARTS`).

    MNIST_OFFLINE=1 python benchmarks/calibrate_similarity.py [--reference DIR] [--seeds 2]

``--reference``: a folder of executed solutions (its handwritten.keras); without it, the
solution's recipe is trained here. The models trained apart follow the exercise's recipe
(`digits.training`: build_model, 3 epochs) with other seeds, on the data `load_mnist` gives.
A copy is flagged when its smallest part distance is at most NEAR_IDENTICAL.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from autograder.instructor.probe import PROBE_PARTS, model_outputs
from autograder.instructor.similarity import NEAR_IDENTICAL, part_distances


def trained(seed: int):
    import keras

    from digits.data import load_mnist
    from digits.models import build_dense_model
    from digits.training import fit_model

    (x_train, y_train), _ = load_mnist()
    keras.utils.set_random_seed(seed)
    model = build_dense_model()
    fit_model(model, x_train, y_train)
    return model


def copies(reference) -> dict[str, object]:
    """The reference edited as a copier might: the same function, or nearly."""
    import keras

    from digits.data import load_mnist, normalize

    def clone(weights=None):
        copy = keras.models.clone_model(reference)
        copy.set_weights(weights if weights is not None else reference.get_weights())
        return copy

    kernel, bias, kernel_2, bias_2, kernel_3, bias_3 = reference.get_weights()
    order = np.random.default_rng(0).permutation(bias.size)
    edited = {
        "hidden units in another order": clone(
            [kernel[:, order], bias[order], kernel_2[order], bias_2, kernel_3, bias_3]
        )
    }
    for noise in (0.01, 0.05, 0.2):
        shifted = bias_3 + np.random.default_rng(1).normal(0, noise, bias_3.shape)
        edited[f"noise of {noise} on the last biases"] = clone(
            [kernel, bias, kernel_2, bias_2, kernel_3, shifted.astype("float32")]
        )
    (x_train, y_train), _ = load_mnist()
    for rate in (1e-4, 1e-3):
        tuned = clone()
        tuned.compile(optimizer=keras.optimizers.Adam(rate), loss="sparse_categorical_crossentropy")
        keras.utils.set_random_seed(5)
        tuned.fit(normalize(x_train), y_train, epochs=1, verbose=0)
        edited[f"fine-tuned 1 epoch, learning rate {rate:g}"] = tuned
    return edited


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, help="executed solutions (handwritten.keras)")
    parser.add_argument("--seeds", type=int, default=2, help="models trained apart")
    arguments = parser.parse_args()
    import keras

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        if arguments.reference:
            reference = keras.models.load_model(arguments.reference / "handwritten.keras")
        else:
            reference = trained(42)
        models = {"the reference itself": reference, **copies(reference)}
        models.update(
            {f"trained apart, seed {seed}": trained(seed) for seed in range(arguments.seeds)}
        )
        paths = []
        for index, model in enumerate(models.values()):
            paths.append(folder / f"{index}.keras")
            model.save(paths[-1])
        outputs = dict(zip(models, model_outputs(paths), strict=True))
    base = outputs["the reference itself"]
    print(f"| against the reference | {' | '.join(PROBE_PARTS)} | flagged (<= {NEAR_IDENTICAL}) |")
    print(f"| --- | {' | '.join('---:' for _ in PROBE_PARTS)} | --- |")
    for name, output in outputs.items():
        if name == "the reference itself" or output is None or base is None:
            continue
        distances = part_distances(base, output)
        shown = " | ".join(f"{distance:.1e}" for distance in distances.values())
        print(
            f"| {name} | {shown} | {'yes' if min(distances.values()) <= NEAR_IDENTICAL else 'no'} |"
        )


if __name__ == "__main__":
    main()
