"""What learners' model files compute on fixed probe images: the class report's evidence of a
copied model (`similarity.model_flags`).

What a model computes, not how its file stores it: layers renamed by running a cell twice,
hidden units put in another order, arrays moved or hard-linked inside ``model.weights.h5``
change the file, not the outputs. The probe images are seeded noise, faint to full contrast,
where two models trained apart disagree far more than on digits they both classify right.

Learner files are loaded by Keras with safe_mode (no code from the file runs), as the judge loads
them, but in child processes (``python -m autograder.instructor.probe``) under a memory limit, so
that no file can stop the instructor's report: a file that crashes a child, or keeps it busy
longer than `MODEL_TIMEOUT_S`, is set aside alone and a new child goes on with the others.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROBE_IMAGES = 48
PROBE_SEED = 20261125
CONTRASTS = (0.05, 0.25, 1.0)  # faint noise keeps a model's outputs away from 0 and 1
MODEL_TIMEOUT_S = 120.0  # one file: load and outputs (the first includes Keras' import)
MEMORY_MB = 8192  # address space, as batch gives a grader: TensorFlow reserves about 3 GB


def probe_images() -> np.ndarray:
    """The probe images: (PROBE_IMAGES, 28, 28), scaled pixels as the grader feeds a model."""
    rng = np.random.default_rng(PROBE_SEED)
    contrast = np.resize(np.array(CONTRASTS, dtype=np.float32), PROBE_IMAGES)
    return rng.random((PROBE_IMAGES, 28, 28), dtype=np.float32) * contrast[:, None, None]


def comparable(outputs: np.ndarray) -> np.ndarray:
    """Outputs to compare: log-probabilities when they are probabilities (a confident model's
    small ones still differ), the outputs themselves otherwise."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.size and 0.0 <= outputs.min() and outputs.max() <= 1.0:
        return np.log(np.clip(outputs, 1e-12, None))
    return outputs


def model_outputs(paths: list[Path]) -> list[np.ndarray | None]:
    """Each file's comparable outputs on the probe images; None for a file that is not a model
    Keras loads in safe_mode, that does not take 28x28 images (as the grader feeds them), or
    that a child could not finish."""
    done: dict[int, np.ndarray | None] = {}
    with tempfile.TemporaryDirectory(prefix="autograder-probe-") as scratch:
        folder = Path(scratch)
        remaining = list(range(len(paths)))
        while remaining:
            listing = [[index, str(paths[index])] for index in remaining]
            (folder / "models.json").write_text(json.dumps(listing), encoding="utf-8")
            (folder / "current").unlink(missing_ok=True)
            finished = _run_child(folder)
            for index in remaining:
                if (folder / f"{index}.npy").exists():
                    done[index] = np.load(folder / f"{index}.npy", allow_pickle=False)
                elif (folder / f"{index}.none").exists():
                    done[index] = None
            current = folder / "current"
            stopped_at = int(current.read_text()) if current.exists() else remaining[0]
            if not finished or stopped_at not in done:
                done.setdefault(stopped_at, None)  # this file crashed or held the child
            if finished:
                done.update({index: None for index in remaining if index not in done})
            remaining = [index for index in remaining if index not in done]
    return [done[index] for index in range(len(paths))]


def _run_child(folder: Path) -> bool:
    """Run a child on the listed files; True if it ended by itself after the last one. It is
    stopped when no file is finished for MODEL_TIMEOUT_S."""
    child = subprocess.Popen(
        child_command(folder), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    finished, last_change = _finished_files(folder), time.monotonic()
    while child.poll() is None:
        time.sleep(0.2)
        count = _finished_files(folder)
        if count != finished:
            finished, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > MODEL_TIMEOUT_S:
            child.kill()
            child.wait()
            return False
    return child.returncode == 0


def child_command(folder: Path) -> list[str]:
    """This module as a child process, under the memory limit (Linux)."""
    command = [sys.executable, "-m", "autograder.instructor.probe", str(folder)]
    if sys.platform.startswith("linux"):
        command = [sys.executable, "-m", "autograder.instructor.batch", "--exec-limited",
                   str(MEMORY_MB), *command]  # fmt: skip
    return command


def _finished_files(folder: Path) -> int:
    return sum(1 for path in folder.iterdir() if path.suffix in (".npy", ".none"))


def _outputs(path: Path) -> np.ndarray | None:
    from autograder.exercises.models import load_keras_file, predict
    from autograder.isolation.sandbox import MAX_MODEL_BYTES

    if not path.is_file() or path.stat().st_size > MAX_MODEL_BYTES:
        return None
    model = load_keras_file(path, compile=False)  # no optimizer: only outputs are compared
    return comparable(predict(model, probe_images()))


def main(folder: Path) -> None:
    """The child: each listed file's outputs into FOLDER/INDEX.npy (INDEX.none when it has
    none), FOLDER/current naming the file being read."""
    from digits.quiet import quiet_environment

    quiet_environment()
    for index, path in json.loads((folder / "models.json").read_text(encoding="utf-8")):
        (folder / "current").write_text(str(index))
        try:
            outputs = _outputs(Path(path))
        except Exception:  # whatever a learner's file makes Keras raise: nothing to compare
            outputs = None
        if outputs is None:
            (folder / f"{index}.none").touch()
        else:  # whole or not at all: a crash while writing leaves no .npy to misread
            with open(folder / f"{index}.partial", "wb") as partial:
                np.save(partial, outputs, allow_pickle=False)
            os.replace(folder / f"{index}.partial", folder / f"{index}.npy")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
