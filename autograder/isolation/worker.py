"""The worker subprocess: the only process that runs learner code.

Protocol: one JSON object per line. Requests come on the original stdin, responses go to the
original stdout; both are moved to private file descriptors at start, so that the learner's
prints (sent to stderr) and input() (end of file) cannot touch them. Nothing is pickled.
"""

from __future__ import annotations

import contextlib
import json
import linecache
import os
import select
import sys
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import Any, TextIO

from autograder.isolation.confinement import (
    CONTROL_OPTION,
    FORK_OPTION,
    USER_OPTION,
    become_user,
    remove_tree,
)
from autograder.isolation.processes import (
    become_subreaper,
    descendants,
    die_with_parent,
    end_session,
    ipc_objects,
    never_dumpable,
    reap_orphans,
)
from autograder.isolation.protocol import (
    MISSING,
    FailureKind,
    LearnerFailure,
    Message,
    ModelRequest,
    describe_value,
    failure_from_exception,
    make_argument,
    save_returned_model,
)

Send = Callable[[Message], str]  # json.dumps, bound before any learner code runs


def open_private_channels() -> tuple[TextIO, TextIO]:
    """Keep stdin/stdout for the protocol; give the learner /dev/null and stderr instead."""
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    responses = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(2, 1)
    return requests, responses


def compile_cell(source: str, filename: str) -> CodeType:
    """compile(), where what Python cannot read reads as a syntax error: the parser raises
    MemoryError or RecursionError beyond its limits, and Python 3.10 ValueError for a NUL byte
    (all three said "your cell raised")."""
    try:
        return compile(source, filename, "exec")
    except ValueError as error:
        raise SyntaxError(str(error)) from None
    except (MemoryError, RecursionError):
        raise SyntaxError("the cell is too large or nested too deeply for Python to read") from None


class GradedFunctions:
    """The namespaces of the graded cells, each executed once, on first use."""

    def __init__(self) -> None:
        self.namespaces: dict[tuple[str, str], dict[str, Any]] = {}

    def get(self, request: Message) -> Callable[..., Any]:
        filename, source = request["filename"], request["source"]
        key = (filename, source)
        if key not in self.namespaces:
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            namespace = {"__name__": "__graded__"}
            try:
                exec(compile_cell(source, filename), namespace)
            except (Exception, SystemExit) as error:
                failure = failure_from_exception(error, filename, stage="cell")
                if isinstance(error, SyntaxError):
                    failure.line = error.lineno
                raise failure from None
            self.namespaces[key] = namespace
        function = self.namespaces[key].get(request["function"])
        if not callable(function):
            raise LearnerFailure(
                FailureKind.NOT_ATTEMPTED,
                MISSING,
                f"The graded cell does not define {request['function']}().",
            )
        called: Callable[..., Any] = function
        return called


def handle(request: Message, functions: GradedFunctions, folder: str) -> Message:
    """Run one request; a model is saved into the worker's `folder`, wherever the learner's
    cell moved the current folder (os.chdir)."""
    function = functions.get(request)
    try:
        if request["op"] == "save_model":
            value = function()
        else:
            value = function(*[make_argument(spec) for spec in request["arguments"]])
    except (Exception, SystemExit) as error:
        raise failure_from_exception(error, request["filename"]) from None
    if request["op"] == "save_model":
        return save_returned_model(value, os.path.join(folder, request["path"]))
    return describe_value(value)


def read_model(message: Message, folder: str) -> Message:
    """Op "model": read a model file that the judge put in this fork's folder, under a memory
    limit (the fork is ended after it: the limit and Keras' temporary files go with it)."""
    from autograder.isolation import modelfile

    try:
        modelfile.limit_memory(int(message["memory_mb"]))
        return modelfile.read_model_file(ModelRequest.from_folder(message, Path(folder)))
    except Exception as error:  # the file's, or its size's: the judge names it
        raise failure_from_exception(error, "") from None


