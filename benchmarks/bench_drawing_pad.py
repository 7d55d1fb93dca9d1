"""Benchmark the drawing pad of chapter 10 (digits.drawing_pad, draw_digit.js) in headless
Chromium: the size of its weights, the time from the end of a stroke to updated bars, and how
closely the browser agrees with Python (prepare_digit) and Keras (predict).

    MNIST_OFFLINE=1 python benchmarks/bench_drawing_pad.py [--strokes 30]

The models are the course's shared trained models (`digits.training.trained_model`), the ones the
book's build trains and chapter 10 puts in its page. The strokes are drawn with the mouse through
Selenium, as tests/test_drawing_pad.py draws them (its helpers are loaded by path).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def _load_test_helpers():
    sys.path.insert(0, str(REPO / "tests"))
    path = REPO / "tests" / "test_drawing_pad.py"
    spec = importlib.util.spec_from_file_location("test_drawing_pad", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=30, help="strokes to time")
    args = parser.parse_args()

    from digits.quiet import quiet_tensorflow

    quiet_tensorflow()
    from digits import load_mnist
    from digits.drawing_pad import DTYPES, pad_html, weights_script
    from digits.handwriting import prepare_digit
    from digits.training import trained_model

    helpers = _load_test_helpers()
    models = {"dense": trained_model("dense"), "cnn": trained_model("cnn")}
    data = load_mnist()
    _, (x_test, _) = data

    print("## Weights in the page (base64 in a script)\n")
    print("| model | parameters | float16 | float32 |")
    print("| --- | ---: | ---: | ---: |")
    for name, model in models.items():
        half, single = (len(weights_script({name: model}, t).encode()) for t in DTYPES)
        print(f"| {name} | {model.count_params():,} | {half / 1e3:.0f} kB | {single / 1e3:.0f} kB|")
    page_html = pad_html(models)
    size = len(page_html.encode()) / 1e3
    print(f"\nThe pad's whole HTML (both models, style, script): {size:.0f} kB")
    script = (REPO / "digits/resources/web/draw_digit.js").read_bytes()
    print(f"draw_digit.js: {len(script) / 1e3:.1f} kB\n")

    driver = helpers.start_chrome()
    if driver is None:
        sys.exit("needs selenium, chromium and chromedriver")
    try:
        with tempfile.TemporaryDirectory() as folder:
            page = Path(folder) / "pad.html"
            page.write_text(f"<!doctype html><meta charset='utf-8'><body>{page_html}</body>")
            driver.get(page.as_uri())
            elements = helpers.pad(driver)
            print(
                f"Chromium {driver.capabilities.get('browserVersion')}, {platform.platform()}, "
                f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n"
            )

            print("## Stroke end to updated bars\n")
            for name in models:
                driver.execute_script(
                    "const s = document.querySelector('.draw-digit [data-testid=model]');"
                    "s.value = arguments[0]; s.dispatchEvent(new Event('change'));",
                    name,
                )
                latency, update = [], []
                for index in range(args.strokes):
                    driver.execute_script(
                        "document.querySelector('.draw-digit [data-testid=clear]').click()"
                    )
                    stroke = helpers.vertical_stroke() if index % 2 else helpers.ring()
                    helpers.draw(driver, elements["digit-canvas"], stroke)
                    values = driver.execute_script(
                        "const d = document.querySelector('.draw-digit').dataset;"
                        "return [d.latencyMs, d.updateMs];"
                    )
                    latency.append(float(values[0]))
                    update.append(float(values[1]))
                print(
                    f"- {name}: stroke end (pointerup) to bars updated: median "
                    f"{np.median(latency):.1f} ms, "
                    f"90th percentile {np.percentile(latency, 90):.1f} ms; "
                    f"of which reading the drawing (prepare + model + bars): median "
                    f"{np.median(update):.1f} ms ({args.strokes} strokes)"
                )

            print("\n## Agreement with Python\n")
            images = x_test[:200].astype("float32") / 255
            for name, model in models.items():
                expected = model.predict(images, verbose=0)
                browser = helpers.js_predict(driver, images, name)
                same = int((browser.argmax(1) == expected.argmax(1)).sum())
                print(
                    f"- {name}: 200 test digits ({data.source}): same answer on {same}/200, "
                    f"max |browser - Keras predict| = {np.abs(browser - expected).max():.1e}"
                )
            drawings = helpers.mnist_drawings(x_test, 200)
            worst = 0.0
            for start in range(0, 200, 25):
                batch = drawings[start : start + 25]
                for drawing, browser in zip(batch, helpers.js_prepare(driver, batch), strict=True):
                    worst = max(worst, float(np.abs(browser - prepare_digit(drawing)).max()))
            print(
                f"- preparation: 200 test digits drawn large and off-centre on 280 x 280: "
                f"max |browser - prepare_digit| = {worst:.1e} (a grey level is {1 / 255:.1e})"
            )
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
