"""prepare_digit(): any picture of a digit in, an MNIST-style (28, 28) digit out."""

import csv
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from digits.handwriting import DigitImageError, prepare_digit, prepare_digit_steps
from digits.handwriting_samples import (
    EXAMPLE_IMAGE,
    GROUPS,
    evaluate,
    make_example,
    make_samples,
)


@pytest.fixture(scope="module")
def samples():
    return make_samples()


@pytest.fixture(scope="module")
def mnist_digits(mnist_sample):
    """One test digit per class whose longer side is 20 pixels, as MNIST's recipe makes it."""
    _, (x_test, y_test) = mnist_sample
    chosen = []
    for label in range(10):
        for image in x_test[y_test == label]:
            rows, columns = np.flatnonzero(image.any(1)), np.flatnonzero(image.any(0))
            if max(rows[-1] - rows[0], columns[-1] - columns[0]) + 1 == 20:
                chosen.append(image)
                break
    return np.stack(chosen)


@pytest.fixture(scope="module")
def photo(mnist_digits):
    """A "photo" of an MNIST 3: dark ink, four times larger, off-centre on a wide white page."""
    ink = Image.fromarray(255 - mnist_digits[3]).resize((112, 112), Image.Resampling.BILINEAR)
    page = Image.new("L", (400, 260), 255)
    page.paste(ink, (250, 30))
    return page


def _on_page(digit: np.ndarray, scale: float, offset: tuple[int, int], size=(300, 200)):
    big = Image.fromarray(255 - digit).resize(
        (round(28 * scale), round(28 * scale)), Image.Resampling.BILINEAR
    )
    page = Image.new("L", size, 255)
    page.paste(big, offset)
    return page


def _mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


@pytest.mark.parametrize(
    ("scale", "offset", "size"),
    [(1, (5, 160), (300, 200)), (4, (150, 40), (300, 200)), (9, (20, 10), (280, 300))],
    ids=["same-size", "4x-off-centre", "9x-in-corner"],
)
def test_shifted_and_scaled_mnist_digit_comes_back_close(mnist_digits, scale, offset, size):
    for digit in mnist_digits:
        original = digit / np.float32(255)
        prepared = prepare_digit(_on_page(digit, scale, offset, size))
        assert _mean_difference(prepared, original) < 0.06
        row, column = ndimage.center_of_mass(prepared)
        expected_row, expected_column = ndimage.center_of_mass(original)
        assert abs(row - expected_row) <= 1 and abs(column - expected_column) <= 1


def test_result_is_mnist_shaped(photo):
    prepared = prepare_digit(photo)
    assert prepared.shape == (28, 28) and prepared.dtype == np.float32
    assert prepared.min() == 0.0 and prepared.max() == 1.0
    rows, columns = np.flatnonzero(prepared.any(1)), np.flatnonzero(prepared.any(0))
    assert max(rows[-1] - rows[0], columns[-1] - columns[0]) + 1 == 20
    assert np.allclose(ndimage.center_of_mass(prepared), (14, 14), atol=0.5)


def test_steps_show_the_pipeline_in_order(photo):
    steps = prepare_digit_steps(photo)
    names = ["grayscale", "ink", "cleaned", "cropped", "resized", "padded", "centred"]
    assert list(steps) == names
    assert steps["grayscale"].shape == (260, 400)
    assert steps["grayscale"][0, 0] == 1.0 and steps["ink"][0, 0] == 0.0  # inverted
    assert steps["cropped"].shape[0] < 260 and max(steps["resized"].shape) == 20
    np.testing.assert_array_equal(steps["centred"], prepare_digit(photo))


def test_light_and_dark_backgrounds_give_the_same_digit(photo):
    dark_on_light = np.asarray(photo)
    light_on_dark = 255 - dark_on_light
    np.testing.assert_allclose(
        prepare_digit(dark_on_light), prepare_digit(light_on_dark), atol=1e-5
    )


def test_grey_paper_with_darker_ink_is_inverted(photo):
    grey_paper = (np.asarray(photo) * 0.4).astype(np.uint8)  # paper 102, ink 0: all dark
    assert _mean_difference(prepare_digit(grey_paper), prepare_digit(photo)) < 0.02


