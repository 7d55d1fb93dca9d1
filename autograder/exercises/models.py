"""What the two model exercises share (`build_model`, `build_cnn`): the model the function
returns, the saved file, its reload and its test accuracy, and the mistakes they find.

The judge never loads a model file: the learner's `read_model` reads it in a confined worker
(`isolation.modelfile`) and answers with `ModelFacts` (layers, compile configuration,
predictions as arrays); a file that needs too much memory or time there is a mistake of its own.

Each model exercise module brings its own architecture judge and settings (`Exercise.architecture`,
`require_adam`, `train_settings`); the checks here read them from the exercise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from autograder.isolation.modelfile import (
    MEMORY_ERRORS,
    MODEL_MEMORY_MB,
    PREDICT_BATCH,
    RESAVED,
    ModelFacts,
    facts_from_answer,
    facts_of,
)
from autograder.isolation.protocol import FailureKind, LearnerFailure, ModelRequest
from autograder.mistakes import CheckFailed, Mistake, catalogue
from autograder.runner import Check, Context, Exercise, first_line
from autograder.thresholds import (
    accuracy_mark,
    has_seen_test_set,
    seen_gap_limit,
    training_digit_count,
)

SHAPE_ONLY_LAYERS = ("Dropout", "InputLayer")  # they change no shape and no activation
SPARSE_LOSS = "sparse_categorical_crossentropy"
ACCURACY_METRICS = {"accuracy", "acc", "sparse_categorical_accuracy"}
SEEN_TEST_SET = "seen_test_set"  # a mistake the class report lists student by student

MISTAKES = catalogue(
    Mistake(
        "not_a_model",
        "{function}() returned {type}, not a Keras model.",
        "End the function with `return model` (the compiled keras.Model).",
    ),
    Mistake(
        "model_not_loadable",
        "The model returned by {function}() could not be saved and reloaded: {error}",
        "Build it from standard keras.layers only (no Lambda layers or custom classes).",
    ),
    Mistake(
        "subclassed_model",
        "{function}() returned a subclass of keras.Model ({type}), which the grader cannot "
        "reload without running your class's code.",
        "Build the model with keras.Sequential([...]) (or the functional API) and standard "
        "keras.layers.",
    ),
    Mistake(
        "no_input_shape",
        "The model has no input shape, so Keras does not know the size of its layers until it "
        "sees data, and the grader cannot check them.",
        "Declare the input: start the model with keras.Input(shape=(28, 28)).",
    ),
    Mistake(
        "wrong_input_shape",
        "The model's input shape is {got}; the course's images have shape {want}.",
        "Start the model with keras.Input(shape=(28, 28)).",
    ),
    Mistake(
        "no_flatten",
        "There is no Flatten layer after the input, so each Dense layer works on rows of 28 "
        "pixels and the output shape is {got} instead of (None, 10).",
        "Add keras.layers.Flatten() right after keras.Input(shape=(28, 28)).",
    ),
    Mistake(
        "last_layer_units",
        "The last layer has {got}; it needs 10 units, one per digit.",
        'End with keras.layers.Dense(10, activation="softmax").',
    ),
    Mistake(
        "last_layer_not_softmax",
        "The last layer's activation is {got}, so the outputs are not probabilities.",
        'Use activation="softmax" on the last Dense(10) layer.',
    ),
    Mistake(
        "not_compiled",
        "The model is not compiled.",
        'Call model.compile(optimizer=..., loss=..., metrics=["accuracy"]) before returning it.',
    ),
    Mistake(
        "softmax_from_logits",
        "The loss has from_logits=True but the last layer already applies softmax, so softmax "
        "is applied twice and training is slow and poor.",
        'Drop from_logits=True: use loss="sparse_categorical_crossentropy".',
    ),
    Mistake(
        "categorical_with_integer_labels",
        "The loss is {got}, which expects one-hot labels, but MNIST's labels are integers 0-9.",
        'Use loss="sparse_categorical_crossentropy", made for integer labels.',
    ),
    Mistake(
        "wrong_optimizer",
        "The optimizer is {got}; the exercise asks for {want}.",
        'Pass optimizer="adam" to model.compile().',
    ),
    Mistake(
        "wrong_loss",
        "The loss is {got}; the exercise asks for sparse_categorical_crossentropy.",
        'Pass loss="sparse_categorical_crossentropy" to model.compile().',
    ),
    Mistake(
        "metrics_as_loss_weights",
        '["accuracy"] was passed as the third positional argument of compile(), which is '
        "loss_weights, so the model has no accuracy metric.",
        'Pass it by keyword: model.compile(..., metrics=["accuracy"]).',
    ),
    Mistake(
        "missing_accuracy_metric",
        "The model's metrics are {got}; the exercise asks for accuracy.",
        'Pass metrics=["accuracy"] to model.compile().',
    ),
    Mistake(
        "model_file_missing",
        "{file} was not found beside {notebook}{others}.",
        "Run {notebook} top to bottom: {writer} saves it.",
    ),
    Mistake(
        "model_file_out_of_date",
        "{file} holds an older model than the one {function}() builds now ({problem}): the file "
        "was saved before your last change to {function}().",
        "Run {notebook} again from the top (Run all) so that {file} is saved from the current "
        "{function}().",
    ),
    Mistake(
        "model_file_has_code",
        "{file} holds a Lambda layer (Python code), which the grader does not run.",
        "Replace the Lambda layer with standard keras.layers (for scaling, "
        "keras.layers.Rescaling(1 / 255)), then train and save again.",
    ),
    Mistake(
        "model_file_too_large",
        "{file} is too large for the grader: {size}. A model for 28x28 digits takes a few MB.",
        "Build the model from the exercise's layers, then train and save it again from the "
        "notebook.",
    ),
    Mistake(
        "model_needs_too_much_memory",
        "{file} needs more than {limit} GB of memory to load and predict {digits:,} digits at a "
        "time{how}.",
        "Use fewer or smaller layers (no UpSampling or very wide layers: the exercise's model "
        "needs a few MB), then train and save again.",
    ),
    Mistake(
        "model_too_slow",
        "{file} took more than {limit:g} s to load and predict the test digits.",
        "Use fewer or smaller layers (the exercise's model predicts 10,000 digits in about a "
        "second), then train and save again.",
    ),
    Mistake(
        "model_file_invalid",
        "{file} could not be loaded as a Keras model: {error}",
        'Save it from the notebook with model.save("{file}") after training.',
    ),
    Mistake(
        "invalid_probabilities",
        "The model in {file} does not output probabilities: {problem}.",
        'End the model with Dense(10, activation="softmax").',
    ),
    Mistake(
        "predictions_change_after_reload",
        "{first} and {second} give different predictions (largest difference {difference:.3g}).",
        "Save both files from the same trained model, right after training.",
    ),
    Mistake(
        "pixels_not_scaled",
        "The model in {file} was trained on unscaled pixels (0-255): on pixels scaled to [0, 1] "
        "its probabilities are nearly uniform (mean top probability {confidence:.0%}, accuracy "
        "{scaled:.1%}), on raw pixels it is confident ({raw:.1%} accuracy).",
        "Divide the images by 255 (digits.normalize) before model.fit, then train and save again.",
    ),
    Mistake(
        "other_scaling",
        "The model in {file} was trained on images scaled another way: the grader feeds it "
        "pixels divided by 255 (digits.normalize) and it reaches {scaled} there, but {other} on "
        "{way}.",
        "Scale the images with digits.normalize (x / 255) before model.fit, then train and save "
        "again.",
    ),
    Mistake(
        "trained_on_other_data",
        "The model in {file} reaches {accuracy} on {data}; at least {threshold} is needed. It was "
        "trained on the {trained} in the notebook, but is graded on {graded}.",
        "Run the notebook again where the grading data is available (online, or with "
        "MNIST_PATH set), then save and submit the new {file}.",
    ),
    Mistake(
        "accuracy_near_chance",
        "The model in {file} reaches {accuracy} test accuracy on {data}, about chance for 10 "
        "digits: it looks untrained{evidence}.",
        "Save the model after model.fit, not before, and check in the notebook that the "
        "training loss goes down.",
    ),
    Mistake(
        "learning_rate_too_small",
        "The model in {file} reaches {accuracy} test accuracy on {data}; at least {threshold} is "
        "needed. Its optimizer's learning rate is {rate:g} (Adam's default is 0.001), so its "
        "weights hardly moved during training.",
        'Compile with optimizer="adam" (learning rate 0.001), then train and save again.',
    ),
    Mistake(
        SEEN_TEST_SET,
        "The model in {file} scores {test} on the {tests:,} test digits but {trained} on "
        "{trainings:,} digits it trained on: {gap} points higher on digits it should never have "
        "seen, where chance allows {limit} at most. It has seen the test set: it was trained on "
        "the test digits, or built from them.",
        "Train on x_train only: the test digits measure how well the model reads digits it has "
        "never seen. Then save and submit the new {file}.",
    ),
    Mistake(
        "accuracy_too_low",
        "The model in {file} reaches {accuracy} test accuracy on {data}; at least "
        "{threshold} is needed{evidence}.",
        "Train for the number of epochs the notebook asks on scaled images, then save again; "
        "check that the model is saved after model.fit, not before.",
    ),
)


# ---------------------------------------------------------------- the returned model


STANDARD_MODELS = ("Sequential", "Functional", "Model")


def returned_model(context: Context, exercise: Exercise):
    """The model the learner's function returns, saved by the learner side, loaded safely here."""
    models = context.returned_models
    if exercise.function not in models:
        path = context.workdir / f"returned_{exercise.function}.keras"
        description = context.learner.save_model(exercise.function, str(path))
        class_name = description["type"].rsplit(".", 1)[-1]
        returned_a_model = description["saved"] or "error" in description
        if returned_a_model and class_name not in STANDARD_MODELS:
            raise CheckFailed(
                MISTAKES["subclassed_model"], function=exercise.function, type=class_name
            )
        if description.get("error"):
            raise CheckFailed(
                MISTAKES["model_not_loadable"],
                function=exercise.function,
                error=first_line(description["error"]),
            )
        if not description["saved"]:
            type_name = description["type"].removeprefix("builtins.")
            raise CheckFailed(MISTAKES["not_a_model"], function=exercise.function, type=type_name)
        models[exercise.function] = read_model(
            context, path, MISTAKES["model_not_loadable"], function=exercise.function
        )
    return models[exercise.function]


