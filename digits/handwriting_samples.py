"""Digits that are *not* MNIST-formatted, made without internet, to measure `prepare_digit()`.

`make_samples()` renders each digit 0-9 two ways, at random sizes, positions, slants, stroke
thicknesses and colours, dark on light and light on dark, on paper with uneven light and noise:

- ``"font"``: typed with the fonts that Matplotlib ships (DejaVu, STIX, Computer Modern);
- ``"stroke"``: drawn as pen strokes along a hand-made skeleton of each digit, jittered.

Everything comes from one seed, so a build always measures the same images.
`evaluate()` measures a model on them, prepared naively and with `prepare_digit()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from digits.handwriting import prepare_digit

SEED = 0
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONTS = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralBol.ttf",
    "STIXGeneralItalic.ttf",
    "cmr10.ttf",
    "cmss10.ttf",
    "cmtt10.ttf",
    "cmb10.ttf",
)
# Package data: a file path (pathlib.Path) wherever the package is installed, wheel or clone.
EXAMPLE_IMAGE = resources.files("digits") / "resources" / "handwriting" / "example_digit.png"
EXAMPLE_LABEL = 4
SUPERSAMPLING = 4  # strokes are drawn 4x larger, then shrunk: smooth (anti-aliased) edges
METHODS = ("naive", "naive, inverted", "prepare_digit")
GROUPS = (
    "font, dark on light",
    "font, light on dark",
    "stroke, dark on light",
    "stroke, light on dark",
)


@dataclass(frozen=True)
class Sample:
    image: Image.Image
    label: int
    kind: str  # "font" or "stroke"
    light_on_dark: bool
    style: str  # the font file, or "strokes"

    @property
    def group(self) -> str:
        colours = "light on dark" if self.light_on_dark else "dark on light"
        return f"{self.kind}, {colours}"


def make_samples(per_digit: int = 24, seed: int = SEED) -> list[Sample]:
    """`per_digit` font-typed and `per_digit` stroke-drawn images of each digit 0-9."""
    rng = np.random.default_rng(seed)
    samples = []
    for label in range(10):
        for index in range(per_digit):
            font = FONTS[(label + index) % len(FONTS)]
            samples.append(_photograph(_font_mask(label, font, rng), label, "font", font, rng))
            samples.append(_photograph(_stroke_mask(label, rng), label, "stroke", "strokes", rng))
    return samples


def make_example(seed: int = SEED) -> Image.Image:
    """The example "photo" `EXAMPLE_IMAGE`: a drawn 4 in blue ink on lit paper."""
    rng = np.random.default_rng(seed)
    mask = _stroke_mask(EXAMPLE_LABEL, rng, size=(180, 240), line_fraction=0.07)
    paper, ink = np.array([236, 230, 214]), np.array([30, 45, 120])
    return _colour(mask, paper, ink, rng, shade=0.7, noise=3.0)


def naive_prepare(image: Image.Image) -> np.ndarray:
    """What a first attempt does: gray, resize to 28x28, divide by 255."""
    return np.asarray(image.convert("L").resize((28, 28)), dtype="float32") / 255.0


def naive_inverted_prepare(image: Image.Image) -> np.ndarray:
    """The usual first fix: the same, inverted when the picture is mostly light."""
    pixels = naive_prepare(image)
    return 1.0 - pixels if pixels.mean() > 0.5 else pixels


PREPARATIONS = {
    "naive": naive_prepare,
    "naive, inverted": naive_inverted_prepare,
    "prepare_digit": prepare_digit,
}


def prepare_all(samples: list[Sample], method: str) -> np.ndarray:
    """The (n, 28, 28) batch of the samples prepared with one of `METHODS`."""
    return np.stack([PREPARATIONS[method](sample.image) for sample in samples])


def evaluate(model, samples: list[Sample]) -> dict[str, dict[str, float]]:
    """Accuracy of `model` per method and per group of samples (plus ``"all"``)."""
    labels = np.array([sample.label for sample in samples])
    groups = [sample.group for sample in samples]
    results = {}
    for method in METHODS:
        probabilities = model.predict(prepare_all(samples, method), verbose=0)
        correct = probabilities.argmax(axis=1) == labels
        results[method] = {"all": float(correct.mean())}
        for group in GROUPS:
            in_group = np.array([name == group for name in groups])
            results[method][group] = float(correct[in_group].mean())
    return results


def _font_mask(label: int, font_file: str, rng: np.random.Generator) -> Image.Image:
    """White digit on black ("L" mode) at a random size, position, thickness and slant."""
    width, height = _canvas_size(rng)
    font = ImageFont.truetype(str(FONT_DIR / font_file), size=int(height * rng.uniform(0.4, 0.9)))
    thickness = int(rng.integers(0, max(1, int(font.size) // 14) + 1))
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    left, top, right, bottom = draw.textbbox((0, 0), str(label), font=font, stroke_width=thickness)
    x = rng.uniform(-left, max(-left, width - right))
    y = rng.uniform(-top, max(-top, height - bottom))
    draw.text((x, y), str(label), fill=255, font=font, stroke_width=thickness, stroke_fill=255)
    centre = ((left + right) / 2 + x, (top + bottom) / 2 + y)
    return mask.rotate(rng.uniform(-12, 12), resample=Image.Resampling.BILINEAR, center=centre)


def _stroke_mask(
    label: int,
    rng: np.random.Generator,
    size: tuple[int, int] | None = None,
    line_fraction: float | None = None,
) -> Image.Image:
    """White pen strokes on black ("L" mode) along a jittered skeleton of the digit."""
    width, height = size or _canvas_size(rng)
    digit_height = height * rng.uniform(0.45, 0.85)
    digit_width = digit_height * rng.uniform(0.5, 0.8)
    slant = rng.uniform(-0.35, 0.2)
    left = rng.uniform(0.05 * width, max(0.05 * width, 0.95 * width - digit_width))
    top = rng.uniform(0.05 * height, max(0.05 * height, 0.95 * height - digit_height))
    line_fraction = line_fraction or rng.uniform(0.04, 0.14)
    line_width = max(1, round(line_fraction * digit_height * SUPERSAMPLING))

    big = Image.new("L", (width * SUPERSAMPLING, height * SUPERSAMPLING), 0)
    draw = ImageDraw.Draw(big)
    for stroke in _skeleton(label, rng):
        stroke = stroke + rng.normal(0, 0.015, stroke.shape)  # a shaky hand
        xs = left + (stroke[:, 0] + slant * (1 - stroke[:, 1])) * digit_width
        ys = top + stroke[:, 1] * digit_height
        points = [(x * SUPERSAMPLING, y * SUPERSAMPLING) for x, y in zip(xs, ys, strict=True)]
        draw.line(points, fill=255, width=line_width, joint="curve")
        for x, y in (points[0], points[-1]):  # round pen tips
            radius = line_width / 2
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return big.resize((width, height), Image.Resampling.BOX)


def _skeleton(label: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The pen strokes of a digit, as (x, y) points in a unit box (y down)."""
    variant = rng.integers(2)
    if label == 0:
        return [_arc(0.5, 0.5, 0.42, 0.48, -90, 275)]
    if label == 1:
        flag = [(0.3, 0.22)] if variant else []
        return [np.array([*flag, (0.55, 0.02), (0.5, 0.98)])]
    if label == 2:
        top = _arc(0.5, 0.3, 0.4, 0.28, 195, 380)
        return [np.vstack([top, [(0.05, 0.97), (0.95, 0.95)]])]
    if label == 3:
        upper = _arc(0.48, 0.26, 0.4, 0.24, 205, 450)
        lower = _arc(0.48, 0.74, 0.45, 0.26, -90, 160)
        return [np.vstack([upper, lower])]
    if label == 4:
        if variant:
            return [np.array([(0.65, 0.02), (0.02, 0.65), (0.98, 0.65)]), _line(0.68, 0.3, 0.68)]
        return [np.array([(0.08, 0.02), (0.05, 0.6), (0.95, 0.58)]), _line(0.72, 0.0, 0.72)]
    if label == 5:
        head = np.array([(0.9, 0.02), (0.2, 0.02), (0.15, 0.45)])
        belly = _arc(0.48, 0.69, 0.45, 0.3, 220, 520)
        return [np.vstack([head, belly])]
    if label == 6:
        descent = np.array([(0.8, 0.02), (0.35, 0.3), (0.05, 0.7)])
        loop = _arc(0.48, 0.72, 0.43, 0.27, 180, 540)
        return [np.vstack([descent, loop])]
    if label == 7:
        strokes = [np.array([(0.02, 0.03), (0.98, 0.03), (0.35, 0.98)])]
        return strokes + ([np.array([(0.35, 0.5), (0.85, 0.5)])] if variant else [])
    if label == 8:
        return [_arc(0.5, 0.25, 0.36, 0.24, 90, 450), _arc(0.5, 0.74, 0.46, 0.25, -90, 270)]
    loop = _arc(0.5, 0.28, 0.45, 0.27, 10, 370)
    return [np.vstack([loop, [(0.88, 0.6), (0.75, 0.98)]])]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> np.ndarray:
    angles = np.radians(np.linspace(start, end, 40))
    return np.column_stack([cx + rx * np.cos(angles), cy + ry * np.sin(angles)])