def test_shadow_and_specks_are_removed(photo):
    pixels = np.asarray(photo, dtype=np.float32)
    shadow = np.linspace(0.6, 1.0, pixels.shape[1])[None, :]  # the left side in the shade
    messy = pixels * shadow
    messy[200:202, 20:22] = 0  # dust
    messy[10, 380] = 0
    messy_image = np.clip(messy, 0, 255).astype(np.uint8)
    assert _mean_difference(prepare_digit(messy_image), prepare_digit(photo)) < 0.02


@pytest.mark.parametrize("shape", [(20, 200), (200, 20)], ids=["tall", "wide"])
def test_aspect_ratio_is_kept(shape):
    bar = np.zeros((300, 300), np.uint8)
    bar[50 : 50 + shape[0], 50 : 50 + shape[1]] = 255
    resized = prepare_digit_steps(bar)["resized"]
    assert resized.shape == tuple(2 if side == 20 else 20 for side in shape)


def _save(image: Image.Image, path, **options):
    image.save(path, **options)
    return path


def _transparent(photo, ink_colour):
    """The digit as opaque ink on a fully transparent background, as drawing apps export."""
    alpha = 255 - np.asarray(photo)
    rgba = np.zeros((*alpha.shape, 4), np.uint8)
    rgba[..., :3] = ink_colour
    rgba[..., 3] = alpha
    return Image.fromarray(rgba)


ACCEPTED_INPUTS = {
    "path-str": lambda photo, tmp: str(_save(photo, tmp / "digit.png")),
    "pathlib-png": lambda photo, tmp: _save(photo, tmp / "digit.png"),
    "jpeg": lambda photo, tmp: _save(photo.convert("RGB"), tmp / "digit.jpg", quality=85),
    "png-16-bit": lambda photo, tmp: _save(
        Image.fromarray(np.asarray(photo).astype(np.uint16) * 257), tmp / "digit16.png"
    ),
    "pil-gray": lambda photo, tmp: photo,
    "pil-rgb": lambda photo, tmp: photo.convert("RGB"),
    "pil-rgba-opaque": lambda photo, tmp: photo.convert("RGBA"),
    "pil-rgba-black-ink-on-transparent": lambda photo, tmp: _transparent(photo, 0),
    "pil-rgba-white-ink-on-transparent": lambda photo, tmp: _transparent(photo, 255),
    "pil-palette": lambda photo, tmp: photo.convert("P"),
    "pil-black-and-white": lambda photo, tmp: photo.convert("1"),
    "uint8-2d": lambda photo, tmp: np.asarray(photo),
    "uint8-one-channel": lambda photo, tmp: np.asarray(photo)[:, :, None],
    "uint8-rgb": lambda photo, tmp: np.asarray(photo.convert("RGB")),
    "uint8-rgba": lambda photo, tmp: np.asarray(photo.convert("RGBA")),
    "float-0-to-1": lambda photo, tmp: np.asarray(photo) / 255.0,
    "float32-0-to-1": lambda photo, tmp: np.asarray(photo, np.float32) / 255,
    "int64-0-to-255": lambda photo, tmp: np.asarray(photo).astype(np.int64),
    "bool": lambda photo, tmp: np.asarray(photo) > 128,
}


@pytest.mark.parametrize("make_input", ACCEPTED_INPUTS.values(), ids=ACCEPTED_INPUTS.keys())
def test_every_accepted_input_gives_the_same_digit(photo, tmp_path, make_input):
    prepared = prepare_digit(make_input(photo, tmp_path))
    assert prepared.shape == (28, 28) and prepared.dtype == np.float32
    assert 0.0 <= prepared.min() and prepared.max() <= 1.0
    assert _mean_difference(prepared, prepare_digit(photo)) < 0.03


@pytest.mark.parametrize(
    "blank",
    [
        np.full((50, 40), 255, np.uint8),
        np.zeros((28, 28), np.uint8),
        np.full((60, 60, 3), 128, np.uint8),
        np.random.default_rng(0).integers(120, 130, (100, 100)).astype(np.uint8),
        np.zeros((30, 30, 4), np.uint8),  # fully transparent
    ],
    ids=["white", "black", "grey-rgb", "faint-noise", "transparent"],
)
def test_blank_image_is_rejected(blank):
    with pytest.raises(DigitImageError, match="blank"):
        prepare_digit(blank)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DigitImageError, match="no such file") as error:
        prepare_digit(tmp_path / "my_digit.png")
    assert "my_digit.png" in str(error.value)


