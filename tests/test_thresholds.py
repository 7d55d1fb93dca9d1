"""Which accuracy marks apply to which data, the calibration rules, and the course configuration."""

from pathlib import Path

import numpy as np
import pytest

from autograder import config, thresholds
from autograder.exercises import CHECK_IDS, EXERCISES_BY_FUNCTION
from autograder.mistakes import CheckFailed
from autograder.report import check_lines
from autograder.results import Outcome
from autograder.runner import Context, run_check
from digits.data import load_mnist_file, load_mnist_sample

DENSE = EXERCISES_BY_FUNCTION["build_model"]


@pytest.fixture(autouse=True)
def no_course_config(monkeypatch, tmp_path):
    """Each test starts without a course configuration: no AUTOGRADER_CONFIG, an empty cwd."""
    monkeypatch.delenv(config.ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)


def write_mnist_file(path: Path, seed: int = 0) -> Path:
    """A small MNIST-format .npz file (random digits): a custom MNIST_PATH file."""
    generator = np.random.default_rng(seed)
    arrays = {
        "x_train": generator.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "y_train": generator.integers(0, 10, 20, dtype=np.uint8),
        "x_test": generator.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "y_test": generator.integers(0, 10, 10, dtype=np.uint8),
    }
    np.savez(path, **arrays)
    return path


@pytest.fixture
def custom_data(tmp_path):
    return load_mnist_file(write_mnist_file(tmp_path / "custom.npz"))


@pytest.fixture
def submission(tmp_path):
    folder = tmp_path / "course" / "exercises"
    folder.mkdir(parents=True)
    return folder


def test_marks_follow_the_calibration_rules():
    assert thresholds.full_mnist_mark(0.9650, "dense") == 0.960
    assert thresholds.full_mnist_mark(0.9649, "dense") == 0.959
    assert thresholds.full_mnist_mark(0.9920, "cnn") == 0.989
    assert thresholds.full_mnist_mark(0.9919, "cnn") == 0.988
    assert thresholds.sample_mark(0.961) == 0.94
    assert thresholds.sample_mark(0.960) == 0.94


def test_thresholds_are_the_rules_applied_to_the_measured_worst_seeds():
    for kind, worst in thresholds.WORST_SEEDS[thresholds.FULL].items():
        mark = thresholds.THRESHOLDS[thresholds.FULL][kind]
        assert mark == thresholds.full_mnist_mark(worst, kind)
        assert worst - mark >= thresholds.FULL_MNIST_MARGINS[kind] - 1e-9
    for kind, worst in thresholds.WORST_SEEDS[thresholds.SAMPLE].items():
        assert thresholds.THRESHOLDS[thresholds.SAMPLE][kind] == thresholds.sample_mark(worst)


def test_the_canonical_mnist_test_set_gets_the_full_mnist_marks(custom_data, monkeypatch):
    # The real file is not in the repository: recognize this one as if it were MNIST's test set.
    _, (x_test, y_test) = custom_data
    digest = thresholds.test_set_hash(x_test, y_test)
    monkeypatch.setitem(thresholds.TEST_SET_HASHES, digest, thresholds.FULL)
    for kind in ("dense", "cnn"):
        assert thresholds.accuracy_mark(custom_data, kind) == (
            thresholds.THRESHOLDS["mnist"][kind],
            "",
        )


