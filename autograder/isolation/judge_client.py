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
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import IO, Any

from autograder.isolation.confinement import (
    CONTROL_OPTION,
    FORK_OPTION,
    Confinement,
    confinement,
    copy_out,
    remove_tree,
    start_worker,
)
from autograder.isolation.learner import Learner
from autograder.isolation.modelfile import MODEL_MEMORY_MB
from autograder.isolation.names import type_name
from autograder.isolation.processes import children, cpu_seconds, descendants, kill
from autograder.isolation.protocol import (
    MISSING,
    TRAINED,
    FailureKind,
    LearnerFailure,
    ModelRequest,
    reported_failure,
    returned_value,
)
from autograder.isolation.supervisor import ChannelClosed
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


# Linux: one process imports Keras and forks a fresh worker per notebook. macOS: forking after
# TensorFlow is not safe; Windows cannot fork. AUTOGRADER_WORKER_FORK=0: a new process per
# notebook everywhere (benchmarks/bench_grader.py compares the two).
FORKING = sys.platform.startswith("linux") and os.environ.get("AUTOGRADER_WORKER_FORK") != "0"


class Fork(Enum):
    """Where the worker's current fork stands, as the judge knows it."""

    STARTING = "no fork said ready yet, and no learner code ran since the last next_student"
    CLEAN = "a fork said ready, and no learner code ran since the last next_student"
    SERVING = "a request reached the current fork"
    REPLACING = "the fork code ran in was ended (next_notebook) or died; the next is on its way"
    REPLACED = "the fork after one code ran in said ready; no request reached it yet"


# The handshake's only moves: (event, from) -> to. "synced" (a fresh fork answered a "sync" after
# every earlier process was ended) comes from any state; any other move not here raises.
MOVES = {
    ("ready", Fork.STARTING): Fork.CLEAN,
    ("ready", Fork.REPLACING): Fork.REPLACED,
    ("request", Fork.CLEAN): Fork.SERVING,
    ("request", Fork.REPLACED): Fork.SERVING,
    ("request", Fork.SERVING): Fork.SERVING,
    ("died", Fork.SERVING): Fork.REPLACING,
    ("notebook_ended", Fork.SERVING): Fork.REPLACING,
    **{("synced", state): Fork.CLEAN for state in Fork},
}


class InvalidMove(RuntimeError):
    """The judge tried a move its handshake with the worker does not allow (a bug)."""


@dataclass
class Handshake:
    """The judge's side of the handshake with the forking worker, one named move at a time."""

    state: Fork = Fork.STARTING
    ended: int | None = None  # the fork next_notebook ended, until a request reaches the next

    def move(self, event: str, ended: int | None = None) -> None:
        try:
            self.state = MOVES[(event, self.state)]
        except KeyError:
            raise InvalidMove(f"{event!r} while {self.state.name}") from None
        if event == "notebook_ended":
            self.ended = ended
        elif event != "ready":  # a request, a death or a sync: no ended fork is pending
            self.ended = None

    @property
    def ready(self) -> bool:
        return self.state in (Fork.CLEAN, Fork.SERVING, Fork.REPLACED)

    @property
    def touched(self) -> bool:
        """Learner code ran in some fork since the last next_student (or sync)."""
        return self.state not in (Fork.STARTING, Fork.CLEAN)


