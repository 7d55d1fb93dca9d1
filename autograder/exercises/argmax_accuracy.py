"""Exercise 2, `argmax_accuracy(y_true, y_prob) -> float`: the fraction of rows whose arg-max
class equals the label, as `accuracy_score(y_true, np.argmax(y_prob, axis=1))` computes it.

The grader calls the learner's function on fresh random inputs each run (so a hard-coded answer
fails), and names the common wrong versions by the value they return on those inputs.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

import numpy as np

from autograder.isolation.protocol import FailureKind, LearnerFailure, argument_spec
from autograder.mistakes import CheckFailed, Mistake, catalogue
from autograder.runner import Check, Context, Exercise, explain_failure

MISTAKES = catalogue(
    Mistake(
        "returns_tensor",
        "argmax_accuracy() returned a TensorFlow tensor ({type}), not a Python float.",
        "Use NumPy (np.argmax, np.mean), or wrap the result: return float(...).",
    ),
    Mistake(
        "returns_array",
        "argmax_accuracy() returned an array of shape {shape}: the comparison of each row, not "
        "its mean.",
        "Reduce it to one number: return float(np.mean(predicted == y_true)).",
    ),
    Mistake(
        "returns_none",
        "argmax_accuracy() returned None: its return statement is missing, or not reached "
        "(printing a value does not return it).",
        "End the function with return and the fraction, for example: "
        "return float(np.mean(predicted == y_true)).",
    ),
    Mistake(
        "rounded",
        "argmax_accuracy() returned {value} on {case}, the expected value {expected} rounded.",
        "Return the fraction as it is: do not round it (round only where you print it).",
    ),
    Mistake(
        "returns_several",
        "argmax_accuracy() returned a {type} of {count} values; it returns one number, the "
        "fraction.",
        "Return the fraction alone: return float(np.mean(predicted == y_true)).",
    ),
    Mistake(
        "returns_non_float",
        "argmax_accuracy() returned {type} ({value}), not a Python float.",
        "Convert the result: return float(...).",
    ),
    Mistake(
        "integer_division",
        "argmax_accuracy() returned {value} on {case}, where the fraction is {expected}: it "
        "divides with //, which rounds down to a whole number, so every fraction below 1 "
        "becomes 0.",
        "Divide with one slash (use / instead of //), or take the mean: "
        "np.mean(predicted == y_true).",
    ),
    Mistake(
        "returns_percentage",
        "argmax_accuracy() returned {value}, a percentage; the exercise asks for a fraction in "
        "[0, 1].",
        "Do not multiply by 100.",
    ),
    Mistake(
        "returns_count",
        "argmax_accuracy() returned {value}, the number of correct rows, not the fraction.",
        "Divide by the number of rows (len(y_true)), or use np.mean.",
    ),
    Mistake(
        "out_of_range",
        "argmax_accuracy() returned {value}, outside [0, 1].",
        "Return the fraction of rows whose arg-max class equals the label.",
    ),
    Mistake(
        "swapped_arguments",
        "argmax_accuracy() names its parameters {names}, but the grader calls it as "
        "argmax_accuracy(y_true, y_prob), labels first: np.argmax(..., axis=1) then gets the "
        "labels, a 1-D array.",
        "Define it as def argmax_accuracy(y_true, y_prob): (labels first, then probabilities).",
    ),
    Mistake(
        "argmax_axis_0",
        "argmax_accuracy() takes the arg-max over axis 0 (down the columns) instead of over "
        "each row.",
        "Use np.argmax(y_prob, axis=1): one predicted class per row.",
    ),
    Mistake(
        "one_hot_comparison",
        "argmax_accuracy() compares rows of 10 values (the probabilities y_prob themselves, or "
        "one-hot labels) with the integer labels of y_true, such as 7, so the shapes (n, 10) and "
        "(n,) do not match.",
        "Compare one predicted class per row, np.argmax(y_prob, axis=1), with y_true as it is.",
    ),
    Mistake(
        "argmax_of_labels",
        "argmax_accuracy() takes the arg-max of y_true, but y_true holds integer labels (shape "
        "(n,)), not one-hot rows.",
        "Only y_prob needs np.argmax(..., axis=1); compare the result with y_true as it is.",
    ),
    Mistake(
        "accuracy_score_on_probabilities",
        "accuracy_score got raw probabilities: pass np.argmax(y_prob, axis=1).",
        "sklearn's accuracy_score compares labels with labels; turn each row of probabilities "
        "into its class first.",
    ),
    Mistake(
        "no_match",
        "argmax_accuracy() returns 0 on every input: no row is ever counted as right, so what it "
        "compares with the labels is never a class 0-9.",
        "Compare the predicted class np.argmax(y_prob, axis=1) with y_true: np.max gives a row's "
        "highest probability (such as 0.93), and probabilities or one-hot rows never equal a "
        "label.",
    ),
    Mistake(
        "hard_coded",
        "argmax_accuracy() returns {value} whatever the inputs: the grader uses random inputs.",
        "Compute the fraction from y_true and y_prob.",
    ),
    Mistake(
        "ignores_labels",
        "argmax_accuracy() returned {value} on {case}, and {value} again on the same y_prob "
        "with labels y_true that make every row right (expected 1): its answer does not follow "
        "y_true.",
        "Compare with the labels the function receives, its parameter y_true, not the "
        "notebook's y_test or labels loaded in the cell.",
    ),
    Mistake(
        "not_repeatable",
        "argmax_accuracy() returned {first} and then {second} on the same inputs: its result "
        "must depend on y_true and y_prob only.",
        "Compute the fraction from y_true and y_prob, without random numbers or state kept "
        "between calls.",
    ),
    Mistake(
        "wrong_value",
        "argmax_accuracy() returned {value} on {case}; the expected value is {expected}.",
        "Count the rows where np.argmax(y_prob, axis=1) equals y_true, divided by the number "
        "of rows.",
    ),
    Mistake(
        "fails_on_input_type",
        "argmax_accuracy() fails when {case}: {problem}",
        "Convert the inputs first: y_true = np.asarray(y_true); y_prob = np.asarray(y_prob).",
    ),
)

# Error texts of the learner's code that name one of these mistakes (see Exercise.known_errors).
KNOWN_ERRORS = [
    (r"Classification metrics can't handle a mix", MISTAKES["accuracy_score_on_probabilities"]),
    (r"axis 1 is out of bounds for array of dimension 1", MISTAKES["argmax_of_labels"]),
    (r"shapes \(10,\) \(\d+,\)|shapes \(\d+,\) \(10,\)", MISTAKES["argmax_axis_0"]),
    (r"inconsistent numbers of samples", MISTAKES["argmax_axis_0"]),
    (r"shapes \(\d+,10\) \(\d+,\)|shapes \(\d+,\) \(\d+,10\)", MISTAKES["one_hot_comparison"]),
]
LABEL_NAMES = ("true", "label", "target")


def swapped_parameters(names: list[str]) -> bool:
    """Whether a function's parameters put the labels second (argmax_accuracy(y_prob, y_true))."""
    return len(names) == 2 and any(word in names[1].lower() for word in LABEL_NAMES)