def test_unreadable_file_says_what_to_do(tmp_path):
    fake = tmp_path / "digit.png"
    fake.write_text("not a picture")
    with pytest.raises(DigitImageError, match="not an image.*PNG or JPEG"):
        prepare_digit(fake)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((28, 28), np.complex64), "dtype complex64"),
        (np.array([["a", "b"], ["c", "d"]]), "dtype <U1"),
        (np.full((28, 28), 200.0), r"values from 200 to 200; expected 0\.\.1.*divide by 255"),
        (np.full((28, 28), -3, np.int16), "from -3 to -3; expected pixels from 0 to 255"),
        (np.full((28, 28), np.nan), "NaN"),
        (np.zeros((28,), np.uint8), r"shape \(28,\)"),
        (np.zeros((28, 28, 2), np.uint8), r"shape \(28, 28, 2\)"),
        (np.zeros((5, 28, 28), np.uint8), r"shape \(5, 28, 28\)"),
        (np.zeros((0, 28), np.uint8), "empty"),
        ([[0, 255], [255, 0]], "got a list"),
    ],
    ids=[
        "complex",
        "strings",
        "float-0-255",
        "negative",
        "nan",
        "1d",
        "2-channels",
        "batch",
        "empty",
        "list",
    ],
)
def test_unusable_input_gets_a_clear_error(bad, message):
    with pytest.raises(DigitImageError, match=message):
        prepare_digit(bad)


def test_samples_are_reproducible_and_balanced(samples):
    for a, b in zip(make_samples(per_digit=2), make_samples(per_digit=2), strict=True):
        assert a.label == b.label and a.style == b.style
        np.testing.assert_array_equal(np.asarray(a.image), np.asarray(b.image))
    assert np.bincount([sample.label for sample in samples]).tolist() == [48] * 10
    assert {sample.group for sample in samples} == set(GROUPS)


def test_every_sample_can_be_prepared(samples):
    prepared = np.stack([prepare_digit(sample.image) for sample in samples])
    centres = np.array([ndimage.center_of_mass(digit) for digit in prepared])
    assert np.abs(centres - 14).max() <= 1.0


def test_committed_example_photo_is_what_the_script_makes():
    committed = np.asarray(Image.open(EXAMPLE_IMAGE), dtype=np.float32)
    remade = np.asarray(make_example(), dtype=np.float32)
    assert committed.shape == remade.shape
    assert np.abs(committed - remade).mean() < 1.0  # leaves room for another Pillow's rounding


@pytest.mark.slow
def test_script_writes_labelled_images_that_prepare_digit_reads(repo, tmp_path, samples):
    script = repo / "scripts" / "make_handwriting_samples.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True)
    with open(tmp_path / "labels.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == len(samples)
    for row in rows[:: len(rows) // 10]:
        assert prepare_digit(tmp_path / row["file"]).shape == (28, 28)


@pytest.mark.slow
def test_prepare_digit_lets_the_model_read_non_mnist_digits(samples):
    from digits.training import trained_model

    results = evaluate(trained_model("dense"), samples)
    assert results["prepare_digit"]["all"] > 2 * results["naive"]["all"]
    assert results["prepare_digit"]["all"] > 0.5


def test_own_digit_notebook_is_ungraded(repo):
    notebook = json.loads((repo / "solutions" / "04_your_own_digit.ipynb").read_text())
    cells = notebook["cells"]
    assert not any("graded" in cell["metadata"].get("tags", []) for cell in cells)
    assert not any("### BEGIN SOLUTION" in "".join(cell["source"]) for cell in cells)


@pytest.mark.slow
def test_own_digit_notebook_runs_without_a_saved_model(repo, tmp_path, run_notebook):
    import nbformat

    path = tmp_path / "04_your_own_digit.ipynb"
    shutil.copy(repo / "solutions" / path.name, path)
    run_notebook(path)
    notebook = nbformat.read(path, as_version=4)
    printed = "".join(
        output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", [])
    )
    assert "using the course's dense model instead" in printed
    assert "correct on 1 digit(s)" in printed
