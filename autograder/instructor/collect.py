"""Find a learner's files in a submission, however it was uploaded, and fingerprint them.

A submission may hold the notebooks at its top (a Gradescope upload of files), inside
``exercises/`` (a whole repository from GitHub Classroom) or deeper. Gradescope and batch mode both
copy the graded files, flattened, into a fresh folder for the grader, so grading never writes into
the submission and the fingerprint of a submission only changes when the learner's work does.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path

GRADED_SUFFIXES = (".ipynb", ".keras", ".h5")  # .h5: the reload cross-check reads it
IGNORED_FOLDERS = {".ipynb_checkpoints", ".git", "__pycache__", "__MACOSX"}


def submission_files(submission: Path) -> dict[str, Path]:
    """The notebooks and model files of a submission, by file name; the shallowest copy wins.

    Only regular files count: a symbolic link (to the grader's files, say) is never followed,
    since the grader copies and reads these files with its own permissions."""
    found: dict[str, Path] = {}
    candidates = []
    for folder, folders, files in os.walk(submission):  # never follows a linked folder
        folders[:] = [name for name in folders if name not in IGNORED_FOLDERS]
        for name in files:
            path = Path(folder) / name
            if path.suffix in GRADED_SUFFIXES and stat.S_ISREG(path.lstat().st_mode):
                candidates.append(path)
    for path in sorted(candidates, key=lambda path: (len(path.parts), str(path))):
        found.setdefault(path.name, path)
    return found


def collect_submission(submission: Path, destination: Path) -> list[str]:
    """Copy a submission's graded files into ``destination``; return their names."""
    destination.mkdir(parents=True, exist_ok=True)
    files = submission_files(submission)
    for name, path in files.items():
        shutil.copyfile(path, destination / name, follow_symlinks=False)
    return sorted(files)


def fingerprint(submission: Path) -> str:
    """A hash of the graded files' names and contents: equal when nothing graded has changed."""
    digest = hashlib.sha256()
    for name, path in sorted(submission_files(submission).items()):
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
