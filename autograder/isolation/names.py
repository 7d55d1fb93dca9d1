"""Names that learner code chooses (a class's, an exception's), fit for a message.

Learner code can name a class anything, lines of Markdown or HTML for the report included: a
name is shown only when it is a dotted Python name of sane length.
"""

from __future__ import annotations

import re

# A dotted Python name, as a class's module and qualified name make it (`<locals>` included).
PYTHON_NAME = re.compile(r"(?:[^\W\d]\w*|<locals>)(?:\.(?:[^\W\d]\w*|<locals>))*")
UNSHOWN_CLASS = "an object of a class whose name cannot be shown"
UNSHOWN_EXCEPTION = "an exception whose class name cannot be shown"


def type_name(name: object, instead: str = UNSHOWN_CLASS) -> str:
    """A class's name, fit for a message: learner code can name a class anything (lines of
    Markdown or HTML for the report), so a name that is not a dotted Python name of at most 100
    characters reads `instead`."""
    name = str(name)
    return name if len(name) <= 100 and PYTHON_NAME.fullmatch(name) else instead