class Worker:
    """One worker process; `request()` raises LearnerFailure on a timeout or the worker's death.

    With `fork` (Linux), the process imports Keras once and forks a fresh worker for each
    notebook; `next_notebook()` ends the current one. A worker that dies is replaced by a fresh
    fork; a worker that hangs is ended with the whole process."""

    def __init__(
        self,
        log: IO[str],
        folder: Path,
        preload: bool = True,
        how: Confinement | None = None,
        fork: bool = False,
    ):
        command = [sys.executable, "-m", "autograder.isolation.worker"]
        command += [] if preload else ["--no-preload"]
        command += [FORK_OPTION] if fork else []
        self.folder = folder
        self.how = how or confinement()
        self.control: IO[str] | None = None  # the forking process's reports: "a fork ended"
        passed: tuple[int, ...] = ()
        if fork:
            reading, writing = os.pipe()
            command += [CONTROL_OPTION, str(writing)]
            self.control, passed = os.fdopen(reading, "r", encoding="utf-8"), (writing,)
        self.process = start_worker(command, folder, log, self.how, passed)
        for descriptor in passed:
            os.close(descriptor)
        self.controls: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read_control, daemon=True).start()
        self.handshake = Handshake()

    def _receive(
        self, limit: float, wanted: Callable[[dict[str, Any]], bool], watch_idle: bool = False
    ) -> dict[str, Any] | None:
        """The next line that `wanted(message)` accepts, within `limit` seconds; other lines
        (stale, or forged by learner code that found the channel) are dropped. With
        `watch_idle`, also None as soon as the learner's processes sit IDLE_LIMIT s unused."""
        idle = IdleWatch(self._learner_cpu) if watch_idle else None
        give_up = (lambda: idle.waited() >= IDLE_LIMIT) if idle is not None else None
        try:
            return self.process.receive(limit, wanted, give_up)
        except ChannelClosed as closed:
            raise LearnerFailure(FailureKind.DIED, "ProcessEnded", str(closed)) from None

    def wait_ready(self) -> None:
        """Until a fresh fork says "ready" (its folder emptied of the last one's files)."""
        if not self.handshake.ready:
            if self._receive(STARTUP_LIMIT, lambda message: "ready" in message) is None:
                raise RuntimeError(f"the grading worker did not start within {STARTUP_LIMIT} s")
            self.handshake.move("ready")

    def request(
        self, payload: dict[str, Any], limit: float, watch_idle: bool = True
    ) -> dict[str, Any]:
        """The answer to `payload` within `limit` s; with `watch_idle`, a timeout as soon as the
        fork sits IDLE_LIMIT s without CPU (learner code that waits)."""
        self.wait_ready()
        nonce = secrets.token_hex(16)  # the answer must echo it: nothing written earlier can
        try:
            self.process.send(dict(payload, nonce=nonce))
        except ChannelClosed:
            raise LearnerFailure(FailureKind.DIED, "ProcessEnded", "the worker had ended") from None
        self.handshake.move("request")
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
            self.handshake.move("died")
            raise LearnerFailure(FailureKind.DIED, "ProcessEnded", f"exit code {response['died']}")
        return response

    def next_notebook(self) -> None:
        """End the current fork, if learner code ran in it: the next notebook gets a fresh one."""
        if self.handshake.state is Fork.SERVING and self.process.alive():
            ended = self._current_fork(END_LIMIT) if self.control is not None else None
            self._send({"op": "end"})
            self.handshake.move("notebook_ended", ended)

    def next_student(self) -> bool:
        """Make the next request reach a fresh fork that no earlier student's code touched:
        the current fork is ended (the forking process says so on the control pipe, which
        learner code cannot write), then every line before the answer to a "sync" is dropped.
        False when that cannot be made sure of: the caller replaces the whole worker."""
        if self.control is None or not self.process.alive():
            return False
        if not self.handshake.touched:  # no learner code ran: nothing to end
            return True
        try:
            # next_notebook() ended the last fork code ran in: a second "end" would end the
            # fresh one
            current = self.handshake.ended
            if current is None:
                current = self._current_fork(END_LIMIT)
                self._send({"op": "end"})
            if current is None or not self._control_until({"ended": current}, END_LIMIT):
                return False
            return self._sync()
        except (LearnerFailure, ChannelClosed, OSError, ValueError):
            return False

    def end_fork(self) -> bool:
        """After a timeout: kill the current fork and all it started, from outside; the forking
        process says when it has ended them, and forks a fresh one for the rest of the notebook.
        False when that cannot be made sure of: the caller replaces the whole worker."""
        if self.control is None or not self.process.alive():
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
        except (LearnerFailure, ChannelClosed, OSError, ValueError):
            return False

    def _learner_cpu(self) -> float | None:
        """CPU seconds used so far by the learner's processes (the forks and all they started),
        or None where that cannot be told (no forking process)."""
        if self.control is None or not self.process.alive():
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
        if answer is None:
            return False
        self.handshake.move("synced")
        return True

    def _send(self, message: dict[str, Any]) -> None:
        self.process.send(message)

    def _read_control(self) -> None:
        if self.control is None:
            return
        with self.control:
            for line in self.control:
                self.controls.put(json.loads(line))
        self.controls.put(CONTROL_ENDED)  # the forking process is gone: no "ended" will come

    def _next_control(self, timeout: float) -> dict[str, Any] | None:
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

    def _control_until(self, wanted: dict[str, Any], limit: float) -> bool:
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
        self.process.end()
        remove_tree(self.folder)


