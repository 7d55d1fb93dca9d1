"""Where learner code runs: a sandbox when the platform has one, and no process left behind.

Three layers, each used where it is available:

- **bubblewrap** (Linux, Debian package ``bubblewrap``): the worker sees a read-only file system,
  an empty ``/tmp`` and empty home folders (and ``Confinement.emptied``: batch's class folders),
  no network, its own process tree; it can write only its own folder. Killing the sandbox
  kills every process started inside it.
- **another user** (``AUTOGRADER_WORKER_USER``, set by Gradescope's ``setup.sh``): when the judge
  runs as root, the worker runs as that unprivileged user, which cannot write the grader, the
  data or the results, nor signal the judge; every process of that user is ended after each worker.
- **always**: a filtered environment, the worker's own process group and session, and, on Linux,
  the judge as a child subreaper, so a process that escaped into a new session is found and ended
  before the judge writes a result.

``AUTOGRADER_SANDBOX``: ``auto`` (default: bubblewrap when it works), ``require`` (refuse to grade
without it) or ``off``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from autograder.isolation.processes import MESSAGE_QUEUES
from autograder.isolation.supervisor import Supervised
from digits.quiet import quiet_environment

SANDBOX_SETTING = "AUTOGRADER_SANDBOX"
FORK_OPTION, USER_OPTION = "--fork", "--user"  # the worker's: fork per notebook, as this user
CONTROL_OPTION = "--control"  # the worker's: the pipe on which its forking process reports
WORKER_USER_SETTING = "AUTOGRADER_WORKER_USER"
# What the worker's environment keeps of the judge's: no tokens or instructor settings leak in.
KEPT_VARIABLES = ("PATH", "LANG", "LANGUAGE", "PYTHONPATH", "PYTHONHASHSEED", "SYSTEMROOT")
KEPT_PREFIXES = ("LC_", "TF_", "OMP_", "MALLOC_", "KMP_", "CUDA_")


class SandboxUnavailable(RuntimeError):
    """AUTOGRADER_SANDBOX=require, and this machine cannot sandbox the worker."""


@dataclass(frozen=True)
class Confinement:
    """How the worker is confined on this machine, and the one line that says so."""

    bubblewrap: bool
    user: str | None
    description: str
    private: tuple[Path, ...] = ()  # folders learner code must not see (hidden checks)
    # Folders learner code sees empty, as /tmp and the homes (batch: the class's submissions and
    # outputs, wherever they are); the grader's own Python files in them stay readable.
    emptied: tuple[Path, ...] = ()

    @property
    def sandboxed(self) -> bool:
        return self.bubblewrap or self.user is not None


def setting() -> str:
    value = os.environ.get(SANDBOX_SETTING, "auto").strip().lower()
    return value if value in ("auto", "require", "off") else "auto"


@functools.cache
def bubblewrap_problem(user: str | None = None) -> str | None:
    """None when bubblewrap can start a sandbox here (as `user`); else why not, in a few words."""
    if not sys.platform.startswith("linux"):
        return f"no sandbox on {sys.platform} (bubblewrap is Linux only)"
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    probe = subprocess.run(
        ["bwrap", *_namespace_arguments(), "--ro-bind", "/", "/", "--dev", "/dev", "true"],
        capture_output=True,
        text=True,
        timeout=30,
        **as_user(user),
    )
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["it failed"])[-1]
        return f"bubblewrap cannot start a sandbox here ({reason})"
    return None


def confinement() -> Confinement:
    """This machine's confinement for workers; raises SandboxUnavailable under `require`."""
    user = worker_user()
    wanted = setting()
    problem = "AUTOGRADER_SANDBOX=off" if wanted == "off" else bubblewrap_problem(user)
    if problem is None:
        return Confinement(True, user, "sandbox: bubblewrap (read-only files, no network)")
    if user is not None:
        return Confinement(False, user, f"sandbox: learner code runs as the user {user}")
    if wanted == "require":
        raise SandboxUnavailable(f"no sandbox: {problem} (AUTOGRADER_SANDBOX=require)")
    return Confinement(
        False,
        None,
        f"No sandbox: {problem}; your code ran with your own permissions. That is fine for "
        "your own work; instructors grade in a sandbox.",
    )


def worker_user() -> str | None:
    """The unprivileged user to run workers as: only when set and the judge is root."""
    user = os.environ.get(WORKER_USER_SETTING, "").strip()
    if not user or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam(user)
    except KeyError:
        return None
    return user


MATPLOTLIB_FOLDER = ".matplotlib"  # in the worker's home: matplotlib's settings and font list
FONT_LIST_BYTES = 16 * 1024 * 1024  # a font list is tens of KB


def copy_font_list(folder: Path) -> None:
    """Give the worker the judge's matplotlib font list: `import keras` imports pyplot, which
    would otherwise search the system's fonts again in the worker's empty home, on the way of
    every grade (benchmarks/RESULTS.md, "Autograder speed"). Only a saving: a list that cannot
    be copied (a link, a device, too large) is searched for again, as before."""
    folder.mkdir(exist_ok=True)
    for cache in _matplotlib_caches():
        with contextlib.suppress(OSError):
            for font_list in cache.glob("fontlist-*.json"):
                copy_out(font_list, folder / font_list.name, FONT_LIST_BYTES)