TENSORFLOW_NAMES = {"softmax_v2": "softmax", "log_softmax_v2": "log_softmax"}  # tf.nn: Keras


def tensorflow_activation_note(model: ModelFacts, then: str) -> str:
    """For a file that uses a TensorFlow activation (tf.nn.softmax): why the course's notebooks,
    which load it with plain keras.models.load_model, cannot, and what to write instead; else
    "". The grader itself loads such a file (modelfile.tensorflow_activations)."""
    found = sorted(model.functions & set(TENSORFLOW_NAMES))
    if not found:
        return ""
    saved = found[0]
    keras_name = TENSORFLOW_NAMES[saved]
    return (
        f". But it uses tf.nn.{keras_name}, which Keras saves under TensorFlow's name {saved}: "
        "plain keras.models.load_model, which the course's notebooks use (Exercises 2 and 4 on "
        'handwritten.keras), cannot read it back ("could not be deserialized"). Write '
        f'activation="{keras_name}" (the same function, in Keras), then {then}'
    )


def read_model(
    context: Context,
    path: Path,
    mistake: Mistake,
    inputs: dict[str, np.ndarray] | None = None,
    resave: tuple[str, ...] = (),
    fit: dict | None = None,
    save_as: Path | None = None,
    **fields,
) -> ModelFacts:
    """The facts of a model file, read by the learner's side (a confined worker in grading);
    a file it cannot read is the catalogued `mistake` (with `fields`), or one of the limits'."""
    try:
        request = ModelRequest(path, inputs or {}, resave, fit, save_as)
        answer = context.learner.read_model(request)
        return facts_from_answer(save_as or path, answer)
    except LearnerFailure as failure:
        raise _read_failure(path, failure, mistake, fields) from None
    except (ValueError, TypeError) as error:  # an answer that is not what a worker sends
        raise CheckFailed(mistake, error=first_line(error), **fields) from None


