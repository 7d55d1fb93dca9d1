"""The judge's side of the worker subprocess: requests with time limits, restarts after a crash.

Each worker runs confined as `autograder.isolation` allows on this machine, in a folder of its own
(the only place it can write); the models it saves are copied out of that folder before the judge
loads them.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from autograder.isolation.confinement import (
    CONTROL_OPTION,
    FORK_OPTION,
    Confinement,
    confinement,
    copy_out,
    end_worker,
    remove_tree,
    start_worker,
)
from autograder.isolation.modelfile import MODEL_MEMORY_MB
from autograder.isolation.processes import children, cpu_seconds, descendants, kill
from autograder.isolation.protocol import (
    MISSING,
    REPORTABLE,
    UNSHOWN_EXCEPTION,
    FailureKind,
    Learner,
    LearnerFailure,
    type_name,
)
from autograder.submission import GradedCell

STARTUP_LIMIT = 180.0  # importing TensorFlow on a slow laptop; not the learner's fault
CONTROL_ENDED = None  # on Worker.controls after the forking process's last line
END_LIMIT = 10.0  # ending a fork, killing what it started and emptying its folder
# A fork whose processes use no CPU for this long is waiting for something that never comes
# (time.sleep, input(), a lock): it is stopped then, not at its time limit. Building or calling
# the reference solutions never idles; under load, a runnable process still gets CPU each second.
IDLE_LIMIT = 5.0
IDLE_CPU = 0.02  # CPU seconds below which a second counts as idle
LIMITS = {"save_model": 20.0, "call": 5.0}  # the reference solutions: 0.6 s, 0.1 s (RESULTS)


def _plain_fields(data) -> dict:
    """The worker's answer is untrusted: keep only the known fields, as plain strings/numbers."""
    data = data if isinstance(data, dict) else {}
    kind = data.get("kind")
    fields: dict = {"kind": next((k for k in REPORTABLE if k.value == kind), FailureKind.ERROR)}
    for name in ("exc_type", "message", "cell", "traceback", "stage"):
        if isinstance(data.get(name), str):
            fields[name] = data[name]
    if "exc_type" in fields:
        fields["exc_type"] = type_name(fields["exc_type"], UNSHOWN_EXCEPTION)
    if isinstance(data.get("line"), int):
        fields["line"] = data["line"]
    return fields


# Linux: one process imports Keras and forks a fresh worker per notebook. macOS: forking after
# TensorFlow is not safe; Windows cannot fork. AUTOGRADER_WORKER_FORK=0: a new process per
# notebook everywhere (benchmarks/bench_grader.py compares the two).
FORKING = sys.platform.startswith("linux") and os.environ.get("AUTOGRADER_WORKER_FORK") != "0"