def _matplotlib_caches() -> list[Path]:
    """Where matplotlib.get_cachedir() may be for the judge's user, found without importing
    matplotlib (0.1 s) before the worker starts; on Windows, both of its places."""
    if os.environ.get("MPLCONFIGDIR"):
        return [Path(os.environ["MPLCONFIGDIR"])]
    try:
        home = Path.home()
    except RuntimeError:  # no home folder: matplotlib has none either
        return []
    if sys.platform.startswith(("linux", "freebsd")):
        return [Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "matplotlib"]
    local = os.environ.get("LOCALAPPDATA")  # Windows, matplotlib 3.11 and later
    return [home / ".matplotlib", *([Path(local) / "matplotlib"] if local else [])]


def remove_tree(top: Path | str) -> None:
    """Remove a folder and all it holds, whatever modes learner code left on it and however deep
    it nested folders (shutil.rmtree recurses: past Python's limit it raises RecursionError,
    which stopped the judge, or batch for the whole class); what cannot be removed is left."""
    stack = [(os.fspath(top), False)]
    while stack:
        path, emptied = stack.pop()
        if emptied:
            with contextlib.suppress(OSError):
                os.rmdir(path)
            continue
        try:
            os.chmod(path, 0o700)  # a notebook may chmod 000
            entries = list(os.scandir(path))
        except OSError:
            continue
        stack.append((path, True))
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append((entry.path, False))
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def copy_out(source: Path, destination: Path, max_bytes: int) -> bool:
    """Copy a file that learner code may have placed, as the judge: only a regular file (never
    through a link that may be swapped in at any moment), and only up to `max_bytes`."""
    try:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        descriptor = os.open(source, flags)  # O_NONBLOCK: a FIFO put there cannot hang us
    except OSError:
        return False
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode) or status.st_size > max_bytes:
            return False
        with open(destination, "wb") as copy:
            shutil.copyfileobj(handle, copy)
    return True


def worker_environment(home: str) -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name in KEPT_VARIABLES or name.startswith(KEPT_PREFIXES)
    }
    quiet_environment(environment)
    environment.update(
        PYTHONUNBUFFERED="1",
        HOME=home,
        KERAS_HOME=str(Path(home) / ".keras"),
        MPLBACKEND="Agg",
        MPLCONFIGDIR=str(Path(home) / MATPLOTLIB_FOLDER),
        TMPDIR=home,
    )
    return environment


def worker_command(
    command: list[str], folder: Path, how: Confinement, seccomp: int | None = None
) -> list[str]:
    """`command` wrapped in bubblewrap when `how` says so: it may write `folder` only;
    `seccomp`: a descriptor to read a seccomp filter from (keyring_filter)."""
    if not how.bubblewrap:
        return command
    # No capabilities, even when the grader runs as root: learner code cannot unmount the empty
    # folders laid over the hidden ones, nor remount anything.
    arguments = ["bwrap", *_namespace_arguments(), "--cap-drop", "ALL"]
    arguments += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    arguments += ["--tmpfs", "/dev/shm"]
    # The sandbox's own POSIX message queues, listed there: the forking process sees any that a
    # notebook leaves (processes.ipc_objects), as it sees System V ones in /proc/sysvipc.
    arguments += ["--mqueue", MESSAGE_QUEUES]
    private = [Path(path).resolve() for path in how.private]
    # Shallowest first: an empty folder laid inside another one stays on top of it.
    emptied = sorted(
        dict.fromkeys([*_hidden_folders(folder, how.emptied), *private]),
        key=lambda p: len(p.parts),
    )
    for hidden in emptied:
        arguments += ["--tmpfs", str(hidden)]
    for path in _python_paths(folder, how.emptied):
        if path.exists() and not any(hidden in path.parents for hidden in private):
            arguments += ["--ro-bind", str(path), str(path)]
    for hidden in private:  # again, in case a Python path above held it (and what is inside)
        arguments += ["--tmpfs", str(hidden)]
    arguments += ["--bind", str(folder), str(folder), "--chdir", str(folder)]
    # Empty, and read-only: nothing to fill or share. Those inside a private folder were laid
    # over again with it.
    emptied = [path for path in emptied if not any(hidden in path.parents for hidden in private)]
    for hidden in [Path("/dev"), *emptied, Path("/dev/shm")]:
        arguments += ["--remount-ro", str(hidden)]
    if seccomp is not None:
        arguments += ["--seccomp", str(seccomp)]
    # The worker is the sandbox's process 1: learner code cannot kill it, and every process left
    # in the sandbox ends with it.
    return [*arguments, "--as-pid-1", "--", *command]


# The kernel keyring's system calls (add_key, request_key, keyctl) and the audit architecture
# whose numbers they are, for the machines the course is graded on.
KEYRING_CALLS = {
    "x86_64": (0xC000003E, (248, 249, 250)),
    "aarch64": (0xC00000B7, (217, 218, 219)),
}


