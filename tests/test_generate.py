"""exercises/ is generated from solutions/: in sync, byte for byte, and without solution text."""

import json
import re
import shutil

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from autograder.exercises import EXERCISES
from autograder.instructor import generate

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
GRADED = {exercise.notebook: exercise.function for exercise in EXERCISES}
# The exercises with a stub to write (exercise 5 plants bugs instead: tests/test_find_the_bug.py).
STUBBED = {
    name: function for name, function in GRADED.items() if name not in generate.read_planted()
}


@pytest.fixture
def copies(repo, tmp_path):
    """Writable copies of solutions/ and exercises/."""
    solutions = shutil.copytree(repo / "solutions", tmp_path / "solutions")
    exercises = shutil.copytree(repo / "exercises", tmp_path / "exercises")
    return solutions, exercises


def _check(solutions, exercises, capsys):
    code = generate.main(["--check", "--solutions", str(solutions), "--exercises", str(exercises)])
    return code, capsys.readouterr().out


def _sources(path):
    """Each cell's source, read from the raw JSON (independently of the generator)."""
    return ["".join(cell["source"]) for cell in json.loads(path.read_text())["cells"]]


def _marked_blocks(source):
    return re.findall(rf"^[ \t]*{BEGIN}\n(.*?)^[ \t]*{END}", source, flags=re.M | re.S)


def test_exercises_are_in_sync_with_solutions(capsys):
    assert generate.main(["--check"]) == 0, capsys.readouterr().out


def test_every_graded_function_has_an_exercise(repo):
    assert sorted(path.name for path in (repo / "exercises").glob("*.ipynb")) == sorted(
        path.name for path in (repo / "solutions").glob("*.ipynb")
    )
    assert set(GRADED) <= {path.name for path in (repo / "exercises").glob("*.ipynb")}


@pytest.mark.parametrize("name", sorted(GRADED))
def test_no_solution_line_leaks_into_its_exercise(repo, name):
    solution_cells = _sources(repo / "solutions" / name)
    blocks = [block for source in solution_cells for block in _marked_blocks(source)]
    assert blocks, f"{name} has no {BEGIN} block"
    exercise_text = "\n".join(_sources(repo / "exercises" / name))
    lines = {line.strip() for block in blocks for line in block.splitlines()}
    leaked = [line for line in lines if re.search(r"\w", line) and line in exercise_text]
    assert leaked == []
    assert BEGIN not in exercise_text and END not in exercise_text


@pytest.mark.parametrize(("name", "function"), sorted(STUBBED.items()))
def test_stub_raises_not_implemented_naming_the_function(repo, name, function):
    notebook = nbformat.read(repo / "exercises" / name, as_version=4)
    graded = [cell for cell in notebook.cells if "graded" in cell.metadata.get("tags", [])]
    assert len(graded) == 1
    namespace = {}
    exec(graded[0].source, namespace)
    stub = namespace[function]
    assert stub.__doc__, f"{function} lost its docstring"
    arguments = [None] * stub.__code__.co_argcount
    with pytest.raises(NotImplementedError, match=rf"Write {function}\(\)"):
        stub(*arguments)


@pytest.mark.parametrize("name", sorted(STUBBED))
def test_filled_in_exercise_is_the_solution(repo, name):
    """Putting each marked block back in place of its stub gives the solution, cell for cell."""
    solution_cells = _sources(repo / "solutions" / name)
    exercise_cells = _sources(repo / "exercises" / name)
    assert len(exercise_cells) == len(solution_cells)
    for solution, exercise in zip(solution_cells, exercise_cells, strict=True):
        filled = exercise
        for block in _marked_blocks(solution):
            filled = re.sub(
                r"^[ \t]*raise NotImplementedError\(.*\)\n?",
                lambda _, block=block: block,
                filled,
                count=1,
                flags=re.M,
            )
        without_markers = re.sub(rf"^[ \t]*({BEGIN}|{END})\n?", "", solution, flags=re.M)
        assert filled.rstrip("\n") == without_markers.rstrip("\n")


@pytest.mark.parametrize(
    "edit",
    [
        "edited-cell",
        "filled-in-stub",
        "not-a-notebook",
        "missing-exercise",
        "extra-exercise",
        "solution-changed",
    ],
)
def test_check_fails_when_exercises_drift(copies, capsys, edit):
    solutions, exercises = copies
    path = exercises / "01_build_model.ipynb"
    if edit == "edited-cell":
        path.write_text(path.read_text().replace("# Exercise 1", "# Exercise one"))
    elif edit == "filled-in-stub":
        path.write_text(path.read_text().replace("raise NotImplementedError", "return None  #"))
    elif edit == "not-a-notebook":
        path.write_text("{ broken")
    elif edit == "missing-exercise":
        path.unlink()
    elif edit == "extra-exercise":
        shutil.copy(path, exercises / "99_draft.ipynb")
    else:
        source = solutions / "01_build_model.ipynb"
        source.write_text(source.read_text().replace("# Exercise 1", "# Exercise one"))
    code, out = _check(solutions, exercises, capsys)
    assert code == 1
    assert "python -m autograder.instructor.generate" in out
    assert ("99_draft.ipynb" if edit == "extra-exercise" else "01_build_model.ipynb") in out


