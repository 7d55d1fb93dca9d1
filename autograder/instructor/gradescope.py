"""Build the autograder zip that Gradescope expects, and grade one submission inside Gradescope.

    python -m autograder.instructor.gradescope --out autograder.zip [--mnist mnist.npz]

Upload the zip as a Gradescope "Autograder" (base image: Ubuntu). Gradescope unpacks it into
``/autograder/source``, runs ``setup.sh`` once to build its image, then runs ``run_autograder`` for
every submission; that calls ``python -m autograder.instructor.gradescope --run /autograder``,
which copies the learner's notebooks out of ``/autograder/submission`` and runs the grader with
``--json /autograder/results/results.json``.

``--mnist`` ships a copy of Keras' ``mnist.npz`` (11 MB) and points ``MNIST_PATH`` at it, so
grading needs no download. Without it, ``setup.sh`` downloads MNIST once into the image.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zipfile
from importlib import metadata, resources
from pathlib import Path

from autograder.hidden import hidden_files
from autograder.instructor.collect import collect_submission
from digits.data import MnistDataError, load_mnist_file

# Package data of `autograder` (pyproject.toml declares it), wherever the package is installed.
TEMPLATES = resources.files("autograder.instructor") / "gradescope_files"
DISTRIBUTION = "handwritten-digits"
SHIPPED_PACKAGES = ("autograder", "digits")  # with their package data: the offline MNIST sample
MNIST_IN_ZIP = "data/mnist.npz"
HIDDEN_IN_ZIP = "hidden"
GRADER = (sys.executable, "-m", "autograder", "--train")
MNIST_MARKER = "# @MNIST@ (the builder writes the MNIST setting here)"
EXECUTABLE = 0o100755  # a regular file, rwxr-xr-x, as zip's external attributes store it
REGULAR = 0o100644


def grading_requirements() -> str:
    """The course package's own dependencies (pyproject.toml's, without the extras), as
    requirements lines: what grading needs, read from the installed package's metadata."""
    declared = metadata.requires(DISTRIBUTION) or []
    kept = [requirement for requirement in declared if "extra ==" not in requirement]
    if not kept:
        raise RuntimeError(
            f"The installed {DISTRIBUTION} declares no dependencies (an old editable install?): "
            "run `pip install -r requirements.txt` again."
        )
    header = "# The grader's requirements: the course package's dependencies (setup.sh installs)."
    return "\n".join([header, *kept]) + "\n"


def run_autograder_script(mnist_shipped: bool) -> str:
    text = _template("run_autograder")
    setting = (
        f'export MNIST_PATH="$SOURCE/{MNIST_IN_ZIP}"  # shipped in the zip: no download'
        if mnist_shipped
        else "# No mnist.npz shipped: Keras' cache from setup.sh, else the offline sample."
    )
    return text.replace(MNIST_MARKER, setting)


def build_zip(out: Path, mnist: Path | None = None, hidden: Path | None = None) -> list[str]:
    """Write the Gradescope autograder zip; return the names it holds. `hidden`: a folder of
    hidden checks, shipped as hidden/ and readable by the grader only."""
    if mnist is not None:
        load_mnist_file(mnist)  # fail here, with the loader's message, not on Gradescope
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        _add_text(archive, "setup.sh", _template("setup.sh"), EXECUTABLE)
        _add_text(archive, "run_autograder", run_autograder_script(mnist is not None), EXECUTABLE)
        _add_text(archive, "requirements.txt", grading_requirements(), REGULAR)
        for package in SHIPPED_PACKAGES:
            root = Path(str(resources.files(package)))
            for path in sorted(root.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    archive.write(path, f"{package}/{path.relative_to(root).as_posix()}")
        if mnist is not None:
            archive.write(mnist, MNIST_IN_ZIP)
        for name, path in hidden_files(hidden):
            archive.write(path, f"{HIDDEN_IN_ZIP}/{name}")
        return archive.namelist()


def grade_submission(root: Path, grader: tuple[str, ...] = GRADER) -> Path:
    """Inside Gradescope: grade ``root/submission`` and write ``root/results/results.json``."""
    work = root / "work"
    results = root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    copied = collect_submission(root / "submission", work)
    print(f"Grading {', '.join(copied) or 'an empty submission'}", flush=True)
    hidden = root / "source" / HIDDEN_IN_ZIP
    if hidden.is_dir():
        hidden.chmod(0o700)  # the grader's alone: the learner's user cannot look inside
        grader = (*grader, "--hidden", str(hidden))
    completed = subprocess.run([*grader, str(work), "--json", str(results)], cwd=work)
    if not _is_results_file(results):
        _write_failure(results, completed.returncode)
    return results


def _template(name: str) -> str:
    # Normalise line endings: a Windows checkout may have turned the scripts' LF into CRLF.
    return (TEMPLATES / name).read_text(encoding="utf-8").replace("\r\n", "\n")


def _add_text(archive: zipfile.ZipFile, name: str, text: str, mode: int) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, text)


def _is_results_file(path: Path) -> bool:
    try:
        return "score" in json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False


def _write_failure(results: Path, exit_code: int) -> None:
    """Results that tell the learner what to do when the grader itself could not finish."""
    message = (
        f"The autograder could not finish grading this submission (exit code {exit_code}). "
        "Check that each notebook runs from top to bottom (Kernel > Restart Kernel and Run All "
        "Cells) and that you uploaded the .ipynb files, then submit again. If this keeps "
        "happening, tell your instructor."
    )
    payload = {"score": 0, "output": message, "output_format": "md", "tests": []}
    results.write_text(json.dumps(payload, indent=2), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.instructor.gradescope",
        description="Build the Gradescope autograder zip (or, inside Gradescope, grade).",
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--out", type=Path, help="where to write the zip, e.g. autograder.zip")
    action.add_argument("--run", type=Path, metavar="ROOT", help=argparse.SUPPRESS)
    parser.add_argument("--mnist", type=Path, help="a copy of Keras' mnist.npz to ship")
    parser.add_argument("--hidden", type=Path, help="a folder of hidden checks to ship")
    args = parser.parse_args(argv)
    if args.run is not None:
        grade_submission(args.run)
        return 0  # Gradescope reads results.json; the grader's exit code says nothing more
    try:
        names = build_zip(args.out, args.mnist, args.hidden)
    except MnistDataError as error:
        parser.error(f"--mnist: {error}")
    size_mb = args.out.stat().st_size / 1e6
    print(f"Wrote {args.out} ({len(names)} files, {size_mb:.1f} MB).")
    print("Upload it on Gradescope: Assignment > Configure Autograder > Zip file upload.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
