"""Keep TensorFlow's C++ start-up log out of the notebooks: `quiet_tensorflow()`."""

import os
import sys
import tempfile


def quiet_tensorflow() -> None:
    """Load TensorFlow without its C++ start-up log, lines a learner cannot act on.

    Every notebook's set-up cell calls it. TensorFlow writes those lines (``Could not find cuda
    drivers``, ``cpu_feature_guard``, ``failed call to cuInit``) straight to the process's stderr,
    which Jupyter shows under the cell, on a machine without a GPU. ``TF_CPP_MIN_LOG_LEVEL=3``
    (unless already set) silences the later ones; the first ones come while TensorFlow loads, so
    it is loaded here with stderr set aside. If loading fails, what it wrote is shown with the
    error; Python's own warnings and errors are never hidden.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
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