def test_check_reports_a_leaked_solution_line(copies, capsys):
    solutions, exercises = copies
    source = solutions / "01_build_model.ipynb"
    notebook = nbformat.read(source, as_version=4)
    line = next(line for line in generate.solution_lines(notebook) if '"' in line)
    notebook.cells.append(new_markdown_cell(f"Psst: `{line}`"))
    nbformat.write(notebook, source)
    generate.main(["--solutions", str(solutions), "--exercises", str(exercises)])
    capsys.readouterr()
    code, out = _check(solutions, exercises, capsys)
    assert code == 1
    assert "contains a line of the solution" in out and line in out


def test_generation_is_deterministic_and_repairs_drift(copies, capsys):
    solutions, exercises = copies
    originals = {path.name: path.read_bytes() for path in exercises.glob("*.ipynb")}
    (exercises / "01_build_model.ipynb").write_text("{}")
    (exercises / "99_stale.ipynb").write_text("{}")
    (exercises / "handwritten.keras").write_bytes(b"a learner's model")
    assert generate.main(["--solutions", str(solutions), "--exercises", str(exercises)]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "removed" in out and "99_stale.ipynb" in out
    assert {path.name: path.read_bytes() for path in exercises.glob("*.ipynb")} == originals
    assert (exercises / "handwritten.keras").read_bytes() == b"a learner's model"
    assert _check(solutions, exercises, capsys)[0] == 0


def _notebook(*cells):
    notebook = new_notebook(cells=list(cells))
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index}"
    return notebook


def _graded(source):
    return new_code_cell(source, metadata={"tags": ["graded"]})


def _generated_sources(notebook):
    return [
        cell["source"] for cell in nbformat.reads(generate.generate_notebook(notebook), 4).cells
    ]


def test_stub_keeps_indentation_and_the_code_around_it():
    source = (
        f"def outer(x):\n    if x:\n        {BEGIN}\n        return 1\n        {END}\n    return 0"
    )
    assert _generated_sources(_notebook(_graded(source))) == [
        "def outer(x):\n"
        "    if x:\n"
        '        raise NotImplementedError("Write outer(): replace this line with your code.")\n'
        "    return 0"
    ]


def test_outputs_and_solution_only_cells_are_removed_the_rest_kept():
    executed = new_code_cell(
        "print(1)", execution_count=3, outputs=[new_output("stream", text="1\n")]
    )
    secret = new_markdown_cell("Answer: 42", metadata={"tags": ["solution-only"]})
    notebook = _notebook(new_markdown_cell("# Title"), executed, secret)
    exercise = nbformat.reads(generate.generate_notebook(notebook), 4)
    assert [cell.source for cell in exercise.cells] == ["# Title", "print(1)"]
    assert exercise.cells[1].outputs == [] and exercise.cells[1].execution_count is None


def test_cells_without_ids_get_the_same_ids_every_time(tmp_path):
    path = tmp_path / "no_ids.ipynb"
    cell = {"cell_type": "markdown", "metadata": {}, "source": "Hi"}
    path.write_text(
        json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    generated = {generate.generate_notebook(generate.read_notebook(path)) for _ in range(3)}
    assert len(generated) == 1
    assert nbformat.reads(generated.pop(), 4).cells[0].id == "cell-0"


def test_notebook_without_markers_is_copied_unchanged():
    notebook = _notebook(new_markdown_cell("Draw a digit"), new_code_cell("x = 1"))
    text = nbformat.writes(notebook) + "\n"
    assert generate.generate_notebook(nbformat.reads(text, 4)) == text


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (new_code_cell(f"def f():\n    {BEGIN}\n    return 1\n    {END}"), "not tagged 'graded'"),
        (_graded(f"def f():\n    {BEGIN}\n    return 1"), f"{BEGIN} without {END}"),
        (_graded(f"def f():\n    return 1\n    {END}"), f"{END} without {BEGIN}"),
        (_graded(f"{BEGIN}\nx = 1\n{END}"), "outside any function"),
    ],
    ids=["untagged", "no-end", "no-begin", "no-function"],
)
def test_broken_markers_are_named(cell, message):
    with pytest.raises(generate.MarkerError, match=re.escape(message)):
        generate.generate_notebook(_notebook(cell), "solutions/x.ipynb")


def test_the_set_up_cell_of_every_exercise_opens_collapsed(repo):
    """The pip set-up cell was the first thing every exercise notebook showed."""
    for path in sorted((repo / "exercises").glob("*.ipynb")):
        first = json.loads(path.read_text())["cells"][0]
        assert first["id"] == "setup", path.name
        assert first["metadata"].get("jupyter", {}).get("source_hidden") is True, path.name


def test_generate_never_overwrites_a_learners_answers(copies, capsys):
    """The test suite, run after the exercises, said to run generate, which overwrote them."""
    solutions, exercises = copies
    path = exercises / "02_argmax_accuracy.ipynb"
    stub = re.search(r'raise NotImplementedError\(\\".*?\\"\)', path.read_text()).group(0)
    answered = path.read_text().replace(stub, "return 1.0")
    assert answered != path.read_text()
    path.write_text(answered)
    copy = exercises / "02_argmax_accuracy-Copy1.ipynb"
    copy.write_text(answered)
    code, out = _check(solutions, exercises, capsys)
    assert code == 1 and "python -m autograder` grades" in out and "Learners" in out
    assert generate.main(["--solutions", str(solutions), "--exercises", str(exercises)]) == 0
    out = capsys.readouterr().out
    assert path.read_text() == answered and copy.read_text() == answered
    assert out.count("kept") == 2 and "--force" in out
    generate.main(["--force", "--solutions", str(solutions), "--exercises", str(exercises)])
    assert path.read_text() != answered and not copy.exists()