def refine_mistake(mistake: Mistake, parameters: list[str]) -> Mistake:
    """An arg-max of the labels is a swapped call when the parameters say so."""
    if mistake == MISTAKES["argmax_of_labels"] and swapped_parameters(parameters):
        return MISTAKES["swapped_arguments"]
    return mistake


# ---------------------------------------------------------------- random inputs


@dataclass
class Case:
    name: str
    y_true: np.ndarray  # int64 labels, shape (n,)
    y_prob: np.ndarray  # float32 probabilities, shape (n, 10)

    @property
    def expected(self) -> float:
        return float(np.mean(np.argmax(self.y_prob, axis=1) == self.y_true))

    def wrong_versions(self) -> dict[str, float]:
        """What the common mistakes return on this case, when they return at all."""
        predicted = np.argmax(self.y_prob, axis=1)
        versions = {
            "returns_percentage": 100 * self.expected,
            "returns_count": float(np.sum(predicted == self.y_true)),
        }
        if len(self.y_true) == 10:
            versions["argmax_axis_0"] = float(
                np.mean(np.argmax(self.y_prob, axis=0) == self.y_true)
            )
            one_hot = np.eye(10)[self.y_true]
            versions["one_hot_comparison"] = float(np.mean(predicted == one_hot))
        return versions


def make_case(name: str, rows: int, correct: int, rng: np.random.Generator) -> Case:
    """`rows` random probability rows whose labels match the arg-max in exactly `correct` rows."""
    logits = rng.normal(scale=3.0, size=(rows, 10))
    y_prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    predicted = np.argmax(y_prob, axis=1)
    y_true = predicted.copy()
    wrong_rows = rng.choice(rows, size=rows - correct, replace=False)
    y_true[wrong_rows] = (predicted[wrong_rows] + rng.integers(1, 10, size=len(wrong_rows))) % 10
    return Case(name, y_true.astype(np.int64), y_prob.astype(np.float32))


PRIME_ROWS = (41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89)


