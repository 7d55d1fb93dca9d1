"""Test-accuracy thresholds of the saved models, per data source: the one place they live.

Full MNIST: the course's targets. The offline sample ("mnist-sample", 4,000 training / 1,000 test
digits): calibrated by benchmarks/calibrate_thresholds.py (the reference solutions over several
seeds; see benchmarks/RESULTS.md), below the worst seed with a margin and above the catalogued
mistakes.
"""

from __future__ import annotations

THRESHOLDS = {
    "mnist": {"dense": 0.96, "cnn": 0.99},
    "mnist-sample": {"dense": 0.87, "cnn": 0.94},
}
FALLBACK_SOURCE = "mnist-sample"


def threshold_for(source: str, kind: str) -> tuple[float, str]:
    """The threshold for a model kind ("dense" or "cnn") and a note when the source is unknown."""
    if source in THRESHOLDS:
        return THRESHOLDS[source][kind], ""
    note = (
        f"no calibrated threshold for data source {source!r}: using the offline sample's "
        f"({THRESHOLDS[FALLBACK_SOURCE][kind]:.0%})"
    )
    return THRESHOLDS[FALLBACK_SOURCE][kind], note