ENDED = 87  # a forked worker's exit code after {"op": "end"}: the judge is done with it
CLOSED = 88  # its exit code at the end of the requests: the judge is gone, no notebook comes


def serve(requests: TextIO, responses: TextIO, send: Send) -> bool:
    """Answer the judge's requests for one notebook, until it says "end" (True) or goes away
    (False)."""
    responses.write(send({"ready": True}) + "\n")
    responses.flush()
    folder = os.getcwd()  # before any learner code of this notebook runs
    functions = GradedFunctions()
    for line in requests:
        request = json.loads(line)
        if request.get("op") == "end":
            return True
        nonce = request.get("nonce")  # echoed: the judge drops any answer without it
        if request.get("op") == "sync":  # the judge drops every line before this answer
            responses.write(send({"synced": True, "nonce": nonce}) + "\n")
            responses.flush()
            continue
        try:
            if request.get("op") == "model":  # only ever in a worker that runs no learner code
                response = {"ok": True, "result": read_model(request, folder)}
            else:
                response = {"ok": True, "result": handle(request, functions, folder)}
        except LearnerFailure as failure:
            response = {"ok": False, "failure": failure.to_dict()}
        responses.write(send(dict(response, nonce=nonce)) + "\n")
        responses.flush()
    return False


MAX_FILE_BYTES = 512 * 1024 * 1024  # a model file is a few MB; no notebook fills the disk


def limit_files() -> None:
    """No file larger than MAX_FILE_BYTES, no core dumps (Linux and macOS)."""
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def empty_folder(folder: Path) -> bool:
    """Empty the folder, whatever modes a notebook left on it and its entries; whether it is
    empty and ours to write again."""
    try:
        os.chmod(folder, 0o700)
        for entry in folder.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                remove_tree(entry)
            else:
                entry.unlink(missing_ok=True)
        return not any(folder.iterdir())
    except OSError:
        return False


def report(control: TextIO | None, send: Send, message: Message) -> None:
    if control is not None:
        control.write(send(message) + "\n")
        control.flush()


def requests_ended(requests: TextIO) -> bool:
    """End of file on the requests: readable, with nothing to read (a request waiting is no end)."""
    import array
    import fcntl  # Linux, where workers fork
    import termios

    if not select.select([requests], [], [], 0)[0]:
        return False
    waiting = array.array("i", [0])
    fcntl.ioctl(requests.fileno(), termios.FIONREAD, waiting)
    return waiting[0] == 0


F_SETSIG = 10  # Linux's fcntl: the signal sent when the channel is ready (0: SIGIO)


def pipe_size(descriptor: int) -> int | None:
    import fcntl

    try:
        return fcntl.fcntl(descriptor, fcntl.F_GETPIPE_SZ)
    except (OSError, AttributeError):
        return None


def reset_channel(descriptor: int, size: int | None) -> None:
    """Undo what an earlier fork's code may have set on a channel that every fork shares (its
    open file): status flags (non-blocking, O_ASYNC), the owner and signal of O_ASYNC, and the
    pipe's size (red team: these carried data from one student to the next)."""
    import fcntl

    fcntl.fcntl(descriptor, fcntl.F_SETFL, 0)
    for command in (fcntl.F_SETOWN, F_SETSIG):
        with contextlib.suppress(OSError):
            fcntl.fcntl(descriptor, command, 0)
    if size is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(descriptor, fcntl.F_SETPIPE_SZ, size)


def own_output() -> None:
    """Give this fork its own open file on the log for stdout and stderr. The one it inherits
    is shared by every fork: a notebook could clear its O_APPEND and move its offset past the
    file size limit, and the next student's prints failed with "File too large" (red team).
    Where the log cannot be reopened, the shared handle stays."""
    try:
        fresh = os.open("/proc/self/fd/2", os.O_WRONLY | os.O_APPEND)
    except OSError:
        return
    os.dup2(fresh, 1)
    os.dup2(fresh, 2)
    os.close(fresh)


