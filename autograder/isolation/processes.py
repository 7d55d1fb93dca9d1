"""Processes: none left behind, none that learner code can reach (Linux prctl flags, /proc).

The judge and the forking worker use these to end every process a worker started, even one that
escaped into a new session, and to stay out of reach of the learner's own processes.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from collections.abc import Collection
from pathlib import Path

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37


def signal_group(group: int) -> None:
    try:
        os.killpg(group, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state, ppid, pgrp, session, ...)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def _all_pids() -> list[int]:
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    return [int(entry.name) for entry in proc.iterdir() if entry.name.isdigit()]


def _parents() -> dict[int, int]:
    """Each process's parent, read in one pass over /proc."""
    parents = {}
    for pid in _all_pids():
        fields = _proc_stat(pid)
        if fields:
            parents[pid] = int(fields[1])
    return parents


def children(parent: int) -> set[int]:
    return {pid for pid, its_parent in _parents().items() if its_parent == parent}


def cpu_seconds(pids: set[int]) -> float:
    """The CPU time (user and system, all threads, and their reaped children's) these
    processes have used so far."""
    ticks = 0
    for pid in pids:
        fields = _proc_stat(pid)
        if fields:
            ticks += sum(map(int, fields[11:15]))  # utime, stime, and of reaped children
    return ticks / os.sysconf("SC_CLK_TCK")


def descendants(parent: int) -> set[int]:
    """Every process below `parent` in the process tree."""
    parents = _parents()
    found: set[int] = set()
    below = {parent}
    while below:
        below = {pid for pid, its_parent in parents.items() if its_parent in below} - found
        found |= below
    return found


def processes_in_session(session: int) -> set[int]:
    found = set()
    for pid in _all_pids():
        fields = _proc_stat(pid)
        if fields and fields[0] != "Z" and int(fields[3]) == session:
            found.add(pid)
    return found


def processes_of_user(user: str) -> set[int]:
    import pwd

    uid = pwd.getpwnam(user).pw_uid
    found = set()
    for pid in _all_pids():
        try:
            if Path(f"/proc/{pid}").stat().st_uid == uid:
                found.add(pid)
        except OSError:
            continue
    return found


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
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
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
    me = os.getpid()
    for _ in range(50):
        children = [
            pid
            for pid in _all_pids()
            if (_proc_stat(pid) or ["", "0"])[1] == str(me) and pid not in keep
        ]
        if not children:
            return
        for pid in children:
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
