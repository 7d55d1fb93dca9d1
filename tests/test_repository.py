"""Repository-wide promises: CI runs the README's commands, and the code is ruff-clean."""

import re
import subprocess
import sys

README_INSTALL = "pip install -r requirements.txt"
README_TEST = "pytest"


def test_ci_runs_exactly_the_readme_commands(repo):
    readme = (repo / "README.md").read_text()
    setup = readme.split("## Set up and test", 1)[1].split("##", 1)[0]
    commands = re.findall(r"^    (\S.*?)\s*(?:#.*)?$", setup, flags=re.MULTILINE)
    assert commands == [README_INSTALL, README_TEST]
    ci_lines = [line.strip() for line in (repo / ".ci" / "run").read_text().splitlines()]
    assert README_INSTALL in ci_lines and README_TEST in ci_lines


def test_ruff_is_clean(repo):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", str(repo)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_requirements_install_this_repo_and_jupyter_book_1(repo):
    text = (repo / "requirements.txt").read_text()
    lines = [line.split("#")[0].strip() for line in text.splitlines()]
    assert "-e .[book,dev]" in lines
    pyproject = (repo / "pyproject.toml").read_text()
    assert re.search(r'"jupyter-book[^"]*<2[^"]*"', pyproject)
    assert sys.version_info >= (3, 10)
