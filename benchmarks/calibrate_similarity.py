"""Measure the figures behind `similarity.NEAR_IDENTICAL` and `similarity.SAME_DIGITS`: copies
of a reference model, edited the ways a copier might, and models trained apart, each against the
reference, on each part of the probe images (`probe.PROBE_PARTS`): the distance between their
log-probabilities, and the share of probe images on which both pick the same digit; then every
pair of models trained apart (the reference included), the least and most they agree.

    MNIST_OFFLINE=1 python benchmarks/calibrate_similarity.py [--reference DIR] [--seeds 2]

``--reference``: a folder of executed solutions (its handwritten.keras); without it, the
solution's recipe is trained here. The models trained apart follow the exercise's recipe
(`digits.training`: build_model, 3 epochs) with other seeds, on the data `load_mnist` gives.
A copy is flagged when its smallest part distance is at most NEAR_IDENTICAL, or when it picks
the same digit as the reference on at least SAME_DIGITS of each part's images.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

import numpy as np

from autograder.instructor.probe import PROBE_PARTS, model_outputs
from autograder.instructor.similarity import (
    NEAR_IDENTICAL,
    SAME_DIGITS,
    copy_evidence,
    part_agreements,
    part_distances,
)


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
    for factor in (0.5, 1.1, 3.0):  # the softmax's temperature: every digit picked stays
        edited[f"last layer scaled by {factor}"] = clone(
            [kernel, bias, kernel_2, bias_2, kernel_3 * factor, bias_3 * factor]
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
    parts = " | ".join(f"{name}: distance | {name}: same digit" for name in PROBE_PARTS)
    print(f"| against the reference | {parts} | flagged |")
    print(f"| --- | {' | '.join('---: | ---:' for _ in PROBE_PARTS)} | --- |")
    for name, output in outputs.items():
        if name == "the reference itself" or output is None or base is None:
            continue
        distances, agreements = part_distances(base, output), part_agreements(base, output)
        shown = " | ".join(f"{distances[part]:.1e} | {agreements[part]:.0%}" for part in distances)
        print(f"| {name} | {shown} | {'no' if copy_evidence(base, output) is None else 'yes'} |")
    apart = {
        name: output
        for name, output in outputs.items()
        if output is not None and (name == "the reference itself" or "trained apart" in name)
    }
    pairs = list(itertools.combinations(apart.values(), 2))
    print(f"\n{len(pairs)} pairs of models trained apart (the reference included):")
    print("| part | distance: least | same digit: least | median | most |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for part in PROBE_PARTS:
        distances = [part_distances(one, other)[part] for one, other in pairs]
        agreements = [part_agreements(one, other)[part] for one, other in pairs]
        print(
            f"| {part} | {min(distances):.1e} | {min(agreements):.0%} "
            f"| {np.median(agreements):.0%} | {max(agreements):.0%} |"
        )
    flags = sum(copy_evidence(one, other) is not None for one, other in pairs)
    print(
        f"\nflagged: {flags} of {len(pairs)} (NEAR_IDENTICAL {NEAR_IDENTICAL}, "
        f"SAME_DIGITS {SAME_DIGITS})"
    )


if __name__ == "__main__":
    main()
