"""The catalogue of common mistakes: what went wrong, and what to try. One entry per mistake.

Messages are format strings; the judge fills in what it measured. Tests inject each mistake into
a copy of the reference solutions and expect its message.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    message: str
    hint: str


CATALOGUE: dict[str, Mistake] = {
    # build_model() / build_cnn(): what they return
    "not_a_model": Mistake(
        "{function}() returned {type}, not a Keras model.",
        "End the function with `return model` (the compiled keras.Model).",
    ),
    "model_not_loadable": Mistake(
        "The model returned by {function}() could not be saved and reloaded: {error}",
        "Build it from standard keras.layers only (no Lambda layers or custom classes).",
    ),
    "subclassed_model": Mistake(
        "{function}() returned a subclass of keras.Model ({type}), which the grader cannot "
        "reload without running your class's code.",
        "Build the model with keras.Sequential([...]) (or the functional API) and standard "
        "keras.layers.",
    ),
    "no_input_shape": Mistake(
        "The model has no input shape, so Keras does not know the size of its layers until it "
        "sees data, and the grader cannot check them.",
        "Declare the input: start the model with keras.Input(shape=(28, 28)).",
    ),
    "no_channel_axis": Mistake(
        "Conv2D needs images with a channel axis, shape (28, 28, 1), but the model feeds it "
        "(28, 28) images.",
        "Add keras.layers.Reshape((28, 28, 1)) after keras.Input(shape=(28, 28)), before the "
        "first Conv2D.",
    ),
    # architecture
    "wrong_input_shape": Mistake(
        "The model's input shape is {got}; the course's images have shape {want}.",
        "Start the model with keras.Input(shape=(28, 28)).",
    ),
    "no_flatten": Mistake(
        "There is no Flatten layer after the input, so each Dense layer works on rows of 28 "
        "pixels and the output shape is {got} instead of (None, 10).",
        "Add keras.layers.Flatten() right after keras.Input(shape=(28, 28)).",
    ),
    "wrong_layers": Mistake(
        "The layer output shapes are {got}; the exercise asks for {want}.",
        "Use Flatten, then Dense(128, relu), Dense(128, relu) and Dense(10, softmax).",
    ),
    "wrong_activation": Mistake(
        "Layer {index} ({layer}) uses activation {got}; the exercise asks for {want}.",
        'Pass activation="{want}" to that Dense layer.',
    ),
    "last_layer_units": Mistake(
        "The last layer has {got} units; it needs 10, one per digit.",
        'End with keras.layers.Dense(10, activation="softmax").',
    ),
    "last_layer_not_softmax": Mistake(
        "The last layer's activation is {got}, so the outputs are not probabilities.",
        'Use activation="softmax" on the last Dense(10) layer.',
    ),
    "wrong_parameter_count": Mistake(
        "The model has {got:,} parameters; the course's model has {want:,}.",
        "Check the number of units of each Dense layer (128, 128, 10).",
    ),
    "no_convolution": Mistake(
        "The model has no Conv2D layer, so it is not a CNN.",
        "Reshape the input to (28, 28, 1) and add keras.layers.Conv2D layers before Flatten.",
    ),
    # compile
    "not_compiled": Mistake(
        "The model is not compiled.",
        'Call model.compile(optimizer=..., loss=..., metrics=["accuracy"]) before returning it.',
    ),
    "wrong_optimizer": Mistake(
        "The optimizer is {got}; the exercise asks for {want}.",
        'Pass optimizer="adam" to model.compile().',
    ),
    "softmax_from_logits": Mistake(
        "The loss has from_logits=True but the last layer already applies softmax, so softmax "
        "is applied twice and training is slow and poor.",
        'Drop from_logits=True: use loss="sparse_categorical_crossentropy".',
    ),
    "categorical_with_integer_labels": Mistake(
        "The loss is {got}, which expects one-hot labels, but MNIST's labels are integers 0-9.",
        'Use loss="sparse_categorical_crossentropy", made for integer labels.',
    ),
    "wrong_loss": Mistake(
        "The loss is {got}; the exercise asks for sparse_categorical_crossentropy.",
        'Pass loss="sparse_categorical_crossentropy" to model.compile().',
    ),
    "metrics_as_loss_weights": Mistake(
        '["accuracy"] was passed as the third positional argument of compile(), which is '
        "loss_weights, so the model has no accuracy metric.",
        'Pass it by keyword: model.compile(..., metrics=["accuracy"]).',
    ),
    "missing_accuracy_metric": Mistake(
        "The model's metrics are {got}; the exercise asks for accuracy.",
        'Pass metrics=["accuracy"] to model.compile().',
    ),
    # the saved model file
    "model_file_missing": Mistake(
        "{file} was not found beside {notebook}.",
        "Run {notebook} top to bottom: {writer} saves it.",
    ),
    "model_file_out_of_date": Mistake(
        "{file} holds an older model than the one {function}() builds now ({problem}): the file "
        "was saved before your last change to {function}().",
        "Run {notebook} again from the top (Run all) so that {file} is saved from the current "
        "{function}().",
    ),
    "model_file_has_code": Mistake(
        "{file} holds a Lambda layer (Python code), which the grader does not run.",
        "Replace the Lambda layer with standard keras.layers (for scaling, "
        "keras.layers.Rescaling(1 / 255)), then train and save again.",
    ),
    "model_file_invalid": Mistake(
        "{file} could not be loaded as a Keras model: {error}",
        'Save it from the notebook with model.save("{file}") after training.',
    ),
    "invalid_probabilities": Mistake(
        "The model in {file} does not output probabilities: {problem}.",
        'End the model with Dense(10, activation="softmax").',
    ),
    "predictions_change_after_reload": Mistake(
        "{first} and {second} give different predictions (largest difference {difference:.3g}).",
        "Save both files from the same trained model, right after training.",
    ),
    "pixels_not_scaled": Mistake(
        "The model in {file} was trained on unscaled pixels (0-255): on pixels scaled to [0, 1] "
        "its probabilities are nearly uniform (mean top probability {confidence:.0%}, accuracy "
        "{scaled:.1%}), on raw pixels it is confident ({raw:.1%} accuracy).",
        "Divide the images by 255 (digits.normalize) before model.fit, then train and save again.",
    ),
    "other_scaling": Mistake(
        "The model in {file} was trained on images scaled another way: the grader feeds it "
        "pixels divided by 255 (digits.normalize) and it reaches {scaled} there, but {other} on "
        "{way}.",
        "Scale the images with digits.normalize (x / 255) before model.fit, then train and save "
        "again.",
    ),
    "trained_on_other_data": Mistake(
        "The model in {file} reaches {accuracy} on {data}; at least {threshold} is needed. It was "
        "trained on the {trained} in the notebook, but is graded on {graded}.",
        "Run the notebook again where the grading data is available (online, or with "
        "MNIST_PATH set), then save and submit the new {file}.",
    ),
    "accuracy_near_chance": Mistake(
        "The model in {file} reaches {accuracy} test accuracy on {data}, about chance for 10 "
        "digits: it looks untrained{evidence}.",
        "Save the model after model.fit, not before, and check in the notebook that the "
        "training loss goes down.",
    ),
    "learning_rate_too_small": Mistake(
        "The model in {file} reaches {accuracy} test accuracy on {data}; at least {threshold} is "
        "needed. Its optimizer's learning rate is {rate:g} (Adam's default is 0.001), so its "
        "weights hardly moved during training.",
        'Compile with optimizer="adam" (learning rate 0.001), then train and save again.',
    ),
    "accuracy_too_low": Mistake(
        "The model in {file} reaches {accuracy} test accuracy on {data}; at least "
        "{threshold} is needed{evidence}.",
        "Train for the number of epochs the notebook asks on scaled images, then save again; "
        "check that the model is saved after model.fit, not before.",
    ),
    "marks_missing": Mistake(
        "No accuracy mark for the {kind} model on MNIST_PATH={origin}: its test set is not "
        "MNIST's, so the instructor sets the mark in course.toml ([marks] {kind} = ...; see the "
        'README, "Course configuration").',
        "",
    ),
    "course_config_invalid": Mistake("The course configuration is invalid: {error}", ""),
    # argmax_accuracy()
    "returns_tensor": Mistake(
        "argmax_accuracy() returned a TensorFlow tensor ({type}), not a Python float.",
        "Use NumPy (np.argmax, np.mean), or wrap the result: return float(...).",
    ),
    "returns_array": Mistake(
        "argmax_accuracy() returned an array of shape {shape}: the comparison of each row, not "
        "its mean.",
        "Reduce it to one number: return float(np.mean(predicted == y_true)).",
    ),
    "returns_non_float": Mistake(
        "argmax_accuracy() returned {type} ({value}), not a Python float.",
        "Convert the result: return float(...).",
    ),
    "returns_percentage": Mistake(
        "argmax_accuracy() returned {value}, a percentage; the exercise asks for a fraction in "
        "[0, 1].",
        "Do not multiply by 100.",
    ),
    "returns_count": Mistake(
        "argmax_accuracy() returned {value}, the number of correct rows, not the fraction.",
        "Divide by the number of rows (len(y_true)), or use np.mean.",
    ),
    "out_of_range": Mistake(
        "argmax_accuracy() returned {value}, outside [0, 1].",
        "Return the fraction of rows whose arg-max class equals the label.",
    ),
    "swapped_arguments": Mistake(
        "argmax_accuracy() names its parameters {names}, but the grader calls it as "
        "argmax_accuracy(y_true, y_prob), labels first: np.argmax(..., axis=1) then gets the "
        "labels, a 1-D array.",
        "Define it as def argmax_accuracy(y_true, y_prob): (labels first, then probabilities).",
    ),
    "argmax_axis_0": Mistake(
        "argmax_accuracy() takes the arg-max over axis 0 (down the columns) instead of over "
        "each row.",
        "Use np.argmax(y_prob, axis=1): one predicted class per row.",
    ),
    "one_hot_comparison": Mistake(
        "argmax_accuracy() compares rows of 10 values (the probabilities y_prob themselves, or "
        "one-hot labels) with the integer labels of y_true, such as 7, so the shapes (n, 10) and "
        "(n,) do not match.",
        "Compare one predicted class per row, np.argmax(y_prob, axis=1), with y_true as it is.",
    ),
    "argmax_of_labels": Mistake(
        "argmax_accuracy() takes the arg-max of y_true, but y_true holds integer labels (shape "
        "(n,)), not one-hot rows.",
        "Only y_prob needs np.argmax(..., axis=1); compare the result with y_true as it is.",
    ),
    "accuracy_score_on_probabilities": Mistake(
        "accuracy_score got raw probabilities: pass np.argmax(y_prob, axis=1).",
        "sklearn's accuracy_score compares labels with labels; turn each row of probabilities "
        "into its class first.",
    ),
    "no_match": Mistake(
        "argmax_accuracy() returns 0 on every input: no row is ever counted as right, so what it "
        "compares with the labels is never a class 0-9.",
        "Compare the predicted class np.argmax(y_prob, axis=1) with y_true: np.max gives a row's "
        "highest probability (such as 0.93), and probabilities or one-hot rows never equal a "
        "label.",
    ),
    "hard_coded": Mistake(
        "argmax_accuracy() returns {value} whatever the inputs: the grader uses random inputs.",
        "Compute the fraction from y_true and y_prob.",
    ),
    "wrong_value": Mistake(
        "argmax_accuracy() returned {value} on {case}; the expected value is {expected}.",
        "Count the rows where np.argmax(y_prob, axis=1) equals y_true, divided by the number "
        "of rows.",
    ),
    "fails_on_input_type": Mistake(
        "argmax_accuracy() fails when {case}: {problem}",
        "Convert the inputs first: y_true = np.asarray(y_true); y_prob = np.asarray(y_prob).",
    ),
    # how the learner's code ended
    "raised": Mistake(
        "your function raised {exc_type}: {message}{where}",
        "Run the cell and the check cell in the notebook to see the full error (or grade with "
        "--verbose).",
    ),
    "cell_raised": Mistake(
        "your cell raised {exc_type}: {message}{where}",
        "Run the cell in the notebook to see the full error and fix it.",
    ),
    "syntax_error": Mistake(
        "Python cannot read your cell: {exc_type}: {message}{where}.",
        "Fix that line (a missing bracket, colon or quote, or wrong indentation), then run the "
        "cell again.",
    ),
    "name_from_outside_cell": Mistake(
        "{function}() raised NameError: it uses the name {name}, which its cell does not "
        "define{where}. The grader runs the graded cell on its own, without the notebook's other "
        "cells.",
        "Define or import {name} inside the graded cell: {function}() must work with only its "
        "own cell (it should not train or load data).",
    ),
    "not_attempted": Mistake(
        "{function}() is not written yet (it still raises NotImplementedError).",
        "Replace the `raise NotImplementedError(...)` line with your code.",
    ),
    "not_found": Mistake(
        "{problem}",
        "Keep the notebook's name and its cell tagged `graded` that defines {function}().",
    ),
    "timeout": Mistake(
        "your function did not finish within {limit:g} s (an infinite loop or a very slow step?).",
        "Look for a loop that never ends; {function}() must not train or load data.",
    ),
    "exited": Mistake(
        "your function called sys.exit() or exit(); it must return a value.",
        "Remove the exit call and return the result.",
    ),
    "died": Mistake(
        "the process running your function ended abruptly (os._exit() or a crash).",
        "Remove any os._exit() call; make the function return normally.",
    ),
}


def describe(mistake_id: str, **values) -> tuple[str, str]:
    """The message and hint of a catalogued mistake, filled in with what was measured."""
    mistake = CATALOGUE[mistake_id]
    return mistake.message.format(**values), mistake.hint.format(**values)