def _line(x0: float, y0: float, x1: float) -> np.ndarray:
    return np.array([(x0, y0), (x1, 0.98)])


def _canvas_size(rng: np.random.Generator) -> tuple[int, int]:
    height = int(rng.integers(48, 257))
    return int(height * rng.uniform(0.7, 1.4)), height


def _photograph(
    mask: Image.Image, label: int, kind: str, style: str, rng: np.random.Generator
) -> Sample:
    """Colour the mask like ink on paper (or chalk on a board), with shade and noise."""
    light_on_dark = rng.random() < 0.3
    paper = rng.uniform(190, 255, 3)
    ink = rng.uniform(0, 110, 3)
    if light_on_dark:
        paper, ink = 255 - paper, 255 - ink
    image = _colour(mask, paper, ink, rng, shade=rng.uniform(0.7, 1.0), noise=rng.uniform(0, 10))
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))  # out of focus
    return Sample(image, label, kind, light_on_dark, style)


def _colour(
    mask: Image.Image,
    paper: np.ndarray,
    ink: np.ndarray,
    rng: np.random.Generator,
    shade: float,
    noise: float,
) -> Image.Image:
    alpha = np.asarray(mask, dtype="float32")[:, :, None] / 255.0
    pixels = paper * (1 - alpha) + ink * alpha
    height, width = alpha.shape[:2]
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width]
    ramp = (np.cos(angle) * xs / width + np.sin(angle) * ys / height + 1) / 2
    light = shade + (1 - shade) * ramp  # one side of the page in the shadow
    pixels = pixels * light[:, :, None] + rng.normal(0, noise, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
