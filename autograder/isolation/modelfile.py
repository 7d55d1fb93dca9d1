"""Learners' model files (.keras, .h5): read only in a confined worker, never by the judge.

The worker (`worker.py`, op "model") loads a file with Keras' safe_mode, under a memory limit, with
Keras' temporary folder inside its own folder, and answers with plain data (`describe_file`): the
layers, the compile configuration and predictions as arrays (`encode_array`). The judge rebuilds
them with `decode_array` and never holds a Keras object of a learner's file.

Keras releases before `KERAS_FLOOR` run code from a model file despite safe_mode: the grader
refuses to start with one (`keras_too_old`).
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autograder.isolation.protocol import ModelRequest, decode_array, encode_array

# Keras' safe_mode advisories, by the first release that fixes each:
#   CVE-2025-1550 (GHSA-48g7-3x6r-xfhp), config.json imports any function: 3.9.0
#   CVE-2025-8747 / CVE-2025-9906 (GHSA-c9rc-mg46-23w3, GHSA-36fq-jgmw-4r9c), a config that
#     calls enable_unsafe_deserialization() then runs a Lambda: 3.11.0
#   CVE-2025-9905, an .h5 file's Lambda layer runs whatever safe_mode says: 3.11.3
#   CVE-2025-12060, path traversal in keras.utils.get_file's archive extraction: 3.12.0
#   CVE-2026-1462 (GHSA-4f3f-g24h-fr8m), TFSMLayer loads a SavedModel despite safe_mode: 3.12.1
#     on the 3.12 line, 3.13.2 on the 3.13 line, 3.14.0
#   GHSA-hqp4-2352-xf5r, path traversal during archive extraction: 3.14.0
# Keras 3.13 and later need Python 3.11: on Python 3.10 the 3.12 line (3.12.1 and later) is the
# newest there is, with every safe_mode fix but the archive-extraction one (get_file, which the
# grader never calls on a learner's file).
KERAS_FLOOR = (3, 14, 0) if sys.version_info >= (3, 11) else (3, 12, 1)


def keras_version() -> str | None:
    """The installed Keras' version, read without importing it (None: no Keras)."""
    try:
        return importlib.metadata.version("keras")
    except importlib.metadata.PackageNotFoundError:
        return None


def keras_too_old() -> str | None:
    """Why the installed Keras must not grade (one line), or None."""
    version = keras_version()
    if version is None:
        return None
    numbers = tuple(int(part) for part in re.findall(r"\d+", version)[:3])
    if numbers >= KERAS_FLOOR:
        return None
    floor = ".".join(map(str, KERAS_FLOOR))
    return (
        f"Keras {version} can run code hidden in a model file even with safe_mode "
        f"(CVE-2025-9905 and others), and the grader loads learners' model files: it needs "
        f'Keras {floor} or later. Upgrade it: pip install --upgrade "keras>={floor}"'
    )


# ---------------------------------------------------------------- in the worker: reading a file

MODEL_MEMORY_MB = 4096  # what reading one model file (and predicting with it) may add
MAX_EXPANDED_BYTES = 512 * 1024 * 1024  # what a .keras zip may unpack to (the reference: 1.5 MB)
PREDICT_BATCH = 1000  # digits per prediction: the unit the memory mistake speaks of
RESAVED = "@resaved"  # the predictions of a copy saved and loaded again, by input name
RECORD_ENTRY = "digits_training.json"  # written by digits.record.record_training
RECORD_LIMIT = 1_000_000  # bytes of the record, and of config.json, read for messages


class ModelFileTooLarge(Exception):
    """A .keras zip that unpacks to more than MAX_EXPANDED_BYTES (its message: the size)."""


def tensorflow_activations() -> dict[Any, str]:
    """TensorFlow's activations (tf.nn.softmax, from its classic tutorials) that Keras saves
    under their TensorFlow names, mapped to the same functions in Keras: plain Keras code."""
    import keras

    return {
        "softmax_v2": keras.activations.softmax,
        "log_softmax_v2": keras.activations.log_softmax,
    }


