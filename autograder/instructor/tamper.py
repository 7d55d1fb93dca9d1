"""Has a learner's repository changed the course? For GitHub Classroom, where grading runs in it.

    python -m autograder.instructor.tamper [ROOT]                   # instructor: print it
    python -m autograder.instructor.tamper [ROOT] --expect SHA256   # exit 1 if it differs
    python -m autograder.instructor.tamper REPO --template TEMPLATE # list what differs

The fingerprint covers every file of the repository outside ``exercises/``, by name and content:
the grader, the course package it imports (``digits/``, with the offline data), the install and
configuration files, and whatever a learner adds beside them, since Python imports a file named
``argparse.py`` or a compiled ``__pycache__/*.pyc`` as readily as the grader's own code.
``exercises/`` is the learner's: notebooks, model files, images.

In a Git repository those files are the ones its current commit holds (what Classroom's checkout
gets), read from Git itself, so line endings converted on checkout (Windows) do not matter; in a
folder without ``.git``, every file but ``.git/`` is read, which gives the same fingerprint for
the same files. The instructor records the template's fingerprint as an Actions variable of the
classroom's organization (``AUTOGRADER_SHA256``), which learners cannot edit.

Run it outside the learner's repository: Python imports from the current folder first, so in
there ``python -m`` would run the learner's copy of this module. The Classroom workflow runs the
learner's copy inside (nothing else is there), as ``python -I autograder/instructor/tamper.py``
so that no file beside it is imported: a screen for edits that a learner commits and leaves the
workflow alone, where the instructor's check of a clone is the proof.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
from pathlib import Path

LEARNER_FOLDER = "exercises"  # the only folder a learner is meant to change
_KINDS = {"100644": "file", "100755": "file", "120000": "link", "160000": "commit"}  # Git modes


def repository_manifest(root: Path) -> dict[str, str]:
    """Each file outside exercises/ -> what it is and its Git object id ("file 3b18e5...")."""
    entries = _git_entries(root) if (root / ".git").exists() else _folder_entries(root)
    return {path: kind for path, kind in entries.items() if not _learners(path)}


def fingerprint(manifest: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for path in sorted(manifest):
        digest.update(f"{path}\0{manifest[path]}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def differences(repository: dict[str, str], template: dict[str, str]) -> list[str]:
    """What a repository changed outside exercises/, one "added|removed|changed: PATH" a file."""
    added = [f"added: {path}" for path in repository if path not in template]
    removed = [f"removed: {path}" for path in template if path not in repository]
    changed = [
        f"changed: {path}"
        for path in repository
        if path in template and repository[path] != template[path]
    ]
    return sorted(added + removed + changed, key=lambda line: line.split(": ", 1)[1])


def _learners(path: str) -> bool:
    return path.startswith(LEARNER_FOLDER + "/")


def _git_entries(root: Path) -> dict[str, str]:
    """The current commit's files: `git ls-tree` lines "MODE TYPE OBJECT<TAB>PATH"."""
    command = ["git", "-C", str(root), "ls-tree", "-r", "--full-tree", "-z", "HEAD"]
    try:
        listed = subprocess.run(command, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", b"").decode(errors="replace").strip() or error
        message = f"Git cannot list the files of {root}'s current commit: {detail}"
        raise SystemExit(message) from None
    entries = {}
    for line in filter(None, listed.split(b"\0")):
        about, path = line.split(b"\t", 1)
        mode, _, object_id = about.decode().split()
        entries[os.fsdecode(path)] = f"{_KINDS.get(mode, mode)} {object_id}"
    return entries


def uncommitted(root: Path) -> list[str]:
    """Files outside exercises/ that the working tree changed or deleted since the current
    commit (the fingerprint does not see them); none outside a Git repository."""
    if not (root / ".git").exists():
        return []
    command = ["git", "-C", str(root), "status", "--porcelain", "-z", "--untracked-files=no"]
    listed = subprocess.run(
        [*command, "--", ".", f":(exclude){LEARNER_FOLDER}"], capture_output=True
    ).stdout
    return [os.fsdecode(entry[3:]) for entry in listed.split(b"\0") if len(entry) > 3]


def _folder_entries(root: Path) -> dict[str, str]:
    """Every file under root but .git/, with the object id Git would give it."""
    entries = {}
    for folder, names, files in os.walk(root):
        names[:] = [name for name in names if not (folder == str(root) and name == ".git")]
        for name in files + [name for name in names if os.path.islink(os.path.join(folder, name))]:
            path = os.path.join(folder, name)
            relative = Path(path).relative_to(root).as_posix()
            if os.path.islink(path):
                entries[relative] = f"link {_blob_id(os.fsencode(os.readlink(path)))}"
            elif os.path.isfile(path):
                entries[relative] = f"file {_blob_id(Path(path).read_bytes())}"
            else:  # a pipe or a device: Git holds none, and reading one could wait forever
                entries[relative] = "special"
    return entries


def _blob_id(content: bytes) -> str:
    """Git's object id of a file's content (SHA-1 of "blob SIZE\\0" and the bytes)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.instructor.tamper",
        description="Print or check the fingerprint of a repository's files outside exercises/.",
    )
    parser.add_argument("root", nargs="?", default=".", type=Path, help="the repository")
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--expect", metavar="SHA256", help="the instructor's fingerprint")
    choice.add_argument("--template", type=Path, help="the template repository: list changes")
    args = parser.parse_args(argv)
    manifest = repository_manifest(args.root)
    changed = [
        os.fsencode(path).decode("utf-8", "backslashreplace") for path in uncommitted(args.root)
    ]
    if changed:
        listed = ", ".join(changed[:3]) + (", ..." if len(changed) > 3 else "")
        print(
            f"Note: {len(changed)} file(s) outside exercises/ differ from the last commit of "
            f"{args.root} ({listed}). The fingerprint is of the commit, which Classroom checks "
            "out: commit them first.",
            file=sys.stderr,
        )
    if args.template is not None:
        changes = differences(manifest, repository_manifest(args.template))
        shown = [os.fsencode(line).decode("utf-8", "backslashreplace") for line in changes]
        print("\n".join(shown) or "Nothing outside exercises/ differs from the template.")
        return 1 if changes else 0
    if args.expect is None:
        print(fingerprint(manifest))
        return 0
    if fingerprint(manifest) == args.expect.strip():
        print("Every file outside exercises/ is the instructor's.")
        return 0
    print(
        "EDITED COURSE FILES: a file outside exercises/ differs from the instructor's template "
        "(the grader, the digits package, the configuration, or a file added beside them), so "
        "this run gives no score. Only exercises/ is yours to change. "
        "`git log --stat -- . ':(exclude)exercises'` lists your commits that changed other "
        "files: restore those files from the template and push again. Your instructor sees "
        "this run."
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