class Worker:
    """One worker process; `request()` raises LearnerFailure on a timeout or the worker's death.

    With `fork` (Linux), the process imports Keras once and forks a fresh worker for each
    notebook; `next_notebook()` ends the current one. A worker that dies is replaced by a fresh
    fork; a worker that hangs is ended with the whole process."""

    def __init__(
        self, log, folder: Path, preload: bool = True, how: Confinement | None = None, fork=False
    ):
        command = [sys.executable, "-m", "autograder.isolation.worker"]
        command += [] if preload else ["--no-preload"]
        command += [FORK_OPTION] if fork else []
        self.folder = folder
        self.how = how or confinement()
        self.control = None  # the forking process's own reports: "this fork is ended"
        passed: tuple[int, ...] = ()
        if fork:
            reading, writing = os.pipe()
            command += [CONTROL_OPTION, str(writing)]
            self.control, passed = os.fdopen(reading, "r", encoding="utf-8"), (writing,)
        self.process = start_worker(command, folder, log, self.how, passed)
        for descriptor in passed:
            os.close(descriptor)
        self.controls: queue.Queue = queue.Queue()
        threading.Thread(target=self._read_control, daemon=True).start()
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ready = False
        self.used = False  # a request reached the current fork
        self.touched = False  # a request reached any fork since the last next_student()
        self.ending: int | None = None  # the fork next_notebook() ended, until a new request

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)  # end of file: the worker is gone

    def _receive(self, limit: float, wanted, watch_idle: bool = False) -> dict | None:
        """The next line that `wanted(message)` accepts, within `limit` seconds; other lines
        (stale, or forged by learner code that found the channel) are dropped. With
        `watch_idle`, also None as soon as the learner's processes sit IDLE_LIMIT s unused."""
        deadline = time.monotonic() + limit
        idle = IdleWatch(self._learner_cpu) if watch_idle else None
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                line = self.lines.get(timeout=min(remaining, 1.0) if idle else remaining)
            except queue.Empty:
                if time.monotonic() >= deadline or (idle and idle.waited() >= IDLE_LIMIT):
                    return None
                continue
            if line is None:
                raise LearnerFailure(
                    FailureKind.DIED, "ProcessEnded", f"exit code {self.process.wait()}"
                )
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict) and wanted(message):
                return message

    def wait_ready(self) -> None:
        """Until a fresh fork says "ready" (its folder emptied of the last one's files)."""
        if not self.ready:
            if self._receive(STARTUP_LIMIT, lambda message: "ready" in message) is None:
                raise RuntimeError(f"the grading worker did not start within {STARTUP_LIMIT} s")
            self.ready = True

    def request(self, payload: dict, limit: float, watch_idle: bool = True) -> dict:
        """The answer to `payload` within `limit` s; with `watch_idle`, a timeout as soon as the
        fork sits IDLE_LIMIT s without CPU (learner code that waits)."""
        self.wait_ready()
        nonce = secrets.token_hex(16)  # the answer must echo it: nothing written earlier can
        try:
            self.process.stdin.write(json.dumps(dict(payload, nonce=nonce)) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise LearnerFailure(FailureKind.DIED, "ProcessEnded", "the worker had ended") from None
        self.used = self.touched = True
        self.ending = None
        started = time.monotonic()
        response = self._receive(
            limit,
            lambda message: "died" in message or message.get("nonce") == nonce,
            watch_idle=watch_idle,
        )
        if response is None:
            waited = min(limit, round(time.monotonic() - started))
            raise LearnerFailure(
                FailureKind.TIMEOUT, "Timeout", f"no answer within {waited:g} s", limit=waited
            )
        if "died" in response:  # the fork ended; a fresh one is on its way
            self.ready = self.used = False
            raise LearnerFailure(FailureKind.DIED, "ProcessEnded", f"exit code {response['died']}")
        return response

    def next_notebook(self) -> None:
        """End the current fork, if learner code ran in it: the next notebook gets a fresh one."""
        if self.ready and self.used and self.process.poll() is None:
            if self.control is not None:
                self.ending = self._current_fork(END_LIMIT)
            self.process.stdin.write(json.dumps({"op": "end"}) + "\n")
            self.process.stdin.flush()
            self.ready = self.used = False

    def next_student(self) -> bool:
        """Make the next request reach a fresh fork that no earlier student's code touched:
        the current fork is ended (the forking process says so on the control pipe, which
        learner code cannot write), then every line before the answer to a "sync" is dropped.
        False when that cannot be made sure of: the caller replaces the whole worker."""
        if self.control is None or self.process.poll() is not None:
            return False
        if not self.touched:  # no learner code ran: nothing to end
            return True
        try:
            current: int | None = self.ending
            if current is not None:  # next_notebook() ended the last fork code ran in: a
                self.ending = None  # second "end" would end the fresh one
            else:
                current = self._current_fork(END_LIMIT)
                self._send({"op": "end"})
            if current is None or not self._control_until({"ended": current}, END_LIMIT):
                return False
            return self._sync()
        except (LearnerFailure, OSError, ValueError):
            return False

    def end_fork(self) -> bool:
        """After a timeout: kill the current fork and all it started, from outside; the forking
        process says when it has ended them, and forks a fresh one for the rest of the notebook.
        False when that cannot be made sure of: the caller replaces the whole worker."""
        if self.control is None or self.process.poll() is not None:
            return False
        forking = children(self.process.pid) if self.how.bubblewrap else {self.process.pid}
        try:
            current = self._current_fork(END_LIMIT)
            if current is None or len(forking) != 1:
                return False
            for pid in descendants(forking.pop()):
                kill(pid)
            if not self._control_until({"ended": current}, END_LIMIT):
                return False
            return self._sync()
        except (LearnerFailure, OSError, ValueError):
            return False

    def _learner_cpu(self) -> float | None:
        """CPU seconds used so far by the learner's processes (the forks and all they started),
        or None where that cannot be told (no forking process, no /proc)."""
        if self.control is None or self.process.poll() is not None:
            return None
        forking = children(self.process.pid) if self.how.bubblewrap else {self.process.pid}
        if len(forking) != 1:
            return None
        return cpu_seconds(descendants(forking.pop()))

    def _sync(self) -> bool:
        """Drop every line before a fresh fork's answer to a "sync" (the processes that could
        have written them are all ended)."""
        nonce = secrets.token_hex(16)
        self._send({"op": "sync", "nonce": nonce})
        answer = self._receive(END_LIMIT, lambda message: message.get("nonce") == nonce)
        self.ready, self.used, self.touched = answer is not None, False, False
        return self.ready

    def _send(self, message: dict) -> None:
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def _read_control(self) -> None:
        if self.control is None:
            return
        with self.control:
            for line in self.control:
                self.controls.put(json.loads(line))
        self.controls.put(CONTROL_ENDED)  # the forking process is gone: no "ended" will come

    def _next_control(self, timeout: float):
        """The forking process's next report (queue.Empty after `timeout`); CONTROL_ENDED stays
        for every later reader to see."""
        message = self.controls.get(timeout=timeout)
        if message is CONTROL_ENDED:
            self.controls.put(CONTROL_ENDED)
        return message

    def _current_fork(self, limit: float) -> int | None:
        """The number of the fork now serving: the last one forked and not yet ended."""
        forked, ended = 0, 0
        deadline = time.monotonic() + limit
        while True:
            wait = 0.0 if forked > ended else max(0.0, deadline - time.monotonic())
            try:
                message = self._next_control(wait)
            except queue.Empty:
                return forked if forked > ended else None
            if message is CONTROL_ENDED:
                return None
            forked = message.get("forked", forked)
            ended = message.get("ended", ended)

    def _control_until(self, wanted: dict, limit: float) -> bool:
        deadline = time.monotonic() + limit
        while True:
            try:
                message = self._next_control(max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return False
            if message is CONTROL_ENDED:
                return False
            if message == wanted:
                return True

    def close(self) -> None:
        """End the worker and every process it started; remove its folder."""
        end_worker(self.process, self.how)
        remove_tree(self.folder)


class IdleWatch:
    """How long the learner's processes have used no CPU (see IDLE_LIMIT)."""

    def __init__(self, cpu):
        self.cpu = cpu
        self.used = cpu()
        self.since = time.monotonic()

    def waited(self) -> float:
        used = self.cpu()
        if used is None or self.used is None or not 0 <= used - self.used < IDLE_CPU:
            self.used, self.since = used, time.monotonic()
        return time.monotonic() - self.since


class WorkerSupply:
    """Hands out a live worker, starting one when there is none (at first, or after a death).

    `cwd`: the judge's folder, in which each worker gets a folder of its own.
    `preload`: the worker imports Keras at once, while the judge imports its own copy.
    """

    def __init__(self, log, cwd: str | None = None, preload: bool = True, how=None):
        self.log = log
        self.cwd = cwd
        self.preload = preload
        self.how = how or confinement()
        self.worker: Worker | None = None
        self.get()

    def get(self) -> Worker:
        if self.worker is None or self.worker.process.poll() is not None:
            self.discard()
            folder = Path(tempfile.mkdtemp(prefix="worker-", dir=self.cwd))
            self.worker = Worker(self.log, folder, self.preload, self.how, fork=FORKING)
        return self.worker

    def next_notebook(self) -> None:
        """A fresh worker for the next notebook, as a learner's kernels are."""
        if self.worker is not None and FORKING:
            self.worker.next_notebook()
        else:
            self.discard()

    def next_student(self) -> None:
        """The next student's code gets a fresh fork of the same process when that is sure to
        carry nothing over (bubblewrap: the fork's folder is the only place it can write),
        else a new worker process."""
        if not (self.how.bubblewrap and self.worker is not None and self.worker.next_student()):
            self.discard()

    def pids(self) -> set[int]:
        """The worker process kept for later notebooks, if any."""
        return {self.worker.process.pid} if self.worker is not None else set()

    def discard(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None

    close = discard


MAX_MODEL_BYTES = 256 * 1024 * 1024


# Seconds to read a model file and predict on the test set (the reference CNN: about 3 s on 2
# cores, benchmarks/RESULTS.md), and to train one (--train: the CNN's 15 epochs on full MNIST).
MODEL_LIMITS = {"read": 120.0, "fit": 1800.0}
MODEL_IN_FOLDER = "model"  # the copy the model worker reads, with the file's suffix
TRAINED = "trained.keras"


class ModelReader:
    """Learners' model files, read by a worker of their own that never runs learner code: a
    fresh fork for each file, under a memory limit (modelfile.MODEL_MEMORY_MB) and a time limit
    (MODEL_LIMITS), with Keras' temporary files in its folder, which is emptied when the fork
    ends. The judge gets plain data (modelfile.read_model_file's answer), never a Keras object.
    Thread-safe: the judge's preparation thread and its checks share it."""

    def __init__(self, log, cwd: str | None = None, how: Confinement | None = None):
        self.supply = WorkerSupply(log, cwd, True, how)
        self.lock = threading.Lock()

    def read(
        self,
        path: Path,
        inputs: dict[str, np.ndarray],
        resave: tuple[str, ...] = (),
        fit: dict | None = None,
        save_as: Path | None = None,
    ) -> dict:
        """modelfile.read_model_file in a fresh fork; LearnerFailure when it fails: an error
        (Keras', MemoryError, ModelFileTooLarge), a timeout or the fork's death."""
        with self.lock:
            worker = self.supply.get()
            try:
                worker.wait_ready()
                name = MODEL_IN_FOLDER + (path.suffix if path.suffix == ".h5" else ".keras")
                if not copy_out(path, worker.folder / name, MAX_MODEL_BYTES):
                    raise LearnerFailure(
                        FailureKind.ERROR,
                        "ModelFileTooLarge",
                        f"it is not a regular file of at most {MAX_MODEL_BYTES // 2**20} MB",
                    )
                arrays: dict = inputs  # names of arrays, as np.savez keywords
                np.savez(worker.folder / "inputs.npz", allow_pickle=False, **arrays)
                payload = {
                    "op": "model",
                    "path": name,
                    "inputs": "inputs.npz",
                    "resave": list(resave),
                    "fit": fit,
                    "save_as": TRAINED if save_as is not None else None,
                    "memory_mb": MODEL_MEMORY_MB,
                }
                try:
                    # No idle watch: TensorFlow waits up to 10 s for memory before it says "OOM"
                    limit = MODEL_LIMITS["fit" if fit else "read"]
                    response = worker.request(payload, limit, watch_idle=False)
                except LearnerFailure as failure:
                    timed_out = failure.kind == FailureKind.TIMEOUT
                    if (timed_out and not worker.end_fork()) or worker.process.poll() is not None:
                        self.supply.discard()
                    raise
                if not response.get("ok"):
                    raise LearnerFailure(**_plain_fields(response.get("failure")))
                if save_as is not None and not copy_out(
                    worker.folder / TRAINED, save_as, MAX_MODEL_BYTES
                ):
                    raise LearnerFailure(FailureKind.ERROR, "OSError", "the trained model was lost")
                return response["result"]
            finally:
                self.supply.next_notebook()  # this file's fork ends; its folder is emptied

    def next_student(self) -> None:
        self.supply.next_student()

    def pids(self) -> set[int]:
        return self.supply.pids()

    def close(self) -> None:
        self.supply.close()


class SandboxLearner(Learner):
    """The learner's graded cells, run in a worker process that is replaced when it dies.

    `models` reads model files in a worker of its own; None: in this process, as the notebook's
    check() does in the learner's own kernel."""

    def __init__(
        self,
        cells: dict[str, GradedCell | str],
        supply: WorkerSupply,
        limits=None,
        models: ModelReader | None = None,
    ):
        self.cells = cells
        self.supply = supply
        self.limits = dict(LIMITS, **(limits or {}))
        self.models = models
        self.folder = Path()  # the folder of the worker that answered last

    def read_model(self, path, inputs, resave=(), fit=None, save_as=None) -> dict:
        if self.models is None:
            return super().read_model(path, inputs, resave, fit, save_as)
        return self.models.read(path, inputs, resave, fit, save_as)

    def _request(self, function: str, op: str, **fields) -> dict:
        cell = self.cells[function]
        if isinstance(cell, str):
            raise LearnerFailure(FailureKind.NOT_ATTEMPTED, MISSING, cell)
        payload = dict(op=op, function=function, source=cell.source, filename=cell.filename)
        worker = self.supply.get()
        self.folder = worker.folder
        try:
            response = worker.request(dict(payload, **fields), self.limits[op])
        except LearnerFailure as failure:
            if failure.kind == FailureKind.TIMEOUT and worker.end_fork():
                raise  # a fresh fork of the same worker for the next request
            if failure.kind == FailureKind.TIMEOUT or worker.process.poll() is not None:
                self.supply.discard()  # a fresh worker for the next request
            raise
        if not response.get("ok"):
            raise LearnerFailure(**_plain_fields(response.get("failure")))
        return response["result"]

    def save_model(self, function: str, path: str) -> dict:
        """The worker saves into its own folder; the judge's copy is taken from there."""
        name = Path(path).name
        result = self._request(function, "save_model", path=name)
        description = {"type": type_name(result.get("type")), "saved": result.get("saved") is True}
        if isinstance(result.get("error"), str):
            description["error"] = result["error"]
        if not (description["saved"] and copy_out(self.folder / name, Path(path), MAX_MODEL_BYTES)):
            description["saved"] = False
        return description

    def call(self, function: str, arguments: list[dict]) -> dict:
        result = self._request(function, "call", arguments=arguments)
        value = result.get("value")
        shape = result.get("shape")
        return {
            "type": type_name(result.get("type")),
            "is_float": result.get("is_float") is True,
            "is_bool": result.get("is_bool") is True,
            "is_tensor": result.get("is_tensor") is True,
            "shape": [int(size) for size in shape] if isinstance(shape, list) else None,
            "value": float(value) if isinstance(value, (int, float)) else None,
            "summary": _checked_summary(result.get("summary")),
        }


def _checked_summary(summary) -> dict | None:
    """A worker's array_summary, as floats only (see protocol.array_summary)."""
    if not isinstance(summary, dict):
        return None
    values = [summary.get(key) for key in ("min", "max", "mean")]
    numbers = [float(value) for value in values if isinstance(value, (int, float))]
    return dict(zip(("min", "max", "mean"), numbers, strict=True)) if len(numbers) == 3 else None
