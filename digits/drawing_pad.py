"""A drawing pad in the page: draw a digit with the mouse, a finger or a pen, and watch a model
read it, in the browser, with no server and no network.

    from digits.drawing_pad import drawing_pad
    from digits.training import trained_model

    drawing_pad({"dense": trained_model("dense"), "cnn": trained_model("cnn")})

The pad's code is one JavaScript file, ``digits/resources/web/draw_digit.js``: the same
preparation as `digits.handwriting.prepare_digit`, ported step by step, and the model's forward
pass. The models' weights are written into the page as a script that sets a global
(``window.DRAW_DIGIT_MODELS``), in float16 by default: a page opened from the disk (``file://``)
may not ``fetch()`` files, but it runs its own scripts. The course site shows the pad in the
chapter "Your own handwriting"; in Jupyter the same call shows it under the cell.
"""

from __future__ import annotations

import base64
import html
import json
from importlib import resources
from typing import Any

import numpy as np

DTYPES = ("float16", "float32")
LABELS = {"dense": "Dense 128-128 (chapter 4)", "cnn": "CNN (chapter 10)"}


def script_source() -> str:
    """The text of draw_digit.js, the pad's JavaScript."""
    return resources.files("digits").joinpath("resources/web/draw_digit.js").read_text("utf-8")


def model_spec(model, name: str, dtype: str = "float16") -> dict[str, Any]:
    """The layers of a Keras Sequential model as draw_digit.js runs them, weights in base64.

    Dense, Conv2D (``valid`` padding, stride 1), MaxPooling2D, and the layers that change
    nothing when predicting (Flatten, Reshape, Dropout, RandomTranslation).
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, not {dtype!r}")
    layers: list[dict[str, Any]] = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in ("Flatten", "Reshape", "Dropout", "RandomTranslation", "InputLayer"):
            continue
        if kind in ("Dense", "Conv2D"):
            kernel, bias = layer.get_weights()
            spec = {
                "type": kind.lower(),
                "activation": layer.get_config()["activation"],
                "shape": list(kernel.shape),
                "kernel": _encode(kernel, dtype),
                "bias": _encode(bias, dtype),
            }
            if kind == "Conv2D":
                config = layer.get_config()
                if config["padding"] != "valid" or tuple(config["strides"]) != (1, 1):
                    raise ValueError(f"{layer.name}: only 'valid' padding and stride 1 run")
            layers.append(spec)
        elif kind == "MaxPooling2D":
            config = layer.get_config()
            if tuple(config["strides"]) != tuple(config["pool_size"]):
                raise ValueError(f"{layer.name}: only strides equal to the pool size run")
            layers.append({"type": "maxpool2d", "pool": list(config["pool_size"])})
        else:
            raise ValueError(f"draw_digit.js cannot run a {kind} layer ({layer.name})")
    return {"name": name, "label": LABELS.get(name, name), "dtype": dtype, "layers": layers}


def weights_script(models: dict, dtype: str = "float16") -> str:
    """JavaScript that registers these models (name -> Keras model) for draw_digit.js."""
    lines = ["window.DRAW_DIGIT_MODELS = window.DRAW_DIGIT_MODELS || {};"]
    for name, model in models.items():
        spec = json.dumps(model_spec(model, name, dtype), separators=(",", ":"))
        lines.append(f"window.DRAW_DIGIT_MODELS[{json.dumps(name)}] = {spec};")
    return "\n".join(lines) + "\n"


def pad_html(models: dict, dtype: str = "float16") -> str:
    """The pad as one piece of HTML: its style, its models' weights, draw_digit.js and the place
    where it appears (the script mounts it)."""
    names = html.escape(" ".join(models))
    return "\n".join(
        [
            f"<style>{STYLE}</style>",
            f'<div class="draw-digit-pad" data-models="{names}">'
            "Drawing pad: it needs JavaScript.</div>",
            f"<script>\n{weights_script(models, dtype)}</script>",
            f"<script>\n{script_source()}\nwindow.DrawDigit.mountAll();\n</script>",
        ]
    )


def drawing_pad(models: dict, dtype: str = "float16"):
    """The pad for a notebook or the course site: ``IPython.display.HTML``."""
    from IPython.display import HTML

    return HTML(pad_html(models, dtype))


def _encode(array: np.ndarray, dtype: str) -> str:
    little_endian = np.asarray(array, dtype=np.dtype(dtype).newbyteorder("<"))
    return base64.b64encode(np.ascontiguousarray(little_endian).tobytes()).decode("ascii")


STYLE = """
.draw-digit { display: flex; flex-wrap: wrap; gap: 1.2rem; align-items: flex-start;
  margin: 1rem 0; font-size: 0.9rem; }
.draw-digit-column { display: flex; flex-direction: column; gap: 0.4rem; }
.draw-digit-canvas { width: min(280px, 80vw); height: min(280px, 80vw); touch-action: none;
  border: 2px solid #888; border-radius: 6px; cursor: crosshair; background: #fff; }
.draw-digit-buttons { display: flex; gap: 0.5rem; flex-wrap: wrap; align-items: center; }
.draw-digit-buttons button, .draw-digit-buttons select { padding: 0.25rem 0.6rem;
  border: 1px solid #888; border-radius: 4px; background: transparent; color: inherit;
  font: inherit; cursor: pointer; }
.draw-digit-input { width: 112px; height: 112px; image-rendering: pixelated;
  border: 1px solid #888; }
.draw-digit-answer { font-size: 3rem; font-weight: bold; line-height: 1; min-height: 3rem; }
.draw-digit-bars { display: grid; gap: 0.15rem; min-width: 14rem; }
.draw-digit-row { display: grid; grid-template-columns: 1rem 9rem 3.5rem; gap: 0.4rem;
  align-items: center; font-variant-numeric: tabular-nums; }
.draw-digit-track { height: 0.9rem; background: rgba(128, 128, 128, 0.2); border-radius: 2px; }
.draw-digit-fill { display: block; height: 100%; width: 0; background: #4a7ab5;
  border-radius: 2px; }
.draw-digit-fill.draw-digit-best { background: #2a9d4a; }
.draw-digit-value { text-align: right; }
.draw-digit-network { display: flex; gap: 1.2rem; flex-wrap: wrap; flex-basis: 100%; }
.draw-digit-activations { width: 256px; height: 128px; image-rendering: pixelated;
  border: 1px solid #888; }
"""
