"""The course configuration: an instructor's settings for the autograder, in one TOML file.

The grader reads the first of:

1. the file named by the ``AUTOGRADER_CONFIG`` environment variable (it must exist);
2. ``course.toml`` in the current folder;
3. ``course.toml`` in the folder above the graded one (the repository root for ``exercises/``).

It never reads one from the graded folder itself, which the learner controls, nor from the
current folder when that is the graded folder or inside it (``python -m autograder .``). Every
key is optional; without a file, the grader uses its defaults. `TEMPLATE` is a commented example
with help for every key (``python -m autograder.config`` prints it).

The check ids that ``[points]`` may name are the caller's to give (`exercises.CHECK_IDS`): this
module reads no registry, so the exercises, which read the configuration, can import it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the backport (requirements.txt installs it there)
    import tomli as tomllib

ENVIRONMENT_VARIABLE = "AUTOGRADER_CONFIG"
FILE_NAME = "course.toml"
MODEL_KINDS = ("dense", "cnn", "challenge")
TIME_LIMITS = ("save_model", "call")

# section -> key -> help. "points" takes any check id as a key.
HELP = {
    "marks": {
        "dense": "test-accuracy mark (0 to 1) of handwritten.keras (build_model) on a custom "
        "MNIST_PATH file",
        "cnn": "test-accuracy mark (0 to 1) of handwritten_cnn.keras (build_cnn) on a custom "
        "MNIST_PATH file",
        "challenge": "test-accuracy mark (0 to 1) of challenge.keras (build_challenge_model) on a "
        "custom MNIST_PATH file",
    },
    "points": {
        "<check id>": 'points of one check, for example "build_model.accuracy" = 3 '
        "(python -m autograder --help lists the check ids)",
    },
    "time_limits": {
        "save_model": "seconds build_model()/build_cnn() may take to return its model",
        "call": "seconds one call of argmax_accuracy() may take",
    },
}

TEMPLATE = """\
# course.toml: the instructor's settings for the autograder. Every key is optional.

[marks]
# Test-accuracy marks for a custom MNIST_PATH file whose test set is not MNIST's own.
# (Full MNIST and the offline sample have calibrated marks: these do not change them.)
# Measure them: train the reference solutions on your data, see benchmarks/RESULTS.md.
dense = 0.95   # handwritten.keras (build_model)
cnn = 0.98     # handwritten_cnn.keras (build_cnn)

[points]
# Points per check, by check id (the ids are in the grader's report).
"build_model.accuracy" = 2

[time_limits]
# Seconds the grader waits for the learner's code before reporting a hang.
save_model = 20   # build_model() / build_cnn() returning its model
call = 5          # one call of argmax_accuracy()
"""


class ConfigError(ValueError):
    """The course configuration file is unreadable or holds an unknown key or a bad value.

    Its text names the file by its full path (for the instructor); `for_learners` by its name
    only: a learner's report never shows where the instructor keeps files."""

    def __init__(self, path: Path | str, problem: str):
        self.path, self.problem = Path(path), problem
        super().__init__(f"{path}: {problem}")

    @property
    def for_learners(self) -> str:
        return f"{self.path.name}: {self.problem}"


@dataclass(frozen=True)
class CourseConfig:
    path: Path | None = None  # None: no file, the grader's defaults
    marks: dict[str, float] = field(default_factory=dict)  # model kind -> mark
    points: dict[str, float] = field(default_factory=dict)  # check id -> points
    time_limits: dict[str, float] = field(default_factory=dict)  # "save_model"/"call" -> s
    # Why the file found was set aside (the defaults apply), in words fit for a learner's report
    problem: str = ""


def find(submission: Path | str | None = None) -> Path | None:
    """The course configuration file that applies, or None (see the module docstring)."""
    named = os.environ.get(ENVIRONMENT_VARIABLE)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(path, f"no such file (named by {ENVIRONMENT_VARIABLE}).")
        return path
    here = Path.cwd().resolve()
    graded = Path(submission).resolve() if submission is not None else None
    candidates = []
    if graded is None or not (here == graded or graded in here.parents):
        candidates.append(here / FILE_NAME)  # not when the grader runs in the learner's folder
    if graded is not None:
        candidates.append(graded.parent / FILE_NAME)
    return next((path for path in candidates if path.is_file()), None)


def load(submission: Path | str | None = None, *, check_ids: Collection[str]) -> CourseConfig:
    """The course configuration that applies to grading `submission` (defaults if none);
    `check_ids`: the checks that [points] may name."""
    path = find(submission)
    return CourseConfig() if path is None else read(path, check_ids)


def read(path: Path | str, check_ids: Collection[str]) -> CourseConfig:
    """Read and check a course configuration file whose [points] may name `check_ids`;
    ConfigError names the bad key."""
    path = Path(path)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(path, f"not a readable TOML file ({error}).") from error
    unknown = sorted(set(table) - set(HELP))
    if unknown:
        raise ConfigError(path, f"unknown section [{unknown[0]}]; use {_names(HELP)}.")
    marks = _numbers(path, table, "marks", MODEL_KINDS, low=0.0, high=1.0)
    points = _numbers(path, table, "points", check_ids, low=0.0)
    limits = _numbers(path, table, "time_limits", TIME_LIMITS, low=0.1)
    return CourseConfig(path, marks, points, limits)


def for_grading(
    submission: Path | str | None, check_ids: Collection[str]
) -> tuple[CourseConfig, str]:
    """The configuration for a grading run, and a note when an invalid one had to be ignored."""
    try:
        course = load(submission, check_ids=check_ids)
    except ConfigError as error:
        note = f"course configuration ignored (the defaults apply): {error.for_learners}"
        return CourseConfig(problem=error.for_learners), note
    return course, _applied(course.path) if course.path else ""


def _applied(path: Path) -> str:
    """Which course.toml applied, without its full path (feedback reaches learners)."""
    if os.environ.get(ENVIRONMENT_VARIABLE):
        where = f"named by {ENVIRONMENT_VARIABLE}"
    elif path == Path.cwd().resolve() / FILE_NAME:
        where = "in the current folder"
    else:
        where = "in the folder above the graded one"
    return f"course configuration: {path.name} {where}"


def with_points(exercises: list, points: dict[str, float]) -> list:
    """The exercises, with the points of the checks that the configuration's [points] sets."""
    return [
        replace(
            exercise,
            checks=[
                replace(check, points=points.get(check.check_id, check.points))
                for check in exercise.checks
            ],
        )
        for exercise in exercises
    ]


def _numbers(path, table, section, allowed, low, high=float("inf")) -> dict[str, float]:
    values = table.get(section, {})
    if not isinstance(values, dict):
        raise ConfigError(path, f"{section} must be a section: [{section}].")
    numbers = {}
    for key, value in values.items():
        if key not in allowed:
            raise ConfigError(path, f"unknown key {key!r} in [{section}]; use {_names(allowed)}.")
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or not low <= value <= high:
            limit = f"from {low:g} to {high:g}" if high < float("inf") else f"at least {low:g}"
            raise ConfigError(path, f"[{section}] {key} = {value!r}; expected a number {limit}.")
        numbers[key] = float(value)
    return numbers


def _names(names) -> str:
    return ", ".join(names)


if __name__ == "__main__":
    print(TEMPLATE, end="")
