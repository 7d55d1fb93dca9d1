"""The one way the grader runs a process it does not trust to end well: `Supervised`.

Started in a session of its own (so that it and all it starts can be ended as one), optionally
with a line channel (one JSON object a line on its stdin and stdout), waited for with a time
limit, and ended with everything it started (`processes.end_tree`). The judge's workers, batch's
graders and long-lived judges, the model probe and the command line's judge all run this way;
how a process is confined (bubblewrap, another user) is `confinement`'s part, passed in as the
command and Popen's arguments.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from autograder.isolation.processes import end_tree

Message = dict[str, Any]
DEFAULT_MEMORY_MB = 8192  # address space, not resident memory: TensorFlow reserves ~3 GB
EXEC_LIMITED = "--exec-limited"


class ChannelClosed(Exception):
    """The process closed its side of the channel (it ended, or is ending)."""


class Supervised:
    """A child process in a session of its own; `end()` ends it and every process it started.

    `channel`: requests go to its stdin and answers come from its stdout, one JSON object a line;
    lines that are not a JSON object are dropped (learner code can write anything there).
    Without a channel, stdin is /dev/null and stdout goes to `stdout`."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        cwd: Path | str | None = None,
        env: dict[str, str] | None = None,
        stdout: IO[Any] | int | None = None,
        stderr: IO[Any] | int | None = None,
        channel: bool = False,
        user: str | None = None,
        pass_fds: Sequence[int] = (),
        popen: dict[str, Any] | None = None,
    ):
        self.user = user  # whose processes are ended with it (an unprivileged worker user)
        self.process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE if channel else subprocess.DEVNULL,
            stdout=subprocess.PIPE if channel else stdout,
            stderr=stderr,
            text=channel,
            encoding="utf-8" if channel else None,
            start_new_session=os.name == "posix",
            pass_fds=tuple(pass_fds),
            **(popen or {}),
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        if channel:
            threading.Thread(target=self._read, daemon=True).start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)  # end of file: the process is gone

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message: Message) -> None:
        """One line to the process; ChannelClosed when it can no longer read."""
        if self.process.stdin is None:
            raise ChannelClosed("no channel")
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            raise ChannelClosed("the process had ended") from None

    def receive(
        self,
        limit: float,
        wanted: Callable[[Message], bool] = lambda message: True,
        give_up: Callable[[], bool] | None = None,
    ) -> Message | None:
        """The next message that `wanted` accepts, within `limit` seconds (None after it);
        other messages are dropped. `give_up`, asked about once a second: None at once when it
        says so (a process that sits idle). ChannelClosed when the process closed its stdout."""
        deadline = time.monotonic() + limit
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                line = self._lines.get(timeout=min(remaining, 1.0) if give_up else remaining)
            except queue.Empty:
                if time.monotonic() >= deadline or (give_up is not None and give_up()):
                    return None
                continue
            if line is None:
                self._lines.put(None)  # every later reader sees the end too
                raise ChannelClosed(f"exit code {self.process.wait()}")
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict) and wanted(message):
                return message

    def wait(self, limit: float | None) -> int | None:
        """Its exit code, or None when it is still running after `limit` seconds."""
        try:
            return self.process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            return None

    def end(self) -> None:
        """End it and every process it started (reaped); safe to call more than once."""
        end_tree(self.process, self.user)
        if self.process.stdin is not None:
            try:
                self.process.stdin.close()
            except OSError:
                pass


def limited_command(memory_mb: int | None, command: list[str]) -> list[str]:
    """`command` under an address-space limit of `memory_mb` (Linux; None: no limit)."""
    if not memory_mb or not sys.platform.startswith("linux"):
        return command
    launcher = [sys.executable, "-m", "autograder.isolation.supervisor", EXEC_LIMITED]
    return [*launcher, str(memory_mb), *command]


def exec_limited(memory_mb: int, command: list[str]) -> None:
    """Set the memory limit, then become the command (a launcher: no fork-time hooks in
    threads)."""
    import resource

    limit = memory_mb * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core dumps from crashes
    except (ValueError, OSError) as error:
        print(f"could not set the memory limit ({error}); running without it", flush=True)
    os.execv(command[0], command)


if __name__ == "__main__":
    if sys.argv[1:2] == [EXEC_LIMITED]:
        exec_limited(int(sys.argv[2]), sys.argv[3:])
