"""Test-accuracy marks of the saved models, per data set: the one place they live.

Which marks apply is decided by the *test set* the grader evaluates on, recognized by its content
(`test_set_hash`), never by file name or size:

- the canonical MNIST test set (10,000 digits; Keras' download, or an ``MNIST_PATH`` copy of it):
  the full-MNIST marks;
- the offline sample's 1,000 test digits: the sample's marks;
- any other test set (a custom ``MNIST_PATH`` file): the marks the instructor sets in the course
  configuration (``[marks]`` in course.toml, see ``autograder.config``); without them the accuracy
  check says so in one line instead of guessing.

Both sets of marks come from scripts/calibrate_thresholds.py (the reference recipes over 5+
seeds; see "Autograder thresholds" in benchmarks/RESULTS.md), by the rules of `full_mnist_mark`
and `sample_mark`: the script prints the marks these functions recommend.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from autograder import config
from autograder.mistakes import GENERAL, CheckFailed

FULL = "mnist"
SAMPLE = "mnist-sample"
# sha256 of x_test's then y_test's bytes (uint8), see test_set_hash().
TEST_SET_HASHES = {
    # the 10,000 canonical MNIST test digits (t10k-images/t10k-labels), as Keras' mnist.npz has
    "c3f9adf9c66efb572b1f9326c3a511b45910c7173b97be66ceceeeeaef6b802b": FULL,
    # the offline sample's 1,000 test digits (data/mnist_sample.npz)
    "9eafd4ac5f7f7591eb88c7eae5b1c2232e3f1594c598cc15a9598208c6b15d65": SAMPLE,
}
# The calibration rules: how far below the reference recipe's worst seed each mark sits (trained
# on 24,345 real MNIST images; the challenge's: the worst seed of its two recipes).
FULL_MNIST_MARGINS = {"dense": 0.005, "cnn": 0.003, "challenge": 0.005}
SAMPLE_MARGIN = 0.02  # 1,000 test digits: about 1 point of sampling noise at 90-96%


def full_mnist_mark(worst: float, kind: str) -> float:
    """The full-MNIST mark for the worst seed of a reference recipe trained on the real file.

    The worst seed minus 0.5 point (dense) or 0.3 point (CNN), rounded down to 0.1 point.
    """
    return _round_down(worst - FULL_MNIST_MARGINS[kind], 3)


def sample_mark(worst: float) -> float:
    """The offline sample's mark: the worst seed minus 2 points, rounded down to a point."""
    return _round_down(worst - SAMPLE_MARGIN, 2)


def _round_down(value: float, digits: int) -> float:
    scale = 10**digits
    return math.floor(round(value * scale, 6)) / scale  # round(): 0.99 * 100 is 98.99999...


# The worst test accuracy of each reference recipe over 5 seeds, measured by
# scripts/calibrate_thresholds.py ("Autograder thresholds" in benchmarks/RESULTS.md): on the
# real file (24,345 MNIST training images, the canonical test set) and on the offline sample.
# The challenge's: the worst seed of its two recipes under the budget (3 seeds each).
WORST_SEEDS = {
    FULL: {"dense": 0.9563, "cnn": 0.9914, "challenge": 0.9467},
    SAMPLE: {"dense": 0.896, "cnn": 0.970, "challenge": 0.898},
}
THRESHOLDS = {  # mnist: dense 0.951, cnn 0.988, challenge 0.941; mnist-sample: 0.87, 0.95, 0.87
    FULL: {kind: full_mnist_mark(worst, kind) for kind, worst in WORST_SEEDS[FULL].items()},
    SAMPLE: {kind: sample_mark(worst) for kind, worst in WORST_SEEDS[SAMPLE].items()},
}


def test_set_hash(x_test: np.ndarray, y_test: np.ndarray) -> str:
    """sha256 of the test images' bytes, then the labels' bytes, both as uint8."""
    digest = hashlib.sha256(np.ascontiguousarray(x_test, dtype=np.uint8).tobytes())
    digest.update(np.asarray(y_test, dtype=np.uint8).tobytes())
    return digest.hexdigest()