def make_cases(seed: int | None = None) -> list[Case]:
    """A fresh random set each run (so a hard-coded answer fails), or a fixed one for a seed."""
    rng = np.random.default_rng(secrets.randbits(64) if seed is None else seed)
    # A prime number of rows: the expected fraction never has a short decimal form, so a rounded
    # answer always fails (with 50 rows, round(..., 2) would be exact).
    rows = int(rng.choice(PRIME_ROWS))
    return [
        make_case(f"{rows} random rows", rows, int(rng.integers(5, rows - 5)), rng),
        make_case("10 random rows", 10, int(rng.integers(3, 8)), rng),
        make_case("rows that are all right", 25, 25, rng),
        make_case("rows that are all wrong", 30, 0, rng),
        make_case("a single row", 1, 1, rng),
    ]


# ---------------------------------------------------------------- the checks


def _cases(context: Context) -> list[Case]:
    if context.cases is None:
        context.cases = make_cases(context.seed)
    return context.cases


def _call_on(context: Context, exercise: Exercise, case: Case, kinds=("int64", "float32")) -> dict:
    arguments = [argument_spec(case.y_true, kinds[0]), argument_spec(case.y_prob, kinds[1])]
    return context.learner.call(exercise.function, arguments)


def check_returns_float(context: Context, exercise: Exercise) -> str:
    case = _cases(context)[0]
    result = _call_on(context, exercise, case)
    if result["is_tensor"]:
        raise CheckFailed(MISTAKES["returns_tensor"], type=result["type"])
    if result["type"] == "builtins.NoneType":
        raise CheckFailed(MISTAKES["returns_none"])
    type_name = result["type"].removeprefix("builtins.")
    if type_name in ("tuple", "list") and result["shape"]:
        raise CheckFailed(MISTAKES["returns_several"], type=type_name, count=result["shape"][0])
    if result["shape"]:
        raise CheckFailed(MISTAKES["returns_array"], shape=tuple(result["shape"]))
    value = result["value"]
    if value is not None and value == case.wrong_versions()["returns_count"] != case.expected:
        raise CheckFailed(MISTAKES["returns_count"], value=_number(value))
    if not result["is_float"] and _integer_division([value], [case]):
        raise CheckFailed(MISTAKES["integer_division"], **_shown(value, case))
    if not result["is_float"] or result["is_bool"]:
        raise CheckFailed(MISTAKES["returns_non_float"], type=type_name, value=_number(value))
    _judge_uses_inputs(context, exercise)
    return "returns a Python float"


def _judge_uses_inputs(context: Context, exercise: Exercise) -> None:
    """A function that returns one value whatever the inputs, or another value on the same
    inputs (a random number), earns nothing for its exercise: judged in its first check, so no
    later check gives it points."""
    cases = _cases(context)
    try:
        values = [_call_on(context, exercise, case)["value"] for case in cases]
        again = _call_on(context, exercise, cases[0])["value"]
    except LearnerFailure:
        return  # a later check reports the error
    if _number(values[0]) != _number(again):  # as shown: nan and nan are the same answer
        raise CheckFailed(
            MISTAKES["not_repeatable"], first=_number(values[0]), second=_number(again)
        )
    expected = {case.expected for case in cases}
    if len(set(values)) == 1 and len(expected) > 1:
        _raise_constant(values[0])
    _judge_follows_labels(context, exercise, cases[0], values[0])


def _judge_follows_labels(context: Context, exercise: Exercise, case: Case, value) -> None:
    """A function that compares with other labels than y_true (the notebook's y_test, or MNIST
    read from disk) returns the same value when only y_true changes: it earns nothing either."""
    labels = np.argmax(case.y_prob, axis=1).astype(np.int64)  # every row right: expected 1
    try:
        again = _call_on(context, exercise, Case(case.name, labels, case.y_prob))["value"]
    except LearnerFailure:
        return  # a later check reports the error
    if value is not None and not math.isnan(value) and again == value != 1.0:
        raise CheckFailed(MISTAKES["ignores_labels"], value=_number(value), case=case.name)


def _raise_constant(value) -> None:
    if value == 0.0:
        raise CheckFailed(MISTAKES["no_match"])
    raise CheckFailed(MISTAKES["hard_coded"], value=_number(value))


def check_range(context: Context, exercise: Exercise) -> str:
    case = _cases(context)[0]
    value = _call_on(context, exercise, case)["value"]
    if 0.0 <= value <= 1.0:
        return "the value is in [0, 1]"
    wrong = case.wrong_versions()
    if np.isclose(value, wrong["returns_percentage"]):
        raise CheckFailed(MISTAKES["returns_percentage"], value=_number(value))
    if np.isclose(value, wrong["returns_count"]):
        raise CheckFailed(MISTAKES["returns_count"], value=_number(value))
    raise CheckFailed(MISTAKES["out_of_range"], value=_number(value))