def _read_failure(
    path: Path, failure: LearnerFailure, mistake: Mistake, fields: dict
) -> CheckFailed:
    """What a model file that could not be read shows, in the catalogue's words."""
    if failure.kind == FailureKind.TIMEOUT:
        return CheckFailed(MISTAKES["model_too_slow"], file=path.name, limit=failure.limit)
    memory = dict(file=path.name, limit=MODEL_MEMORY_MB // 1024, digits=PREDICT_BATCH)
    if failure.kind == FailureKind.DIED:
        return CheckFailed(
            MISTAKES["model_needs_too_much_memory"], how=" (the process stopped)", **memory
        )
    if failure.exc_type in MEMORY_ERRORS or "OOM when allocating" in failure.message:
        return CheckFailed(MISTAKES["model_needs_too_much_memory"], how="", **memory)
    if failure.exc_type == "ModelFileTooLarge":
        return CheckFailed(MISTAKES["model_file_too_large"], file=path.name, size=failure.message)
    if mistake == MISTAKES["model_file_invalid"] and "Lambda" in failure.message:
        return CheckFailed(MISTAKES["model_file_has_code"], file=path.name)
    return CheckFailed(mistake, error=_load_error(path, failure.message), **fields)


def predictions_of(model: ModelFacts, name: str) -> np.ndarray:
    """The model's predictions on the judge's input `name`; a model that could not take those
    images (another input shape) is an invalid file, in Keras' words."""
    if name not in model.predictions:
        error = model.prediction_errors.get(name, "no prediction was made")
        raise CheckFailed(
            MISTAKES["model_file_invalid"], file=model.file.name, error=first_line(error)
        )
    return model.predictions[name]


def predict_with(context: Context, model: ModelFacts, images: np.ndarray) -> np.ndarray:
    """The model's probabilities for other images than those it was read with (its file is
    read again)."""
    facts = read_model(
        context,
        model.file,
        MISTAKES["model_file_invalid"],
        {"images": images},
        file=model.file.name,
    )
    return predictions_of(facts, "images")


FILE_KINDS = {
    b"\x80": "a Python pickle",
    b"\x89HDF": "an HDF5 (.h5) file",
    b"PK": "a zip archive without a Keras model",
}


def _load_error(path: Path, error: str) -> str:
    """Keras' reason, or what the file really is when Keras says "File not found" for it."""
    if "File not found" not in error or not path.is_file():
        return first_line(error)
    start = path.read_bytes()[:8]
    kind = next((kind for magic, kind in FILE_KINDS.items() if start.startswith(magic)), None)
    kind = kind or "text or another format"
    return f"the file exists but is not a .keras zip archive (it looks like {kind})."


def check_returns_model(context: Context, exercise: Exercise) -> str:
    model = returned_model(context, exercise)
    return f"{exercise.function}() returns a {model.type.rsplit('.', 1)[-1]} model"


def check_architecture(context: Context, exercise: Exercise) -> str:
    assert exercise.architecture is not None, f"{exercise.function}() builds no model"
    model = returned_model(context, exercise)
    return exercise.architecture(model) + tensorflow_activation_note(model, "run this check again.")


def check_compile(context: Context, exercise: Exercise) -> str:
    model = returned_model(context, exercise)
    return judge_compile(model, require_adam=exercise.require_adam)


# ---------------------------------------------------------------- the saved model file


def saved_model(context: Context, exercise: Exercise):
    """The model the notebook saved; with --train and no file, the function's model trained."""
    path = context.folder / exercise.file
    if exercise.function not in context.saved_models and context.train and not path.is_file():
        context.saved_models[exercise.function] = train_from_function(context, exercise)
    return saved_file(context, exercise)


def saved_file(context: Context, exercise: Exercise):
    """The model in the file the notebook saved, loaded safely here (never trained)."""
    models = context.saved_models
    if exercise.function not in models:
        path = context.folder / exercise.file
        if not path.is_file():
            raise CheckFailed(
                MISTAKES["model_file_missing"],
                file=exercise.file,
                notebook=exercise.notebook,
                writer=_writer_cell(context.folder / exercise.notebook, exercise.file),
                others=_other_model_files(context.folder, exercise.file),
            )
        models[exercise.function] = read_model(
            context,
            path,
            MISTAKES["model_file_invalid"],
            *_judged_inputs(context),
            file=exercise.file,
        )
    return models[exercise.function]


def _judged_inputs(context: Context) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """What a saved model predicts once, when it is read: the whole test set ("test", for the
    accuracy and the probabilities), training images ("train", to compare with the test
    accuracy) and RELOAD_DIGITS digits, also with a re-saved copy."""
    images, _ = test_images(context)
    trained, _ = training_images(context)
    return {"test": images, "train": trained, "reload": images[:RELOAD_DIGITS]}, ("reload",)


def _other_model_files(folder: Path, wanted: str) -> str:
    """Model files saved under another name or format (chapter 7 shows .h5 too), as the end of
    the missing-file message: " (there is model.h5: the grader reads handwritten.keras only)"."""
    from autograder.exercises import MODEL_FILES

    theirs = set()  # the other exercises' files
    for name in MODEL_FILES:
        if name != wanted:
            theirs |= {name, Path(name).with_suffix(".h5").name}
    found = (path.name for suffix in ("*.keras", "*.h5") for path in folder.glob(suffix))
    others = sorted(name for name in found if name not in theirs)
    if not others:
        return ""
    return f" (there is {', '.join(others[:3])}: the grader reads {wanted} only)"


def train_from_function(context: Context, exercise: Exercise):
    """--train: fit the (safely reloaded) model of the learner's function, as the notebook would."""
    from digits.data import normalize

    returned_model(context, exercise)  # first: the function's own mistakes are its checks'
    (x_train, y_train), _ = context.data()
    settings = exercise.train_settings
    inputs, resave = _judged_inputs(context)
    model = read_model(
        context,
        context.workdir / f"returned_{exercise.function}.keras",
        MISTAKES["model_not_loadable"],
        {"x_train": normalize(x_train), "y_train": y_train, **inputs},
        resave,
        fit=settings,
        save_as=context.workdir / f"trained_{exercise.function}.keras",
        function=exercise.function,
    )
    context.notes.append(
        f"{exercise.file} not found: trained {exercise.function}() for "
        f"{settings['epochs']} epochs (--train) and graded that model instead."
    )
    return model


def _writer_cell(notebook: Path, file: str) -> str:
    from autograder.submission import find_cell

    found = find_cell(notebook, file, "save")
    if found is None:
        return "the cell that calls model.save"
    number, line = found
    return f"the code cell with `{line}` (code cell {number})"


def test_images(context: Context, count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    from digits.data import normalize

    _, (x_test, y_test) = context.data()
    return normalize(x_test[:count]), y_test[:count]


def training_images(context: Context) -> tuple[np.ndarray, np.ndarray]:
    """The training images on which the judge measures a model's training accuracy (see
    thresholds.training_digit_count), normalized, and their labels."""
    from digits.data import normalize

    (x_train, y_train), (x_test, _) = context.data()
    count = training_digit_count(len(x_train), len(x_test))
    return normalize(x_train[:count]), y_train[:count]


def check_saved_model(context: Context, exercise: Exercise) -> str:
    model = saved_model(context, exercise)
    try:
        _judge_model(model, exercise)
    except CheckFailed as failure:
        _judge_out_of_date(context, exercise, failure)
        raise
    judge_probabilities(predictions_of(model, "test")[:64], exercise.file)
    _note_earlier_run(context, exercise, model)
    note = tensorflow_activation_note(model, f"run {exercise.notebook} again to save it.")
    return f"{exercise.file} loads, keeps its compile configuration, outputs probabilities{note}"


def _note_earlier_run(context: Context, exercise: Exercise, model: ModelFacts) -> None:
    """A note when the notebook's model.fit asks for another number of epochs than the saved
    file was trained for: the notebook stopped before saving (epochs=0 fails in its plot), and
    the file graded is an earlier run's."""
    from autograder.submission import InvalidNotebook, fit_arguments

    record = training_record(model)
    try:
        fit = fit_arguments(context.folder / exercise.notebook) or {}
    except (OSError, InvalidNotebook, ValueError, SyntaxError):
        return
    trained = len(record["curves"].get("loss", [])) if record else 0
    epochs = fit.get("epochs")
    if isinstance(epochs, int) and trained and epochs != trained:
        note = (
            f"{exercise.file} was trained for {trained} epoch(s), but {exercise.notebook} now "
            f"trains with epochs={epochs}: the file graded is from an earlier run. Run the "
            "notebook to the end so that it saves the model again."
        )
        if note not in context.notes:
            context.notes.append(note)


def _judge_model(model, exercise: Exercise) -> None:
    assert exercise.architecture is not None, f"{exercise.function}() builds no model"
    exercise.architecture(model)
    judge_compile(model, require_adam=exercise.require_adam)


def _judge_out_of_date(context: Context, exercise: Exercise, failure: CheckFailed) -> None:
    """A saved model that fails where the function's model passes was saved before a fix."""
    try:
        _judge_model(returned_model(context, exercise), exercise)
    except (CheckFailed, LearnerFailure):
        return  # the function is wrong too: the saved model's own message says what to fix
    raise CheckFailed(
        MISTAKES["model_file_out_of_date"],
        file=exercise.file,
        function=exercise.function,
        notebook=exercise.notebook,
        problem="in the file: " + failure.message[:1].lower() + failure.message[1:].rstrip("."),
    )


RELOAD_DIGITS = 200  # test digits on which a re-saved copy must predict the same


def reload_predictions(context: Context, exercise: Exercise) -> tuple[np.ndarray, np.ndarray]:
    """The saved model's probabilities on RELOAD_DIGITS test digits, and those of a copy of it
    saved and loaded again (in the worker that read it)."""
    model = saved_model(context, exercise)
    return predictions_of(model, "reload"), predictions_of(model, "reload" + RESAVED)


def check_reload(context: Context, exercise: Exercise) -> str:
    first, resaved = reload_predictions(context, exercise)
    _judge_same(first, resaved, exercise.file, "a re-save")
    legacy = (context.folder / exercise.file).with_suffix(".h5")
    if not legacy.is_file():
        return "identical predictions after save and reload"
    images, _ = test_images(context, RELOAD_DIGITS)
    legacy_model = read_model(
        context, legacy, MISTAKES["model_file_invalid"], {"reload": images}, file=legacy.name
    )
    _judge_same(first, predictions_of(legacy_model, "reload"), exercise.file, legacy.name)
    return f"identical predictions after reload, and from {legacy.name}"


def _judge_same(first: np.ndarray, second: np.ndarray, name: str, other: str) -> None:
    difference = float(np.max(np.abs(first - second))) if first.shape == second.shape else np.inf
    if difference > 1e-5:
        raise CheckFailed(
            MISTAKES["predictions_change_after_reload"],
            first=name,
            second=other,
            difference=difference,
        )


def test_set_probabilities(context: Context, exercise: Exercise) -> np.ndarray:
    """The saved model's probabilities on the whole test set (computed when it is read)."""
    return predictions_of(saved_model(context, exercise), "test")


def check_accuracy(context: Context, exercise: Exercise) -> str:
    model = saved_model(context, exercise)
    data = context.data()
    threshold, note = accuracy_mark(data, exercise.kind, context.course)
    if note and note not in context.notes:
        context.notes.append(note)
    images, labels = test_images(context)
    scaled = test_set_probabilities(context, exercise)
    if right_without_confidence(scaled, labels):  # only then is the second prediction needed
        raw = predict_with(context, model, images * 255.0)
        if trained_on_raw_pixels(scaled, raw, labels):
            raise CheckFailed(
                MISTAKES["pixels_not_scaled"],
                file=exercise.file,
                confidence=confidence(scaled),
                scaled=accuracy_of(scaled, labels),
                raw=accuracy_of(raw, labels),
            )
    accuracy = accuracy_of(scaled, labels)
    shown, mark = percentages(accuracy, threshold)
    where = f"{len(labels):,} test digits of {data.source}"
    spread = noise(accuracy, threshold, len(labels))
    if accuracy < threshold:
        facts = dict(file=exercise.file, accuracy=shown, threshold=mark, data=where)
        _judge_low_accuracy(context, exercise, model, accuracy, facts, spread)
    _judge_seen_test_set(context, model, accuracy, len(labels), exercise.file)
    return f"{shown} on the {where} (mark {mark}; {spread})"


def _judge_seen_test_set(
    context: Context, model: ModelFacts, test: float, tests: int, file: str
) -> None:
    """A model above the mark that reads the test digits clearly better than the digits it
    trained on has seen them (thresholds.has_seen_test_set): no accuracy points. (Below the
    mark, the low accuracy's cause is the message: a model trained on other data than it is
    graded on has seen neither set, and its gap is noise.)"""
    _, labels = training_images(context)
    trained = accuracy_of(predictions_of(model, "train"), labels)
    if has_seen_test_set(test, tests, trained, len(labels)):
        limit = seen_gap_limit(test, tests, trained, len(labels))
        raise CheckFailed(
            MISTAKES[SEEN_TEST_SET], file=file, test=f"{test:.1%}", tests=tests,
            trained=f"{trained:.1%}", trainings=len(labels),
            gap=f"{(test - trained) * 100:.1f}", limit=f"{limit * 100:.1f}",
        )  # fmt: skip


NEAR_CHANCE = 0.2  # 10 digits: a model that learned nothing is right about 10% of the time
SMALL_LEARNING_RATE = 1e-4  # Adam's default is 1e-3


def _l2_columns(images: np.ndarray) -> np.ndarray:
    """What keras.utils.normalize(images, axis=1) computes: each column of pixels to length 1."""
    images = images.astype(np.float32)
    norms = np.linalg.norm(images, axis=1, keepdims=True)
    return images / np.where(norms == 0, 1, norms)


OTHER_SCALINGS = {"images scaled with keras.utils.normalize(x, axis=1)": _l2_columns}


def _judge_low_accuracy(
    context: Context,
    exercise: Exercise,
    model: ModelFacts,
    accuracy: float,
    facts: dict,
    spread: str,
) -> None:
    """Name what the evidence shows about a model below the mark, most specific cause first."""
    record = training_record(model)
    rate = learning_rate(model)
    if rate is not None and rate < SMALL_LEARNING_RATE:
        raise CheckFailed(MISTAKES["learning_rate_too_small"], rate=rate, **facts)
    if accuracy < NEAR_CHANCE:
        evidence = _curve(record, "; the notebook recorded {}")
        raise CheckFailed(MISTAKES["accuracy_near_chance"], evidence=evidence, **facts)
    data = context.data()
    _, (raw_images, labels) = data
    for way, scale in OTHER_SCALINGS.items():
        other = accuracy_of(predict_with(context, model, scale(raw_images)), labels)
        if other > accuracy + 0.01:
            raise CheckFailed(
                MISTAKES["other_scaling"], file=facts["file"], scaled=facts["accuracy"],
                other=f"{other:.1%}", way=way,
            )  # fmt: skip
    if record and record["data_source"] != data.source:
        raise CheckFailed(
            MISTAKES["trained_on_other_data"],
            trained=_describe_source(record["data_source"]),
            graded=_describe_source(data.source),
            **facts,
        )
    evidence = f"; {spread}{_curve(record, '. The notebook recorded {}')}"
    raise CheckFailed(MISTAKES["accuracy_too_low"], evidence=evidence, **facts)


def _describe_source(source: str) -> str:
    from digits.data import SOURCE_DESCRIPTIONS

    return SOURCE_DESCRIPTIONS.get(source, source)


def learning_rate(model: ModelFacts) -> float | None:
    config = model.compile_config
    optimizer = (config or {}).get("optimizer")
    rate = (
        (optimizer or {}).get("config", {}).get("learning_rate")
        if isinstance(optimizer, dict)
        else None
    )
    return float(rate) if isinstance(rate, (int, float)) else None


def training_record(model: ModelFacts) -> dict | None:
    """The notebook's record of how the saved model was trained, if it holds a readable one.

    Plain JSON in the learner's file (read by the worker): only checked values are kept, and
    only for messages.
    """
    data = model.record
    if not isinstance(data, dict) or not isinstance(data.get("data_source"), str):
        return None
    history = data["history"] if isinstance(data.get("history"), dict) else {}
    curves = {
        name: [float(value) for value in values]
        for name, values in history.items()
        if name in ("loss", "accuracy") and isinstance(values, list)
        and values and all(isinstance(value, (int, float)) for value in values)
    }  # fmt: skip
    return {"data_source": data["data_source"][:40], "curves": curves}


def _curve(record: dict | None, template: str) -> str:
    """What the recorded training curve shows, put in `template` ({} for the curve), or ""."""
    if not record or "loss" not in record["curves"]:
        return ""
    loss = record["curves"]["loss"]
    curve = f"{len(loss)} epoch" + ("s" if len(loss) != 1 else "") + " of training (loss "
    curve += f"{loss[0]:.3g} to {loss[-1]:.3g}" if len(loss) > 1 else f"{loss[0]:.3g}"
    if "accuracy" in record["curves"]:
        curve += f", training accuracy {record['curves']['accuracy'][-1]:.1%}"
    return template.format(curve + ")")


def percentages(accuracy: float, threshold: float) -> tuple[str, str]:
    """Both as percentages, with the fewest decimals (at least 1) that show them differ."""
    for decimals in range(1, 5):
        shown, mark = f"{accuracy:.{decimals}%}", f"{threshold:.{decimals}%}"
        if shown != mark and (float(shown[:-1]) < float(mark[:-1])) == (accuracy < threshold):
            break
    return shown, mark


def noise(accuracy: float, threshold: float, count: int) -> str:
    """How the distance to the mark compares with the test set's sampling noise: the standard
    error sqrt(p (1 - p) / n) of an accuracy near the mark measured on `count` digits."""
    error = math.sqrt(threshold * (1 - threshold) / count)
    text = f"the standard error on {count:,} test digits is ±{error:.1%}".replace("%", " points")
    if abs(accuracy - threshold) < error:
        text += ", so this is within the noise of the mark: a new training run may land either side"
    return text


# ---------------------------------------------------------------- judging a model


def input_shape_of(model: ModelFacts) -> tuple:
    """The model's input shape; a model built without keras.Input has none (a learner mistake)."""
    if model.input_shape is None:
        raise CheckFailed(MISTAKES["no_input_shape"])
    return model.input_shape


def output_shape_of(model: ModelFacts) -> tuple:
    return model.output_shape if model.output_shape is not None else ()


def layers_of(model: ModelFacts) -> list:
    """The layers that matter for the contract: activation layers folded into the previous one."""
    layers: list = []
    for name, shape, activation in model.layers:
        if name in SHAPE_ONLY_LAYERS:
            continue
        if name in ("Activation", "Softmax") and layers:
            activation = "softmax" if name == "Softmax" else activation
            layers[-1] = (layers[-1][0], layers[-1][1], activation)
            continue
        layers.append((name, shape or (), activation))
    return layers


def judge_last_layer(layers: list) -> None:
    _, shape, activation = layers[-1]
    if shape[-1] != 10:
        units = f"{shape[-1]} unit" + ("" if shape[-1] == 1 else "s")
        raise CheckFailed(MISTAKES["last_layer_units"], got=units)
    if activation != "softmax":
        raise CheckFailed(MISTAKES["last_layer_not_softmax"], got=activation)


def arrow(shapes: list) -> str:
    return " -> ".join(str(shape[-1]) if len(shape) == 2 else str(shape) for shape in shapes)


def judge_compile(model, require_adam: bool) -> str:
    """Optimizer, loss and metric as the exercise asks, read from the model's compile config
    (`model`: its ModelFacts, or a Keras model of this process)."""
    config = facts_of(model).compile_config
    if not config:
        raise CheckFailed(MISTAKES["not_compiled"])
    optimizer = (config.get("optimizer") or {}).get("class_name", str(config.get("optimizer")))
    if require_adam and optimizer.lower() != "adam":
        raise CheckFailed(MISTAKES["wrong_optimizer"], got=optimizer, want="Adam")
    loss, from_logits = loss_name(config.get("loss"))
    if loss == SPARSE_LOSS and from_logits:
        raise CheckFailed(MISTAKES["softmax_from_logits"])
    if loss == "categorical_crossentropy":
        raise CheckFailed(MISTAKES["categorical_with_integer_labels"], got=loss)
    if loss != SPARSE_LOSS:
        raise CheckFailed(MISTAKES["wrong_loss"], got=loss)
    metrics = [_metric_name(metric) for metric in config.get("metrics") or []]
    if not ACCURACY_METRICS.intersection(metrics):
        weights = config.get("loss_weights")
        if isinstance(weights, list) and ACCURACY_METRICS.intersection(map(str, weights)):
            raise CheckFailed(MISTAKES["metrics_as_loss_weights"])
        raise CheckFailed(MISTAKES["missing_accuracy_metric"], got=metrics or "none")
    return f"{optimizer}, {loss}, metrics {metrics}"


def loss_name(loss) -> tuple[str, bool]:
    if isinstance(loss, dict):
        config = loss.get("config")
        if isinstance(config, str):  # a plain function such as keras.losses.mse
            return _snake(config), False
        config = config or {}
        return _snake(config.get("name") or loss.get("class_name", "")), bool(
            config.get("from_logits", False)
        )
    return _snake(str(loss)), False


def _metric_name(metric) -> str:
    if isinstance(metric, dict):
        config = metric.get("config")
        if isinstance(config, dict) and config.get("name"):
            return _snake(config["name"])
        return _snake(metric.get("class_name", ""))
    return _snake(str(metric))


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def judge_probabilities(probabilities: np.ndarray, file: str) -> None:
    """Rows of 10 non-negative numbers that sum to 1."""
    problem = None
    if probabilities.ndim != 2 or probabilities.shape[1] != 10:
        problem = f"output shape {probabilities.shape} instead of (n, 10)"
    elif not np.all(np.isfinite(probabilities)):
        problem = "some outputs are NaN or infinite"
    elif probabilities.min() < -1e-6 or probabilities.max() > 1 + 1e-6:
        problem = f"outputs range from {probabilities.min():.3g} to {probabilities.max():.3g}"
    elif not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3):
        problem = "the 10 outputs of a row do not sum to 1"
    if problem:
        raise CheckFailed(MISTAKES["invalid_probabilities"], file=file, problem=problem)


def accuracy_of(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(probabilities, axis=1) == labels))


