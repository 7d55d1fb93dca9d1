"""What a check ends with (`Outcome`), its result, and the bonus rule: written once, here."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum

SURROGATES = re.compile(r"[\ud800-\udfff]")  # lone halves of a UTF-16 pair


class Outcome(str, Enum):
    """A check's outcome; its value is what reports, results.json and batch CSVs show."""

    PASSED = "passed"
    FAILED = "failed"  # a catalogued mistake
    NOT_ATTEMPTED = "not attempted"  # the stub still raises NotImplementedError
    ERROR = "error"  # the learner's code raised, hung or exited (or the grader could not check)
    SKIPPED = "skipped"  # an earlier check of the exercise did not pass

    def __str__(self) -> str:
        return self.value


@dataclass
class CheckResult:
    check_id: str
    exercise: str
    title: str
    points: float
    outcome: Outcome
    message: str = ""
    hint: str = ""
    mistake: str = ""
    details: str = ""  # a traceback, shown with --verbose
    bonus: bool = False

    @property
    def score(self) -> float:
        return self.points if self.outcome == Outcome.PASSED else 0.0

    def printable(self) -> CheckResult:
        """This result with text that every report can print and write (see `printable`)."""
        return replace(
            self,
            message=printable(self.message),
            hint=printable(self.hint),
            details=printable(self.details),
        )


def printable(text: str) -> str:
    """`text` as every report can print and write it (terminal, results.json, feedback files,
    CSV): learner code makes strings that no encoding can write, lone surrogates such as
    `chr(0xD800)`, which stopped whatever printed them. Each one reads as U+FFFD."""
    return SURROGATES.sub("\ufffd", text)


def shown_name(folder_name: str) -> str:
    """A folder's name as text: bytes that are not UTF-8 (a name written in Latin-1, which
    Python reads as lone surrogates that no report can encode) shown as escapes, "caf\\xe9"."""
    return os.fsencode(folder_name).decode("utf-8", "backslashreplace")


def counted(results: Iterable[CheckResult], only: str | None = None) -> list[CheckResult]:
    """The bonus rule: the checks that make full marks. A bonus exercise adds to the score on top
    of them; a partial grade (--only) counts every check it graded."""
    return [result for result in results if only or not result.bonus]


def bonus(results: Iterable[CheckResult], only: str | None = None) -> list[CheckResult]:
    """The checks that add bonus points on top of full marks (none with --only)."""
    return [result for result in results if result.bonus and not only]
