"""The chapters' sources, read without building the book (fast): what every chapter must hold
and what no chapter may say. tests/test_book.py checks the same on the built pages."""

import json
import re
from pathlib import Path

import pytest
import yaml

QUIZ_HEADING = "## Check your understanding"
ANSWER = re.compile(r"<details><summary>Answer</summary>\n\n(.+?)\n\n</details>", re.DOTALL)
QUESTION = re.compile(r"^\*\*(\d+)\.\*\* \S", re.MULTILINE)


def chapter_paths(repo: Path) -> list[Path]:
    """Chapters 1 to 10 (the welcome page, the toc's root, has no quiz)."""
    toc = yaml.safe_load((repo / "_toc.yml").read_text())
    return [repo / f"{chapter['file']}.ipynb" for chapter in toc["chapters"]]


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def markdown(path: Path) -> str:
    return "\n\n".join(
        "".join(cell["source"]) for cell in cells(path) if cell["cell_type"] == "markdown"
    )


def test_every_chapter_ends_with_a_quiz_whose_answers_stay_hidden(repo):
    paths = chapter_paths(repo)
    assert len(paths) == 10
    for path in paths:
        last = cells(path)[-1]
        source = "".join(last["source"])
        assert last["cell_type"] == "markdown" and source.startswith(QUIZ_HEADING), path.name
        assert markdown(path).count(QUIZ_HEADING) == 1, path.name
        questions = [int(number) for number in QUESTION.findall(source)]
        answers = ANSWER.findall(source)
        assert 3 <= len(questions) <= 5, f"{path.name}: {len(questions)} questions"
        assert questions == list(range(1, len(questions) + 1)), path.name
        # Each question is followed by its own hidden answer: a blank line around the answer
        # lets Jupyter, Colab and the site render its Markdown inside the <details>.
        assert len(answers) == len(questions), f"{path.name}: an answer is not hidden"
        assert source.count("<details>") == source.count("</details>") == len(questions)
        for answer in answers:
            assert "\n\n" not in answer.strip() and len(answer) < 300, path.name


@pytest.mark.parametrize("number", range(1, 11))
def test_quiz_answers_are_not_in_a_directive_that_jupyter_shows_as_text(repo, number):
    [path] = [p for p in chapter_paths(repo) if p.name.startswith(f"{number:02d}_")]
    quiz = "".join(cells(path)[-1]["source"])
    assert "```{" not in quiz and ":::" not in quiz, path.name
