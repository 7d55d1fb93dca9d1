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
    """The numbered chapters, in the toc's order (the welcome and set-up pages are not lessons:
    no quiz)."""
    toc = yaml.safe_load((repo / "_toc.yml").read_text())
    paths = [repo / f"{chapter['file']}.ipynb" for chapter in toc["chapters"]]
    return [path for path in paths if not path.name.startswith("00_")]


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def markdown(path: Path) -> str:
    return "\n\n".join(
        "".join(cell["source"]) for cell in cells(path) if cell["cell_type"] == "markdown"
    )


def test_every_chapter_ends_with_a_quiz_whose_answers_stay_hidden(repo):
    paths = chapter_paths(repo)
    assert [path.name[:2] for path in paths] == [f"{n:02d}" for n in range(1, len(paths) + 1)]
    assert len(paths) >= 12
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


@pytest.mark.parametrize("number", range(1, 13))
def test_quiz_answers_are_not_in_a_directive_that_jupyter_shows_as_text(repo, number):
    [path] = [p for p in chapter_paths(repo) if p.name.startswith(f"{number:02d}_")]
    quiz = "".join(cells(path)[-1]["source"])
    assert "```{" not in quiz and ":::" not in quiz, path.name


# What the chapters said that was not true (issue 23), each with what says it now.
UNTRUE = {
    "book/00_welcome.ipynb": [
        "about 3 to 4 hours",  # its own breakdown adds up to 4 to 6 hours
        "You will read the code of each helper",  # the plotting and training helpers are not shown
    ],
    "book/02_look_at_the_data.ipynb": [
        "between {glue:text}`fewest:,` and {glue:text}`most:,`",  # "between 400 and 400"
    ],
    "book/04_train.ipynb": [
        "every run gives the same numbers",  # not bit for bit on a CPU
        "to get the same results every run",
        "right after the first epoch",  # the training figure is a mean over the epoch's batches
    ],
    "book/05_evaluate.ipynb": [
        "model.evaluate(normalize(x_train), y_train",  # x_train includes the validation images
        "seen the training images many times",  # three times
        "- Training accuracy is higher than test accuracy",  # usually
    ],
    "book/06_predict.ipynb": ["Many of these are hard for a person too"],
    "book/07_save_and_reload.ipynb": ["the red block"],  # the warning is gray
    "book/11_your_handwriting.ipynb": ["dark on light, like every digit on"],  # white on black
}


def source(repo: Path, chapter: str) -> str:
    return "\n\n".join("".join(cell["source"]) for cell in cells(repo / chapter))


@pytest.mark.parametrize("chapter", sorted(UNTRUE))
def test_chapters_no_longer_say_what_was_not_true(repo, chapter):
    text = source(repo, chapter)
    for phrase in UNTRUE[chapter]:
        assert phrase not in text, f"{chapter}: {phrase!r}"


def test_the_fixed_sentences_say_what_is_true(repo):
    welcome = source(repo, "book/00_welcome.ipynb")
    assert "about 5 to 9 hours: 15 to 20 minutes to read each of the twelve chapters" in welcome
    training = source(repo, "book/04_train.ipynb")
    assert "running mean over the epoch's batches" in training
    assert 'glue("first_val_accuracy"' in training and "enable_op_determinism" in training
    evaluation = source(repo, "book/05_evaluate.ipynb")
    assert "trained_on = int(len(x_train) * (1 - 0.1))" in evaluation
    assert "x_train[:trained_on]" in evaluation and "{glue:text}`epochs` times" in evaluation
    assert "usually higher than test accuracy" in evaluation
    saving = source(repo, "book/07_save_and_reload.ipynb")
    keras_note = saving.split("<details>", 1)[1].split("</details>", 1)[0]
    assert "Keras 3.15" in keras_note and saving.count("Keras 3.15") == keras_note.count(
        "Keras 3.15"
    )


def test_every_figure_of_the_chapters_has_alt_text(repo):
    """MyST-NB writes a cell's `mystnb.image.alt` metadata into the alt of its figures."""
    plotting = re.compile(r"\b(plot_\w+|show_\w+|plt\.subplots)\(")
    for path in [repo / "book" / "00_welcome.ipynb", *chapter_paths(repo)]:
        for cell in cells(path):
            if cell["cell_type"] == "code" and plotting.search("".join(cell["source"])):
                alt = cell["metadata"].get("mystnb", {}).get("image", {}).get("alt", "")
                assert len(alt) > 30, f"{path.name} {cell['id']}: no alt text"


# The chapters teach; the tools have the set-up page. What a chapter must not talk about:
TOOL_TEXT = re.compile(r"benchmark|RESULTS\.md|build machine|\bCI\b|continuous integration", re.I)
GRADER = re.compile(r"grader", re.I)


def prose(path: Path) -> str:
    """What a reader sees of a chapter as text: its Markdown, without the quiz."""
    return markdown(path).split(QUIZ_HEADING)[0]


def test_no_chapter_talks_about_the_projects_tools(repo):
    for path in chapter_paths(repo):
        found = TOOL_TEXT.findall(prose(path))
        assert not found, f"{path.name} talks about {found}"


def test_the_grader_is_named_once_per_graded_exercise_and_set_up_explains_it(repo):
    """Not on every page: once where each graded exercise is given (exercises 1, 2 and 3)."""
    naming = {path.name: len(GRADER.findall(prose(path))) for path in chapter_paths(repo)}
    assert all(count <= 1 for count in naming.values()), naming
    assert sum(naming.values()) <= 3, naming
    setup = markdown(repo / "book" / "00_setup.ipynb")
    assert "python -m autograder" in setup and "from autograder.hosted import grade" in setup
    assert "pip install -r requirements.txt" in setup
    assert "pip install" not in markdown(repo / "book" / "00_welcome.ipynb")  # set-up has its page


def test_the_welcome_table_lists_every_chapter_and_every_exercise(repo):
    """A learner plans from this table: every chapter of the toc by its number and title, every
    exercise notebook by its number, and the time line counts them all."""
    welcome = markdown(repo / "book" / "00_welcome.ipynb")
    rows = [line for line in welcome.splitlines() if re.match(r"\| \d+ \|", line)]
    titled = {}
    for path in chapter_paths(repo):
        heading = markdown(path).splitlines()[0]
        number, title = re.fullmatch(r"# (\d+)\. (.+)", heading).groups()
        titled[number] = title
    assert {row.split(" | ")[0].strip("| "): row.split(" | ")[1] for row in rows} == titled
    table = "\n".join(rows)
    for path in sorted((repo / "exercises").glob("0*.ipynb")):
        name = "Experiments" if "experiments" in path.stem else f"Exercise {int(path.name[:2])}"
        assert name in table, f"{path.name}: {name} is not in the welcome table"
    count = {12: "twelve", 13: "thirteen", 14: "fourteen"}[len(titled)]
    assert f"each of the {count} chapters" in welcome