def confidence(probabilities: np.ndarray) -> float:
    """The mean of each row's top probability."""
    return float(np.mean(np.max(probabilities, axis=1)))


def right_without_confidence(scaled: np.ndarray, labels: np.ndarray) -> bool:
    """Right far more often than confident: the first sign of a model trained on 0-255 pixels
    (see trained_on_raw_pixels), and the only one that needs no second prediction."""
    return accuracy_of(scaled, labels) - confidence(scaled) > 0.3


def trained_on_raw_pixels(scaled: np.ndarray, raw: np.ndarray, labels: np.ndarray) -> bool:
    """Whether a model was trained on 0-255 pixels, from its outputs on both scalings.

    A ReLU network's arg-max hardly changes when its inputs are divided by 255, so accuracy alone
    cannot tell; its confidence does. Trained on raw pixels, it gives nearly uniform
    probabilities on scaled ones (mean top probability about 0.13) while still ranking the right
    digit first (about 80% of the time), and it does as well on raw pixels. A model trained on
    scaled pixels, or not trained at all, is about as confident as it is accurate.
    """
    accuracy_scaled = accuracy_of(scaled, labels)
    return right_without_confidence(scaled, labels) and (
        accuracy_of(raw, labels) >= accuracy_scaled - 0.05
    )


CheckRun = Callable[[Context, Exercise], str]
PREPARATIONS: dict[CheckRun, Callable[[Context, Exercise], object]] = {
    # each saved-file check, and the part of it that needs no learner code
    check_saved_model: saved_file,
    check_reload: reload_predictions,
    check_accuracy: test_set_probabilities,
}


def saved_file_check(check_id: str, title: str, points: float, run: CheckRun) -> Check:
    """A check of the model file the notebook saved: not run by the notebook's own check(), and
    prepared (the file loaded, its predictions made) while the learner's worker starts."""
    work = PREPARATIONS[run]

    def prepare(context: Context, exercise: Exercise) -> None:
        saved_file(context, exercise)  # first: without a file, a preparation never trains
        work(context, exercise)

    return Check(check_id, title, points, run, needs_files=True, prepare=prepare)
