"""The exercise notebooks as a learner meets them, and the reference solutions that grade them."""

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import nbclient
import nbformat
import numpy as np
import pytest
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.mdit import create_md_parser

from autograder.exercises import EXERCISES, MODEL_FILES

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "solutions").glob("*.ipynb")) + sorted(
    (REPO / "exercises").glob("*.ipynb")
)
RENDERERS = {
    "jupyter": MarkdownIt("commonmark"),
    "book": create_md_parser(MdParserConfig(), RendererHTML),
}


def _read(folder: Path, name: str) -> nbformat.NotebookNode:
    return nbformat.read(folder / name, as_version=4)


def _printed(notebook: nbformat.NotebookNode, cell_id: str) -> str:
    cell = next(cell for cell in notebook.cells if cell.get("id") == cell_id)
    return "".join(output.get("text", "") for output in cell.outputs)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_notebooks_are_committed_without_outputs(path):
    code_cells = [cell for cell in _read(path.parent, path.name).cells if cell.cell_type == "code"]
    assert [cell.outputs for cell in code_cells if cell.outputs] == []
    assert [cell.execution_count for cell in code_cells if cell.execution_count] == []


@pytest.mark.parametrize(
    ("name", "function"), [(exercise.notebook, exercise.function) for exercise in EXERCISES]
)
def test_each_graded_cell_is_followed_by_its_check(repo, name, function):
    cells = _read(repo / "exercises", name).cells
    graded = [i for i, cell in enumerate(cells) if "graded" in cell.metadata.get("tags", [])]
    assert len(graded) == 1
    assert f"def {function}(" in cells[graded[0]].source
    assert cells[graded[0] + 1].source == f"check({function})"
    imports = next(cell.source for cell in cells[1:] if cell.cell_type == "code")  # after set-up
    assert "from autograder.notebook import check" in imports


class _DetailsTree(HTMLParser):
    """The hint titles, each with how many <details> contain it (1 = top level)."""

    def __init__(self):
        super().__init__()
        self.depth, self.in_summary, self.summaries, self.code_in_details = 0, False, [], 0

    def handle_starttag(self, tag, attrs):
        self.depth += tag == "details"
        self.in_summary |= tag == "summary"
        self.code_in_details += tag == "code" and self.depth > 0

    def handle_endtag(self, tag):
        self.depth -= tag == "details"
        self.in_summary &= tag != "summary"

    def handle_data(self, data):
        if self.in_summary:
            self.summaries.append((data.strip(), self.depth))


@pytest.mark.parametrize("renderer", sorted(RENDERERS))
@pytest.mark.parametrize("name", [exercise.notebook for exercise in EXERCISES])
def test_hints_unfold_one_at_a_time(repo, name, renderer):
    """Hint n+1 sits inside Hint n, and the Markdown inside them is rendered, not shown raw."""
    cells = _read(repo / "exercises", name).cells
    hints = [cell.source for cell in cells if "<summary>Hint 1</summary>" in cell.source]
    assert len(hints) == 1
    tree = _DetailsTree()
    tree.feed(RENDERERS[renderer].render(hints[0]))
    assert len(tree.summaries) >= 2
    assert tree.summaries == [(f"Hint {n}", n) for n in range(1, len(tree.summaries) + 1)]
    assert tree.code_in_details > 0 and tree.depth == 0


@pytest.mark.slow
def test_solutions_run_offline_and_save_loadable_models(executed_solutions, mnist_sample):
    import keras

    _, (x_test, _) = mnist_sample
    for model_file in MODEL_FILES:
        model = keras.models.load_model(executed_solutions / model_file)
        assert model.input_shape == (None, 28, 28)
        probabilities = model.predict(x_test[:50] / 255.0, verbose=0)
        assert probabilities.shape == (50, 10)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-4)


@pytest.mark.slow
def test_solutions_print_data_source_checks_and_both_accuracies(executed_solutions):
    first = _read(executed_solutions, "01_build_model.ipynb")
    assert "Data source: mnist-sample" in _printed(first, "data")
    for exercise in EXERCISES:
        function = exercise.function
        notebook = _read(executed_solutions, exercise.notebook)
        assert re.search(
            rf"All \d+ checks of {function}\(\) pass",
            _printed(notebook, f"check-{function.replace('_', '-')}"),
        )
    second = _read(executed_solutions, "02_argmax_accuracy.ipynb")
    accuracies = re.findall(
        r"(?:argmax_accuracy|accuracy_score): +([\d.]+)", _printed(second, "accuracy")
    )
    assert len(accuracies) == 2 and accuracies[0] == accuracies[1]
    assert 0.5 < float(accuracies[0]) <= 1.0
    assert "ValueError: Classification metrics can't handle" in _printed(
        second, "raw-probabilities-error"
    )


@pytest.mark.slow
def test_unfilled_exercise_stops_at_the_first_stub_with_a_friendly_message(
    repo, tmp_path, run_notebook
):
    path = Path(shutil.copy(repo / "exercises" / "01_build_model.ipynb", tmp_path))
    with pytest.raises(nbclient.exceptions.CellExecutionError):
        run_notebook(path)
    cells = _read(tmp_path, path.name).cells
    errors = [
        (cell.id, out)
        for cell in cells
        for out in cell.get("outputs", [])
        if out.output_type == "error"
    ]
    assert [cell_id for cell_id, _ in errors] == ["model"]  # the first cell that calls the stub
    shown = "\n".join(errors[0][1].traceback)
    assert "build_model" in shown and "Traceback" not in shown
    assert not (tmp_path / "handwritten.keras").exists()
