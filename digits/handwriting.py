"""Prepare your own digit as MNIST prepared its digits, so a model trained on MNIST can read it.

MNIST's digits are white on black, scaled to fit a 20x20 box (keeping their aspect ratio) and
placed in a 28x28 frame so that their centre of mass sits at the centre. A photo or a drawing is
none of that; `prepare_digit()` makes it so::

    from digits.handwriting import prepare_digit

    pixels = prepare_digit("my_seven.png")      # (28, 28) float32 in [0, 1]
    probabilities = model.predict(pixels[None])  # a batch of one

`prepare_digit_steps()` returns every intermediate picture, to see what each step does.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

FRAME_SIZE = 28  # MNIST's images are 28x28...
BOX_SIZE = 20  # ...with the digit scaled to fit 20x20 inside
CENTRE = 14.0  # where MNIST's centres of mass sit (row, column), measured on the sample
WORKING_SIZE = 400  # larger images (phone photos) are shrunk to this first: same result, faster
MIN_CONTRAST = 0.1  # below this difference between ink and paper, the image counts as blank
INK_THRESHOLD = 0.25  # on the 0 (paper) .. 1 (ink) scale: fainter pixels are paper noise
SPECK_FRACTION = 0.05  # blobs smaller than this fraction of the largest one are specks of dirt
LUMINANCE = np.array([0.299, 0.587, 0.114], dtype="float32")  # RGB -> gray, as Pillow does

ImageInput = str | os.PathLike | Image.Image | np.ndarray


class DigitImageError(ValueError):
    """The image cannot be prepared as a digit; the message says why and what to try."""


def prepare_digit(image: ImageInput) -> np.ndarray:
    """Return `image` as an MNIST-style digit: a (28, 28) float32 array in [0, 1], white on black.

    `image` is a PNG/JPEG path, a PIL image or a NumPy array (uint8 0..255 or float 0..1;
    gray (H, W), or (H, W, 1/3/4) gray/RGB/RGBA), of any size, dark on light or light on dark.
    Raises `DigitImageError` for a blank image, an unreadable file or an unusable array.
    """
    return prepare_digit_steps(image)["centred"]


def prepare_digit_steps(image: ImageInput) -> dict[str, np.ndarray]:
    """Every step of `prepare_digit()`, in order, as float32 arrays in [0, 1].

    - ``"grayscale"``: the image in shades of gray (0 black, 1 white);
    - ``"ink"``: inverted if the background was light, so the digit is bright on dark;
    - ``"cleaned"``: uneven lighting removed, contrast stretched, faint noise and specks erased;
    - ``"cropped"``: cut to the digit's bounding box;
    - ``"resized"``: scaled to fit 20x20, keeping the aspect ratio;
    - ``"padded"``: placed in the middle of a 28x28 frame;
    - ``"centred"``: shifted so the centre of mass is at the centre, as in MNIST (the result).
    """
    steps = {"grayscale": _shrink(to_grayscale(image))}
    steps["ink"] = _ink_bright(steps["grayscale"])
    steps["cleaned"] = _clean(steps["ink"])
    steps["cropped"] = _crop(steps["cleaned"])
    steps["resized"] = _fit_in_box(steps["cropped"])
    steps["padded"] = _place(steps["resized"], _middle_offset(steps["resized"]))
    steps["centred"] = _place(steps["resized"], _centre_of_mass_offset(steps["resized"]))
    return steps


def to_grayscale(image: ImageInput) -> np.ndarray:
    """A (H, W) float32 array in [0, 1] (0 black, 1 white) from any accepted input.

    Transparent pixels are laid on a background that contrasts with the opaque ones, so both a
    black and a white drawing on a transparent background come out readable.
    """
    if isinstance(image, (str, os.PathLike)):
        image = _open(Path(image))
    if isinstance(image, Image.Image):
        return _array_to_grayscale(_pil_to_array(image), "the image")
    if isinstance(image, np.ndarray):
        return _array_to_grayscale(_scale_array(image), "the array")
    raise DigitImageError(
        f"prepare_digit() got a {type(image).__name__}; give it a file path (str or Path), "
        "a PIL image or a NumPy array."
    )


def _open(path: Path) -> Image.Image:
    if not path.is_file():
        raise DigitImageError(f"{path}: no such file. Check the file name and the folder.")
    try:
        with Image.open(path) as opened:
            # Phones store photos sideways and record the rotation in EXIF: apply it.
            return ImageOps.exif_transpose(opened)
    except (UnidentifiedImageError, OSError) as error:
        raise DigitImageError(
            f"{path}: not an image Pillow can read ({error}). Save it as PNG or JPEG and try again."
        ) from error


def _pil_to_array(image: Image.Image) -> np.ndarray:
    """Pixels as float32 in [0, 1]: (H, W) gray or (H, W, 4) RGBA."""
    if image.mode.startswith("I;16"):
        return np.asarray(image, dtype="float32") / 65535.0
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    if has_alpha:
        return np.asarray(image.convert("RGBA"), dtype="float32") / 255.0
    return np.asarray(image.convert("L"), dtype="float32") / 255.0


def _scale_array(array: np.ndarray) -> np.ndarray:
    """A NumPy image as float32 in [0, 1]: uint8 (or other integers) 0..255, floats 0..1."""
    if array.size == 0:
        raise DigitImageError(f"The array is empty (shape {array.shape}); it has no pixels.")
    if array.dtype == bool:
        return array.astype("float32")
    if np.issubdtype(array.dtype, np.integer):
        if array.min() < 0 or array.max() > 255:
            raise DigitImageError(
                f"The integer array has values from {array.min()} to {array.max()}; "
                "expected pixels from 0 to 255 (uint8)."
            )
        return array.astype("float32") / 255.0
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise DigitImageError("The array contains NaN or infinite values; expected pixels.")
        if array.min() < 0 or array.max() > 1:
            raise DigitImageError(
                f"The float array has values from {array.min():g} to {array.max():g}; expected "
                "0..1. If its pixels are 0..255, divide by 255 first (or pass it as uint8)."
            )
        return array.astype("float32")
    raise DigitImageError(
        f"The array has dtype {array.dtype}; expected uint8 pixels 0..255 or floats 0..1."
    )


def _array_to_grayscale(pixels: np.ndarray, what: str) -> np.ndarray:
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim == 2:
        return pixels
    if pixels.ndim == 3 and pixels.shape[2] in (3, 4):
        gray = pixels[:, :, :3] @ LUMINANCE
        if pixels.shape[2] == 4:
            gray = _flatten_alpha(gray, pixels[:, :, 3])
        return np.clip(gray, 0.0, 1.0)
    raise DigitImageError(
        f"{what} has shape {pixels.shape}; expected (height, width) for gray, or "
        "(height, width, 3) for RGB or (height, width, 4) for RGBA."
    )


def _flatten_alpha(gray: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    if alpha.min() >= 1.0:
        return gray  # fully opaque: the alpha channel says nothing
    opaque = alpha > 0.5
    ink_is_dark = not opaque.any() or gray[opaque].mean() < 0.5
    background = 1.0 if ink_is_dark else 0.0
    return gray * alpha + background * (1.0 - alpha)


def _shrink(gray: np.ndarray) -> np.ndarray:
    height, width = gray.shape
    scale = WORKING_SIZE / max(height, width)
    if scale >= 1:
        return gray
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return _resize(gray, size, Image.Resampling.BOX)


def _ink_bright(gray: np.ndarray) -> np.ndarray:
    """Invert when the ink is darker than the background (the usual pen on paper)."""
    background = np.median(_border(gray))
    smooth = ndimage.gaussian_filter(gray, sigma=1)  # so that grainy noise is no digit
    darkest, brightest = smooth.min(), smooth.max()
    if max(background - darkest, brightest - background) < MIN_CONTRAST:
        raise DigitImageError(
            f"The image is blank: its pixels only range from {gray.min():.2f} to "
            f"{gray.max():.2f} (0 black, 1 white), so no digit stands out from the background. "
            "Check that it is the right file, and write the digit darker or on plainer paper."
        )
    ink_is_dark = background - darkest > brightest - background
    return 1.0 - gray if ink_is_dark else gray


def _border(gray: np.ndarray) -> np.ndarray:
    width = max(1, min(gray.shape) // 20)
    return np.concatenate(
        [
            gray[:width].ravel(),
            gray[-width:].ravel(),
            gray[:, :width].ravel(),
            gray[:, -width:].ravel(),
        ]
    )


def _clean(ink: np.ndarray) -> np.ndarray:
    """Paper at 0, ink at 1: even out the lighting, stretch the contrast, erase noise and specks."""
    # Wider than any stroke, so the opening keeps only the (possibly uneven) background.
    window = max(3, min(ink.shape) // 3)
    flat = ink - ndimage.grey_opening(ink, size=(window, window))
    ink_level = np.median(flat[flat > _otsu_threshold(flat)])
    stretched = np.clip(flat / max(ink_level, 1e-6), 0.0, 1.0)
    mask = _without_specks(stretched > INK_THRESHOLD)
    if not mask.any():
        raise DigitImageError(
            "The image is blank after removing the background: no stroke is thick or dark enough "
            "to be a digit. Write the digit larger and darker, or crop closer around it."
        )
    return np.where(mask, stretched, 0.0).astype("float32")


def _otsu_threshold(values: np.ndarray) -> float:
    """The level that best splits the pixels into two groups (paper and ink), after Otsu."""
    counts, edges = np.histogram(values, bins=256)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    sum_low = np.cumsum(counts * centres)
    mean_low = sum_low / np.maximum(weight_low, 1)
    mean_high = (sum_low[-1] - sum_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(centres[np.argmax(between)])


def _without_specks(mask: np.ndarray) -> np.ndarray:
    labels, count = ndimage.label(mask)
    if count <= 1:
        return mask
    sizes = np.bincount(labels.ravel())[1:]
    keep = np.flatnonzero(sizes >= SPECK_FRACTION * sizes.max()) + 1
    return np.isin(labels, keep)


def _crop(image: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(image.any(axis=1))
    columns = np.flatnonzero(image.any(axis=0))
    return image[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]


def _fit_in_box(digit: np.ndarray) -> np.ndarray:
    """Scale so the longer side is 20 pixels; brightest pixel at 1, as in MNIST."""
    height, width = digit.shape
    scale = BOX_SIZE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = np.clip(_resize(digit, size, Image.Resampling.LANCZOS), 0.0, 1.0)
    return resized / resized.max()


def _resize(image: np.ndarray, size: tuple[int, int], method: Image.Resampling) -> np.ndarray:
    resized = Image.fromarray(image.astype("float32")).resize(size, method)
    return np.asarray(resized, dtype="float32")


def _middle_offset(digit: np.ndarray) -> tuple[int, int]:
    height, width = digit.shape
    return (FRAME_SIZE - height) // 2, (FRAME_SIZE - width) // 2


def _centre_of_mass_offset(digit: np.ndarray) -> tuple[int, int]:
    """Where to place the digit so its centre of mass lands on MNIST's, without cutting it."""
    row, column = ndimage.center_of_mass(digit)
    height, width = digit.shape
    top = int(np.clip(round(CENTRE - row), 0, FRAME_SIZE - height))
    left = int(np.clip(round(CENTRE - column), 0, FRAME_SIZE - width))
    return top, left


def _place(digit: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    frame = np.zeros((FRAME_SIZE, FRAME_SIZE), dtype="float32")
    top, left = offset
    height, width = digit.shape
    frame[top : top + height, left : left + width] = digit
    return frame


def show_preparation(image: ImageInput):
    """A Matplotlib figure with one picture per step of `prepare_digit()` (white ink on black)."""
    import matplotlib.pyplot as plt

    steps = prepare_digit_steps(image)
    fig, axes = plt.subplots(1, len(steps), figsize=(2 * len(steps), 2.4))
    for ax, (name, picture) in zip(axes, steps.items(), strict=True):
        ax.imshow(picture, cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{name}\n{picture.shape[0]}x{picture.shape[1]}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
