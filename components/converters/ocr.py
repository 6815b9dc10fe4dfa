"""
OCR of scanned pages and images with tesseract (Debian's `tesseract-ocr` and `tesseract-ocr-fra`, via pytesseract).

`prepare_scan` cleans a page image before recognition (grayscale, upscaling of small pages, a 3x3 median filter
against scanner speckle, deskewing); `ocr_image` prepares and reads it; `ocr_available` says why OCR cannot run.
"""

from __future__ import annotations

import functools
import re
import tempfile
from pathlib import Path

import numpy as np
import pytesseract
from PIL import Image, ImageFilter, ImageOps

DEFAULT_LANGUAGES = ["fra"]

# A page under this many pixels on its long side is taken for a low-resolution scan and scaled up towards ~300 dpi
# (the long side of an A4 page at 300 dpi), but at most 2x: the median filter runs after scaling and removes 2x2
# specks, not 3x3 ones (measured at 100 dpi: 0.7-1.6 % CER with 2x, 8-16 % when scaled to 300 dpi).
MIN_LONG_SIDE = 1600
TARGET_LONG_SIDE = 3508
MAX_UPSCALE = 2.0

MAX_SKEW_DEG = 10.0
COARSE_STEP_DEG = 0.5
FINE_STEP_DEG = 0.1
# Skews under this are left alone: rotating costs time and blurs the glyphs a little.
MIN_DESKEW_DEG = 0.1
# The long side of the binarised copy the skew is estimated on.
SKEW_LONG_SIDE = 1600
# A page whose darkest and lightest pixels differ by less than this holds no ink.
MIN_INK_CONTRAST = 32

# Page segmentation mode 3: fully automatic layout, the best measured on text pages and tables
# (see bench/scan_render.py --measure).
TESSERACT_CONFIG = "--psm 3"


class OcrUnavailable(RuntimeError):  # noqa: N818  (the name says what the caller meets)
    """Tesseract, or one of the OCR languages asked for, is not installed."""


@functools.lru_cache(maxsize=1)
def _installed_languages() -> frozenset[str] | None:
    try:
        return frozenset(pytesseract.get_languages())
    except (pytesseract.TesseractNotFoundError, OSError):
        return None


def ocr_available(languages: list[str] | None = None) -> str | None:
    """
    Whether OCR can run, checked once per process.

    :param languages: Tesseract language codes (default `["fra"]`).
    :returns: None when tesseract and every language are installed, else the reason, for a person to read.
    """
    installed = _installed_languages()
    if installed is None:
        return "tesseract is not installed"
    missing = [language for language in languages or DEFAULT_LANGUAGES if language not in installed]
    if missing:
        names = ", ".join(f"'{language}'" for language in missing)
        return (
            f"the OCR language {names} is not installed"
            if len(missing) == 1
            else f"the OCR languages {names} are not installed"
        )
    return None


def _grayscale(image: Image.Image) -> Image.Image:
    if image.mode in {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}:
        pixels = np.asarray(image, dtype=np.float32)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(pixels.max()), 1.0)
        return Image.fromarray(np.clip(pixels * (255.0 / top), 0, 255).astype(np.uint8))
    if "A" in image.getbands() or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return image.convert("L")


def _otsu_threshold(pixels: np.ndarray) -> int:
    histogram = np.bincount(pixels.ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256)
    weight = np.cumsum(histogram)
    total = weight[-1]
    mass = np.cumsum(histogram * levels)
    background = total - weight
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mass[-1] * weight - total * mass) ** 2 / (weight * background)
    between[~np.isfinite(between)] = -1.0
    return int(np.argmax(between))


