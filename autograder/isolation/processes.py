"""Processes: none left behind, none that learner code can reach (psutil, and Linux prctl flags).

The only place that finds and ends processes: a process tree, a session, a user's processes,
their CPU time (psutil), and the `prctl` flags psutil does not offer (subreaper, not dumpable,
death with the parent). `end_tree` is the one way a started process is ended with all it started.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import psutil

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied, ProcessLookupError)


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def children(parent: int) -> set[int]:
    try:
        return {child.pid for child in psutil.Process(parent).children()}
    except GONE:
        return set()


def descendants(parent: int) -> set[int]:
    """Every process below `parent` in the process tree."""
    try:
        return {child.pid for child in psutil.Process(parent).children(recursive=True)}
    except GONE:
        return set()


def cpu_seconds(pids: Iterable[int]) -> float:
    """The CPU time (user and system, all threads, and their reaped children's) these
    processes have used so far."""
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except GONE:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def _alive(process: psutil.Process) -> bool:
    try:
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except GONE:
        return False


def processes_in_session(session: int) -> set[int]:
    """The live processes of a session (psutil has no session id: os.getsid reads it)."""
    found = set()
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == session and _alive(process):
                found.add(process.pid)
        except OSError:
            continue
    return found


def processes_of_user(user: str) -> set[int]:
    """Every process running as `user`, by any of its user ids (real, effective, saved): a
    process that made itself not dumpable shows /proc/PID as root's, not as its user's."""
    import pwd

    uid = pwd.getpwnam(user).pw_uid
    found = set()
    for process in psutil.process_iter(["uids"]):
        uids = process.info["uids"]
        if uids is not None and uid in tuple(uids):
            found.add(process.pid)
    return found


def end_tree(process: subprocess.Popen[Any], user: str | None = None) -> None:
    """End a process started in a session of its own (`start_new_session`) and everything it
    started: its descendants, its group, its session (what escaped the tree into it), the
    processes of `user` (an unprivileged worker user's), and reap it. Each is killed outright:
    nothing of learner code gets time to react."""
    if os.name != "posix":
        if process.poll() is None:
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(process.pid)], capture_output=True)
        process.wait()
        return
    below = descendants(process.pid)  # before the leader dies and they are re-parented
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    for pid in below:
        kill(pid)
    process.wait()
    end_session(process.pid, user)


def end_session(session: int, user: str | None = None) -> None:
    """Kill every process of the session (and of `user`), until none is left: what escaped a
    process tree stays in its session unless it made a new one (then `reap_orphans` finds it)."""
    for _ in range(50):  # a process that forked while the others were killed
        leftovers = processes_in_session(session)
        if user is not None:
            leftovers |= processes_of_user(user)
        if not leftovers:
            return
        for pid in leftovers:
            kill(pid)
        time.sleep(0.01)


SYSTEM_V_IPC = ("/proc/sysvipc/shm", "/proc/sysvipc/sem", "/proc/sysvipc/msg")
MESSAGE_QUEUES = "/dev/mqueue"  # POSIX message queues, where that file system is mounted


def ipc_objects() -> set[str]:
    """The System V shared memory segments, semaphores and message queues, and the POSIX
    message queues, this process can see (those of its IPC namespace, on Linux): they outlive
    the processes that made them."""
    found = set()
    for table in SYSTEM_V_IPC:
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        found |= {f"{table} {' '.join(row.split()[:2])}" for row in rows if row.strip()}
    try:
        found |= {f"{MESSAGE_QUEUES}/{name}" for name in os.listdir(MESSAGE_QUEUES)}
    except OSError:
        pass
    return found


def become_subreaper() -> bool:
    """Linux: orphans of the worker's descendants become this process's children (not init's),
    so `reap_orphans` finds a process that escaped into a new session. Only for a process whose
    children are all workers (the grader's own process), never a test runner or a notebook."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def is_subreaper() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        flag = ctypes.c_int(0)
        ctypes.CDLL(None).prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0)
    except (OSError, AttributeError):
        return False
    return bool(flag.value)


def reap_orphans(keep: Collection[int] = ()) -> None:
    """In a subreaper, once every worker is ended: kill and reap every child still there
    (but those in `keep`: a worker kept for the next student, its learner code ended)."""
    if not is_subreaper():
        return
    for _ in range(50):
        orphans = children(os.getpid()) - set(keep)  # zombies among them, to be reaped
        if not orphans:
            return
        for pid in orphans:
            kill(pid)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        time.sleep(0.01)


def never_dumpable() -> None:
    """Linux: other processes of this user (learner code) cannot ptrace this one or open its
    /proc memory and file descriptors; forks inherit it."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def die_with_parent() -> None:
    """In the worker (Linux): be killed when the judge dies, even if it is killed outright."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