class IdleWatch:
    """How long the learner's processes have used no CPU (see IDLE_LIMIT)."""

    def __init__(self, cpu: Callable[[], float | None]):
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

    def __init__(
        self,
        log: IO[str],
        cwd: str | None = None,
        preload: bool = True,
        how: Confinement | None = None,
    ):
        self.log = log
        self.cwd = cwd
        self.preload = preload
        self.how = how or confinement()
        self.worker: Worker | None = None
        self.get()

    def get(self) -> Worker:
        if self.worker is None or not self.worker.process.alive():
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


class ModelReader:
    """Learners' model files, read by a worker of their own that never runs learner code: a
    fresh fork for each file, under a memory limit (modelfile.MODEL_MEMORY_MB) and a time limit
    (MODEL_LIMITS), with Keras' temporary files in its folder, which is emptied when the fork
    ends. The judge gets plain data (modelfile.read_model_file's answer), never a Keras object.
    Thread-safe: the judge's preparation thread and its checks share it."""

    def __init__(self, log: IO[str], cwd: str | None = None, how: Confinement | None = None):
        self.supply = WorkerSupply(log, cwd, True, how)
        self.lock = threading.Lock()

    def read(self, request: ModelRequest) -> dict[str, Any]:
        """modelfile.read_model_file in a fresh fork; LearnerFailure when it fails: an error
        (Keras', MemoryError, ModelFileTooLarge), a timeout or the fork's death."""
        with self.lock:
            worker = self.supply.get()
            try:
                worker.wait_ready()
                if not copy_out(request.path, worker.folder / request.copy_name(), MAX_MODEL_BYTES):
                    raise LearnerFailure(
                        FailureKind.ERROR,
                        "ModelFileTooLarge",
                        f"it is not a regular file of at most {MAX_MODEL_BYTES // 2**20} MB",
                    )
                payload = request.to_folder(worker.folder, MODEL_MEMORY_MB)
                try:
                    # No idle watch: TensorFlow waits up to 10 s for memory before it says "OOM"
                    limit = MODEL_LIMITS["fit" if request.fit else "read"]
                    response = worker.request(payload, limit, watch_idle=False)
                except LearnerFailure as failure:
                    timed_out = failure.kind == FailureKind.TIMEOUT
                    if (timed_out and not worker.end_fork()) or not worker.process.alive():
                        self.supply.discard()
                    raise
                if not response.get("ok"):
                    raise reported_failure(response.get("failure"))
                if request.save_as is not None and not copy_out(
                    worker.folder / TRAINED, request.save_as, MAX_MODEL_BYTES
                ):
                    raise LearnerFailure(FailureKind.ERROR, "OSError", "the trained model was lost")
                result: dict[str, Any] = response["result"]
                return result
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
        limits: dict[str, float] | None = None,
        models: ModelReader | None = None,
    ):
        self.cells = cells
        self.supply = supply
        self.limits = dict(LIMITS, **(limits or {}))
        self.models = models
        self.folder = Path()  # the folder of the worker that answered last

    def read_model(self, request: ModelRequest) -> dict[str, Any]:
        if self.models is None:
            return super().read_model(request)
        return self.models.read(request)

    def _request(self, function: str, op: str, **fields: Any) -> dict[str, Any]:
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
            if failure.kind == FailureKind.TIMEOUT or not worker.process.alive():
                self.supply.discard()  # a fresh worker for the next request
            raise
        if not response.get("ok"):
            raise reported_failure(response.get("failure"))
        result: dict[str, Any] = response["result"]
        return result

    def save_model(self, function: str, path: str) -> dict[str, Any]:
        """The worker saves into its own folder; the judge's copy is taken from there."""
        name = Path(path).name
        result = self._request(function, "save_model", path=name)
        description = {"type": type_name(result.get("type")), "saved": result.get("saved") is True}
        if isinstance(result.get("error"), str):
            description["error"] = result["error"]
        if not (description["saved"] and copy_out(self.folder / name, Path(path), MAX_MODEL_BYTES)):
            description["saved"] = False
        return description

    def call(self, function: str, arguments: list[dict[str, Any]]) -> dict[str, Any]:
        return returned_value(self._request(function, "call", arguments=arguments))