def test_the_sample_keeps_the_sample_marks_even_from_mnist_path(mnist_sample, tmp_path):
    for kind in ("dense", "cnn"):
        mark = thresholds.THRESHOLDS["mnist-sample"][kind]
        assert thresholds.accuracy_mark(mnist_sample, kind) == (mark, "")
    (x_train, y_train), (x_test, y_test) = load_mnist_sample()
    copy = tmp_path / "sample.npz"
    np.savez(copy, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    assert thresholds.accuracy_mark(load_mnist_file(copy), "cnn")[0] == mark


def test_the_test_set_is_recognized_by_content_not_by_label_dtype(mnist_sample):
    _, (x_test, y_test) = mnist_sample
    digest = thresholds.test_set_hash(x_test, y_test.astype(np.int64))
    assert thresholds.TEST_SET_HASHES[digest] == "mnist-sample"
    changed = y_test.copy()
    changed[0] = (changed[0] + 1) % 10
    assert thresholds.test_set_hash(x_test, changed) not in thresholds.TEST_SET_HASHES


def test_another_file_without_marks_fails_the_accuracy_check_with_one_line(custom_data, submission):
    context = Context(learner=None, submission=submission, load_data=lambda: custom_data)
    context.saved_models["build_model"] = "a model (never used: no mark to compare with)"
    check = next(check for check in DENSE.checks if check.check_id == "build_model.accuracy")
    result = run_check(check, DENSE, context)
    assert result.outcome == Outcome.FAILED and result.mistake == "marks_missing"
    lines = list(check_lines([result]))
    assert len(lines) == 1
    assert "No accuracy mark for the dense model on MNIST_PATH=" in lines[0]
    assert "course.toml ([marks] dense = ...;" in lines[0]


def test_another_file_never_silently_gets_the_sample_marks(custom_data):
    with pytest.raises(CheckFailed) as failure:
        thresholds.accuracy_mark(custom_data, "cnn")
    assert failure.value.mistake_id == "marks_missing"
    assert str(custom_data.origin) in failure.value.message


def test_another_file_gets_the_marks_of_course_toml_in_the_folder_above(custom_data, submission):
    path = submission.parent / "course.toml"
    path.write_text("[marks]\ndense = 0.5\ncnn = 0.75\n")
    course = config.load(submission, check_ids=CHECK_IDS)
    assert thresholds.accuracy_mark(custom_data, "dense", course) == (
        0.5,
        f"accuracy mark for the dense model: 50.0%, from {path.name}",
    )
    assert thresholds.accuracy_mark(custom_data, "cnn", course)[0] == 0.75


def test_autograder_config_names_the_file_and_wins_over_the_current_folder(
    custom_data, tmp_path, monkeypatch
):
    (tmp_path / "course.toml").write_text("[marks]\ndense = 0.5\n")
    named = tmp_path / "elsewhere.toml"
    named.write_text("[marks]\ndense = 0.25\n")

    def mark(kind: str) -> float:
        return thresholds.accuracy_mark(custom_data, kind, config.load(check_ids=CHECK_IDS))[0]

    assert mark("dense") == 0.5  # ./course.toml
    monkeypatch.setenv(config.ENVIRONMENT_VARIABLE, str(named))
    assert mark("dense") == 0.25
    with pytest.raises(CheckFailed, match="no accuracy mark|No accuracy mark"):
        mark("cnn")  # the file sets no CNN mark


def test_a_course_toml_inside_the_graded_folder_is_ignored(custom_data, submission):
    (submission / "course.toml").write_text("[marks]\ndense = 0.0\n")
    with pytest.raises(CheckFailed, match="No accuracy mark"):
        thresholds.accuracy_mark(custom_data, "dense", config.load(submission, check_ids=CHECK_IDS))


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[marks]\ndense = 1.5\n", "[marks] dense = 1.5; expected a number from 0 to 1."),
        ("[marks]\nmlp = 0.9\n", "unknown key 'mlp' in [marks]; use dense, cnn, challenge."),
        ("[mark]\ndense = 0.9\n", "unknown section [mark]; use marks, points, time_limits."),
        ('[points]\n"build_model.acuracy" = 3\n', "unknown key 'build_model.acuracy' in [points]"),
        ("[time_limits]\ncall = 0\n", "[time_limits] call = 0; expected a number at least 0.1."),
        ("[marks\n", "not a readable TOML file"),
    ],
)
def test_a_bad_course_toml_is_named_in_one_line(custom_data, tmp_path, text, error):
    (tmp_path / "course.toml").write_text(text)
    course, _ = config.for_grading(None, CHECK_IDS)
    with pytest.raises(CheckFailed) as failure:
        thresholds.accuracy_mark(custom_data, "dense", course)
    assert failure.value.mistake_id == "course_config_invalid"
    assert error in failure.value.message and "\n" not in failure.value.message


def test_a_missing_autograder_config_file_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv(config.ENVIRONMENT_VARIABLE, str(tmp_path / "absent.toml"))
    with pytest.raises(config.ConfigError, match="absent.toml: no such file"):
        config.load(check_ids=CHECK_IDS)


def test_the_template_is_valid_and_every_key_has_help(tmp_path):
    path = tmp_path / "course.toml"
    path.write_text(config.TEMPLATE)
    course = config.read(path, CHECK_IDS)
    assert course.marks == {"dense": 0.95, "cnn": 0.98}
    assert course.points == {"build_model.accuracy": 2.0}
    assert course.time_limits == {"save_model": 20.0, "call": 5.0}
    assert set(config.HELP["marks"]) == set(config.MODEL_KINDS)
    assert set(config.HELP["time_limits"]) == set(config.TIME_LIMITS)
    assert all(text for section in config.HELP.values() for text in section.values())


def test_points_may_name_the_check_ids_the_caller_gives(tmp_path):
    """config reads no registry (the exercises import it): the grader gives it the check ids."""
    path = tmp_path / "course.toml"
    path.write_text('[points]\n"mine.extra" = 2\n')
    assert config.read(path, ["mine.extra"]).points == {"mine.extra": 2.0}
    with pytest.raises(config.ConfigError, match="unknown key 'mine.extra' in \\[points\\]"):
        config.read(path, CHECK_IDS)


