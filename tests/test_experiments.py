"""The experiment notebook (ungraded): each experiment asks for a prediction before its code and
keeps its answer folded; it runs on the offline sample (with fewer epochs here)."""

import json
import re
import shutil
import time

import nbformat
import pytest

NOTEBOOK = "07_experiments.ipynb"


def _cells(folder):
    return nbformat.read(folder / NOTEBOOK, as_version=4).cells


@pytest.mark.parametrize("folder", ["solutions", "exercises"])
def test_each_experiment_asks_first_then_runs_then_answers_folded(repo, folder):
    cells = _cells(repo / folder)
    questions = [i for i, cell in enumerate(cells) if "**Predict:**" in cell.source]
    assert len(questions) == 4
    for i in questions:
        prediction, code, answer = cells[i + 1 : i + 4]
        assert prediction.cell_type == "markdown" and "My prediction" in prediction.source
        assert code.cell_type == "code"
        assert answer.cell_type == "markdown"
        assert answer.source.startswith("<details><summary>")
        assert answer.source.rstrip().endswith("</details>")


@pytest.mark.slow
def test_the_experiments_run_on_the_sample(repo, tmp_path, run_notebook):
    path = tmp_path / NOTEBOOK
    shutil.copy(repo / "exercises" / NOTEBOOK, path)
    content = json.loads(path.read_text())
    settings = next(cell for cell in content["cells"] if cell.get("id") == "settings")
    settings["source"] = "EPOCHS_LONG = 4\nEPOCHS_SHUFFLED = 1\n"  # the test's budget of time
    path.write_text(json.dumps(content))
    started = time.perf_counter()
    run_notebook(path)
    seconds = time.perf_counter() - started
    printed = "\n".join(
        output.get("text", "") for cell in _cells(tmp_path) for output in cell.get("outputs", [])
    )
    assert "Data source: mnist-sample" in printed
    assert re.search(r"raw pixels: +\d+\.\d% test accuracy", printed)
    assert re.search(r"lowest validation loss after epoch \d of 4", printed)
    assert re.search(r"CNN  : \d+\.\d% on the original images", printed)
    assert "64 units per hidden layer: 55,050 parameters" in printed
    assert seconds < 300, f"{seconds:.0f} s"
