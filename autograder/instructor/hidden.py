"""Hidden checks moved to `autograder.hidden` (the grader's own feature, not an instructor tool):
this name stays for the `checks.py` files written against it."""

from autograder.hidden import HiddenCheckFailed as HiddenCheckFailed
from autograder.hidden import hidden_check as hidden_check