def check_values(context: Context, exercise: Exercise) -> str:
    cases = _cases(context)
    values = [_call_on(context, exercise, case)["value"] for case in cases]
    expected = [case.expected for case in cases]
    if len(set(values)) == 1 and len(set(expected)) > 1:
        _raise_constant(values[0])
    if _integer_division(values, cases):
        case, value = next((c, v) for c, v in zip(cases, values, strict=True) if v != c.expected)
        raise CheckFailed(MISTAKES["integer_division"], **_shown(value, case))
    for case, value in zip(cases, values, strict=True):
        if value is not None and np.isclose(value, case.expected, rtol=0, atol=1e-6):
            continue
        for mistake, wrong in case.wrong_versions().items():
            if value is not None and np.isclose(value, wrong, rtol=0, atol=1e-6):
                raise CheckFailed(MISTAKES[mistake], value=_number(value))
        shown = _shown(value, case)
        if value is not None and _rounded(value, case.expected):
            raise CheckFailed(MISTAKES["rounded"], **shown)
        raise CheckFailed(MISTAKES["wrong_value"], **shown)
    return f"right on {len(cases)} random cases"


INPUT_KINDS = [
    ("y_true and y_prob are Python lists", ("list", "list")),
    ("y_true is uint8", ("uint8", "float32")),
    ("y_true is int32", ("int32", "float32")),
    ("y_prob is float64", ("int64", "float64")),
]


def check_input_types(context: Context, exercise: Exercise) -> str:
    case = _cases(context)[0]
    for name, kinds in INPUT_KINDS:
        try:
            value = _call_on(context, exercise, case, kinds)["value"]
        except LearnerFailure as failure:
            if failure.kind != FailureKind.ERROR:
                raise
            message, _ = explain_failure(failure, exercise)
            raise CheckFailed(MISTAKES["fails_on_input_type"], case=name, problem=message) from None
        if value is None or not np.isclose(value, case.expected, rtol=0, atol=1e-6):
            raise CheckFailed(
                MISTAKES["wrong_value"],
                value=_number(value),
                case=name,
                expected=_number(case.expected),
            )
    return "works with lists, uint8/int32/int64 labels, float32/float64 probabilities"


def _integer_division(values: list, cases: list[Case]) -> bool:
    """Whether each value is its case's fraction rounded down to a whole number (what `//`
    gives), on cases where that is not the fraction itself."""
    return any(value != case.expected for value, case in zip(values, cases, strict=True)) and all(
        value is not None and value == math.floor(case.expected)
        for value, case in zip(values, cases, strict=True)
    )


def _shown(value, case: Case) -> dict:
    return dict(value=_number(value), case=case.name, expected=_number(case.expected))


def _rounded(value: float, expected: float) -> bool:
    return any(
        np.isclose(value, round(expected, digits), rtol=0, atol=1e-9) for digits in (1, 2, 3, 4, 5)
    )


def _number(value) -> str:
    return "None" if value is None else f"{value:.6g}"


# Its hints, in Markdown, one at a time: the generator writes them into the notebook's hint
# cell, and hint(argmax_accuracy) in a notebook cell shows the next one.
HINTS = [
    (
        "`np.argmax(array, axis=...)` gives the position of the largest value. `axis=1` works "
        "along each\n"
        "row (one answer per image); `axis=0` would work down each column, which is not what you "
        "want."
    ),
    (
        "Comparing two arrays of the same shape with `==` gives an array of `True`/`False`. The "
        "mean of\n"
        "that array is the fraction of `True`: `True` counts as 1 and `False` as 0."
    ),
    (
        "`y_true` and `y_prob` may be plain lists: `np.asarray` turns each into an array first. "
        "NumPy returns its own\n"
        "number types; wrap the result in `float(...)` to return a Python float."
    ),
]


EXERCISE = Exercise(
    function="argmax_accuracy",
    hints=HINTS,
    notebook="02_argmax_accuracy.ipynb",
    known_errors=KNOWN_ERRORS,
    notebook_variables={"y_test": "y_true", "y_train": "y_true"},
    refine_mistake=refine_mistake,
    checks=[
        Check("argmax_accuracy.returns_float", "returns a float", 1, check_returns_float),
        Check("argmax_accuracy.range", "a fraction in [0, 1]", 1, check_range),
        Check("argmax_accuracy.values", "right on random inputs", 2, check_values),
        Check("argmax_accuracy.input_types", "lists and dtypes", 1, check_input_types),
    ],
)
