"""What the chapters of the course site need beyond the lesson: `glue`, for numbers in the text.

The chapters put the figures they compute into their prose with MyST-NB's ``glue`` (a
``{glue:text}`` role in the text, a ``glue(...)`` call in a cell that the site does not show).
Opened on Colab, Kaggle or Binder, where MyST-NB is not installed, the same calls do nothing.
"""

from __future__ import annotations

try:
    from myst_nb import glue as _myst_glue
except ImportError:  # not building the site: nothing to glue into
    _myst_glue = None


def glue(name: str, value, display: bool = False) -> None:
    """``myst_nb.glue(name, value, display)`` while the site is built, else nothing."""
    if _myst_glue is not None:
        _myst_glue(name, value, display=display)