def keyring_filter() -> bytes | None:
    """A seccomp filter (classic BPF, as bubblewrap's --seccomp reads it) that refuses the
    kernel keyring with EPERM: keyrings belong to a user, not to a sandbox, so a notebook could
    leave data there for the next student (red team). Other architectures' and x32 system calls
    are refused too, so that no other numbering reaches the keyring. None on other machines."""
    import errno
    import platform
    import struct

    known = KEYRING_CALLS.get(platform.machine())
    if known is None:
        return None
    architecture, calls = known
    load, equal, at_least, give = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, JEQ, JGE, RET
    allow, refuse = 0x7FFF0000, 0x00050000 | errno.EPERM  # SECCOMP_RET_ALLOW, RET_ERRNO
    count = len(calls)
    program = [
        (load, 0, 0, 4),  # seccomp_data.arch
        (equal, 1, 0, architecture),
        (give, 0, 0, refuse),
        (load, 0, 0, 0),  # seccomp_data.nr
        (at_least, count + 1, 0, 0x40000000),  # x32
        *[(equal, count - index, 0, call) for index, call in enumerate(calls)],
        (give, 0, 0, allow),
        (give, 0, 0, refuse),
    ]
    return b"".join(struct.pack("HBBI", *instruction) for instruction in program)


def _namespace_arguments() -> list[str]:
    return ["--unshare-all", "--die-with-parent", "--new-session"]


def _hidden_folders(folder: Path, emptied: tuple[Path, ...] = ()) -> list[Path]:
    """Temporary folders, every home folder and `emptied`: empty inside the sandbox."""
    import tempfile

    candidates = [Path("/tmp"), Path("/var/tmp"), Path("/home"), Path("/root")]
    candidates += [Path(tempfile.gettempdir()), Path.home(), folder.parent, *emptied]
    hidden = []
    for path in candidates:
        path = path.resolve()
        if path.is_dir() and path != Path("/") and path not in hidden:
            hidden.append(path)
    return hidden


def _python_paths(folder: Path, emptied: tuple[Path, ...] = ()) -> list[Path]:
    """What the worker's Python needs to read: its installation and every import location
    (never a folder that holds the judge's own, like the temporary folder itself, or that
    holds an emptied folder)."""
    import autograder
    import digits

    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent}
    paths.update(Path(entry) for entry in sys.path[1:] if entry)  # [0]: the judge's own folder
    for package in (autograder, digits):
        paths.add(Path(str(package.__file__)).resolve().parent)
    hidden = _hidden_folders(folder, emptied) + [folder]
    return sorted(
        path
        for path in {path.resolve() for path in paths}
        if not any(path == place or path in place.parents for place in hidden)
    )


def start_worker(
    command: list[str], folder: Path, log: IO[str], how: Confinement, pass_fds: Sequence[int] = ()
) -> Supervised:
    """Start a worker process confined as `how` says, in its own session and process group;
    `pass_fds`: descriptors it inherits (a control pipe)."""
    user = how.user
    fonts = folder / MATPLOTLIB_FOLDER
    copy_font_list(fonts)
    if user is not None:  # the folder last: until then, no process of `user` can change it
        _give_to(user, [*fonts.iterdir(), fonts, folder])
        _let_others_through(folder.parent)
    if user is not None and not how.bubblewrap and FORK_OPTION in command:
        # The forking process stays root, out of the learner's reach; each fork becomes `user`.
        command, user = [*command, USER_OPTION, user], None
    rules = keyring_filter() if how.bubblewrap else None
    seccomp = None
    if rules is not None:  # a pipe holds it (a few dozen bytes) until bubblewrap reads it
        seccomp, writing = os.pipe()
        os.write(writing, rules)
        os.close(writing)
    try:
        return Supervised(
            worker_command(command, folder, how, seccomp),
            cwd=folder,
            env=worker_environment(str(folder)),
            stderr=log,
            channel=True,
            user=how.user,  # every process of the worker's user is ended with it
            pass_fds=(*pass_fds, *([seccomp] if seccomp is not None else [])),
            popen=as_user(user),
        )
    finally:
        if seccomp is not None:
            os.close(seccomp)


def _give_to(user: str, paths: list[Path]) -> None:
    import pwd

    uid = pwd.getpwnam(user).pw_uid
    for path in paths:
        os.chown(path, uid, -1, follow_symlinks=False)


def become_user(user: str) -> None:
    """In a forked worker that runs as root: become `user`, with its group only, for good."""
    import pwd

    account = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(account.pw_gid)
    os.setuid(account.pw_uid)


def as_user(user: str | None) -> dict[str, Any]:
    """Popen's arguments that run a command as `user` (and only its own group)."""
    if user is None:
        return {}
    import pwd

    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


def _let_others_through(folder: Path) -> None:
    """Let the worker's user reach its folder through our private (0700) temporary folders:
    search permission only, so it can list none of them."""
    for path in [folder, *folder.parents]:
        mode = path.stat().st_mode
        if mode & 0o001 or path.stat().st_uid != os.geteuid():
            return
        path.chmod(mode | 0o001)
