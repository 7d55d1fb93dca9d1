"""What learners' model files compute on fixed probe images: the class report's evidence of a
copied model (`similarity.model_flags`).

What a model computes, not how its file stores it: layers renamed by running a cell twice,
hidden units put in another order, arrays moved or hard-linked inside ``model.weights.h5``
change the file, not the outputs. The probes come in two parts, compared apart
(`PROBE_PARTS`): digits of the offline sample, which a graded model must classify with finite
probabilities, and seeded noise, faint to full contrast, where two models trained apart
disagree the most.

Learner files are loaded by Keras with safe_mode (no code from the file runs), as the judge loads
them, from copies in a scratch folder, by child processes (``python -m
autograder.instructor.probe``) confined like the grader's workers (bubblewrap where it works) and
under batch's memory limit (Linux), so that no file can stop the instructor's report: a file
that crashes a child, or keeps it busy longer than `MODEL_TIMEOUT_S`, is set aside alone and a
new child goes on with the others.
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

from autograder.isolation.supervisor import DEFAULT_MEMORY_MB, Supervised, limited_command

PROBE_DIGITS = 48  # the first test digits of the offline sample
PROBE_NOISE = 48
PROBE_PARTS = {"digits": slice(0, PROBE_DIGITS), "noise": slice(PROBE_DIGITS, None)}
PROBE_SEED = 20261125
CONTRASTS = (0.05, 0.25, 1.0)  # faint noise keeps a model's outputs away from 0 and 1
CLASSES = 10
MODEL_TIMEOUT_S = 120.0  # one file: load and outputs (the first includes Keras' import)


def probe_images() -> np.ndarray:
    """The probe images, (PROBE_DIGITS + PROBE_NOISE, 28, 28): scaled pixels, as the grader
    feeds a model."""
    from digits.data import load_mnist_sample, normalize

    _, (x_test, _) = load_mnist_sample()
    rng = np.random.default_rng(PROBE_SEED)
    contrast = np.resize(np.array(CONTRASTS, dtype=np.float32), PROBE_NOISE)
    noise = rng.random((PROBE_NOISE, 28, 28), dtype=np.float32) * contrast[:, None, None]
    return np.concatenate([normalize(x_test[:PROBE_DIGITS]), noise])


def comparable(outputs: np.ndarray) -> np.ndarray:
    """Outputs to compare: log-probabilities when they are probabilities (a confident model's
    small ones still differ), the outputs themselves otherwise (NaN and inf kept)."""
    outputs = np.asarray(outputs, dtype=np.float64)
    finite = outputs[np.isfinite(outputs)]
    if finite.size and 0.0 <= finite.min() and finite.max() <= 1.0:
        with np.errstate(invalid="ignore"):
            return np.log(np.clip(outputs, 1e-12, None))
    return outputs


def model_outputs(
    paths: list[Path], memory_mb: int | None = DEFAULT_MEMORY_MB
) -> list[np.ndarray | None]:
    """Each file's comparable outputs on the probe images, (PROBE_DIGITS + PROBE_NOISE,
    CLASSES); None for a file that is not a model Keras loads in safe_mode, does not give 10
    outputs for 28x28 images, or that a child could not finish (said on stderr). `memory_mb`:
    the children's address-space limit (None: none)."""
    from autograder.isolation.confinement import copy_out, remove_tree
    from autograder.isolation.judge_client import MAX_MODEL_BYTES

    done: dict[int, np.ndarray | None] = {}
    scratch = Path(tempfile.mkdtemp(prefix="autograder-probe-"))
    try:
        models = scratch / "models"
        models.mkdir()
        remaining = []
        for index, path in enumerate(paths):
            if copy_out(path, models / f"{index}.keras", MAX_MODEL_BYTES):
                remaining.append(index)
            else:
                done[index] = None
        while remaining:
            listing = [[index, str(models / f"{index}.keras")] for index in remaining]
            (scratch / "models.json").write_text(json.dumps(listing), encoding="utf-8")
            (scratch / "current").unlink(missing_ok=True)
            finished = _run_child(scratch, memory_mb)
            for index in remaining:
                if (scratch / f"{index}.npy").exists():
                    done[index] = np.load(scratch / f"{index}.npy", allow_pickle=False)
                elif (scratch / f"{index}.none").exists():
                    done[index] = None
            current = scratch / "current"
            stopped_at = int(current.read_text()) if current.exists() else remaining[0]
            if not finished and stopped_at not in done:
                print(
                    f"similarity: {paths[stopped_at]} not compared: reading it crashed or held "
                    f"the process that reads the models for {MODEL_TIMEOUT_S:.0f} s",
                    file=sys.stderr,
                )
            done.setdefault(stopped_at, None)
            if finished:
                done.update({index: None for index in remaining if index not in done})
            remaining = [index for index in remaining if index not in done]
    finally:
        remove_tree(scratch)
    return [done[index] for index in range(len(paths))]


def child_command(scratch: Path, memory_mb: int | None) -> list[str]:
    """This module as a child process on `scratch`: confined, under the memory limit."""
    from autograder.isolation.confinement import confinement, worker_command

    command = limited_command(memory_mb, [sys.executable, "-m", __name__, str(scratch)])
    return worker_command(command, scratch, confinement())


def _run_child(scratch: Path, memory_mb: int | None) -> bool:
    """Run a child on the listed files; True if it ended by itself after the last one. It is
    stopped when no file is finished for MODEL_TIMEOUT_S."""
    from autograder.isolation.confinement import worker_environment

    environment = {**worker_environment(str(scratch)), "MALLOC_ARENA_MAX": "2"}
    child = Supervised(
        child_command(scratch, memory_mb),
        cwd=scratch,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        finished, last_change = _finished_files(scratch), time.monotonic()
        while (exit_code := child.wait(0.2)) is None:
            count = _finished_files(scratch)
            if count != finished:
                finished, last_change = count, time.monotonic()
            elif time.monotonic() - last_change > MODEL_TIMEOUT_S:
                return False
        return exit_code == 0
    finally:
        child.end()


def _finished_files(scratch: Path) -> int:
    return sum(1 for path in scratch.iterdir() if path.suffix in (".npy", ".none"))


def _outputs(path: Path, images: np.ndarray) -> np.ndarray | None:
    from autograder.isolation.modelfile import load_model_file, predict

    model = load_model_file(path, compile=False)  # no optimizer: only outputs are compared
    outputs = predict(model, images)
    return comparable(outputs) if outputs.shape == (len(images), CLASSES) else None


def _write(path: Path, write) -> None:
    """Whole or not at all: a child stopped while writing leaves nothing to misread."""
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as file:
        write(file)
    os.replace(partial, path)


def main(scratch: Path) -> None:
    """The child: each listed file's outputs into SCRATCH/INDEX.npy (INDEX.none when it has
    none), SCRATCH/current naming the file being read."""
    images = probe_images()
    for index, path in json.loads((scratch / "models.json").read_text(encoding="utf-8")):
        _write(scratch / "current", lambda file, index=index: file.write(str(index).encode()))
        try:
            outputs = _outputs(Path(path), images)
        except Exception:  # whatever a learner's file makes Keras raise: nothing to compare
            outputs = None
        if outputs is None:
            (scratch / f"{index}.none").touch()
        else:
            _write(
                scratch / f"{index}.npy",
                lambda file, outputs=outputs: np.save(file, outputs, allow_pickle=False),
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