def estimate_skew(image: Image.Image) -> float:
    """
    The angle a page's text lines are rotated by, counter-clockwise like `Image.rotate`, in [-10°, +10°]: the angle
    whose projection of the ink onto the page's height gives the sharpest profile (0.5° steps, then 0.1° steps).

    :param image: A page image, grayscale.
    :returns: The angle, degrees; 0.0 for a page without ink.
    """
    small = image.convert("L")
    scale = SKEW_LONG_SIDE / max(small.size)
    if scale < 1:
        small = small.resize((round(small.width * scale), round(small.height * scale)), Image.Resampling.BOX)
    pixels = np.asarray(small)
    if int(pixels.max()) - int(pixels.min()) < MIN_INK_CONTRAST:
        return 0.0
    ys, xs = np.nonzero(pixels < min(_otsu_threshold(pixels), 200))
    if len(xs) < 50:
        return 0.0
    xs, ys = xs.astype(np.float64), ys.astype(np.float64)
    height = int(np.hypot(*small.size)) + 2

    def sharpness(angle: float) -> float:
        # a line rotated counter-clockwise by `angle` holds the points where y + x·tan(angle) is constant
        radians = np.deg2rad(angle)
        offsets = np.rint(ys * np.cos(radians) + xs * np.sin(radians)).astype(np.int64) + height // 2
        profile = np.bincount(offsets, minlength=2 * height)
        return float(np.dot(profile, profile))

    coarse = np.arange(-MAX_SKEW_DEG, MAX_SKEW_DEG + COARSE_STEP_DEG / 2, COARSE_STEP_DEG)
    best = max(coarse, key=sharpness)
    fine = best + np.arange(-COARSE_STEP_DEG, COARSE_STEP_DEG + FINE_STEP_DEG / 2, FINE_STEP_DEG)
    best = max(fine[np.abs(fine) <= MAX_SKEW_DEG], key=sharpness)
    return round(float(best), 2)


def prepare_scan(image: Image.Image) -> Image.Image:
    """
    A page image made easier to read: grayscale (transparency on white, EXIF orientation applied), scaled up (2x at
    most) when under 1600 px on its long side, cleaned of speckle with a 3x3 median filter, and deskewed (white
    fill). It is not binarised: tesseract's own thresholding read the measured pages as well.

    :param image: The page as scanned or photographed.
    :returns: A new grayscale image.
    """
    page = _grayscale(ImageOps.exif_transpose(image))
    long_side = max(page.size)
    if 0 < long_side < MIN_LONG_SIDE:
        scale = min(TARGET_LONG_SIDE / long_side, MAX_UPSCALE)
        page = page.resize((round(page.width * scale), round(page.height * scale)), Image.Resampling.LANCZOS)
    page = page.filter(ImageFilter.MedianFilter(3))
    angle = estimate_skew(page)
    if abs(angle) >= MIN_DESKEW_DEG:
        page = page.rotate(-angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    return page


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\f", "\n").splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def ocr_image(image: Image.Image, languages: list[str] | None = None, timeout_s: float = 60) -> str:
    """
    The text of a page image: prepared (`prepare_scan`), then read by tesseract.

    :param image: The page.
    :param languages: Tesseract language codes (default `["fra"]`).
    :param timeout_s: Longest time tesseract may take, seconds.
    :returns: The text, lines as read (hyphenated line ends kept), paragraphs separated by blank lines,
        trailing whitespace stripped; "" when nothing is recognised.
    :raises OcrUnavailable: When tesseract or a language is not installed.
    :raises RuntimeError: When tesseract takes longer than `timeout_s`, or fails.
    """
    languages = languages or DEFAULT_LANGUAGES
    reason = ocr_available(languages)
    if reason:
        raise OcrUnavailable(reason)
    page = prepare_scan(image)
    if int(page.getextrema()[1]) - int(page.getextrema()[0]) < MIN_INK_CONTRAST:
        return ""
    with tempfile.TemporaryDirectory(prefix="ocr_") as folder:
        # handed over as BMP: pytesseract would write a PNG, 0.8 s for a 300 dpi page against 5 ms
        path = Path(folder) / "page.bmp"
        page.save(path)
        try:
            text = pytesseract.image_to_string(
                str(path), lang="+".join(languages), config=TESSERACT_CONFIG, timeout=timeout_s
            )
        except pytesseract.TesseractNotFoundError as e:
            raise OcrUnavailable("tesseract is not installed") from e
    return _tidy(text)