def test_without_a_file_the_defaults_apply():
    assert config.load(check_ids=CHECK_IDS) == config.CourseConfig()


def test_a_course_toml_in_the_graded_folder_never_applies_even_when_grading_from_there(
    tmp_path, monkeypatch
):
    """Newcomer: `cd exercises && python -m autograder` (or an instructor's `cd student &&
    python -m autograder .`) read the learner's own course.toml as the current folder's."""
    monkeypatch.delenv(config.ENVIRONMENT_VARIABLE, raising=False)
    graded = tmp_path / "repository" / "exercises"
    (graded / "inside").mkdir(parents=True)
    (graded / "course.toml").write_text('[points]\n"argmax_accuracy.values" = 50\n')
    for here in (graded, graded / "inside"):
        monkeypatch.chdir(here)
        assert config.find(graded) is None
    monkeypatch.chdir(graded)
    assert config.find(".") is None
    (graded.parent / "course.toml").write_text('[points]\n"argmax_accuracy.values" = 2\n')
    monkeypatch.chdir(graded)
    assert config.find(".") == graded.parent / "course.toml"
    assert config.for_grading(".", CHECK_IDS)[1] == (
        "course configuration: course.toml in the folder above the graded one"
    )


@pytest.mark.slow
def test_course_toml_sets_points_and_time_limits_for_grading(repo, submission, monkeypatch):
    import shutil

    from autograder import grader
    from autograder.isolation import judge_client

    shutil.copy(repo / "solutions" / "02_argmax_accuracy.ipynb", submission)
    (submission.parent / "course.toml").write_text(
        '[points]\n"argmax_accuracy.values" = 7\n[time_limits]\ncall = 30\n'
    )
    seen = {}

    class Recording(judge_client.SandboxLearner):
        def __init__(self, *arguments, **options):
            super().__init__(*arguments, **options)
            seen.update(self.limits)

    monkeypatch.setattr(judge_client, "SandboxLearner", Recording)
    report = grader.grade(submission, only="argmax_accuracy")
    values = next(r for r in report.results if r.check_id == "argmax_accuracy.values")
    assert (values.points, values.score) == (7, 7)
    assert report.max_score == 1 + 1 + 7 + 1
    assert seen == dict(judge_client.LIMITS, call=30.0)
    assert report.notes == ["course configuration: course.toml in the folder above the graded one"]
    assert EXERCISES_BY_FUNCTION["argmax_accuracy"].checks[2].points == 2  # unchanged


@pytest.mark.slow
def test_an_invalid_course_toml_is_a_note_and_grading_goes_on_with_the_defaults(repo, submission):
    import shutil

    from autograder import grader

    shutil.copy(repo / "solutions" / "02_argmax_accuracy.ipynb", submission)
    (submission.parent / "course.toml").write_text("[points]\nall = 100\n")
    report = grader.grade(submission, only="argmax_accuracy")
    assert report.max_score == 5 and report.score == 5
    assert report.notes == [
        "course configuration ignored (the defaults apply): "
        "course.toml: unknown key 'all' in [points]; use " + ", ".join(CHECK_IDS) + "."
    ]


def test_calibration_seeds_before_building_so_a_seed_sets_the_initial_weights(
    load_script, mnist_sample
):
    calibrate = load_script("calibrate_thresholds")
    first_weights = []

    def build():
        model = calibrate.reference_builder("dense")()
        first_weights.append(model.layers[1].get_weights()[0])
        return model

    for _ in range(2):
        calibrate.train_and_score(build, {"epochs": 0}, mnist_sample, seed=3)
        np.random.random(10)  # whatever ran in between
    np.testing.assert_array_equal(first_weights[0], first_weights[1])


@pytest.mark.parametrize("text", ["[marks]\ndense = 0.5\n", "[marks]\ndense = 'high'\n"])
def test_the_learners_report_never_shows_where_the_instructor_keeps_course_toml(
    custom_data, submission, tmp_path, monkeypatch, text
):
    """Read once, before any learner code runs; what reaches the learner names the file, never
    the instructor's folders."""
    private = tmp_path / "instructor-private-folder"
    private.mkdir()
    (private / "course.toml").write_text(text)
    monkeypatch.setenv(config.ENVIRONMENT_VARIABLE, str(private / "course.toml"))
    course, note = config.for_grading(submission, CHECK_IDS)
    context = Context(learner=None, submission=submission, load_data=lambda: custom_data)
    context.course = course
    context.saved_models["build_model"] = "a model (never used: no mark to compare with)"
    check = next(check for check in DENSE.checks if check.check_id == "build_model.accuracy")
    result = run_check(check, DENSE, context)
    shown = "\n".join([note, *check_lines([result]), *context.notes])
    assert "course.toml" in shown and str(private) not in shown, shown
