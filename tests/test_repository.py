"""Repository-wide promises: CI runs the README's commands, and the code is ruff-clean."""

import os
import re
import subprocess
import sys

from digits.quiet import THREAD_SETTINGS, threads_per_process

README_INSTALL = "pip install -r requirements.txt"
README_TEST = "pytest -n auto --dist loadgroup"


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


def test_code_and_notebooks_are_ruff_formatted(repo):
    """What pre-commit's ruff-format hook checks: every Python file and notebook (the book's
    chapters too), so `pre-commit run --all-files` passes on a fresh clone."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "."],
        capture_output=True,
        text=True,
        cwd=repo,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean(repo):
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], capture_output=True, text=True, cwd=repo
    )
    assert result.returncode == 0, result.stdout + result.stderr


STRICT = "autograder/isolation"  # the code between the judge and learner code: no untyped line
# The modules it imports (submission, digits.quiet) are read for their types, and held to the
# project's own mypy settings by the test above, not to --strict.


def test_mypy_strict_is_clean_on_the_isolation_layer(repo):
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", STRICT],
        capture_output=True,
        text=True,
        cwd=repo,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_requirements_install_this_repo_and_jupyter_book_1(repo):
    text = (repo / "requirements.txt").read_text()
    lines = [line.split("#")[0].strip() for line in text.splitlines()]
    assert "-e .[book,dev]" in lines
    pyproject = (repo / "pyproject.toml").read_text()
    assert re.search(r'"jupyter-book[^"]*<2[^"]*"', pyproject)


def valid_workflow(repo, name: str) -> dict:
    """A workflow of .github/workflows, validated offline against GitHub's schema, parsed."""
    import yaml

    path = repo / ".github" / "workflows" / name
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema"]
    result = subprocess.run(
        [*command, "vendor.github-workflows", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return yaml.safe_load(path.read_text())


def test_project_workflow_is_valid_and_runs_the_readme_commands(repo):
    workflow = valid_workflow(repo, "ci.yml")
    jobs = workflow["jobs"]
    fast = [step.get("run") for step in jobs["fast"]["steps"]]
    assert README_INSTALL in fast and 'pytest -m "not slow"' in fast and "ruff check ." in fast
    assert jobs["fast"]["strategy"]["matrix"]["python-version"] == ["3.10", "3.11", "3.12", "3.13"]
    assert any(".ci/run" in (step.get("run") or "") for step in jobs["full"]["steps"])


def test_pages_workflow_is_valid_and_publishes_the_site_built_on_full_mnist(repo):
    workflow = valid_workflow(repo, "pages.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["permissions"]["pages"] == "write"
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    text = (repo / ".github" / "workflows" / "pages.yml").read_text()
    assert "MNIST_OFFLINE" not in text and "MNIST_PATH" not in text
    runs = [step.get("run") or "" for step in build["steps"]]
    uses = [step.get("uses") or "" for step in build["steps"]]
    assert README_INSTALL in runs
    full_mnist = next(i for i, run in enumerate(runs) if "data.source == 'mnist'" in run)
    building = next(i for i, run in enumerate(runs) if run.startswith("jupyter-book build"))
    assert full_mnist < building, "the build must not start before full MNIST is there"
    upload = next(
        step for step in build["steps"] if "upload-pages-artifact" in step.get("uses", "")
    )
    assert upload["with"]["path"] == "_build/html" and uses.index(upload["uses"]) > building
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert any("deploy-pages" in step.get("uses", "") for step in deploy["steps"])


def test_pre_commit_runs_ruff_and_the_exercise_sync_check(repo):
    import yaml

    config = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for entry in config["repos"] for hook in entry["hooks"]}
    assert {"ruff-check", "ruff-format", "exercises-in-sync"} <= set(hooks)
    assert hooks["exercises-in-sync"]["entry"] == "python -m autograder.instructor.generate --check"


def test_pre_commit_and_the_test_suite_run_the_same_ruff(repo):
    """A hook that formats with another ruff than the suite checks with fights it."""
    import yaml

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    config = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text())
    ruff = [entry for entry in config["repos"] if entry["repo"].endswith("/ruff-pre-commit")]
    (rev,) = [entry["rev"] for entry in ruff]
    dev = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert f"ruff=={rev.removeprefix('v')}" in dev["dev"]


def test_parallel_test_processes_make_each_shared_fixture_once_and_share_the_cores(repo, tmp_path):
    """The README's `pytest -n auto --dist loadgroup` runs the tests that share the built site
    (or the executed solutions) in one process: made once, not once per process. pytest 9.2
    broke that without a word (see pyproject.toml); this is how we would know. Each process
    sizes TensorFlow's thread pools for its share of the cores, not the whole machine."""
    made = tmp_path / "made.txt"
    # The conftest's own `book` fixture builds the site: a stand-in replaces it (defined last).
    (tmp_path / "conftest.py").write_text(
        (repo / "tests" / "conftest.py").read_text()
        + "\n\n@pytest.fixture(scope='session')\ndef book():\n"
        f"    with open({str(made)!r}, 'a') as log:\n"
        "        log.write(os.environ.get('PYTEST_XDIST_WORKER', 'main') + '\\n')\n"
    )
    threads = tmp_path / "threads.txt"
    header = "import os\n\nfrom digits.quiet import THREAD_SETTINGS\n\n\n"
    test = (
        "def test_{n}(book):\n    pass\n\n\ndef test_other_{n}():\n"
        f"    with open({str(threads)!r}, 'a') as log:\n"
        "        settings = (os.environ.get(name, 'unset') for name in THREAD_SETTINGS)\n"
        "        log.write(' '.join(settings) + '\\n')\n\n\n"
    )
    tests = header + "".join(test.format(n=n) for n in range(3))
    for module in ("test_one.py", "test_two.py"):
        (tmp_path / module).write_text(tests)
    command = [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-q"]
    python_path = [path for path in [os.environ.get("PYTHONPATH")] if path]
    result = subprocess.run(
        [*command, "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={
            **{name: value for name, value in os.environ.items() if name not in THREAD_SETTINGS},
            "PYTHONPATH": os.pathsep.join([str(tmp_path), *python_path]),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "12 passed" in result.stdout, result.stdout
    assert len(made.read_text().split()) == 1, "the shared fixture was made in each process"
    share = str(threads_per_process(2))
    assert set(threads.read_text().split()) == {share}, "TensorFlow sized for the whole machine"


def test_the_readme_leads_a_learner_to_the_learners_commands_first(repo):
    """The README's first command was the project's 15-minute test suite, which, run after
    the exercises, fails on the learner's answers."""
    readme = (repo / "README.md").read_text()
    parts = [readme.index(f"\n## For {who}") for who in ("learners", "instructors", "maintainers")]
    assert parts == sorted(parts)
    learners = readme[parts[0] : parts[1]]
    first_command = re.search(r"^    (\S.*?)\s*(?:#.*)?$", readme, flags=re.MULTILINE)
    assert first_command and first_command.group(1) == "python -m venv .venv"
    assert "in each new terminal" in learners and "python -m autograder" in learners
    assert readme.index(README_TEST) > parts[2]  # the maintainers' part
    assert "instructor.generate" not in learners
