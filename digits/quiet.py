"""TensorFlow's process settings, the one place they live: `QUIET_TENSORFLOW` for a process about
to start (the grader's workers, benchmarks, tests), `quiet_tensorflow()` in a notebook, and
`share_cores()` for programs that run side by side."""

import os
import sys
import tempfile
from collections.abc import MutableMapping

# Environment settings that keep TensorFlow's C++ log (INFO, WARNING, ERROR) off stderr.
QUIET_TENSORFLOW = {"TF_CPP_MIN_LOG_LEVEL": "3"}

# Environment settings for the size of TensorFlow's thread pools (and oneDNN's, through OpenMP).
THREAD_SETTINGS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")


def threads_per_process(processes: int) -> int:
    """Each of `processes` TensorFlow programs running side by side gets its share of the cores:
    by default each sizes its thread pools for the whole machine, and together they fight over
    the cores and spend CPU on threads that spin."""
    return max(1, cores() // max(1, processes))


def cores() -> int:
    """The cores this process may run on (a container or CI runner may allow fewer than the
    machine has)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def share_cores(threads: int, environment: MutableMapping[str, str] = os.environ) -> None:
    """Set TensorFlow's thread pools to `threads` in `environment`, where not set already."""
    for name in THREAD_SETTINGS:
        environment.setdefault(name, str(threads))


def quiet_environment(environment: MutableMapping[str, str] = os.environ) -> None:
    """Add the quiet settings to `environment` (this process's, by default) where not set."""
    for name, value in QUIET_TENSORFLOW.items():
        environment.setdefault(name, value)


def quiet_tensorflow() -> None:
    """Load TensorFlow without its C++ start-up log, lines a learner cannot act on.

    Every notebook's set-up cell calls it. TensorFlow writes those lines (``Could not find cuda
    drivers``, ``cpu_feature_guard``, ``failed call to cuInit``) straight to the process's stderr,
    which Jupyter shows under the cell, on a machine without a GPU. ``TF_CPP_MIN_LOG_LEVEL=3``
    (unless already set) silences the later ones; the first ones come while TensorFlow loads, so
    it is loaded here with stderr set aside. If loading fails, what it wrote is shown with the
    error; Python's own warnings and errors are never hidden.
    """
    quiet_environment()
    show_notices_as_text()
    if "tensorflow" in sys.modules:
        return
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+") as held:
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def show_notices_as_text() -> None:
    """Print the course's data notices (`digits.data.DataNotice`: the offline sample is used) as
    a plain line on stdout: Jupyter shows a warning, written to stderr, in a pink box like an
    error. Every other warning is shown as before."""
    import warnings

    from digits.data import DataNotice

    shown = warnings.showwarning
    if getattr(shown, "course_notices", False):
        return  # already installed (the set-up cell ran again)

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, DataNotice):
            print(f"Note: {message}", flush=True)
            return
        shown(message, category, filename, lineno, file, line)

    show.course_notices = True  # type: ignore[attr-defined]
    warnings.showwarning = show
