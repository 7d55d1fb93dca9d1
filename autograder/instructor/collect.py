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
from pathlib import Path

GRADED_SUFFIXES = (".ipynb", ".keras", ".h5")  # .h5: the reload cross-check reads it
IGNORED_FOLDERS = {".ipynb_checkpoints", ".git", "__pycache__", "__MACOSX"}


def submission_files(submission: Path) -> dict[str, Path]:
    """The notebooks and model files of a submission, by file name; the shallowest copy wins.

    Only regular files count: a symbolic link (to the grader's files, say) is never followed,
    since the grader copies and reads these files with its own permissions. So do only names
    that are printable text (Jupyter never saves another): a student controls every byte of a
    name, and a name that is not text would stop whatever writes it. The folders are walked
    without recursion, however deep, and one that cannot be read is left out."""
    candidates = []
    folders = [submission]
    while folders:
        try:
            entries = list(os.scandir(folders.pop()))
        except OSError:  # unreadable, or a path too long for the system
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in IGNORED_FOLDERS:
                    folders.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False) and _graded_name(entry.name):
                candidates.append(Path(entry.path))
    found: dict[str, Path] = {}
    for path in sorted(candidates, key=lambda path: (len(path.parts), str(path))):
        found.setdefault(path.name, path)
    return found


def _graded_name(name: str) -> bool:
    return Path(name).suffix in GRADED_SUFFIXES and name.isprintable()


def collect_submission(submission: Path, destination: Path) -> list[str]:
    """Copy a submission's graded files into ``destination``; return their names. A file that
    cannot be read is left out (the grade says it is missing); an error in ``destination`` (a
    full disk) is raised."""
    destination.mkdir(parents=True, exist_ok=True)
    copied = []
    for name, path in submission_files(submission).items():
        try:
            source = open(path, "rb")  # noqa: SIM115 (closed below)
        except OSError:
            continue
        with source, open(destination / name, "wb") as copy:
            shutil.copyfileobj(source, copy)
        copied.append(name)
    return sorted(copied)


def fingerprint(submission: Path) -> str:
    """A hash of the graded files' names and contents: equal when nothing graded has changed."""
    digest = hashlib.sha256()
    for name, path in sorted(submission_files(submission).items()):
        digest.update(name.encode() + b"\0")
        # An unreadable file digests as such: it is graded and reported, not a stop for the class.
        digest.update(file_digest(path) or b"unreadable")
    return digest.hexdigest()


def file_digest(path: Path) -> bytes | None:
    """The file's SHA-256, read in blocks (a model file may be large); None if unreadable."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            while block := file.read(1 << 20):
                digest.update(block)
    except OSError:
        return None
    return digest.digest()