def load_model_file(path: Path, compile: bool = True) -> Any:
    """Load a model file without running any code it may carry (safe_mode), refusing a zip that
    unpacks past MAX_EXPANDED_BYTES before Keras unpacks anything."""
    import keras

    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            size = sum(entry.file_size for entry in archive.infolist())
        if size > MAX_EXPANDED_BYTES:
            raise ModelFileTooLarge(f"{size / 2**20:,.0f} MB")
    return keras.models.load_model(
        path, compile=compile, safe_mode=True, custom_objects=tensorflow_activations()
    )


def model_inputs(model: Any, images: np.ndarray) -> np.ndarray:
    """Images shaped for the model: a channel axis added where its input has one more axis."""
    try:
        rank = len(model.inputs[0].shape)
    except (AttributeError, ValueError, IndexError, TypeError):
        rank = images.ndim
    return images[..., np.newaxis] if rank == images.ndim + 1 else images


def predict(model: Any, images: np.ndarray, batch_size: int = PREDICT_BATCH) -> np.ndarray:
    """Probabilities, computed eagerly: model.predict() would trace a graph per input shape."""
    inputs = model_inputs(model, images.astype(np.float32))
    batches = [
        np.asarray(model(inputs[start : start + batch_size], training=False), dtype=np.float32)
        for start in range(0, len(inputs), batch_size)
    ]
    return np.concatenate(batches) if batches else np.zeros((0, 0), np.float32)


def _shape(tensor: Any) -> list[int | None] | None:
    try:
        return [None if size is None else int(size) for size in tensor.shape]
    except (AttributeError, ValueError, TypeError):
        return None


def _activation(layer: Any) -> str | None:
    activation = getattr(layer, "activation", None)
    return None if activation is None else str(getattr(activation, "__name__", activation))


def describe_model(model: Any) -> dict[str, Any]:
    """What the judge needs of a Keras model, as JSON data."""
    try:
        input_shape = _shape(model.inputs[0])
    except (AttributeError, ValueError, IndexError, TypeError):
        input_shape = None
    layers = []
    for layer in model.layers:
        try:
            output = _shape(layer.output)
        except (AttributeError, ValueError, TypeError):
            output = None
        layers.append([type(layer).__name__, output, _activation(layer)])
    try:
        output_shape = _shape(model.outputs[0])
    except (AttributeError, ValueError, IndexError, TypeError):
        output_shape = None
    config = model.get_compile_config() if getattr(model, "compiled", False) else None
    return {
        "type": f"{type(model).__module__}.{type(model).__qualname__}",
        "input_shape": input_shape,
        "output_shape": output_shape,
        "layers": layers,
        "parameters": int(model.count_params()) if input_shape is not None else 0,
        "compile_config": json.loads(json.dumps(config, default=str)) if config else None,
    }


def _zip_entry(path: Path, name: str) -> Any:
    """A small JSON entry of a .keras zip, parsed, or None."""
    try:
        with zipfile.ZipFile(path) as archive:
            if archive.getinfo(name).file_size > RECORD_LIMIT:
                return None
            return json.loads(archive.read(name))
    except (OSError, KeyError, ValueError, RecursionError, zipfile.BadZipFile):
        return None


