"""Has a learner's repository changed the grader? For GitHub Classroom, where grading runs in it.

    python -m autograder.instructor.tamper [ROOT]                 # instructor: print it
    python -m autograder.instructor.tamper [ROOT] --expect SHA256  # workflow: exit 1 if it differs

The fingerprint is a sha256 of every file under ``autograder/`` and ``.github/`` (names and
contents). The instructor records it as an Actions variable of the classroom's organization
(``AUTOGRADER_SHA256``), which learners cannot edit; the Classroom workflow compares before
grading and reports an edited grader instead of a score.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

GUARDED = ("autograder", ".github")
SKIPPED = ("__pycache__",)


def guarded_files(root: Path) -> list[Path]:
    files = []
    for folder in GUARDED:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and not set(SKIPPED) & set(path.parts) and path.suffix != ".pyc":
                files.append(path)
    return files


def grader_fingerprint(root: Path) -> str:
    digest = hashlib.sha256()
    for path in guarded_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.instructor.tamper",
        description="Print, or check, the fingerprint of a repository's autograder/ and .github/.",
    )
    parser.add_argument("root", nargs="?", default=".", type=Path, help="the repository")
    parser.add_argument("--expect", metavar="SHA256", help="the instructor's fingerprint")
    args = parser.parse_args(argv)
    fingerprint = grader_fingerprint(args.root)
    if args.expect is None:
        print(fingerprint)
        return 0
    if fingerprint == args.expect.strip():
        print("The grader (autograder/ and .github/) is the instructor's.")
        return 0
    print(
        "EDITED GRADER: autograder/ or .github/ differs from the instructor's version, so this "
        "run gives no score. Restore them (git checkout origin/main -- autograder .github, or "
        "from the template repository) and push again; your instructor sees this run."
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
