"""Every catalogued mistake is exercised: one known submission per id, graded by the real checks.

A new entry in autograder/mistakes.py fails `test_every_catalogued_mistake_has_a_trigger` until
a trigger here shows the judge producing it.
"""

import keras
import numpy as np
import pytest
from test_autograder_feedback import ARGMAX_MISTAKES, BUILD_MODEL_MISTAKES, dense_layers
from test_autograder_messages import (
    CONFUSABLE,
    Subclassed,
    accuracy_result,
    cnn_without_flatten,
    compiled,
    dense_model,
    first_failure,
    ignores_labels,
    integer_division,
    keras_normalize,
    sample_with_source,
    tiny_learning_rate,
    trained,
    with_lambda_layer,
)
from test_find_the_bug import BUGS, bug_result, untouched_result
from test_memorised import graded_accuracy, template_matcher

from autograder import config
from autograder.exercises import CATALOGUE, CHECK_IDS, EXERCISES_BY_FUNCTION, models
from autograder.isolation.learner import Learner
from autograder.isolation.protocol import MISSING, FailureKind, LearnerFailure
from autograder.mistakes import Mistake, catalogue, fixed_text
from autograder.runner import Context, run_exercise
from digits.data import load_mnist_sample


class FailingLearner(Learner):
    """A learner whose every call ends as `failure` (what the worker reports for a hang, an
    exit, a crash, a missing cell, or an error while running the cell)."""

    def __init__(self, failure: LearnerFailure):
        self.failure = failure

    def save_model(self, function, path):
        raise self.failure

    def call(self, function, arguments):
        raise self.failure


def failing(**fields):
    def trigger(tmp_path, monkeypatch):
        context = Context(FailingLearner(LearnerFailure(**fields)))
        exercise = EXERCISES_BY_FUNCTION["argmax_accuracy"]
        return run_exercise(exercise, context, functions_only=True)[0]

    return trigger


def function_mistake(function, name="build_model"):
    return lambda tmp_path, monkeypatch: first_failure(function, name)


def saved_file(write, check_id="build_model.saved_model"):
    def trigger(tmp_path, monkeypatch):
        write(tmp_path)
        results = run_exercise(
            EXERCISES_BY_FUNCTION["build_model"],
            Context(checks_learner(), tmp_path, load_mnist_sample),
        )
        return next(result for result in results if result.check_id == check_id)

    return trigger


def reading_fails(**fields):
    """The saved file's check when the worker that reads model files fails as `fields` say (the
    real limits are exercised by tests/test_integrity.py)."""

    def trigger(tmp_path, monkeypatch):
        learner = checks_learner()
        read = learner.read_model

        def read_model(request):
            if request.path.name != "handwritten.keras":  # the function's model reads as usual
                return read(request)
            raise LearnerFailure(**fields)

        monkeypatch.setattr(learner, "read_model", read_model)
        dense_model().save(tmp_path / "handwritten.keras")
        results = run_exercise(
            EXERCISES_BY_FUNCTION["build_model"], Context(learner, tmp_path, load_mnist_sample)
        )
        return next(result for result in results if result.check_id == "build_model.saved_model")

    return trigger