def function_names(config: Any) -> list[str]:
    """The names of the plain functions (activations) a model configuration refers to."""
    names: set[str] = set()
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("class_name") == "function" and isinstance(item.get("config"), str):
                names.add(item["config"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return sorted(names)


def read_model_file(request: ModelRequest) -> dict[str, Any]:
    """Do what `request` asks (protocol.ModelRequest): load the file, optionally fit it and save
    it, describe it and predict on each other input; with `resave`, also on a copy saved and
    loaded again (RESAVED). Run in the worker."""
    import tempfile

    path, resave = request.path, request.resave
    model = load_model_file(path)
    inputs = dict(request.inputs)
    if request.fit is not None:
        x_train, y_train = inputs.pop("x_train"), inputs.pop("y_train")
        model.fit(model_inputs(model, x_train), y_train, verbose=0, **request.fit)
        assert request.save_as is not None, "a trained model is saved"
        model.save(request.save_as)
    answer = describe_model(model)
    answer["functions"] = function_names(_zip_entry(path, "config.json"))
    answer["record"] = _zip_entry(path, RECORD_ENTRY)
    predictions: dict[str, np.ndarray] = {}
    errors: dict[str, str] = {}  # a model that cannot take the images: the judge's checks say why
    for name, images in inputs.items():
        _predict_into(predictions, errors, name, model, images)
    if resave:
        with tempfile.TemporaryDirectory(prefix="resaved-") as folder:
            copy = Path(folder) / "resaved.keras"
            model.save(copy)
            again = load_model_file(copy)
            for name in resave:
                _predict_into(predictions, errors, name + RESAVED, again, inputs[name])
    answer["predictions"] = {name: encode_array(array) for name, array in predictions.items()}
    answer["prediction_errors"] = errors
    return answer


MEMORY_ERRORS = ("MemoryError", "ResourceExhaustedError")


def _predict_into(
    predictions: dict[str, np.ndarray],
    errors: dict[str, str],
    name: str,
    model: Any,
    images: np.ndarray,
) -> None:
    try:
        predictions[name] = predict(model, images)
    except Exception as error:
        if type(error).__name__ in MEMORY_ERRORS:
            raise  # the memory limit's verdict, for the whole file
        errors[name] = f"{type(error).__name__}: {error}"


def limit_memory(extra_mb: int) -> None:
    """In a worker's fork, before it reads a model file: at most `extra_mb` MB more address
    space than the fork has now (Linux; a limit already lower stays)."""
    import resource

    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return
    found = re.search(r"^VmSize:\s+(\d+) kB", status, re.MULTILINE)
    if found is None:
        return
    limit = int(found.group(1)) * 1024 + extra_mb * 2**20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


# ---------------------------------------------------------------- in the judge: what it learns


Shape = tuple[int | None, ...]  # a layer's shape, None for the batch size


@dataclass(frozen=True)
class ModelFacts:
    """A model file as the worker read it: plain data, never a Keras object.

    `file`: the judge's copy of what the worker read (to read it again for other predictions);
    `layers`: (class name, output shape, activation) of each layer; `predictions`: by the name
    of the input the judge gave, and `name + RESAVED` for a copy saved and loaded again."""

    file: Path
    type: str
    input_shape: Shape | None
    output_shape: Shape | None
    layers: tuple[tuple[str, Shape | None, str | None], ...]
    parameters: int
    compile_config: dict[str, Any] | None
    functions: frozenset[str]
    record: object
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    prediction_errors: dict[str, str] = field(default_factory=dict)  # Keras' error, by input

    @property
    def compiled(self) -> bool:
        return bool(self.compile_config)


def _checked_shape(shape: object) -> Shape | None:
    if not isinstance(shape, list) or len(shape) > 8:
        return None
    if not all(size is None or (isinstance(size, int) and size >= 0) for size in shape):
        return None
    return tuple(shape)


def _text(value: object, limit: int = 100) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def facts_from_answer(file: Path, answer: object) -> ModelFacts:
    """The worker's answer, checked field by field (it may come from a file's own code)."""
    from autograder.isolation.names import type_name

    answer = answer if isinstance(answer, dict) else {}
    layers = _list(answer.get("layers"))
    checked_layers = tuple(
        (type_name(layer[0]), _checked_shape(layer[1]), _text(layer[2]))
        for layer in layers[:10_000]
        if isinstance(layer, list) and len(layer) == 3
    )
    parameters = answer.get("parameters")
    config = answer.get("compile_config")
    functions = _list(answer.get("functions"))
    encoded = answer.get("predictions")
    encoded = encoded if isinstance(encoded, dict) else {}
    errors = answer.get("prediction_errors")
    errors = errors if isinstance(errors, dict) else {}
    return ModelFacts(
        file=file,
        type=type_name(answer.get("type")),
        input_shape=_checked_shape(answer.get("input_shape")),
        output_shape=_checked_shape(answer.get("output_shape")),
        layers=checked_layers,
        parameters=parameters if isinstance(parameters, int) else 0,
        compile_config=config if isinstance(config, dict) else None,
        functions=frozenset(name for name in functions[:1000] if isinstance(name, str)),
        record=answer.get("record"),
        predictions={str(name): decode_array(data) for name, data in encoded.items()},
        prediction_errors={
            str(name): text[:2000] for name, text in errors.items() if isinstance(text, str)
        },
    )


def facts_of(model: Any) -> ModelFacts:
    """The facts of a Keras model in this process (a test's, or the notebook's own kernel's)."""
    if isinstance(model, ModelFacts):
        return model
    return facts_from_answer(Path(), describe_model(model))
