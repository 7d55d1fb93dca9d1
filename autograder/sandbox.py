"""The judge's side of the worker subprocess: requests with time limits, restarts after a crash."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading

from autograder.checks import Learner
from autograder.protocol import DIED, MISSING, NOT_ATTEMPTED, TIMEOUT, LearnerFailure
from autograder.submission import GradedCell

STARTUP_LIMIT = 180.0  # importing TensorFlow on a slow laptop; not the learner's fault
LIMITS = {"save_model": 60.0, "call": 10.0}


def worker_environment() -> dict:
    environment = dict(os.environ)
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    environment["PYTHONUNBUFFERED"] = "1"
    return environment


def _plain_fields(data) -> dict:
    """The worker's answer is untrusted: keep only the known fields, as plain strings/numbers."""
    data = data if isinstance(data, dict) else {}
    fields = {"kind": str(data.get("kind", "error"))}
    for name in ("exc_type", "message", "cell", "traceback", "stage"):
        if isinstance(data.get(name), str):
            fields[name] = data[name]
    if isinstance(data.get("line"), int):
        fields["line"] = data["line"]
    return fields


class Worker:
    """One worker process; `request()` raises LearnerFailure on a timeout or the worker's death."""

    def __init__(self, log, cwd: str | None = None, preload: bool = True):
        command = [sys.executable, "-m", "autograder.worker"]
        self.process = subprocess.Popen(
            command if preload else [*command, "--no-preload"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=worker_environment(),
            cwd=cwd,
            text=True,
            encoding="utf-8",
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ready = False

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)  # end of file: the worker is gone

    def _receive(self, limit: float) -> dict | None:
        try:
            line = self.lines.get(timeout=limit)
        except queue.Empty:
            return None
        if line is None:
            raise LearnerFailure(DIED, "ProcessEnded", f"exit code {self.process.wait()}")
        return json.loads(line)

    def request(self, payload: dict, limit: float) -> dict:
        if not self.ready:
            if self._receive(STARTUP_LIMIT) is None:
                raise RuntimeError(f"the grading worker did not start within {STARTUP_LIMIT} s")
            self.ready = True
        try:
            self.process.stdin.write(json.dumps(payload) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise LearnerFailure(DIED, "ProcessEnded", "the worker had ended") from None
        response = self._receive(limit)
        if response is None:
            raise LearnerFailure(TIMEOUT, "Timeout", f"no answer within {limit:g} s", limit=limit)
        return response

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class WorkerSupply:
    """Hands out a live worker, starting one when there is none (at first, or after a death)."""

    def __init__(self, log, cwd: str | None = None, preload: bool = True):
        """preload: the worker imports Keras at once, while the judge imports its own copy."""
        self.log = log
        self.cwd = cwd
        self.preload = preload
        self.worker = Worker(log, cwd, preload)

    def get(self) -> Worker:
        if self.worker is None or self.worker.process.poll() is not None:
            self.worker = Worker(self.log, self.cwd, self.preload)
        return self.worker

    def discard(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None

    close = discard


class SandboxLearner(Learner):
    """The learner's graded cells, run in a worker process that is replaced when it dies."""

    def __init__(self, cells: dict[str, GradedCell | str], supply: WorkerSupply, limits=None):
        self.cells = cells
        self.supply = supply
        self.limits = dict(LIMITS, **(limits or {}))

    def _request(self, function: str, op: str, **fields) -> dict:
        cell = self.cells[function]
        if isinstance(cell, str):
            raise LearnerFailure(NOT_ATTEMPTED, MISSING, cell)
        payload = dict(op=op, function=function, source=cell.source, filename=cell.filename)
        try:
            response = self.supply.get().request(dict(payload, **fields), self.limits[op])
        except LearnerFailure:
            self.supply.discard()  # a fresh worker for the next request
            raise
        if not response.get("ok"):
            raise LearnerFailure(**_plain_fields(response.get("failure")))
        return response["result"]

    def save_model(self, function: str, path: str) -> dict:
        result = self._request(function, "save_model", path=path)
        description = {"type": str(result.get("type")), "saved": result.get("saved") is True}
        if isinstance(result.get("error"), str):
            description["error"] = result["error"]
        return description

    def call(self, function: str, arguments: list[dict]) -> dict:
        result = self._request(function, "call", arguments=arguments)
        value = result.get("value")
        shape = result.get("shape")
        return {
            "type": str(result.get("type")),
            "is_float": result.get("is_float") is True,
            "is_bool": result.get("is_bool") is True,
            "is_tensor": result.get("is_tensor") is True,
            "shape": [int(size) for size in shape] if isinstance(shape, list) else None,
            "value": float(value) if isinstance(value, (int, float)) else None,
        }