def padded_zip(folder):
    """A .keras zip with a member of zeros that unpacks past the grader's limit (0.5 MB packed)."""
    import zipfile

    from autograder.isolation.modelfile import MAX_EXPANDED_BYTES

    dense_model().save(folder / "handwritten.keras")
    chunk = bytes(2**20)
    with zipfile.ZipFile(folder / "handwritten.keras", "a", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("padding.bin", "w", force_zip64=True) as member:
            for _ in range(MAX_EXPANDED_BYTES // len(chunk) + 1):
                member.write(chunk)


def checks_learner():
    from autograder.notebook import InProcessLearner

    return InProcessLearner({"build_model": dense_model})


def wrong_layers():
    return compiled(
        keras.Sequential(
            [
                keras.Input(shape=(28, 28)),
                keras.layers.Flatten(),
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
    )


def wrong_activation():
    model = dense_model()
    model.layers[1].activation = keras.activations.sigmoid
    return model


def wrong_parameter_count():
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu", use_bias=False),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    return compiled(model)


def dense_as_cnn():
    return compiled(dense_layers())


def no_channel_axis():
    return compiled(keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Conv2D(8, 3)]))


def subclassed():
    model = compiled(Subclassed())
    model(np.zeros((1, 28, 28)))
    return model


def no_input_shape():
    layers = [keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    return compiled(keras.Sequential(layers))


def wrong_loss():
    model = dense_model()
    model.compile(optimizer="adam", loss="mse", metrics=["accuracy"])
    return model


def accuracy_with(**kwargs):
    def trigger(tmp_path, monkeypatch):
        if "threshold" in kwargs:
            mark = kwargs["threshold"], ""
            monkeypatch.setattr(models, "accuracy_mark", lambda *args, **options: mark)
        model, history = trained(**kwargs.get("training", {}))
        data = sample_with_source("mnist") if kwargs.get("full") else None
        return accuracy_result(tmp_path, model, data, history if kwargs.get("record") else None)

    return trigger


def invalid_course_config(tmp_path, monkeypatch):
    (tmp_path / "course.toml").write_text("[marks]\ndense = 'high'\n")
    monkeypatch.setenv("AUTOGRADER_CONFIG", str(tmp_path / "course.toml"))
    course, _ = config.for_grading(tmp_path, CHECK_IDS)  # as the judge reads it, before any run
    return accuracy_result(tmp_path, dense_model(), sample_with_source("mnist-file"), course=course)


def out_of_date(folder):
    wrong_layers().save(folder / "handwritten.keras")


def lambda_h5(folder):
    dense_model().save(folder / "handwritten.keras")
    with_lambda_layer().save(folder / "handwritten.h5")


def h5_of_another_model(folder):
    dense_model().save(folder / "handwritten.keras")
    dense_model().save(folder / "handwritten.h5")


def nan_outputs(folder):
    model = dense_model()
    last = model.layers[-1]
    last.set_weights([np.full_like(weights, np.nan) for weights in last.get_weights()])
    model.save(folder / "handwritten.keras")


def raw_pixels(tmp_path, monkeypatch):
    model, _ = trained(scale=lambda images: images.astype("float32"))
    return accuracy_result(tmp_path, model)


def returns_non_float(y_true, y_prob):
    return str(np.mean(np.argmax(np.asarray(y_prob), axis=1) == np.asarray(y_true)))


def out_of_range(y_true, y_prob):
    return 2 + float(np.mean(np.argmax(np.asarray(y_prob), axis=1) == np.asarray(y_true)))


def wrong_value(y_true, y_prob):
    return float(np.mean(np.argmax(np.asarray(y_prob)[:, :9], axis=1) == np.asarray(y_true)))


def over_budget():
    return compiled(dense_layers())  # exercise 1's model: 118,282 parameters


TRIGGERS = {
    **{mistake: lambda tmp_path, monkeypatch, m=mistake: bug_result(m) for mistake in BUGS},
    "bugs_not_attempted": lambda tmp_path, monkeypatch: untouched_result(),
    "over_budget": function_mistake(over_budget, "build_challenge_model"),
    **{mistake: function_mistake(function) for mistake, function in BUILD_MODEL_MISTAKES.items()},
    **{
        mistake: function_mistake(function, "argmax_accuracy")
        for mistake, function in ARGMAX_MISTAKES.items()
    },
    **{
        mistake: function_mistake(function, "argmax_accuracy")
        for function, mistake, _ in CONFUSABLE
    },
    "wrong_layers": function_mistake(wrong_layers),
    "wrong_activation": function_mistake(wrong_activation),
    "wrong_parameter_count": function_mistake(wrong_parameter_count),
    "wrong_loss": function_mistake(wrong_loss),
    "no_convolution": function_mistake(dense_as_cnn, "build_cnn"),
    "no_channel_axis": function_mistake(no_channel_axis, "build_cnn"),
    "cnn_no_flatten": function_mistake(cnn_without_flatten, "build_cnn"),
    "integer_division": function_mistake(integer_division, "argmax_accuracy"),
    "ignores_labels": function_mistake(ignores_labels, "argmax_accuracy"),
    "subclassed_model": function_mistake(subclassed),
    "no_input_shape": function_mistake(no_input_shape),
    "returns_non_float": function_mistake(returns_non_float, "argmax_accuracy"),
    "out_of_range": function_mistake(out_of_range, "argmax_accuracy"),
    "wrong_value": function_mistake(wrong_value, "argmax_accuracy"),
    "model_file_missing": saved_file(lambda folder: None),
    "model_file_invalid": saved_file(lambda folder: (folder / "handwritten.keras").write_text("")),
    "model_file_out_of_date": saved_file(out_of_date),
    "model_file_too_large": saved_file(padded_zip),
    "model_needs_too_much_memory": reading_fails(
        kind=FailureKind.ERROR, exc_type="ResourceExhaustedError", message="OOM when allocating"
    ),
    "model_too_slow": reading_fails(kind=FailureKind.TIMEOUT, exc_type="Timeout", limit=120.0),
    "model_file_has_code": saved_file(lambda_h5, "build_model.reload"),
    "predictions_change_after_reload": saved_file(h5_of_another_model, "build_model.reload"),
    "invalid_probabilities": saved_file(nan_outputs),
    "pixels_not_scaled": raw_pixels,
    "other_scaling": accuracy_with(threshold=0.97, training=dict(scale=keras_normalize, epochs=3)),
    "trained_on_other_data": accuracy_with(full=True, record=True),
    "accuracy_too_low": accuracy_with(full=True),
    "seen_test_set": lambda tmp_path, monkeypatch: graded_accuracy(
        tmp_path, "build_cnn", template_matcher(), template_matcher
    ),
    "marks_missing": lambda tmp_path, monkeypatch: accuracy_result(
        tmp_path, dense_model(), sample_with_source("mnist-file")
    ),
    "course_config_invalid": invalid_course_config,
    "accuracy_near_chance": lambda tmp_path, monkeypatch: accuracy_result(tmp_path, dense_model()),
    "learning_rate_too_small": lambda tmp_path, monkeypatch: accuracy_result(
        tmp_path, tiny_learning_rate()
    ),
    "raised": failing(kind=FailureKind.ERROR, exc_type="KeyError", message="'x'", line=3),
    "cell_raised": failing(
        kind=FailureKind.ERROR, exc_type="ImportError", message="no", stage="cell"
    ),
    "syntax_error": failing(
        kind=FailureKind.ERROR, exc_type="SyntaxError", message="invalid syntax"
    ),
    "name_from_outside_cell": failing(
        kind=FailureKind.ERROR, exc_type="NameError", message="name 'x_train' is not defined"
    ),
    "notebook_variable_for_parameter": failing(
        kind=FailureKind.ERROR, exc_type="NameError", message="name 'y_test' is not defined"
    ),
    "not_attempted": failing(kind=FailureKind.NOT_ATTEMPTED, exc_type="NotImplementedError"),
    "not_found": failing(kind=FailureKind.NOT_ATTEMPTED, exc_type=MISSING, message="no cell"),
    "timeout": failing(kind=FailureKind.TIMEOUT, exc_type="Timeout", limit=10.0),
    "exited": failing(kind=FailureKind.EXITED, exc_type="SystemExit"),
    "died": failing(kind=FailureKind.DIED, exc_type="ProcessEnded"),
}


def test_every_catalogued_mistake_has_a_trigger():
    untested = sorted(set(CATALOGUE) - set(TRIGGERS))
    assert untested == [], f"catalogued mistakes that no test produces: {untested}"


def test_a_mistake_catalogued_twice_is_refused():
    """Two mistakes under one id would give one's text to the other's learners."""
    with pytest.raises(ValueError, match="catalogued twice: no_flatten"):
        catalogue(Mistake("no_flatten", "one text", ""), Mistake("no_flatten", "another", ""))


@pytest.mark.parametrize("mistake", sorted(CATALOGUE))
def test_each_trigger_gets_its_catalogued_message(mistake, tmp_path, monkeypatch):
    keras.utils.set_random_seed(0)
    result = TRIGGERS[mistake](tmp_path, monkeypatch)
    assert result.mistake == mistake, result.message
    message, hint = fixed_text(CATALOGUE[mistake].message), fixed_text(CATALOGUE[mistake].hint)
    assert message or hint, f"{mistake}: nothing of its message or hint is fixed text"
    assert message in result.message and hint in result.hint
    assert len(result.message) < 600


def test_a_model_saved_under_another_name_is_named_when_the_file_is_missing(tmp_path, monkeypatch):
    """Chapter 7 also saves handwritten.h5: with only that file, the message said no more than
    "handwritten.keras was not found" (newcomer review)."""
    save_h5 = saved_file(lambda folder: dense_model().save(folder / "handwritten.h5"))
    result = save_h5(tmp_path, monkeypatch)
    assert result.mistake == "model_file_missing"
    assert "(there is handwritten.h5: the grader reads handwritten.keras only)" in result.message