def drop_waiting_requests(requests: TextIO) -> None:
    """Drop every byte waiting on the requests channel once a fork and all it started are gone.

    Learner code can reopen its end of the channel for writing (/proc/self/fd/N) and plant a
    request there for the next fork: the next student's code would run it. The judge itself
    writes nothing between a fork's end and this process's "ended" (or the next fork's "ready"),
    so whatever waits here was planted."""
    descriptor = requests.fileno()
    os.set_blocking(descriptor, False)
    try:
        while os.read(descriptor, 65536):  # b"" at the end of the requests: the judge is gone
            pass
    except BlockingIOError:
        pass
    finally:
        os.set_blocking(descriptor, True)


def fork_workers(
    requests: TextIO,
    responses: TextIO,
    send: Send,
    user: str | None = None,
    control: TextIO | None = None,
) -> None:
    """Fork a fresh worker for each notebook from this process, which never runs learner code:
    each one starts from the same state, Keras already imported (a learner's fresh kernel).

    `control`: a pipe to the judge that only this process holds (each fork closes it before
    anything else), on which it says that a fork and all it started are ended and its folder
    emptied: a line learner code cannot forge on the shared response channel."""
    become_subreaper()  # what a notebook's code leaves running comes back here, to be ended
    never_dumpable()  # no notebook's code can rewrite this process, and so the next notebook
    # Only a sandbox's process 1 (bubblewrap) has an IPC namespace of its own: elsewhere the
    # machine's other programs make and remove such objects too.
    ipc_at_start = ipc_objects() if os.getpid() == 1 else None
    pipe_sizes = {
        channel.fileno(): pipe_size(channel.fileno()) for channel in (requests, responses)
    }
    forks = 0
    while True:
        forks += 1
        child = os.fork()
        if child == 0:
            if control is not None:
                control.close()
            os.setsid()
            own_output()  # before become_user: reopening the log takes its owner
            if user is not None:
                become_user(user)
            die_with_parent()
            limit_files()
            for channel in (requests, responses):  # an earlier fork's code may have changed it
                reset_channel(channel.fileno(), pipe_sizes.get(channel.fileno()))
            os._exit(ENDED if serve(requests, responses, send) else CLOSED)
        report(control, send, {"forked": forks})
        _, status = os.waitpid(child, 0)
        end_session(child)
        reap_orphans()
        clean = empty_folder(Path.cwd())  # nothing a notebook wrote is there for the next one
        code = os.waitstatus_to_exitcode(status)
        if code == CLOSED and requests_ended(requests):
            return  # the judge is gone (learner code can exit with CLOSED too: checked)
        if code != ENDED:
            responses.write(send({"ok": False, "died": code}) + "\n")
            responses.flush()
        left_ipc = ipc_at_start is not None and bool(ipc_objects() - ipc_at_start)
        if not clean or descendants(os.getpid()) or left_ipc:
            return  # something of that notebook outlived it: never "ended"; the judge replaces us
        drop_waiting_requests(requests)
        report(control, send, {"ended": forks})


def main() -> None:
    die_with_parent()
    requests, responses = open_private_channels()
    send = json.dumps  # bound now, before any learner code can replace json.dumps

    if "--no-preload" not in sys.argv:
        import keras  # noqa: F401  (imported now, while the judge imports its own copy)

    if FORK_OPTION in sys.argv:
        user = sys.argv[sys.argv.index(USER_OPTION) + 1] if USER_OPTION in sys.argv else None
        control = None
        if CONTROL_OPTION in sys.argv:
            descriptor = int(sys.argv[sys.argv.index(CONTROL_OPTION) + 1])
            control = os.fdopen(descriptor, "w", encoding="utf-8")
        fork_workers(requests, responses, send, user, control)
    else:
        serve(requests, responses, send)


if __name__ == "__main__":
    main()