def known_test_set(data) -> str | None:
    """FULL or SAMPLE when the data's test set is one the marks were calibrated on, else None."""
    _, (x_test, y_test) = data
    return TEST_SET_HASHES.get(test_set_hash(x_test, y_test))


def threshold_for(source: str, kind: str) -> tuple[float, str]:
    """The calibrated mark for a known data set ("mnist" or "mnist-sample") and a model kind."""
    return THRESHOLDS[source][kind], ""


def accuracy_mark(data, kind: str, course: config.CourseConfig | None = None) -> tuple[float, str]:
    """The mark for a model kind ("dense" or "cnn") on this data, and a note saying where it
    comes from when it is not a calibrated one. `course`: the course configuration, read once
    before any learner code ran (`Context.course`).

    Raises CheckFailed with the mistake "marks_missing" for a test set that is neither MNIST's
    nor the sample's when the course configuration sets no mark for this kind, and with
    "course_config_invalid" when the configuration was set aside.
    """
    known = known_test_set(data)
    if known is not None:
        return threshold_for(known, kind)
    course = course or config.CourseConfig()
    if course.problem:
        raise CheckFailed(GENERAL["course_config_invalid"], error=course.problem)
    if kind in course.marks and course.path is not None:
        mark = course.marks[kind]
        return mark, f"accuracy mark for the {kind} model: {mark:.1%}, from {course.path.name}"
    raise CheckFailed(GENERAL["marks_missing"], kind=kind, origin=getattr(data, "origin", "?"))


# ------------------------------------------------------------ a model that has seen the test set
# A model reads the digits it trained on at least as well as new ones: an honest model's test
# accuracy is at most its training accuracy, give or take the noise of measuring both on a sample
# of digits. A model that scores clearly higher on the test digits has seen them (trained on
# them, or built from them). Every reference recipe measured (3 seeds): test accuracy 1.6 to 8.2
# standard errors *below* training accuracy on the sample, 1.8 to 11.6 below on real MNIST; a
# template matcher of the test digits 10.3 and 24.5 above ("A model that has seen the test set"
# in benchmarks/RESULTS.md, from benchmarks/bench_memorised.py).
SEEN_TEST_SET_ERRORS = 4.0  # by chance, 1 in 30,000 for a model equally good on both sets


def training_digit_count(train_count: int, test_count: int) -> int:
    """How many training images the judge reads a model on: the first ones, as many as there are
    test digits, at most half the training set (far from the last 10% that the notebooks'
    validation_split=0.1 holds out of training)."""
    return min(test_count, train_count // 2)


def gap_standard_error(
    test_accuracy: float, test_count: int, training_accuracy: float, training_count: int
) -> float:
    """The standard error of test accuracy minus training accuracy for a model equally good on
    both (the two accuracies pooled), each measured on that many digits."""
    right = test_accuracy * test_count + training_accuracy * training_count
    pooled = right / (test_count + training_count)
    return math.sqrt(pooled * (1 - pooled) * (1 / test_count + 1 / training_count))


def seen_gap_limit(
    test_accuracy: float, test_count: int, training_accuracy: float, training_count: int
) -> float:
    """How far test accuracy may exceed training accuracy before the model has seen the test
    set: SEEN_TEST_SET_ERRORS standard errors of the difference."""
    error = gap_standard_error(test_accuracy, test_count, training_accuracy, training_count)
    return SEEN_TEST_SET_ERRORS * error


def has_seen_test_set(
    test_accuracy: float, test_count: int, training_accuracy: float, training_count: int
) -> bool:
    """Whether a model's test accuracy exceeds its training accuracy by more than noise."""
    limit = seen_gap_limit(test_accuracy, test_count, training_accuracy, training_count)
    return test_accuracy - training_accuracy > limit
