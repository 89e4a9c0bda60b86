"""Turn whatever a person drew or photographed into MNIST-style 28x28 crops.

The pipeline is: load any supported input as float pixels, flatten alpha onto
the canvas colour, turn colour into an "ink map" (ink high, background ~0,
whatever the polarity or lighting), set aside what a photographed sheet adds
(ruled lines, the desk around it), segment the ink into rows written one under
another and each row into digits left to right (touching digits cut where a digit
reader, when given one, reads the parts best), and cut each digit out the way MNIST
was made: 20 px longer side, centre of mass at the centre of a 28x28 field, strokes
about as thick as MNIST's (and, with a reader, a row whose digits are all tilted
turned upright when it reads better so).

Only numpy, scipy and PIL are used so that the module stays fast to import.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageOps
from scipy import ndimage as ndi
from scipy.spatial import ConvexHull, QhullError
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

MAX_PIXELS = 40_000_000
MAX_MARKS = 30
# PIL checks this on the header, before decoding; beyond 2x it raises.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# Measured with stroke_width on the 10,000 MNIST test digits: median 2.55 px,
# 1st..99th percentile 1.40..4.98 px at the 20-px scale; inside that range a digit
# is left as drawn (MNIST itself spans it).
MNIST_STROKE = 2.55
MNIST_STROKE_RANGE = (1.40, 4.98)
MNIST_BOX = 20
MNIST_SIZE = 28
MNIST_COM = 14.0  # MNIST's centres of mass lie in [13.5, 14.5] (index coords)

_EIGHT = np.ones((3, 3), bool)
_WORK_SIDE = 256  # long side of the copy used for background estimation
_MAX_PIECES = 600
# A picture no longer than this is one digit as a dataset has it (MNIST's 28 px, USPS's 16):
# no photo of a sheet on a desk, nor unevenly lit.
_DATASET_SIDE = 64
# Inputs longer than this are reduced before segmentation: a 3000×1000 photo then takes
# ~40 ms instead of ~120 ms, and a digit is still hundreds of pixels tall (benchmarks/latency.py).
_SEGMENT_SIDE = 1200


@dataclass(frozen=True)
class Digit:
    """One digit found in the input: where it is, and its MNIST-style crop."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in input pixels, exclusive end
    crop: np.ndarray  # (28, 28) float32 in [0, 1], white ink on black


# --------------------------------------------------------------------------
# Loading: every accepted input form becomes float32 (H, W, C) in [0, 1],
# C in {1, 2, 3, 4}; C = 2 and 4 carry alpha in the last channel.


def _load(image) -> np.ndarray:
    if isinstance(image, dict):
        return _from_editor(image)
    if isinstance(image, (str, os.PathLike)):
        return _from_file(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(image))
    if isinstance(image, Image.Image):
        return _from_pil(image)
    if isinstance(image, np.ndarray):
        # A plain ndarray: subclasses such as np.matrix break numpy routines used below.
        return _from_array(np.asarray(image))
    raise ValueError(f"unsupported image type: {type(image).__name__}")


def _check_size(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ValueError(
            f"image too large: {width}×{height} pixels (limit {MAX_PIXELS:,} pixels)"
        )


def _from_file(path) -> np.ndarray:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"not an image file: {path!r} does not exist")
    if os.path.getsize(path) == 0:
        raise ValueError(f"not an image file: {path!r} is empty (0 bytes)")
    with open(path, "rb") as f:
        return _from_bytes(f.read())


def _from_bytes(data: bytes) -> np.ndarray:
    if not data:
        raise ValueError("not an image file: no data (0 bytes)")
    try:
        img = Image.open(io.BytesIO(data))
        size = img.size
    except Image.DecompressionBombError as e:
        raise ValueError(f"image too large: {e}") from None
    except Exception:  # PIL raises many types for non-images; callers get one
        raise ValueError("not an image file (unrecognised format)") from None
    _check_size(*size)
    return _from_pil(img)


def _from_pil(img: Image.Image) -> np.ndarray:
    _check_size(*img.size)
    try:
        if img.getexif().get(0x0112, 1) != 1:  # orientation tag: rotate the pixels
            img = ImageOps.exif_transpose(img)
        pixels = _pil_pixels(img)
    except Exception:  # truncated/corrupt data surfaces as OSError, SyntaxError...
        raise ValueError("could not decode the image (damaged or truncated file?)") from None
    return _from_array(pixels)


def _pil_pixels(img: Image.Image) -> np.ndarray:
    if img.mode.startswith("I;16"):
        return np.asarray(img).astype(np.uint16)
    if img.mode in ("I", "F"):
        return np.asarray(img)
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        return np.asarray(img.convert("RGBA"))
    if img.mode in ("L", "1"):
        return np.asarray(img.convert("L"))
    return np.asarray(img.convert("RGB"))


def _from_array(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"unsupported pixel type {arr.dtype} (use uint8, uint16, bool or float)")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise ValueError(
            f"expected an image of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"empty image: shape {arr.shape} has no pixels")
    _check_size(arr.shape[1], arr.shape[0])
    return _to_unit(arr)


def _to_unit(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) * np.float32(1 / 255)
    if arr.dtype.kind == "b":
        return arr.astype(np.float32)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError("image contains NaN or infinite values")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0:
        raise ValueError(f"negative pixel values (min {lo:g}); expected 0..1 or 0..255")
    if arr.dtype == np.uint16 or (arr.dtype.kind in "iu" and 255 < hi <= 65535):
        scale = 65535.0
    elif arr.dtype.kind == "f" and hi <= 1.0:
        scale = 1.0
    elif hi <= 255:
        scale = 255.0
    else:
        raise ValueError(f"pixel values out of range (max {hi:g}); expected 0..1 or 0..255")
    return (arr.astype(np.float32) / np.float32(scale)).clip(0, 1)


def _from_editor(value: dict) -> np.ndarray:
    """Gradio Sketchpad/ImageEditor value: composite if given, else stack the layers."""
    if value.get("composite") is not None:
        return _from_entry(value["composite"])
    layers = value.get("layers")
    if layers is not None and not isinstance(layers, (list, tuple)):
        raise ValueError("canvas layers must be a list of images")
    parts = [value.get("background"), *(layers or [])]
    layers = [_rgba(_from_entry(p)) for p in parts if p is not None]
    if not layers:
        raise ValueError("empty canvas — draw something")
    if len({layer.shape for layer in layers}) > 1:
        raise ValueError("canvas layers have different sizes")
    return _over(layers)


def _from_entry(entry) -> np.ndarray:
    # gradio_client sends file references as {"path": ..., "meta": ...}
    if isinstance(entry, dict):
        if not isinstance(entry.get("path"), (str, os.PathLike)):
            raise ValueError("canvas entry is neither an image nor a file path")
        entry = entry["path"]
    return _load(entry)


def _rgba(px: np.ndarray) -> np.ndarray:
    colour, alpha = (px[..., :-1], px[..., -1:]) if px.shape[2] in (2, 4) else (px, None)
    if colour.shape[2] == 1:
        colour = np.repeat(colour, 3, axis=2)
    if alpha is None:
        alpha = np.ones(px.shape[:2] + (1,), np.float32)
    return np.concatenate([colour, alpha], axis=2)


def _over(layers: list[np.ndarray]) -> np.ndarray:
    """Porter-Duff "over", bottom layer first, in premultiplied alpha."""
    premult = np.zeros_like(layers[0][..., :3])
    alpha = np.zeros_like(layers[0][..., 3:])
    for layer in layers:
        a = layer[..., 3:]
        premult = layer[..., :3] * a + premult * (1 - a)
        alpha = a + alpha * (1 - a)
    colour = np.divide(premult, alpha, out=np.zeros_like(premult), where=alpha > 0)
    return np.concatenate([colour, alpha], axis=2)


# --------------------------------------------------------------------------
# Pixels to ink map.


def to_grey(image) -> np.ndarray:
    """Return the ink map of `image`: (H, W) float32 in [0, 1], ink high, background ~0.

    Accepts a path, bytes, a PIL image, a numpy array or a Gradio Sketchpad value.
    Alpha is flattened onto the canvas colour, EXIF orientation applied, polarity
    and uneven lighting compensated. Raises ValueError for anything unusable.
    """
    return _ink(_flatten_alpha(_load(image)))


def _flatten_alpha(px: np.ndarray) -> list[np.ndarray]:
    """Colour planes (numpy is slow across a short last axis) with alpha flattened."""
    planes = [px[..., c] for c in range(px.shape[2])]
    if px.shape[2] not in (2, 4):
        return planes
    colour, alpha = planes[:-1], np.ascontiguousarray(planes[-1])
    if alpha.min() >= 0.999:
        return colour
    if alpha.max() <= 0.004:
        raise ValueError("empty canvas — the image is fully transparent; draw something")
    opaque = alpha > 0.5 * alpha.max()
    seen = px[opaque][:, :-1]
    if len(seen) >= 0.5 * alpha.size or _solid(opaque):  # the opaque part is a canvas: extend its colour
        backdrop = np.median(seen, axis=0)
    else:  # only ink is opaque: put it on a contrasting canvas
        backdrop = np.full(len(colour), 1.0 if np.median(seen) < 0.5 else 0.0)
    if np.ptp(seen, axis=1).max() < 0.01 and np.ptp(backdrop) < 0.01:
        colour, backdrop = colour[:1], backdrop[:1]  # grey on grey: one plane will do
    return [b + (c - b) * alpha for c, b in zip(colour, backdrop.astype(np.float32))]


def _solid(opaque: np.ndarray) -> bool:
    """Is the opaque part of an image a sheet rather than strokes? Much of a sheet lies far
    (a tenth of the image's shorter side) from any transparent pixel; no pen stroke is that wide.
    A picture rotated in an editor is a sheet with transparent corners, and may fill under half."""
    k = max(1, math.ceil(max(opaque.shape) / _WORK_SIDE))
    small = _reduce(opaque.astype(np.float32), k) > 0.5 if k > 1 else opaque
    depth = ndi.distance_transform_edt(np.pad(small, 1))[1:-1, 1:-1]
    return bool((depth >= 0.1 * min(small.shape)).sum() >= 0.3 * max(small.sum(), 1))


def _ink(planes: list[np.ndarray]) -> np.ndarray:
    return _inks(planes)[0]


def _inks(planes: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The ink map (:func:`to_grey`) and each colour plane's own ink, of which it is the strongest."""
    k = max(1, math.ceil(max(planes[0].shape) / _WORK_SIDE))
    small = np.stack([_reduce(p, k) if k > 1 else p for p in planes], axis=2)
    dark = _dark_ink(small)
    eps = np.float32(0.05)
    each = []
    for plane, bg in zip(planes, _background(small, dark, planes[0].shape)):
        if dark:  # reflectance ratio: shading on paper cancels out
            each.append((1 - plane / np.maximum(bg, eps)).clip(0, 1))
        else:
            each.append(((plane - bg) / np.maximum(1 - bg, eps)).clip(0, 1))
    # The strongest channel, so coloured ink counts as much as black.
    return (each[0] if len(each) == 1 else np.maximum.reduce(each)), each


def _reduce(a: np.ndarray, k: int) -> np.ndarray:
    # PIL's box reduce is C code; numpy's reshape-mean over strided axes is ~10x slower.
    img = Image.fromarray(np.ascontiguousarray(a, np.float32), mode="F")
    return np.asarray(img.reduce(k), np.float32)


# Ink may be told by the ground around each pixel where fewer of the picture's pixels than
# this stand out from it: the writing is sparse enough for a median to see past it.
_SPARSE_INK = 0.18
# Thin strokes of the writing stand out from the paper right beside them by this much at
# least (at 99.9 % of a 3×3 top-hat of the reduced copy: 0.2-0.3 for a ballpoint or pencil
# on a photographed sheet, under 0.06 the other way).
_THIN_CONTRAST = 0.1


def _dark_ink(small: np.ndarray) -> bool:
    """Dark ink on a light ground? Ink is the tail that reaches further from the median
    (where both reach alike on a picture bigger than a dataset's digit, further from the
    ground around each pixel), or, where the median is ink, what the picture's border is not."""
    lum = small.mean(axis=2)
    lo, med, hi = np.percentile(lum, [0.1, 50, 99.9])
    # Ink can cover more than half of a digit cropped tight, and turn the median; the border
    # is still mostly ground. A border much lighter than the median is paper under dark ink.
    # A border much darker is a ground under light ink only on a picture as small as a
    # dataset's digit: on a photo it may be a desk around the sheet.
    border = np.median(np.concatenate(_edges(lum)))
    if border - med > 0.2:
        return True
    if med - border > 0.2 and max(lum.shape) <= _DATASET_SIDE:
        return False
    if abs((med - lo) - (hi - med)) > 0.1:
        return bool(med - lo > hi - med)
    if max(lum.shape) > _DATASET_SIDE:
        # Thin strokes stand out from the ground right beside them, each by its own
        # polarity; the soft edge of a shadow or of a patch of light does not (a 3×3
        # top-hat each way). Where the light is patchy as well, the ground below would
        # follow neither.
        darker = np.percentile(ndi.grey_closing(lum, size=3) - lum, 99.9)
        lighter = np.percentile(lum - ndi.grey_opening(lum, size=3), 99.9)
        if max(darker, lighter) > _THIN_CONTRAST and max(darker, lighter) > 3 * min(darker, lighter):
            return bool(darker > lighter)
        # A shadow across a photographed sheet is a second ground: with the median on the
        # shaded paper, the lit paper reaches as far from it as the ink. From the ground
        # around each pixel (a median over a fourth of the shorter side, on a 4x smaller
        # copy) the ink still reaches furthest, where few pixels stand out from that ground.
        coarse = lum[::4, ::4]
        ground = ndi.median_filter(coarse, size=max(3, min(coarse.shape) // 4))
        local = lum - _resize(ground, lum.shape, Image.Resampling.BILINEAR)
        darker, lighter = -np.percentile(local, 0.1), np.percentile(local, 99.9)
        if abs(darker - lighter) > 0.1 and (np.abs(local) > 0.15).mean() < _SPARSE_INK:
            return bool(darker > lighter)
    return bool(med >= 0.5)


def _background(small: np.ndarray, dark: bool, shape: tuple[int, int]) -> list:
    """Canvas colour per channel: a constant, or a per-pixel estimate where lighting is uneven."""
    flat = np.median(small.reshape(-1, small.shape[2]), axis=0).astype(np.float32)
    # A picture as small as a dataset's digit has no lighting to even out, and its window
    # would be narrower than the strokes of a thick digit (a thick MNIST 0 came out hollow).
    if max(small.shape[:2]) <= _DATASET_SIDE or _even(small.mean(axis=2), dark):
        return list(flat)
    return [_resize(_lighting(small[..., c], dark), shape, Image.Resampling.BILINEAR)
            for c in range(small.shape[2])]


# A pixel on the picture's edge this much darker than a closing done in place makes it is
# ink or desk, not paper in a falling light (a phone's vignetting: 0.85-0.9 of it).
_EDGE_NOT_PAPER = 0.65
# A step in the paper's brightness this steep (per pixel of the reduced copy) bounds a desk
# or ink; the light falling off into a shaded corner of a photo darkens it by 0.01-0.02 a
# pixel, a desk's edge by 0.1 or more.
_SHADE_STEP = 0.05


def _sharply_bounded(paper: np.ndarray, dark: np.ndarray) -> np.ndarray:
    """The parts of ``dark`` that a sharp step in ``paper`` bounds: desk or ink, not paper.

    Vignetting and a patch of shade together can take more than a third of the light from a
    photo's corner; that corner then passed for desk, went on beyond the edge as the
    brighter paper, and was read as a 1. A desk or ink stands out from the paper at once,
    a shade deepens gradually.
    """
    labels, n = ndi.label(dark)
    smooth = ndi.grey_closing(paper, size=3)
    step = np.hypot(ndi.sobel(smooth, 0), ndi.sobel(smooth, 1)) / 8
    ring = ndi.binary_dilation(dark) & ~dark
    near = np.where(ring, ndi.grey_dilation(labels, size=3), 0)
    steepest = np.asarray(ndi.maximum(step, labels=near, index=np.arange(1, n + 1)))
    return np.concatenate([[False], steepest >= _SHADE_STEP])[labels]


def _lighting(channel: np.ndarray, dark: bool, fine: bool = True) -> np.ndarray:
    """The canvas under the ink: a grey closing (opening for light ink) with a
    window wider than any stroke wipes the ink out and leaves the lighting.

    ``fine``: then follow the light more closely with closings under windows a half, a
    quarter and an eighth as wide (``_FINER``), where what they leave is no more than
    ``_SHADING_DEPTH`` darker than the wider one's.
    """
    paper = channel if dark else 1 - channel  # light ink: the same on the negative
    lit = _wide_lighting(paper)
    if fine:
        lit = _finer_lighting(paper, lit)
    return lit if dark else 1 - lit


def _wide_lighting(paper: np.ndarray) -> np.ndarray:
    """The lighting of ``paper`` (dark ink) under one window a third of its shorter side."""
    window = max(1, min(paper.shape) // 3)
    # The picture goes on beyond its edge as its edge's paper: a closing done in place
    # takes the brightest paper half a window in for the edge itself, and light falling off
    # towards the edges of a photo became ink there, as dark as faint pencil (read as 1s
    # along the sides). Ink and desk on the edge go on as that brighter paper, as before:
    # the desk in a corner of a sheet photographed at an angle is then still ink, and solid.
    # (A dilation alone would take the lit paper beyond a shadow's edge for the shaded edge.)
    in_place = ndi.grey_closing(paper, size=window)
    not_paper = paper < _EDGE_NOT_PAPER * in_place
    if np.concatenate(_edges(not_paper)).any():
        not_paper = _sharply_bounded(paper, not_paper)
    edge = np.where(not_paper, in_place, paper)
    padded = np.pad(edge, window, mode="edge")
    padded[window:-window, window:-window] = paper
    return ndi.uniform_filter(ndi.grey_closing(padded, size=window), size=window)[window:-window, window:-window]


def _finer_lighting(paper: np.ndarray, lit: np.ndarray) -> np.ndarray:
    """``lit`` (from :func:`_wide_lighting`) following the light more closely: see _FINER."""
    window = max(1, min(paper.shape) // 3)
    for w in sorted({max(3, window // d) for d in _FINER}, reverse=True):
        closer = ndi.grey_closing(np.pad(paper, w, mode="edge"), size=w)[w:-w, w:-w]
        # Shading is what a narrower window leaves a little darker; ink wider than it
        # stays much darker, and its soft edge beside it is ink too (MNIST's strokes
        # drawn large fade over several pixels), so the paper within a window of it
        # keeps the wider window's lighting.
        keep = (closer >= (1 - _SHADING_DEPTH) * lit) & ndi.minimum_filter(closer >= (1 - _INK_DEPTH) * lit,
                                                                            size=2 * w + 1)
        lit = ndi.uniform_filter(np.where(keep, closer, lit), size=w, mode="nearest")
    return lit


# A window a third of the picture wide is wider than any stroke, but wider too than the
# patches of light on a photographed sheet (light through leaves, a crumpled sheet, the light
# falling off into a corner): where the writing is small and sparse, the dark patches stood
# out from that lighting as faint ink, set the ink threshold, and were read as digits all
# over the photo. Narrower windows (a half, a quarter, an eighth) follow them; what one
# leaves up to _SHADING_DEPTH darker than the wider one's is the light, what it leaves
# _INK_DEPTH darker is ink (pencil takes 40 % of the light).
_FINER = (2, 4, 8)
_SHADING_DEPTH = 0.2
_INK_DEPTH = 0.4


def _even(lum: np.ndarray, dark: bool) -> bool:
    # A constant background can't eat into thick strokes; use it when it fits.
    paper = lum if dark else 1 - lum
    wide = _wide_lighting(paper)
    lo, hi = np.percentile(wide if dark else 1 - wide, [5, 95])
    if hi - lo >= 0.1:
        return False
    if (np.abs(lum - np.median(lum)) < 0.02).mean() > 0.5:  # a drawing's canvas, one colour
        return True
    # Under the one wide window the patches of light on a mottled sheet look even.
    fine = _finer_lighting(paper, wide)
    lo, hi = np.percentile(fine if dark else 1 - fine, [5, 95])
    return hi - lo < 0.1


def _resize(a: np.ndarray, shape: tuple[int, int], resample) -> np.ndarray:
    img = Image.fromarray(np.ascontiguousarray(a, np.float32), mode="F")
    return np.asarray(img.resize((shape[1], shape[0]), resample), np.float32)


# --------------------------------------------------------------------------
# Segmentation.


# Scores MNIST-style crops (n, 28, 28): (n,) numbers at most 0, higher where a crop reads
# better as one whole digit, like a log-probability (inference uses the autoencoder; see
# inference._reader).
Reader = Callable[[np.ndarray], np.ndarray]


def find_digits(image, reader: Reader | None = None, *, upright: bool = True) -> list[Digit]:
    """Find the digits in `image` (any input form `to_grey` takes) in reading order: left to
    right, and rows written one under another top to bottom (:func:`_lines`).

    ``reader``, a digit classifier, lets touching digits be told apart: a mark that could
    hold more than one digit is cut where the reader reads the parts best
    (:func:`_read_apart`). Without it, such marks are cut by their width alone. With a
    reader, a row of digits tilted alike is also turned upright where the reader reads it
    better so (:func:`_upright`); ``upright=False`` leaves the digits as drawn.

    Raises ValueError("no digits found — draw something") when there is no ink,
    and ValueError for unusable inputs or more than MAX_MARKS marks.
    """
    px = _load(image)
    height, width = px.shape[:2]
    factor = math.ceil(max(height, width) / _SEGMENT_SIDE)
    if factor > 1:
        px = _shrink(px, factor)
    planes = _flatten_alpha(px)
    lum, k = _small_luminance(planes)
    turn = _photo_slope(lum)
    outside = None  # the corners a levelled photo gained, which show neither paper nor desk
    if turn:  # a turned photo: level it, so the sheet's edges and ruled lines are level too
        planes, unturn = _level(planes, turn, [np.median(np.concatenate(_edges(p))) for p in planes])
        outside = _level([np.zeros(px.shape[:2], np.float32)], turn, [1.0])[0][0] > 0.5
        lum, k = _small_luminance(planes)
    top, left = 0, 0
    sheet = _sheet(lum, k, planes[0].shape)
    if sheet is not None:  # a photo of a sheet on a desk: read the sheet alone
        (top, bottom, left, right), off = sheet
        planes = [p[top:bottom, left:right] for p in planes]
        if off.any():  # the desk in the box's corners, painted over with the sheet's paper
            planes = [np.where(off, np.float32(np.median(p[~off])), p) for p in planes]
        if outside is not None:
            outside = outside[top:bottom, left:right]
    ink, channels = _inks(planes)
    digits = _find_in_ink(ink, reader, upright, outside, channels)
    if factor == 1 and sheet is None and not turn:
        return digits
    # Boxes back in input pixels.
    boxes = [(d.box[0] + left, d.box[1] + top, d.box[2] + left, d.box[3] + top) for d in digits]
    if turn:
        boxes = [unturn(box) for box in boxes]
    return [Digit(box=(b[0] * factor, b[1] * factor, min(b[2] * factor, width), min(b[3] * factor, height)),
                  crop=d.crop) for b, d in zip(boxes, digits)]


# A photo is levelled when it holds a straight line sloped by this much or more (a ruled
# line, the edge of the sheet); lines within ±2° _rules finds as they are.
_TURNED_FROM = 2.0


def _small_luminance(planes: list[np.ndarray]) -> tuple[np.ndarray, int]:
    """The mean of the colour planes reduced by k to at most _WORK_SIDE a side, and k."""
    k = max(1, math.ceil(max(planes[0].shape) / _WORK_SIDE))
    return sum(_reduce(p, k) if k > 1 else p for p in planes) / len(planes), k


def _photo_slope(lum: np.ndarray) -> float:
    """The slope in degrees (clockwise, y down) of a turned photo of paper, else 0; ``lum``
    is the photo's luminance from :func:`_small_luminance`.

    A photo is turned when its longest straight edge within ±40° of level — a ruled line or
    the edge of the sheet against the desk — is sloped: edge pixels are projected across
    each slope in half-degree steps; the fullest bin must hold one unbroken run a third of
    the image's width long. Drawings have no such line (a wide 7's bar is the most they have, and
    levelling that does no harm).
    """
    if min(lum.shape) < 32:
        return 0.0
    edge = np.hypot(ndi.sobel(lum, 0), ndi.sobel(lum, 1)) > 0.6  # a step of 0.15 or more
    ys, xs = np.nonzero(edge)
    if len(ys) < 0.35 * lum.shape[1]:
        return 0.0
    best, best_count, across, at = 0.0, 0, None, 0
    for slope in sorted(np.arange(-40, 40.25, 0.5), key=abs):  # a tie goes to the smaller slope
        rad = math.radians(slope)
        here = np.rint(ys * math.cos(rad) - xs * math.sin(rad)).astype(np.intp)
        here -= here.min()
        counts = np.bincount(here)
        pairs = counts[:-1] + counts[1:] if len(counts) > 1 else counts
        if pairs.max() > best_count:
            best, best_count, across, at = float(slope), int(pairs.max()), here, int(pairs.argmax())
    if across is None or not _TURNED_FROM <= abs(best) < 40:
        return 0.0
    # Lines, not the tops of a row of digits that happen to align: along the slope, one
    # unbroken run (gaps no wider than a stroke crossing it)...
    rad = math.radians(best)
    best_on = (across == at) | (across == at + 1)
    along = np.rint(xs * math.cos(rad) + ys * math.sin(rad)).astype(np.intp)
    # Ruled lines and a sheet's edges span most of the longest line the picture holds at
    # that slope; the sides of a digit cropped tight (a leaning 0's) span less.
    longest = min(lum.shape[1] / math.cos(rad), lum.shape[0] / abs(math.sin(rad)))

    def long_line(on):
        points = np.unique(along[on])
        runs = np.split(points, np.flatnonzero(np.diff(points) > 4) + 1)
        return max(np.ptp(run) for run in runs) >= max(0.35 * lum.shape[1], 0.6 * longest)

    if not long_line(best_on):
        return 0.0
    # ...and a second one parallel to it, well apart: ruled lines come several to a sheet
    # and a sheet on a desk shows two edges, while one straight stroke of a digit alone
    # (a 2's diagonal in a small picture of one digit) must not turn the picture.
    far = np.abs(across - np.median(across[best_on])) >= 0.3 * lum.shape[0]
    counts = np.bincount(across[far], minlength=across.max() + 2)
    for other in np.flatnonzero(counts[:-1] + counts[1:] >= 0.35 * lum.shape[1]):
        if long_line(far & ((across == other) | (across == other + 1))):
            return best
    return 0.0


def _sheet(lum: np.ndarray, k: int, shape: tuple[int, int]) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """Where a sheet of paper lies in a photo that shows a darker desk all around it:
    ((top, bottom, left, right), off), the box a little inside the sheet's edge and ``off``
    the pixels of that box beyond the sheet's outline (the desk in its corners, where the
    photo was taken at an angle), in full-size pixels; None for anything else.

    The sheet is the largest light region: it must fill its convex outline but for the
    writing on it (a four-sided sheet with marks, not a digit drawn in light ink), keep off
    the image's border, and be much lighter than the rest. Without this, a desk that fills
    most of the photo passes for the background. ``lum`` and ``k`` are from
    :func:`_small_luminance`, ``shape`` is the full-size image's.
    """
    h, w = shape
    if min(lum.shape) < 16 or max(h, w) <= _DATASET_SIDE:  # no photo: a thick 0 the size of a dataset's digit
        return None
    light = lum > _otsu(lum)
    # Ruled lines cut a sheet into bands; bridged, the sheet is one region again.
    labels, n = ndi.label(light | ndi.binary_closing(light, np.ones((3, 1), bool)))
    if n == 0:
        return None
    sizes = np.bincount(labels.ravel())[1:]
    biggest = int(sizes.argmax()) + 1
    ys, xs = ndi.find_objects(labels)[biggest - 1]
    box_area = (ys.stop - ys.start) * (xs.stop - xs.start)
    border = np.concatenate(_edges(labels))
    if sizes[biggest - 1] < 0.1 * lum.size or (border == biggest).mean() > 0.1 or box_area > 0.9 * lum.size:
        return None
    region = labels == biggest
    outline = _outline(region)
    whole = ndi.binary_fill_holes(region)
    filled = int(whole.sum())
    # The writing on the sheet: holes in it (a bold white 1 on black has none, nor has the
    # inside of a 0 cropped tight), lines and all.
    holes = filled - int((light & region).sum())
    if filled < 0.9 * outline.sum() or holes > 0.2 * filled:
        return None
    paper = ndi.grey_closing(lum, size=(5, 5))  # the writing and ruled lines wiped out
    if holes < 0.01 * filled and not _written_on(lum, paper, whole, k):
        return None
    lit, region = region, _shaded(paper, region)
    if lum[lit].mean() - lum[~region].mean() < 0.2:
        return None
    if region is not lit:
        ys, xs = ndi.find_objects(region.view(np.uint8))[0]
        if (ys.stop - ys.start) * (xs.stop - xs.start) > 0.9 * lum.size:
            return None
        outline = _outline(region)
    inset_y, inset_x = (ys.stop - ys.start) // 50 + 1, (xs.stop - xs.start) // 50 + 1
    top, bottom = (ys.start + inset_y) * k, min((ys.stop - inset_y) * k, h)
    left, right = (xs.start + inset_x) * k, min((xs.stop - inset_x) * k, w)
    # with the soft rim along the sheet's edge
    off = np.repeat(np.repeat(ndi.binary_dilation(~outline), k, axis=0), k, axis=1)
    return (top, bottom, left, right), off[top:bottom, left:right]


# Writing thinner than a pixel of the reduced photo leaves hardly any holes in the sheet
# (one thin digit on a sheet that fills half the photo: 0.2-0.8 % of it), only faint marks:
# pixels this much darker than the paper around them, on at least this share of it (a thin
# 1 marks 0.06 % of such a sheet; bare light regions, noisy or not, 0 %).
_MARK_DEPTH = 0.08
_MARKS_SHARE = 0.0003


def _written_on(lum: np.ndarray, paper: np.ndarray, region: np.ndarray, k: int) -> bool:
    """Does the light ``region`` of ``lum`` (reduced by ``k``; its holes filled) bear writing
    too thin to hole it much? ``paper``: ``lum`` with the writing wiped out (a 5×5 grey
    closing). A sheet with one thin digit does; a bold light 1 on a dark canvas, or the
    inside of a dark 0 cropped tight, is bare, even with noise and JPEG blocks."""
    if k < 2:  # a picture small enough to be read as it is: its noise would pass for marks
        return False
    marks = ndi.binary_erosion(region, iterations=2) & (paper - lum > _MARK_DEPTH)
    return int(marks.sum()) >= _MARKS_SHARE * int(region.sum())


# A step in brightness as sharp as this (in log brightness per pixel of the reduced photo)
# is the sheet's edge; a shadow's edge is soft (a step of 0.5-0.7 at a sheet's edge on a
# dark desk, under 0.05 across a phone's shadow).
_SHEET_EDGE_STEP = 0.15


def _shaded(paper: np.ndarray, lit: np.ndarray) -> np.ndarray:
    """The sheet whose lit part is ``lit``, with the paper in shadow beside it: a shadow
    across the sheet (the phone's, a hand's) leaves part of it as dark as the desk, and
    would cut it and its writing off. The sheet goes on across the shadow's soft edge to its
    own sharp one; ``lit`` itself where that reaches the picture's border (the sheet's edge
    is not sharp all round) or adds little. ``paper``: the photo's reduced luminance with the
    writing and ruled lines wiped out (a 5×5 grey closing)."""
    log = np.log(np.maximum(paper, 0.02))
    step = np.hypot(ndi.sobel(log, 0), ndi.sobel(log, 1)) / 8  # sobel's weights sum to 8 across
    joined, _ = ndi.label((step < _SHEET_EDGE_STEP) | lit)
    sheet = np.isin(joined, np.unique(joined[lit]))
    if np.concatenate(_edges(sheet)).mean() > 0.1 or sheet.sum() < 1.05 * lit.sum():
        return lit
    return ndi.binary_fill_holes(sheet)


def _outline(region: np.ndarray) -> np.ndarray:
    """The convex outline of ``region`` (a boolean image), filled."""
    rows = np.flatnonzero(region.any(axis=1))
    out = Image.new("L", region.shape[::-1], 0)
    if len(rows):
        left = region[rows].argmax(axis=1)
        right = region.shape[1] - 1 - region[rows, ::-1].argmax(axis=1)
        points = np.concatenate([np.stack([left, rows], 1), np.stack([right, rows], 1)])
        try:
            points = points[ConvexHull(points).vertices]
        except QhullError:  # all in a line: the points themselves are the outline
            pass
        ImageDraw.Draw(out).polygon([tuple(map(int, p)) for p in points], fill=1, outline=1)
    return np.asarray(out, bool)


def _otsu(values: np.ndarray) -> float:
    """Otsu's threshold of values in [0, 1] (64 bins)."""
    hist = np.bincount((np.clip(values, 0, 1) * 63).astype(np.intp).ravel(), minlength=64)[:64]
    p = hist / max(hist.sum(), 1)
    w0 = np.cumsum(p)
    m = np.cumsum(p * np.arange(64))
    between = (m[-1] * w0 - m) ** 2 / np.maximum(w0 * (1 - w0), 1e-12)
    return float((np.argmax(between[:-1]) + 1) / 63)


def _shrink(px: np.ndarray, factor: int) -> np.ndarray:
    """Reduce by ``factor``, averaging each block (C code, ~3 ms for a 3000×1000 photo).

    With an alpha channel, colour is averaged weighted by alpha (premultiplied): the colour
    of transparent pixels, often black, must not seep into the edges of light ink.
    """
    planes = [px[..., c] for c in range(px.shape[2])]
    if len(planes) not in (2, 4):
        return np.stack([_reduce(p, factor) for p in planes], axis=2)
    alpha = _reduce(planes[-1], factor)
    weight = np.maximum(alpha, np.float32(1e-6))  # where alpha is 0, so is the weighted colour
    return np.stack([*(_reduce(p * planes[-1], factor) / weight for p in planes[:-1]), alpha], axis=2)


def _find_in_ink(ink: np.ndarray, reader: Reader | None = None, upright: bool = True,
                 outside: np.ndarray | None = None, channels: list[np.ndarray] | None = None) -> list[Digit]:
    threshold = _threshold(ink)
    ink = _without_grain(ink, threshold)
    found = ink > threshold
    mask, cleaned = _paper_only(found, ink, outside, channels)
    darker = None
    if mask.sum() < found.sum():  # lines or a desk went
        fainter = _fainter_writing(ink, mask, cleaned, threshold, outside, channels)
        if fainter[2] == threshold:  # the writing is not fainter than the lines: it may be darker
            darker = _darker_writing(ink, found, mask, threshold, outside, channels)
        mask, cleaned, threshold = fainter if darker is None else (*darker, threshold)
        mask, cleaned = _without_flecks(mask, cleaned, threshold)
    if darker is None:
        mask, ink, threshold = _whole_faint_strokes(mask, cleaned, threshold)
    else:  # the writing is darker than lines: not faint
        ink = cleaned
    digits = []
    for top, bottom in _lines(mask):
        row = _find_in_row(ink[top:bottom], mask[top:bottom], threshold, reader, upright)
        digits += [Digit(box=(d.box[0], d.box[1] + top, d.box[2], d.box[3] + top), crop=d.crop) for d in row]
    if len(digits) > MAX_MARKS:
        raise ValueError(f"too many marks ({len(digits)}) — draw up to {MAX_MARKS} digits")
    return digits


# A photo's grain lifts single pixels of the paper up to 6.5-8.7 times the noise's spread
# above it (the strongest of three colour channels, each with its own noise), and a threshold
# set low for faint writing lets them through: specks all over the picture, which joined the
# digits into marks as tall as the photo. Faint pencil rises 12 spreads or more.
_GRAIN_RISE = 9.0
# JPEG smooths the grain into blobs that rise further, up to 2.6 times that bar in a phone's
# photo saved at quality 60, but stay this small (px): about as dark as the writing they
# must be, to count.
_GRAIN_BLOB = 3


def _without_grain(ink: np.ndarray, threshold: float) -> np.ndarray:
    """``ink`` with its grain set to 0: the pieces above ``threshold`` that nowhere rise
    _GRAIN_RISE times the noise's spread above the paper, and blobs of up to _GRAIN_BLOB px
    that do not reach halfway from the threshold to the darkest writing. The spread is told
    from neighbouring pixels of the paper (half the rows), so the shading of a photo does
    not count as noise; a drawing on a flat canvas has none, and is returned as it is."""
    rows = ink[::2]
    left, right = rows[:, :-1], rows[:, 1:]
    paper = (left <= threshold) & (right <= threshold)
    if paper.sum() < 100:
        return ink
    step = (right - left)[paper]
    spread = 1.4826 * float(np.median(np.abs(step))) / math.sqrt(2)
    if spread < 1e-3:
        return ink
    bar = float(np.median(left[paper])) + _GRAIN_RISE * spread
    labels, n = ndi.label(ink > threshold, _EIGHT)
    area = np.bincount(labels.ravel(), minlength=n + 1)
    grain = np.ones(n + 1, bool)
    grain[labels[ink >= bar]] = False  # rises above the grain somewhere
    grain |= _pale_blobs(labels, area, ink, threshold, _GRAIN_BLOB)
    grain[0] = False
    return np.where(grain[labels], np.float32(0), ink) if grain.any() else ink


def _pale_blobs(labels: np.ndarray, area: np.ndarray, ink: np.ndarray, threshold: float, size: int) -> np.ndarray:
    """Which pieces of ``labels`` (``area``: their sizes, the background's first) are blobs
    of up to ``size`` px that do not reach halfway from ``threshold`` to the darkest ink of
    the rest."""
    blob = area <= size
    blob[0] = False
    writing = (labels > 0) & ~blob[labels]
    if not blob.any() or not writing.any():
        return np.zeros_like(blob)
    dark = np.zeros_like(blob)
    dark[labels[ink >= (threshold + float(ink[writing].max())) / 2]] = True
    return blob & ~dark


# A JPEG rings beside a pale line, in blobs of up to this many px that stay there once the line
# has gone (scattered over a page of pale rows, they joined into marks as tall as the page).
_LINE_FLECK = 8


def _without_flecks(mask: np.ndarray, ink: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """``mask`` and ``ink`` without the pale blobs of up to _LINE_FLECK px that lines leave
    beside them (:func:`_pale_blobs`)."""
    labels, n = ndi.label(mask, _EIGHT)
    fleck = _pale_blobs(labels, np.bincount(labels.ravel(), minlength=n + 1), ink, threshold, _LINE_FLECK)
    if not fleck.any():
        return mask, ink
    gone = fleck[labels]
    return mask & ~gone, np.where(gone, np.float32(0), ink)


# The writing's own threshold may bring up this many times the ink the first one found at
# most: more is the paper's shading coming up with it (a photo darker towards its edges), not
# writing (measured: 1.0-2.4 times for pencil under dark ruled or grid lines, 5-8 times
# where the shading came up).
_FAINTER_GROWTH = 3.0
# Of the ink the lower threshold adds, at least this share must be joined to the writing found
# before (faint writing's: 0.6-1.0 in photos of pencil under dark lines; a pale grid's, on a
# desk photographed at an angle: 0.08-0.12).
_FAINTER_JOINED = 0.3
# Marks that only the lower threshold brings up, within this many px of the picture's edge,
# are the paper's shading there unless they hold writing found before.
_FAINTER_EDGE = 12


def _fainter_writing(ink: np.ndarray, mask: np.ndarray, cleaned: np.ndarray, threshold: float,
                     outside: np.ndarray | None, channels: list[np.ndarray] | None = None
                     ) -> tuple[np.ndarray, np.ndarray, float]:
    """Lines or a desk as dark as ink set the ink threshold: writing fainter than them (pencil
    under dark ruled or grid lines) fell under it in places, and was read in pieces. With them
    gone (``mask`` and ``cleaned`` from :func:`_paper_only`), the threshold of what is left is
    the writing's own; where it is lower by 0.05 at least, the writing is found again at it,
    unless that brings up more than _FAINTER_GROWTH times the ink. Returns the mask, the ink
    and the threshold to read by."""
    lower = _threshold(cleaned)
    if lower >= threshold - 0.05:
        return mask, cleaned, threshold
    ink = _without_grain(ink, lower)
    again, again_cleaned = _paper_only(ink > lower, ink, outside, channels)
    if again.sum() > _FAINTER_GROWTH * mask.sum():
        return mask, cleaned, threshold
    # Marks that only the lower threshold brings up, along the picture's edge, are the
    # paper's shading there (a photo darker towards its edges, the rim of a grid line on its
    # very edge, the paper along a desk's edge), not writing: they hold none of the writing
    # found before.
    labels, n = ndi.label(again, _EIGHT)
    keep = np.zeros(n + 1, bool)
    keep[labels[mask]] = True  # holds writing found before
    added = again & ~mask
    if (keep[labels] & added).sum() < _FAINTER_JOINED * added.sum():
        # What the lower threshold brings up lies mostly apart from the writing: pale lines
        # (a pale grid on a desk, where the desk set the threshold), not the rest of faint writing.
        return mask, cleaned, threshold
    keep[labels[_FAINTER_EDGE:-_FAINTER_EDGE, _FAINTER_EDGE:-_FAINTER_EDGE]] = True  # reaches in from the edge
    keep[0] = False
    return keep[labels], again_cleaned, lower


# Writing is told from lines by its ink where what is left once they went is darker than
# their darkest 1 % by this much at least, in a quarter of its pixels darker than that (a
# quarter: on a fine grid, what is left of the grid outnumbers the writing there), in the
# ink map or in one colour plane's own ink: a ballpoint's on a notebook's pale grid by about
# 0.5 in the ink map, a thin green pen's on pale rows by 0.2-0.35 (0.4-0.55 in the blue
# plane); pencil's on a pale blue grid by under 0.1 in the ink map (the red plane's), where
# it is as dark as the lines, but by 0.17-0.39 in the blue plane's, where pale blue lines
# hardly show (their darkest 1 %: 0.02 in a PNG, 0.18-0.24 in a JPEG).
_DARKER_BY = 0.15
# ... and is then found above the lines' darkest 1 % by this much, so that the JPEG noise
# along them stays under it (at their darkest 1 % itself, what was left of the lines joined
# the digits in 33 of 120 photos of thin writing on pale rows or grid).
_ABOVE_LINES = 0.05
# Writing found so keeps the fainter ink joined to it within this many px (a hairline's
# faint stretches between darker ones); further, what it would bring back of the lines
# touching it costs more than it mends (measured on 25 photos of squared paper).
_BRIDGE = 3
# ... and nothing that lies wholly within this share of the picture's shorter side of its edge
# (the paper's shading along the edge of a photo darker there reached 2.6 % of it).
_SHADED_EDGE = 0.03


def _darker_writing(ink: np.ndarray, found: np.ndarray, mask: np.ndarray, threshold: float,
                    outside: np.ndarray | None, channels: list[np.ndarray] | None = None
                    ) -> tuple[np.ndarray, np.ndarray] | None:
    """Where the writing is clearly darker than the lines that went (``found`` less ``mask``,
    from :func:`_paper_only`), find it above the lines' own ink instead: a threshold set for
    the paper let pale lines through, and where they fade (light falling off, a JPEG) they
    were found only in part: a grid's column broken by a gap stood beside the digit it
    touched, flecks along the rows were read as digits. Above the lines' ink they go whole,
    and a stroke lying along one (a 2's base on a row, taken with the row before) is writing
    again. The ink is told in whichever of ``ink`` and the colour planes' own inks
    (``channels``) sets the writing furthest above the lines: a notebook's pale blue lines
    hardly show in the blue plane, where pencil does. Returns the mask and the ink (the ink
    map's), in which ``ink > threshold`` is the mask, or None where the writing is not
    clearly darker than the lines in any of them."""
    gone = found & ~mask
    if gone.sum() < 100:
        return None
    best = None
    for candidate in [ink, *(channels if channels and len(channels) > 1 else [])]:
        top = float(np.percentile(candidate[gone], 99))
        above = candidate[mask & (candidate > max(top, threshold))]
        if above.size < 50:
            continue
        margin = float(np.percentile(above, 75)) - top
        if margin >= _DARKER_BY and (best is None or margin > best[0]):
            best = margin, top, candidate
    if best is None:
        return None
    _, lines_top, seen = best
    raised = max(lines_top + _ABOVE_LINES, threshold)
    dark = _without_grain(seen, raised)
    writing, _ = _paper_only(dark > raised, dark, outside, channels)
    writing, _ = _without_flecks(writing, dark, raised)  # the darkest specks of the lines' JPEG noise
    writing &= ~_wholly_near(writing, gone, 2)  # the darkest stretches of the lines, on their own
    # Writing was found at the threshold too, with the lines, and reaches in from the picture's
    # edge: what a colour plane alone sets above the lines, or what lies wholly along the edge,
    # is the paper's shading there (a photo darker towards its edges, the grid fading into it).
    edge = max(_FAINTER_EDGE, round(_SHADED_EDGE * min(ink.shape)))
    seeds = np.zeros_like(writing)
    seeds[edge:-edge, edge:-edge] = found[edge:-edge, edge:-edge]
    writing = ndi.binary_propagation(writing & seeds, structure=_EIGHT, mask=writing)
    writing = ndi.binary_dilation(writing, iterations=_BRIDGE, mask=mask | writing)
    near_lines = ndi.binary_dilation(gone, iterations=2)
    return writing, np.where(writing, ink, np.where(near_lines, np.float32(0), np.minimum(ink, np.float32(threshold))))


def _whole_faint_strokes(mask: np.ndarray, ink: np.ndarray, threshold: float
                         ) -> tuple[np.ndarray, np.ndarray, float]:
    """Strokes so faint that their darkest ink is under twice the threshold (pencil in a
    blurred photo) are cut by the threshold above their half-height: they come out as
    broken cores, and the crops lose whole bars. Each piece of ``mask`` (specks aside) is taken
    down to half its own darkest ink, through the ink joined to it (hysteresis: nothing that
    does not reach the threshold somewhere is added). Returns the mask, the ink and a
    threshold by which ``ink > threshold`` is the mask again: the ink the lower threshold
    does not take is kept under it."""
    labels, n = ndi.label(mask, _EIGHT)
    if n == 0:
        return mask, ink, threshold
    dark = np.zeros(n + 1, bool)
    dark[labels[ink >= 2 * threshold]] = True
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    faint = ~dark & (sizes >= _SPECK_SHARE * sizes[1:].max())  # specks do not grow
    faint[0] = False
    if not faint.any():
        return mask, ink, threshold
    inside = faint[labels]
    peaks = np.zeros(n + 1, np.float32)
    np.maximum.at(peaks, labels[inside], ink[inside])
    lower = float(peaks[faint].min()) / 2
    joined, m = ndi.label((ink > lower) | mask, _EIGHT)
    # Each joined piece goes down to half the darkest ink of the faint pieces in it.
    seeded = np.zeros(m + 1, np.float32)
    np.maximum.at(seeded, joined[inside], ink[inside])
    cut = np.where(seeded > 0, seeded / 2, np.inf)
    whole = mask | (ink > cut[joined])
    ink = np.where(whole, ink, np.minimum(ink, np.float32(lower)))
    return whole, ink, lower


# Rows of digits written one under another, like lines of text, are read top to bottom.
# A band of ink is a row of its own only if it is this many stroke widths tall (MNIST's
# digits are 4-14 strokes tall; a dash or a dot of a dotted digit is 1-3)...
_LINE_MIN_STROKES = 3.5
# ...and two rows lie apart by this many stroke widths and this share of the shorter
# one's height (the circles of an 8 that do not quite touch are not two rows)...
_LINE_GAP_STROKES = 1.5
_LINE_GAP_SHARE = 0.1
# ...and are alike in height (the stem of a 4 drawn apart from its bar is no row).
_LINE_HEIGHT_SHARE = 0.5


def _lines(mask: np.ndarray) -> list[tuple[int, int]]:
    """The rows of writing in ``mask``, top to bottom, as bands (top, bottom) of its rows of
    pixels that together cover it: ``[(0, height)]`` for one row.

    Rows are told apart by empty rows of pixels between them. A band that cannot hold a row
    of digits (a dash, a stray dot, the bar of a 5 written apart) stays with the band
    nearest to it, and bands that are not clearly rows one under another stay one row. One
    row at least must hold two digit-tall marks side by side: marks one under another,
    one to a band, are as often one digit in pieces (dashes of a broken stroke, a digit
    cut by the picture's edge) as digits in a column.
    """
    # Thresholds are in stroke widths where they must hold for any pen, and in shares of
    # the rows' heights where they must hold for any size of writing.
    whole = [(0, mask.shape[0])]
    inked = np.flatnonzero(mask.any(axis=1))
    if len(inked) == 0 or inked[-1] - inked[0] + 1 == len(inked):  # no empty row of pixels between
        return whole
    labels, n = ndi.label(mask, structure=_EIGHT)
    boxes, _ = _pieces(labels, n)
    bands = []  # [top, bottom] of pieces that overlap in y
    for y0, _, y1, _ in boxes[np.argsort(boxes[:, 0])]:
        if bands and y0 <= bands[-1][1]:
            bands[-1][1] = max(bands[-1][1], y1)
        else:
            bands.append([y0, y1])
    if len(bands) < 2:
        return whole
    stroke = max(_stroke_width(mask), 1.0)

    def join(i):  # bands i and i + 1 become one
        bands[i][1] = bands.pop(i + 1)[1]

    def gap(i):
        return bands[i + 1][0] - bands[i][1]

    def apart(i):
        h0, h1 = bands[i][1] - bands[i][0], bands[i + 1][1] - bands[i + 1][0]
        return (gap(i) >= max(_LINE_GAP_STROKES * stroke, _LINE_GAP_SHARE * min(h0, h1))
                and min(h0, h1) >= _LINE_HEIGHT_SHARE * max(h0, h1))

    def tall_marks(top, bottom):  # marks side by side in the band, each half its height or more
        inside = boxes[(boxes[:, 0] >= top) & (boxes[:, 0] < bottom)]
        return sum(np.ptp(inside[g][:, 0::2]) >= 0.5 * (bottom - top) for g in _group(inside))

    while len(bands) > 1:
        short = [i for i, (top, bottom) in enumerate(bands) if bottom - top < _LINE_MIN_STROKES * stroke]
        if not short:
            break
        i = short[0]  # joins the nearer of its neighbours
        join(i - 1 if i == len(bands) - 1 or (i > 0 and gap(i - 1) <= gap(i)) else i)
    while len(bands) > 1 and not all(apart(i) for i in range(len(bands) - 1)):
        join(next(i for i in range(len(bands) - 1) if not apart(i)))
    if len(bands) < 2 or max(tall_marks(top, bottom) for top, bottom in bands) < 2:
        return whole
    cuts = [0] + [(a[1] + b[0]) // 2 for a, b in zip(bands, bands[1:])] + [mask.shape[0]]
    return list(zip(cuts, cuts[1:]))


def _find_in_row(ink: np.ndarray, mask: np.ndarray, threshold: float, reader: Reader | None,
                 upright: bool) -> list[Digit]:
    """The digits of one row of writing, left to right."""
    labels, boxes, keep, groups = _marks(mask)
    slope = _row_slope(boxes)
    if slope:  # segment and crop the row level; the boxes go back where they were after
        (ink,), unlevel = _level([ink], slope)
        mask = ink > threshold
        labels, boxes, keep, groups = _marks(mask)
    # Digits in a row share a height; a flat digit next to taller ones isn't two digits.
    row_height = np.median([np.ptp(boxes[g][:, 0::2]) for g in groups])
    widths = np.array([np.ptp(boxes[g][:, 1::2]) for g in groups])
    parts = []
    for i, g in enumerate(groups):
        cut = _split(labels, boxes[g], keep[g] + 1, row_height, np.delete(widths, i))
        if reader is not None:
            cut = _read_apart(ink, mask, labels, boxes[g], keep[g] + 1, row_height, cut, reader,
                              alone=len(groups) == 1)
        parts += cut
    if len(parts) > MAX_MARKS:
        raise ValueError(f"too many marks ({len(parts)}) — draw up to {MAX_MARKS} digits")
    parts.sort(key=lambda p: p[0][1])
    digits = [_digit(ink, mask, labels, *p) for p in parts]
    if reader is not None and upright:
        crops = _upright([d.crop for d in digits], reader)
        digits = [Digit(box=d.box, crop=crop) for d, crop in zip(digits, crops)]
    return [Digit(box=unlevel(d.box), crop=d.crop) for d in digits] if slope else digits


def _marks(mask: np.ndarray):
    """Label the ink; returns the labels, the boxes and indices of the pieces that are not
    specks, and the pieces grouped into marks. Raises ValueError for no ink or too many marks."""
    labels, n = ndi.label(mask, structure=_EIGHT)
    boxes, keep = _pieces(labels, n)
    if len(keep) == 0:
        raise ValueError("no digits found — draw something")
    if len(keep) > _MAX_PIECES:
        raise ValueError(f"too many marks ({len(keep)}) — draw up to {MAX_MARKS} digits")
    groups = _group(boxes)
    if len(groups) > MAX_MARKS:
        raise ValueError(f"too many marks ({len(groups)}) — draw up to {MAX_MARKS} digits")
    return labels, boxes, keep, groups


# A row sloped by less than this is segmented as it is: handwriting drifts a few degrees,
# and the models read digits tilted by ±10° (they are trained so).
_LEVEL_FROM = 8.0
_LEVEL_UP_TO = 40.0


def _row_slope(boxes: np.ndarray) -> float:
    """The slope in degrees (clockwise, y down) of a row of digits that is clearly sloped, else 0.

    The row runs along the boxes of its digit-sized pieces (bars, dots and flags left out):
    a line is fitted through their centres, their tops and their bottoms, and the row is
    sloped only if all three are. Digits of different sizes on one line then stand level
    (their bottoms are), and so does a 9 beside a 1. Without levelling, the digits of a row
    sloped by 25° overlap in x and pass for one mark, and each is read tilted.
    """
    extent = _extent(boxes).astype(np.float64)
    big = extent >= 0.6 * extent.max(initial=0)
    if big.sum() < 2:
        return 0.0
    b, weight = boxes[big].astype(np.float64), extent[big]
    x = (b[:, 1] + b[:, 3]) / 2

    def slope_through(y):
        cov = np.cov(np.stack([x, y]), aweights=weight)
        spread = np.linalg.eigvalsh(cov)
        if spread[1] < 1.6 ** 2 * max(spread[0], 1e-9):  # not along a line
            return 0.0
        return 0.5 * math.degrees(math.atan2(2 * cov[0, 1], cov[0, 0] - cov[1, 1]))

    angles = [slope_through(y) for y in ((b[:, 0] + b[:, 2]) / 2, b[:, 0], b[:, 2])]
    if not all(_LEVEL_FROM <= abs(a) <= _LEVEL_UP_TO and a * angles[0] > 0 for a in angles):
        return 0.0
    return angles[0]


def _level(planes: list[np.ndarray], slope: float, fills=None):
    """Rotate ``planes`` so that a line sloped by ``slope`` degrees lies level (canvas grown to
    hold it all, new corners filled with ``fills``, one per plane, default 0). Returns the
    levelled planes and a function that maps a box (x0, y0, x1, y1) in the levelled image
    to the box around it in the input."""
    h, w = planes[0].shape
    cos, sin = math.cos(math.radians(slope)), math.sin(math.radians(slope))
    out_w, out_h = math.ceil(w * cos + h * abs(sin)), math.ceil(w * abs(sin) + h * cos)
    cx, cy, ox, oy = w / 2, h / 2, out_w / 2, out_h / 2

    def to_input(x, y):  # a point of the levelled image in the input's pixels
        return cos * (x - ox) - sin * (y - oy) + cx, sin * (x - ox) + cos * (y - oy) + cy

    coeffs = (cos, -sin, cx - cos * ox + sin * oy, sin, cos, cy - sin * ox - cos * oy)
    level = [np.asarray(Image.fromarray(np.ascontiguousarray(p, np.float32), mode="F").transform(
        (out_w, out_h), Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR, fillcolor=float(fill)), np.float32)
        for p, fill in zip(planes, fills if fills is not None else [0.0] * len(planes))]

    def unlevel(box):
        xs, ys = to_input(np.array([box[0], box[2], box[0], box[2]]), np.array([box[1], box[1], box[3], box[3]]))
        return (int(np.clip(np.floor(xs.min()), 0, w)), int(np.clip(np.floor(ys.min()), 0, h)),
                int(np.clip(np.ceil(xs.max()), 0, w)), int(np.clip(np.ceil(ys.max()), 0, h)))

    return level, unlevel


def _paper_only(mask: np.ndarray, ink: np.ndarray, outside: np.ndarray | None = None,
                channels: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Drop the marks of a photographed sheet that are not writing: the dark table around the
    paper, ruled lines, and a notebook's margin. They can be as dark as ink, and would join the
    digits. ``outside``: pixels that are not of the photo (the corners levelling added);
    ``channels``: each colour plane's own ink (:func:`_inks`), which tells a margin without
    ruled rows from a 1 by its colour."""
    dropped = np.zeros_like(mask)
    desk = _desk(mask, outside)
    if desk is not None:
        dropped, mask = desk, mask & ~desk
    rules = _rules(mask)
    if not rules.any() and channels is not None:
        rules = _unruled_margins(mask, dropped, channels)
    if rules.any():
        dropped, mask = dropped | rules, mask & ~rules
        # a desk joined to the lines shows only once they are gone
        more = _desk(mask, dropped if outside is None else dropped | outside)
        if more is not None:
            dropped, mask = dropped | more, mask & ~more
    if dropped.any():
        # and their soft rim below the threshold; writing crossing a line keeps its ink there
        ink = np.where(ndi.binary_dilation(dropped, iterations=2) & ~mask, np.float32(0), ink)
    return mask, ink


# Ruled lines run level within this slope (a tangent: 2°) once a photo taken crooked has been
# levelled; on a sheet photographed at an angle they fan out, and lines sloped up to _FANNED
# (5.7°) are searched for where some are sloped beyond 2°.
_LEVEL = 0.035
_FANNED = 0.1
# A grid's columns fan out further (searched up to 11°), and on the sheet's far side run only
# part of the picture's height: this share of the tallest column's, at least.
_FANNED_COLUMNS = 0.2
_FAR_SIDE = 0.8


def _rules(mask: np.ndarray) -> np.ndarray:
    """Pixels of ruled lines: straight, near-horizontal (±2°, or up to 5.7° where some are
    sloped so: a sheet photographed at an angle) lines across the image.

    Found as peaks of ink counted along slightly sloped rows (first on a 4× smaller copy, so
    drawings without lines cost ~1 ms). A line counts only when it is much longer than the
    writing is tall, so a 7's bar, however wide the 7, never does; strokes that cross a line
    keep their ink across it. With them go the columns of squared paper, or on ruled paper
    a notebook's margin (:func:`_margins`).
    """
    h, w = mask.shape
    none = np.zeros_like(mask)
    if min(h, w) < 64:
        return none
    small = _blocks_of_4(mask)
    reach = math.ceil(_FANNED * small.shape[1])
    # A sloped line lies within reach + 1 rows; without that much ink in any band of rows there is none.
    if ndi.uniform_filter1d(small.sum(axis=1, dtype=np.float32), reach + 1).max() * (reach + 1) < 0.3 * small.shape[1]:
        return none
    on_small = _sloped_rows(small, steepest=_FANNED)
    if not on_small.any():
        return none
    rules = _sloped_rows(mask)
    if (on_small & ~_sloped_rows(small)).any():
        # A sheet photographed at an angle: its rows fan out, and the photo levelled by one of
        # them (or by the sheet's edge) leaves others sloped beyond 2°.
        rules |= _sloped_rows(mask & ~rules, steepest=_FANNED)
    # Squared paper: straight lines from the top of the image to its bottom are its columns.
    # They are left out of the writing's height, which the ruled rows must far exceed.
    columns, n_columns = _columns(mask, fanned=_fanned_columns(small))
    if n_columns < 3:  # one or two could be the stems of tall 1s cropped tight
        columns = np.zeros_like(mask)
    labels, _ = ndi.label(mask & ~rules & ~columns, structure=_EIGHT)
    tallest = max((s[0].stop - s[0].start for s in ndi.find_objects(labels)), default=0)
    line_labels, _ = ndi.label(_bridged(rules, axis=1), structure=_EIGHT)
    lengths = [s[1].stop - s[1].start for s in ndi.find_objects(line_labels)]
    rules &= (np.array([0, *lengths]) >= 2.5 * max(tallest, 1))[line_labels]
    if not rules.any():
        return rules
    leaving, ruling = _ruling(mask, rules, tallest)
    rules |= leaving
    # Squared paper: its columns, found the same way, and their band (transposed back).
    grid = _ruling(mask.T, columns.T, tallest)[1] if n_columns >= 3 else None
    grid = None if grid is None else (grid[0].T, grid[1].T)
    margins = None
    if not columns.any():
        columns = margins = _margins(mask, rules)
    crossings = rules & columns
    rules = _line_only(mask, rules, columns)
    if margins is None and crossings.any():
        # What is left where a row and a column of squared paper cross, wholly within 2 px of
        # the crossing, is the grid's too: both lines' fringes meet there. Beside writing in
        # pencil, thinner than the grid, such dots were not specks, and a column of them
        # down the grid was read as a 1.
        rules |= _wholly_near(mask & ~rules, crossings, 2)
    # A sloped line leaves the page through its top or bottom: what is left of it there is
    # a flat sliver along that edge. What is left where a line runs thicker than the rest of
    # it (a faint one, where the light falls off) is a flat sliver or a fleck wholly beside
    # it. What is left of a pale row where it fades (towards a photo's sides, or under a
    # patch of shade) lies wholly on the line the ruling puts it on.
    # On squared paper, what is left of a column on the picture's left or right edge, fainter
    # there, is narrow slivers along that edge, no wider than a column, which stacked up into
    # a 1.
    column_width = _thickness(_run_lengths(mask, vertical=False), columns) if margins is None and columns.any() else 0
    labels, n = ndi.label(mask & ~rules, structure=_EIGHT)
    on_ruling = _on_ruling(labels, n, ruling, grid)
    beside = None
    for i, (ys, xs) in enumerate(ndi.find_objects(labels), 1):
        tall, wide = ys.stop - ys.start, xs.stop - xs.start
        sliver = labels[ys, xs] == i
        if column_width and (xs.start == 0 or xs.stop == w) and wide <= min(column_width + 1, 0.1 * tallest) \
                and tall >= 4 * wide:
            rules[ys, xs] |= sliver
            continue
        if on_ruling[i]:
            rules[ys, xs] |= sliver
            continue
        flat = wide >= 4 * tall
        if tall > 0.1 * tallest or not (flat or wide <= 0.1 * tallest):
            continue  # neither a flat sliver nor a fleck
        if not (flat and (ys.start == 0 or ys.stop == h)):
            beside = ndi.binary_dilation(rules, iterations=2) if beside is None else beside
            if not beside[ys, xs][sliver].all():
                continue
        rules[ys, xs] |= sliver
    if margins is None or not margins.any():
        return rules
    # What is left of a margin and lies wholly within 3 px of it is the margin's too: its
    # fringe, where it was photographed with a slight tilt, and where it crosses the rows
    # (both lines there, a pixel or two thicker than either).
    return rules | _wholly_near(mask & ~rules, margins, 3)


def _ruling(mask: np.ndarray, rules: np.ndarray, tallest: int
            ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """The evenly spaced rows of ruled paper, from the rows found (three or more): their fit
    gives the ruling's slope and spacing. Returns the pixels of the rows it puts where none
    was found and that leave the picture through its top or bottom, and two bands across the
    picture (None where the rows found are not evenly spaced): along every row it puts, and
    along them only where no row was found (:func:`_on_ruling`).

    A row leaving the picture fades towards the edge and falls under the threshold there,
    so what is left of it neither runs far enough to count as a row nor reaches the edge (a
    pale blue row read as a 1, or joined to a digit): it is taken where the mask has ink
    along it for a quarter of the writing's height. The band tells what is left of a row
    where it fades (:func:`_rules`)."""
    h, w = mask.shape
    out = np.zeros_like(mask)
    labels, _ = ndi.label(rules, _EIGHT)
    fits = []
    for i, (ys, xs) in enumerate(ndi.find_objects(labels), 1):
        if xs.stop - xs.start >= 0.3 * w:
            yy, xx = np.nonzero(labels[ys, xs] == i)
            slope, at_0 = np.polyfit(xx + xs.start, yy + ys.start, 1)
            fits.append((slope, at_0, len(yy) / (xs.stop - xs.start)))
    if len(fits) < 3:
        return out, None
    slopes, starts, thicknesses = (np.array(v) for v in zip(*fits))
    slope, thickness = float(np.median(slopes)), float(np.median(thicknesses))
    starts = np.sort(starts)
    starts = starts[np.r_[True, np.diff(starts) > thickness + 2]]  # one row broken in pieces
    if len(starts) < 3:
        return out, None
    spacing = float(np.median(np.diff(starts)))
    steps = np.diff(starts) / spacing
    if spacing < 4 * thickness or np.abs(steps - np.rint(steps)).max() > 0.15:  # not evenly ruled
        return out, None
    x = np.arange(w)
    reach = thickness / 2 + 1.5
    ruling, faded = np.zeros_like(mask), np.zeros_like(mask)
    first = math.floor((min(0.0, -slope * w) - starts[0]) / spacing)
    last = math.ceil((h + max(0.0, -slope * w) - starts[0]) / spacing)
    for k in range(first, last + 1):
        at_0 = starts[0] + k * spacing
        nearest = starts[np.abs(starts - at_0).argmin()]
        found = abs(nearest - at_0) < spacing / 2
        y = (nearest if found else at_0) + slope * x
        inside = (y >= -reach) & (y < h + reach)
        if not inside.any():
            continue
        band = np.zeros_like(mask)
        for dy in range(math.floor(-reach), math.ceil(reach) + 1):
            rows = np.rint(y + dy).astype(np.intp)
            ok = (rows >= 0) & (rows < h) & (np.abs(rows - y) <= reach)
            band[rows[ok], x[ok]] = True
        ruling |= band
        # Where a row was found, what lies along it may be writing on it (a 2's base): the
        # faded band holds the rest, where the row was not found.
        faded |= band & ~(band & rules).any(axis=0) if found else band
        if found or inside.all():
            continue  # only a row leaving the picture is taken whole here
        along = band & mask
        if along.any(axis=0).sum() >= 0.25 * tallest:
            out |= along
    # A JPEG rings up to 4 px beyond a row's edge: what is left of a pale row includes that.
    return out, (ndi.maximum_filter1d(faded, 9, axis=0), ndi.maximum_filter1d(ruling, 9, axis=0))


def _on_ruling(labels: np.ndarray, n: int, rows: tuple[np.ndarray, np.ndarray] | None,
               columns: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Which pieces of ``labels`` are what is left of the ruled ``rows`` and the grid's
    ``columns`` (each the bands of :func:`_ruling`, or None): those wholly within the bands
    where a line was not found, and the ones at most 2 px thick across a line (a JPEG's
    ringing) wholly within the band along any row, or any column.

    Over 3 px from every other piece, too: the end of a stroke lying along a row, cut off
    where the row went, lies beside the rest of its digit."""
    on = np.zeros(n + 1, bool)
    if n == 0 or (rows is None and columns is None):
        return on
    size = np.bincount(labels.ravel(), minlength=n + 1)
    faded = np.zeros(labels.shape, bool)
    for lines, across in ((rows, (3, 1)), (columns, (1, 3))):
        if lines is None:
            continue
        faded |= lines[0]
        thin = np.ones(n + 1, bool)
        thin[labels[ndi.binary_erosion(labels > 0, np.ones(across, bool))]] = False  # 3 px across somewhere
        on |= thin & (np.bincount(labels[lines[1]], minlength=n + 1) == size)
    on |= np.bincount(labels[faded], minlength=n + 1) == size
    on[0] = False
    writing = (labels > 0) & ~on[labels]
    if on.any() and writing.any():
        on[labels[ndi.binary_dilation(writing, iterations=3)]] = False
    return on


def _wholly_near(mask: np.ndarray, lines: np.ndarray, reach: int) -> np.ndarray:
    """The marks of ``mask`` that lie wholly within ``reach`` px of ``lines``."""
    labels, n = ndi.label(mask, structure=_EIGHT)
    near = labels[ndi.binary_dilation(lines, iterations=reach)]
    stray = np.bincount(near, minlength=n + 1) == np.bincount(labels.ravel(), minlength=n + 1)
    stray[0] = False
    return stray[labels]


# A notebook's margin runs across every ruled row, well beyond the writing: this many times
# as tall as its tallest digit at least (a 1 as straight is as tall as its neighbours).
_MARGIN_OVER_WRITING = 1.15


def _margins(mask: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Pixels of a notebook's margin on ruled paper: one or two straight vertical lines (±2°; on
    a sheet photographed at an angle, sloped like its sides up to 17°) across all the ruled
    ``rows``, each much taller than the writing beside it. Without them they would be read as
    1s (and where they cross the rows, bits of them as 3s)."""
    none = np.zeros_like(mask)
    ruled = np.flatnonzero(rows.any(axis=1))
    span = 0.9 * (ruled[-1] - ruled[0] + 1)
    candidates, labels, heights = _vertical_lines(mask)
    across = heights >= span
    unruled = None
    if not across[1:].any():
        # On a sheet photographed at an angle the margin slopes like the sheet's sides (up to
        # _SLOPED_MARGIN); looked for on the 4× smaller copy first, as that search is costly, and
        # without the rows: counted in, their crossings made a 1 leaning 15° a line across them.
        unruled = mask & ~rows
        small = _blocks_of_4(unruled)
        if not (_vertical_lines(small, steepest=_SLOPED_MARGIN)[2] >= span / 4 - 1).any():
            return none
        candidates, labels, heights = _vertical_lines(unruled, steepest=_SLOPED_MARGIN)
        # ...and from the picture's top edge to its bottom edge (within 5 %), as a margin runs:
        # a tall 1 leaning so crosses all the rows too.
        h = len(mask)
        across = (heights >= span) & _edge_to_edge(labels, 0, h, 0.05 * h)
        if not across[1:].any():
            return none
    tallest, _ = _writing_beside(mask & ~rows, candidates & across[labels])
    if tallest == 0:
        return none  # no writing beside them: they may be the writing
    margins = candidates & (across & (heights >= _MARGIN_OVER_WRITING * tallest))[labels]
    # Found without the rows, a sloped margin takes their pixels where it crosses them back.
    return margins | (rows & _bridged(margins, axis=0)) if unruled is not None else margins


def _writing_beside(mask: np.ndarray, lines: np.ndarray) -> tuple[int, np.ndarray]:
    """The height of the tallest digit in ``mask`` beside ``lines`` (its pieces grouped as
    :func:`_group` groups them; 0 for none) and the mask of that writing."""
    writing = mask & ~ndi.binary_dilation(lines, iterations=2)
    boxes, _ = _pieces(*ndi.label(writing, structure=_EIGHT))
    if len(boxes) == 0:
        return 0, writing
    return max(np.ptp(boxes[g][:, 0::2]) for g in _group(boxes)), writing


# Where no ruled rows are found (they are fainter than the writing, or the paper has none), a
# notebook's margin is a straight line from the sheet's top edge to its bottom edge, at least
# this many times as tall as the tallest digit beside it (in a photo of a notebook, many
# times), and of another colour than the writing (_OTHER_COLOUR): a 1 drawn from the canvas's
# top edge to its bottom edge, however tall beside its neighbours, is in their ink.
_LONE_MARGIN_OVER_WRITING = 1.25
# A margin on a sheet photographed at an angle slopes like the sheet's sides: up to 17° (a tangent).
_SLOPED_MARGIN = 0.3


def _unruled_margins(mask: np.ndarray, desk: np.ndarray, channels: list[np.ndarray]) -> np.ndarray:
    """Pixels of a notebook's margin on a sheet without ruled rows in ``mask``: one or two
    straight vertical lines (±2°; on a sheet photographed at an angle, sloped like its sides up
    to 17°) that run from the sheet's top edge to its bottom edge (the picture's, or the
    desk's where ``desk`` lies above and below the sheet), each at least
    _LONE_MARGIN_OVER_WRITING times as tall as the tallest digit beside them and of another
    colour than the writing (:func:`_other_colour`; ``channels``, each colour plane's ink).
    The writing crossing them keeps its ink; what is left of them wholly within 3 px goes
    with them."""
    none = np.zeros_like(mask)
    h, w = mask.shape
    if len(channels) < 3 or min(h, w) < 64:
        return none
    sheet = np.flatnonzero(~desk.all(axis=1))
    if len(sheet) == 0:
        return none
    top, bottom = sheet[0], sheet[-1] + 1
    small = _blocks_of_4(mask)
    # Level within 2°, reaching within 2 % of the sheet's top and bottom; or, on a sheet
    # photographed at an angle, sloped like its sides up to _SLOPED_MARGIN once the photo is
    # levelled by its rows or edges, within 5 % (the desk may show in a corner). Looked for
    # on the small copy first, so a tall 1 costs a drawing little.
    for steepest, reach in ((_LEVEL, 0.02), (_SLOPED_MARGIN, 0.05)):
        on_small = _vertical_lines(small, span=0.9, steepest=steepest)[1]
        if not _edge_to_edge(on_small, top / 4, bottom / 4, reach * h / 4 + 1).any():
            continue
        candidates, labels, heights = _vertical_lines(mask, span=0.9, steepest=steepest)
        edge_to_edge = _edge_to_edge(labels, top, bottom, reach * h)
        if edge_to_edge.any():
            break
    else:
        return none
    if not 1 <= edge_to_edge.sum() <= 2:  # three or more would be a grid's columns
        return none
    lines = candidates & edge_to_edge[labels]
    tallest, writing = _writing_beside(mask, lines)
    if tallest == 0:
        return none  # no writing beside them: they may be the writing
    if heights[edge_to_edge].min() < _LONE_MARGIN_OVER_WRITING * tallest:
        return none
    if not _other_colour(lines, writing, channels):
        return none  # a 1 as straight, in the writing's own ink
    lines = _line_only(mask, none, lines)
    return lines | _wholly_near(mask & ~lines, lines, 3)


def _edge_to_edge(labels: np.ndarray, top: float, bottom: float, reach: float) -> np.ndarray:
    """Per line of ``labels`` (from :func:`_vertical_lines`): whether it runs from row ``top``
    to row ``bottom``, within ``reach`` of each."""
    out = np.zeros(labels.max() + 1, bool)
    for i, (ys, _) in enumerate(ndi.find_objects(labels), 1):
        out[i] = ys.start <= top + reach and ys.stop >= bottom - reach
    return out


# A line is of another colour than the writing where the share of its ink in some colour
# plane (each plane's mean ink over the strongest plane's) differs from the writing's by this
# much: a red margin's is about 0 in the red plane, a blue ballpoint's, black ink's and
# pencil's 1 there; a blue ballpoint's is about 0.5 in the blue plane, black ink's 1.
_OTHER_COLOUR = 0.35


def _other_colour(line: np.ndarray, writing: np.ndarray, channels: list[np.ndarray]) -> bool:
    """Whether the ink of ``line`` is of another colour than that of ``writing`` (masks)."""
    def shares(where):
        means = np.array([float(c[where].mean()) for c in channels])
        return means / max(means.max(), 1e-6)

    return bool(line.any() and writing.any() and np.abs(shares(line) - shares(writing)).max() >= _OTHER_COLOUR)


def _blocks_of_4(mask: np.ndarray) -> np.ndarray:
    """The 4× smaller copy of ``mask``: its 4×4 blocks holding any ink."""
    return _any_of_4(_any_of_4(mask).T).T


def _any_of_4(mask: np.ndarray) -> np.ndarray:
    """Rows of ``mask`` OR-ed in fours (slices, not a reshaped reduction: ~10× faster)."""
    n = len(mask) // 4 * 4
    return mask[0:n:4] | mask[1:n:4] | mask[2:n:4] | mask[3:n:4]


def _sloped_rows(mask: np.ndarray, span: float = 0.0, steepest: float = _LEVEL) -> np.ndarray:
    """Pixels on a straight row of ink, sloped by up to ``steepest`` (a tangent; tan 2°), that
    covers 60 % of its length in the image (a sloped line may leave through the top or bottom)
    and 30 % of the width, and whose ink reaches over ``span`` of that length."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    on_line = np.zeros_like(mask)
    if len(ys) < 0.3 * w:
        return on_line
    reach = math.ceil(steepest * w)  # how far a sloped line drifts over the width
    for drift in range(-reach, reach + 1):
        bins = ys - np.rint(xs * (drift / w)).astype(np.intp) + reach
        counts = np.bincount(bins)
        start = np.arange(len(counts)) - reach  # the line's row at x = 0
        if drift == 0:
            inside = np.where((start >= 0) & (start < h), w, 0)
        else:
            ends = np.stack([-start, h - start]) * (w / drift)  # x where it crosses the top and bottom
            inside = np.clip(ends.max(0), 0, w) - np.clip(ends.min(0), 0, w)
        full = counts >= np.maximum(0.6 * inside, 0.3 * w)
        for b in np.flatnonzero(full) if span else ():
            along = xs[bins == b]
            full[b] = along.max() - along.min() >= span * inside[b]
        if full.any():
            on_line[ys, xs] |= full[bins]
    return on_line


def _fanned_columns(small: np.ndarray) -> bool:
    """Whether ``small`` (the 4× smaller copy) holds three columns or more sloped beyond 2°, and
    by up to _FANNED_COLUMNS: a grid photographed at an angle, not a digit's leaning stem."""
    steep = _sloped_rows(small.T, steepest=_FANNED_COLUMNS)
    if not steep.any():
        return False
    labels, _ = ndi.label(steep & ~_sloped_rows(small.T), structure=_EIGHT)
    return sum(xs.stop - xs.start >= 0.3 * small.shape[0] for _, xs in ndi.find_objects(labels)) >= 3


def _columns(mask: np.ndarray, fanned: bool = False) -> tuple[np.ndarray, int]:
    """Pixels of straight vertical lines (±2°) that run the whole height of the image, and how many.

    Each must run the height by itself (over small breaks, where a faint line fell below the
    ink threshold), so a stroke drawn beside a column is not taken for part of it. ``fanned``:
    squared paper photographed at an angle, its columns sloped by up to _FANNED_COLUMNS; the
    sheet's far side is shorter than the picture, and its columns need run only most of the
    tallest one's height.
    """
    if not fanned:
        candidates, labels, heights = _vertical_lines(mask, span=0.9)
        full = heights >= 0.9 * mask.shape[0]
        return candidates & full[labels], int(full.sum())
    candidates, labels, heights = _vertical_lines(mask, span=_FAR_SIDE, steepest=_FANNED_COLUMNS)
    full = heights >= _FAR_SIDE * heights.max()
    n_full = int(full[1:].sum())
    if n_full >= 3:
        # A sloped column nearest the sheet's side runs from its top or bottom (within 5 % of the
        # picture's, where the desk shows in a corner) out through the picture's side.
        h, w = mask.shape
        for i, (ys, xs) in enumerate(ndi.find_objects(labels), 1):
            full[i] |= ((ys.start <= 0.05 * h or ys.stop >= 0.95 * h) and (xs.start <= 0.05 * w or xs.stop >= 0.95 * w)
                        and ys.stop - ys.start >= 0.3 * h)
    return candidates & full[labels], n_full


def _vertical_lines(mask: np.ndarray, span: float = 0.0, steepest: float = _LEVEL
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels on straight vertical lines (±2°, or up to ``steepest``; ``span`` as for
    :func:`_sloped_rows`), each line's label (over small breaks) and the height of each label
    (0 for none)."""
    candidates = _sloped_rows(mask.T, span=span, steepest=steepest).T
    labels, _ = ndi.label(_bridged(candidates, axis=0), structure=_EIGHT)
    heights = np.array([0, *(s[0].stop - s[0].start for s in ndi.find_objects(labels))])
    return candidates, labels, heights


def _bridged(lines: np.ndarray, axis: int) -> np.ndarray:
    """``lines`` with breaks along ``axis`` of up to 3.5 % of the image's size there closed,
    for measuring how far each line runs."""
    return ndi.maximum_filter1d(lines, max(3, math.ceil(0.035 * lines.shape[axis])), axis=axis)


def _line_only(mask: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """The pixels of ruled ``rows`` and grid ``columns`` that are the line alone, not writing on it.

    Across a line, ink runs as thick as the line itself; where a stroke crosses the line or
    runs along it, the run of ink across the line is longer: those pixels are the writing's
    and stay. (Asking for writing within a few pixels on both sides of the line instead, a
    stroke lying along one side of a grid column lost its half on the line, and the line
    kept hairs beside strokes.)
    """
    # Runs across a ruled row leave out the columns, and runs across a column the rows: where
    # they cross, each line's pixels lie along the other.
    across_rows = _run_lengths(mask & ~(columns & ~rows), vertical=True)
    across_columns = _run_lengths(mask & ~(rows & ~columns), vertical=False)
    thin_row = rows & (across_rows < _thickness(across_rows, rows) + 2)
    thin_column = columns & (across_columns < _thickness(across_columns, columns) + 2)
    # Where they cross, a pixel is the grid's only if it is thin both ways (a stroke along a
    # column crossing a row keeps its ink there).
    return np.where(rows & columns, thin_row & thin_column, thin_row | thin_column)


def _run_lengths(mask: np.ndarray, vertical: bool) -> np.ndarray:
    """For each pixel of ``mask``, the length of the unbroken vertical (or horizontal) run of ink through it."""
    structure = np.array([[0, 1, 0]] * 3 if vertical else [[0, 0, 0], [1, 1, 1], [0, 0, 0]], bool)
    labels, _ = ndi.label(mask, structure=structure)
    return np.bincount(labels.ravel())[labels] * mask


def _thickness(runs: np.ndarray, lines: np.ndarray) -> int:
    """A line's thickness: the commonest run of ink across it (counted once per run, not per
    pixel, so a stroke lying along the line, whose runs are long but few, does not count)."""
    lengths = runs[lines]
    if len(lengths) == 0:
        return 0
    counts = np.bincount(lengths)
    return int(np.argmax(counts / np.maximum(np.arange(len(counts)), 1)))


def _desk(mask: np.ndarray, gone: np.ndarray | None = None) -> np.ndarray | None:
    """The desk around a photographed sheet: what lines the picture's edges (:func:`_frame`)
    and what lies beyond the sheet's outline (:func:`_beyond_sheet`); None when neither.
    ``gone``: what is neither paper nor in ``mask`` (what was taken out before, the corners
    levelling added)."""
    frame = _frame(mask)
    if frame is not None:
        mask = mask & ~frame
        gone = frame if gone is None else gone | frame
    beyond = _beyond_sheet(mask, gone)
    if beyond is None or frame is None:
        return frame if beyond is None else beyond
    return frame | beyond


def _beyond_sheet(mask: np.ndarray, gone: np.ndarray | None = None) -> np.ndarray | None:
    """Solid dark marks outside the convex outline of the paper: the desk in the corners of a
    sheet photographed at an angle, whose edges then slope (each its own way) and leave
    wedges of desk that line no edge of the picture.

    Only marks with 80 % of their ink beyond the outline, holding a square half as wide again
    as the writing's strokes, count: a digit running off the corner of a drawing holds no such
    square, and one cropped so tight that it cuts the paper into pieces has most of its ink
    inside. ``gone``: as for :func:`_desk`.
    """
    h, w = mask.shape
    dark = mask if gone is None else mask | gone
    c = max(6, round(0.03 * min(h, w)))
    corners = (dark[:c, :c], dark[:c, -c:], dark[-c:, :c], dark[-c:, -c:])
    if min(h, w) < 32 or max(corner.mean() for corner in corners) < 0.5:
        return None  # paper in every corner: its outline is the whole picture
    paper, _ = ndi.label(~dark)
    sizes = np.bincount(paper.ravel())
    sizes[0] = 0
    # The sheet (in bands, where ruled lines cross it), not patches of light in the desk.
    sheet = (sizes >= 0.2 * sizes.max())[paper]
    inside = _outline(sheet)
    beyond = dark & ~inside  # the desk taken out before counts towards how solid it is
    if not (beyond & mask).any():
        return None
    stroke = max(2.0, _stroke_width(mask & inside))
    size = math.ceil(1.5 * stroke) + 1  # no square this big fits in a stroke
    solid = ndi.binary_opening(beyond, np.ones((size, size), bool))
    if not solid.any():
        return None
    # A desk's marks lie beyond the outline but for their rim along the sheet's edge.
    marks, n = ndi.label(mask, structure=_EIGHT)
    rim = ndi.binary_dilation(beyond, iterations=3)
    share = np.bincount(marks[rim], minlength=n + 1) / np.maximum(np.bincount(marks.ravel(), minlength=n + 1), 1)
    share[0] = 0
    near_solid = np.unique(marks[ndi.binary_dilation(solid, iterations=2)])
    desk = (share >= 0.8)[marks] & np.isin(marks, near_solid)
    if not desk.any():
        return None
    # with the dark rim where the sheet's edge meets it
    return mask & ndi.binary_dilation(desk & beyond, iterations=3)


def _frame(mask: np.ndarray) -> np.ndarray | None:
    """The dark surround of a photographed sheet (desk, shadow): marks that line 60 % of one
    edge of the image, or 40 % of its whole border, beside writing apart from them (or joined
    to them by ruled or grid lines). A digit cut tight by the border touches it only here and
    there, or is the only mark, and is left alone.

    Only the solid part of such a mark is the surround — thicker than the writing's strokes
    — with whatever runs along the border itself: a ruled line or a grid line along the edge
    of the picture lines it too, and the lines and writing joined to it are not the desk
    (they go with `_rules`).
    """
    h, w = mask.shape
    if min(h, w) < 32 or max(edge.mean() for edge in _edges(mask)) < 0.4:
        return None
    lining = _lining(mask)
    if not lining.any():
        return None
    # Writing apart from the marks lining the edge, a speck of dust not counted.
    apart, _ = ndi.label(mask & ~lining, structure=_EIGHT)
    writing = [i for i, s in enumerate(ndi.find_objects(apart), 1)
               if max(s[0].stop - s[0].start, s[1].stop - s[1].start) >= 0.2 * min(h, w)]
    reach = max(2, round(min(h, w) / 200))  # lines and strokes up to 2 * reach px thick are not solid
    thick = 2 * reach + 1
    if writing:  # nor strokes as thick as the writing's (a 1 cropped tight at the end of a row)
        thick = max(thick, math.ceil(_stroke_width(np.isin(apart, writing))) + 1)
    solid = _lining(ndi.maximum_filter(ndi.minimum_filter(lining, thick), thick))
    border = np.ones_like(mask)
    border[2 * reach + 1:-2 * reach - 1, 2 * reach + 1:-2 * reach - 1] = False
    frame = lining & (ndi.maximum_filter(solid, thick + 2) | border)
    if writing:
        return frame
    # No writing apart from it: a lone digit cropped tight, its bar or stem along the edge —
    # unless ruled or grid lines join the writing to the desk, and are left once it goes.
    joined = lining & ~frame
    return frame if _sloped_rows(joined).any() or _sloped_rows(joined.T).any() else None


def _lining(mask: np.ndarray) -> np.ndarray:
    """The marks of ``mask`` that line 60 % of one edge of the image or 40 % of its whole border."""
    labels, n = ndi.label(mask, structure=_EIGHT)
    edge_labels = _edges(labels)
    lining = np.zeros(n + 1, bool)
    for edge in edge_labels:
        lining |= np.bincount(edge, minlength=n + 1) >= 0.6 * len(edge)
    lining |= np.bincount(np.concatenate(edge_labels), minlength=n + 1) >= 0.4 * sum(map(len, edge_labels))
    lining[0] = False
    return lining[labels]


def _edges(a: np.ndarray) -> list[np.ndarray]:
    """The top, bottom, left and right edges of a 2-D array."""
    return [a[0], a[-1], a[:, 0], a[:, -1]]


def _threshold(ink: np.ndarray) -> float:
    """Otsu's threshold on a 64-bin histogram, kept in a sane range."""
    return float(np.clip(_otsu(ink[::2, ::2]), 0.15, 0.5))


# A piece smaller than this share of the largest piece's pixels is a speck.
_SPECK_SHARE = 0.005


def _pieces(labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (y0, x0, y1, x1) and 0-based label indices of components that aren't specks."""
    if n == 0:
        return np.zeros((0, 4), int), np.zeros(0, int)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    keep = np.flatnonzero(sizes >= _SPECK_SHARE * sizes.max())
    if len(keep) > _MAX_PIECES:
        return np.zeros((0, 4), int), keep
    slices = ndi.find_objects(labels)
    boxes = np.array([[s[0].start, s[1].start, s[0].stop, s[1].stop]
                      for s in (slices[i] for i in keep)]).reshape(-1, 4)
    return boxes, keep


def _group(boxes: np.ndarray) -> list[np.ndarray]:
    """Indices of the pieces that make up each mark (a digit, or touching digits)."""
    x0, x1 = boxes[:, 1], boxes[:, 3]
    width = x1 - x0
    overlap = np.minimum(x1[:, None], x1) - np.maximum(x0[:, None], x0)
    # One row of digits: pieces stacked over each other belong to one digit...
    linked = overlap >= 0.5 * np.minimum(width[:, None], width)
    # ...and dots, dashes and detached bars join whatever is close to them.
    height = _row_height(boxes)
    small = boxes[:, 2] - boxes[:, 0] < 0.5 * height
    gap = _box_gaps(boxes)
    linked |= (small[:, None] | small) & (gap < 0.15 * height)  # chains of dots
    np.fill_diagonal(gap, np.inf)
    nearest = gap.argmin(axis=1)
    lone = np.flatnonzero(small & (gap.min(axis=1, initial=np.inf) < 0.3 * height))
    linked[lone, nearest[lone]] = True  # a fragment a bit further off: its nearest piece
    _, of = connected_components(csr_matrix(linked), directed=False)
    extent = _extent(_union_boxes(boxes, of))
    # Whatever is still tiny next to the real digits is a stray mark.
    return [np.flatnonzero(of == g) for g in np.flatnonzero(extent >= 0.25 * extent.max())]


def _row_height(boxes: np.ndarray) -> int:
    """The height of the writing around the tallest piece: the rows of pixels its pieces
    span, each within the tallest piece's height of the others. A speck far above or below
    the writing (what is left of a ruled line, dirt) is left out: counted in, it made every
    digit "small" beside the row's height, and the row one chain of them (:func:`_group`)."""
    tallest = int(np.argmax(boxes[:, 2] - boxes[:, 0]))
    top, bottom = boxes[tallest, 0], boxes[tallest, 2]
    reach = bottom - top
    while True:
        near = (boxes[:, 2] >= top - reach) & (boxes[:, 0] <= bottom + reach)
        spread = boxes[near, 0].min(), boxes[near, 2].max()
        if spread == (top, bottom):
            return int(bottom - top)
        top, bottom = spread


def _extent(boxes: np.ndarray) -> np.ndarray:
    return np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])


def _union_boxes(boxes: np.ndarray, of: np.ndarray) -> np.ndarray:
    n = of.max() + 1
    out = np.empty((n, 4), int)
    out[:, :2] = np.iinfo(int).max
    out[:, 2:] = np.iinfo(int).min
    np.minimum.at(out[:, 0], of, boxes[:, 0])
    np.minimum.at(out[:, 1], of, boxes[:, 1])
    np.maximum.at(out[:, 2], of, boxes[:, 2])
    np.maximum.at(out[:, 3], of, boxes[:, 3])
    return out


def _box_gaps(b: np.ndarray) -> np.ndarray:
    dy = np.maximum(0, np.maximum(b[:, None, 0], b[:, 0]) - np.minimum(b[:, None, 2], b[:, 2]))
    dx = np.maximum(0, np.maximum(b[:, None, 1], b[:, 1]) - np.minimum(b[:, None, 3], b[:, 3]))
    return np.hypot(dy, dx).astype(float)


def _split(labels: np.ndarray, boxes: np.ndarray, labs: np.ndarray, row_height: float,
           other_widths: np.ndarray) -> list:
    """Cut a mark much wider than its neighbours (or, alone, than it is tall) into digits.

    Returns (box, labels, (col0, col1)) per digit; box is (y0, x0, y1, x1).
    """
    y0, x0 = boxes[:, :2].min(axis=0)
    y1, x1 = boxes[:, 2:].max(axis=0)
    h, w = y1 - y0, x1 - x0
    ref = max(h, row_height)
    # Wide single digits exist (2 % of MNIST is 1.25× wider than tall, 0.4 % 1.6×). Alone,
    # a mark is split only beyond 1.6×; in a row, when it is also 1.6× wider than its
    # neighbours (narrow 1s among them count as 0.6 of the row height).
    typical = max(float(np.median(other_widths)), 0.6 * ref) if len(other_widths) else 0.7 * ref
    wide = w > 1.25 * ref and w > 1.6 * typical if len(other_widths) else w > 1.6 * ref
    n = max(2, round(w / typical)) if wide else 1
    if n == 1:
        return [((y0, x0, y1, x1), labs, (x0, x1))]
    own = np.isin(labels[y0:y1, x0:x1], labs)
    # Touching digits meet where the ink's vertical span dips (the "V" between
    # two round tops), which is often not where the column holds least ink.
    top = own.argmax(axis=0)
    bottom = h - own[::-1].argmax(axis=0)
    span = np.where(own.any(axis=0), bottom - top, 0).astype(float)
    cuts, step = [0], w / n
    for k in range(1, n):
        lo, hi = int(k * step - 0.25 * step), int(k * step + 0.25 * step) + 1
        cost = span[lo:hi] + 0.05 * np.abs(np.arange(lo, hi) - k * step)
        cuts.append(lo + int(np.argmin(cost)))
    cuts.append(w)
    parts = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        rows = np.flatnonzero(own[:, a:b].any(axis=1))
        if len(rows):
            parts.append(((y0 + rows[0], x0 + a, y0 + rows[-1] + 1, x0 + b), labs, (x0 + a, x0 + b)))
    return parts


# Recognition-driven cutting of touching digits.
# Dips in the ink's height tried as cuts, deepest first: three touching digits need two,
# and every extra one multiplies the crops read (the runs between any two candidates).
_CUT_CANDIDATES = 10
# How much better (summed reader score) a reader-chosen cut must be than the width
# heuristic's to replace it. Rows of MNIST test digits read with the right count, by
# width alone / at 1.0 / at 1.5 (python -m train.touching_study, with this constant
# edited): touching 48 / 87 / 76 %, 1 px into each other 38 / 83 / 77 %, 2 px apart
# 98.7 / 98.0 / 99.3 %.
_CUT_MARGIN = 1.0
# What reading a whole mark wider than 1.5 digits as one digit costs: such a mark is
# more often touching digits than one wide digit. At 2.0 the touching rows of the study
# read as well as without that option, and 17 of 30 single digits stretched to 1.5-2.1
# times as wide as tall are read as one (11 by width alone; tests/test_touching.py).
_WIDE_COST = 2.0
# A mark alone has no neighbours to say how wide a digit is, so there the width cut is no
# default: the whole mark is, and a cut replaces it when it scores _ALONE_MARGIN better,
# every digit read (the whole mark too) paying _ALONE_WIDTH_COST per row height it is wider
# than _ALONE_DIGIT_WIDTH (the whole mark earns as much back for being narrower). Chosen on
# rows of MNIST test digits and the test glyphs (docs/models.md, "A mark alone"): two
# digits run together, alone, read with the right count 84-87 -> 92-93 %, glyph pairs
# 37 -> 49 of 56, upright single digits cut no more often (28 px MNIST images to large
# drawings; some leaning back 20° are). A margin of 1.0 cut fewer pairs apart; a cost per
# digit (0.3) instead of a margin cut more single MNIST digits.
_ALONE_MARGIN = 0.7
_ALONE_WIDTH_COST = 2.0
_ALONE_DIGIT_WIDTH = 0.9


def _read_apart(ink, mask, labels, boxes, labs, row_height, parts, reader: Reader,
                alone: bool = False) -> list:
    """Cut a mark into the digits ``reader`` reads best; ``parts`` is the cut by width alone.

    Candidate cuts are the columns where the ink's vertical span dips (where touching
    digits meet), plus the width cut's own; every run of columns between two candidates
    is read as one digit (runs much shorter than the row, pieces of a stroke, are not
    digits), and the cut chosen maximises the parts' summed reader scores less their costs.
    In a row, it replaces the width cut only when it scores ``_CUT_MARGIN`` better, and
    reading a mark wider than 1.5 digits as one costs ``_WIDE_COST``. A mark ``alone`` is
    kept whole unless a cut scores ``_ALONE_MARGIN`` better, each digit read paying
    ``_ALONE_WIDTH_COST`` per row height it is wider than ``_ALONE_DIGIT_WIDTH``.
    """
    y0, x0 = boxes[:, :2].min(axis=0)
    y1, x1 = boxes[:, 2:].max(axis=0)
    h, w = y1 - y0, x1 - x0
    ref = max(h, row_height)
    if w < 0.6 * ref and len(parts) == 1:  # no room for two digits
        return parts
    own = np.isin(labels[y0:y1, x0:x1], labs)
    top = own.argmax(axis=0)
    bottom = h - own[::-1].argmax(axis=0)
    span = np.where(own.any(axis=0), bottom - top, 0).astype(float)
    reach = max(1, int(0.08 * ref))
    lowest = ndi.minimum_filter1d(span, 2 * reach + 1, mode="nearest")
    margin = int(0.12 * ref)
    cols = np.flatnonzero(span <= lowest)
    cols = cols[(cols >= margin) & (cols <= w - margin)]
    order = cols[np.argsort(span[cols], kind="stable")]
    chosen = []
    for c in order:
        if all(abs(c - d) > reach for d in chosen):
            chosen.append(int(c))
        if len(chosen) == _CUT_CANDIDATES:
            break
    width_cuts = [0] + [p[2][0] - x0 for p in parts[1:]] + [w]
    as_cut = list(zip(width_cuts[:-1], width_cuts[1:]))

    def segment(a, b, whatever_its_height=False):
        rows = np.flatnonzero(own[:, a:b].any(axis=1))
        if len(rows) == 0 or own[:, a:b].sum() < 0.02 * own.sum():
            return None
        if rows[-1] - rows[0] < 0.5 * ref and not whatever_its_height:
            return None  # a piece of a stroke (a 7's bar), not a digit: digits fill the row's height
        part = ((y0 + rows[0], x0 + a, y0 + rows[-1] + 1, x0 + b), labs, (x0 + a, x0 + b))
        return part, _digit(ink, mask, labels, *part).crop

    if alone:
        as_cut = [(0, w)]

        def cost(a, b):
            over = (b - a) / ref - _ALONE_DIGIT_WIDTH
            return _ALONE_WIDTH_COST * (over if (a, b) == (0, w) else max(0.0, over))

        by = _ALONE_MARGIN
    else:
        def cost(a, b):
            return _WIDE_COST if (a, b) == (0, w) and w > 1.5 * ref else 0.0

        by = _CUT_MARGIN

    # The default reading first (the width cut; alone, the whole mark). Any other reading
    # totals at most 0 (reader scores are at most 0, and what it pays at least 0), so when
    # the default totals at least -by nothing can beat it by ``by``: most single digits
    # stop here.
    found = [segment(a, b, True) for a, b in as_cut]
    if any(f is None for f in found):
        return parts
    default = [found[0][0]] if alone else parts
    score = dict(zip(as_cut, reader(np.stack([crop for _, crop in found]))))
    as_is = sum(score[a, b] - cost(a, b) for a, b in as_cut)
    # Beside a narrow 1, two wide digits run together can pass for three by their width: then
    # a part of the width cut is a piece of a stroke (a 7's bar) far shorter than the row, not
    # a digit, and the width cut is no reading to keep, however well the reader reads it.
    stubs = set() if len(as_cut) == 1 else {ab for ab, (part, _) in zip(as_cut, found)
                                            if part[0][2] - part[0][0] < 0.5 * ref}
    if as_is >= -by and not stubs:
        return default
    # Runs of columns up to 1.5 digits wide, and the whole mark (one wide digit).
    nodes = sorted({*width_cuts, *chosen})
    spans = {(a, b) for i, a in enumerate(nodes) for b in nodes[i + 1:] if b - a <= 1.5 * ref} | {(0, w)}
    segments = {ab: part for ab, (part, _) in zip(as_cut, found) if ab not in stubs}
    crops = {}
    for a, b in sorted(spans - set(as_cut)):
        cut = segment(a, b, (a, b) == (0, w))
        if cut is not None:
            segments[a, b], crops[a, b] = cut
    if crops:
        score.update(zip(crops, reader(np.stack(list(crops.values())))))
    best = {0: (0.0, [])}
    for a, b in sorted(segments, key=lambda ab: ab[1]):
        if a in best:
            total = best[a][0] + score[a, b] - cost(a, b)
            if b not in best or total > best[b][0]:
                best[b] = (total, best[a][1] + [segments[a, b]])
    return best[w][1] if stubs or best[w][0] > as_is + by else default


def _digit(ink, mask, labels, box, labs, cols) -> Digit:
    """Cut one digit's own ink (plus its faint anti-aliased rim) and make the crop."""
    m = 2
    y0, x0 = max(box[0] - m, 0), max(cols[0] - m, 0)
    y1, x1 = min(box[2] + m, ink.shape[0]), min(cols[1] + m, ink.shape[1])
    own = np.isin(labels[y0:y1, x0:x1], labs)
    own[:, : cols[0] - x0] = False
    own[:, cols[1] - x0:] = False
    near = ndi.maximum_filter(own, size=2 * m + 1) & ~(mask[y0:y1, x0:x1] & ~own)
    patch = np.where(near, ink[y0:y1, x0:x1], 0)
    rows, columns = _bbox(patch > 0.1 * patch.max())
    digit_box = (int(x0 + columns.start), int(y0 + rows.start),
                 int(x0 + columns.stop), int(y0 + rows.stop))
    return Digit(box=digit_box, crop=mnist_crop(patch))


# Straightening slanted rows (python -m train.tilt_study measures these choices).
# The turns tried, in degrees anticlockwise, for rows that lean up to ~30° either way.
_UPRIGHT_ANGLES = (-30, -20, -10, 10, 20, 30)
# A turn is taken when it raises the row's summed reader score by more than this (a
# digit alone by more than the second: on upright single MNIST digits it cost nothing)...
_UPRIGHT_MARGIN = 0.7
_UPRIGHT_MARGIN_ALONE = 0.5
# ...counting at most this much gain per digit...
_UPRIGHT_GAIN_CAP = 1.0
# ...and in a row of several, only when it raises a second digit's score by this much:
# one odd digit that happens to read better turned must not turn its upright neighbours
# (an upright 7 turned by 20° reads as a 1).
_UPRIGHT_SECOND_GAIN = 0.1


def _upright(crops: list[np.ndarray], reader: Reader) -> list[np.ndarray]:
    """The row's crops, turned upright when ``reader`` reads them better turned.

    People slant all the digits of a row alike, and models trained on MNIST misread
    digits that lean beyond ~20° (a flagged 1 leaning forward is a 7, a 6 a 5), so the
    row's crops are turned by each of ``_UPRIGHT_ANGLES`` and the one turn that raises the
    summed score most, by more than ``_UPRIGHT_MARGIN`` (``_UPRIGHT_MARGIN_ALONE`` for a
    digit alone), is applied to every digit.
    """
    # Scores are at most 0, so a crop that scores -x can gain about x at most: a row that
    # reads well as drawn could not pass the bars below, and is left without a search.
    margin = _UPRIGHT_MARGIN if len(crops) > 1 else _UPRIGHT_MARGIN_ALONE
    room = np.minimum(-reader(np.stack(crops)), _UPRIGHT_GAIN_CAP)
    if room.sum() <= margin or (len(crops) > 1 and np.sort(room)[-2] <= _UPRIGHT_SECOND_GAIN):
        return crops
    # Turned and untouched alike go through _turned, so that its resampling favours neither.
    turned = np.stack([_turned(crop, angle) for angle in (0, *_UPRIGHT_ANGLES) for crop in crops])
    scores = reader(turned).reshape(1 + len(_UPRIGHT_ANGLES), len(crops))
    gains = scores[1:] - scores[0]
    total = np.minimum(gains, _UPRIGHT_GAIN_CAP).sum(axis=1)
    if len(crops) > 1:
        total[np.sort(gains, axis=1)[:, -2] <= _UPRIGHT_SECOND_GAIN] = -np.inf
    best = int(total.argmax())
    if total[best] <= margin:
        return crops
    return list(turned[(best + 1) * len(crops):(best + 2) * len(crops)])


def _turned(crop: np.ndarray, angle: float) -> np.ndarray:
    """An MNIST-style crop turned ``angle`` degrees anticlockwise and fitted again (20 px box,
    centre of mass centred); turned at twice the size, so the strokes stay smooth."""
    big = ndi.rotate(ndi.zoom(crop, 2, order=1), angle, reshape=True, order=1, prefilter=False)
    return _centred(_fit(big[_bbox(big > 0.05)], MNIST_BOX))


# --------------------------------------------------------------------------
# MNIST-style crop.


def mnist_crop(ink: np.ndarray) -> np.ndarray:
    """Turn an ink patch of one digit (any size, ink high) into a 28x28 MNIST-style crop.

    The ink box is scaled so its longer side is 20 px, the centre of mass put at
    (14, 14) and the peak set to 1. Strokes thinner than 99 % of MNIST's are redrawn
    at MNIST's median width, strokes thicker than 99 % of MNIST's are thinned to its
    99th percentile; otherwise the grey ink is kept as is.
    """
    ink = _normalised(ink)
    ink = ink[_bbox(ink > 0.05)]
    mask, widening = _working_mask(ink)
    width, length = _stroke_width(mask) - widening, max(mask.shape)
    at_20 = width * MNIST_BOX / length
    lo, hi = MNIST_STROKE_RANGE
    if lo <= at_20 <= hi:  # already MNIST-like: keep the grey ink
        return _centred(_fit(ink, MNIST_BOX))
    # Thinning erases whatever is thinner than it takes off (a small loop closes up
    # for good, a tail goes), so a thick pen's strokes lose no more than they must.
    # A digit the size of a dataset's was thickened by scaling, not by a pen (USPS
    # stretches a 1 to fill its 16x16 box): that blob reads best drawn at the median.
    target = MNIST_STROKE if at_20 < lo or max(ink.shape) <= _DATASET_SIDE else hi
    # Grow/thin by r per side so that, after scaling the box (which grows by
    # 2r too) to 20 px, the stroke is `target` wide.
    grow = (target * length / MNIST_BOX - width) / (1 - target / MNIST_BOX)
    return _centred(_fit(_restroke(mask, (grow - widening) / 2), MNIST_BOX))


def stroke_width(ink: np.ndarray) -> float:
    """A digit's stroke width in pixels once its ink box is scaled to MNIST's 20 px.

    Measured on a mask of the strokes 100-200 px long, not on the 20-px picture: there
    any stroke with a pixel above half ink counts at least 2 px wide, and a hairline
    (the pens people draw with are 0.5-1.5 px at that scale) looks as thick as MNIST's
    thinnest strokes.
    """
    ink = _normalised(ink)
    mask, widening = _working_mask(ink[_bbox(ink > 0.05)])
    return (_stroke_width(mask) - widening) * MNIST_BOX / max(mask.shape)


def _working_mask(ink: np.ndarray) -> tuple[np.ndarray, float]:
    """The strokes as a mask 100-200 px long: fine enough to restroke by fractions
    of an MNIST pixel, small enough to be cheap. Also returns how much wider than
    the true strokes it came out (a block is kept if any of it is ink)."""
    longer = max(ink.shape)
    if longer >= 200:
        return _reduce(ink > 0.5, longer // 100) > 0, 1.0
    if longer < 100:
        scale = 100 / longer
        size = (max(1, round(ink.shape[0] * scale)), max(1, round(ink.shape[1] * scale)))
        return _resize(ink, size, Image.Resampling.BILINEAR) > 0.5, 0.0
    return ink > 0.5, 0.0


def _normalised(ink) -> np.ndarray:
    ink = np.asarray(ink)
    if ink.ndim != 2 or ink.size == 0 or ink.dtype.kind not in "biuf":
        raise ValueError(f"ink patch must be a non-empty 2-D numeric array; got shape {ink.shape}")
    ink = ink.astype(np.float32)
    if not np.isfinite(ink).all():
        raise ValueError("ink patch contains NaN or infinite values")
    top = ink.max()
    if top <= 0:
        raise ValueError("no digits found — draw something")
    # A robust peak, so one bright noise pixel can't dim the whole digit.
    peak = np.percentile(ink[ink > 0.2 * top], 90)
    return (ink / peak).clip(0, 1)


def _bbox(mask: np.ndarray) -> tuple[slice, slice]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _stroke_width(mask: np.ndarray) -> float:
    """Stroke width in pixels: 4 x mean distance to the background, less the half-pixel bias."""
    if not mask.any():
        return 0.0
    dist = ndi.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    return 4 * (float(dist[mask].mean()) - 0.5)


def _restroke(mask: np.ndarray, r: float) -> np.ndarray:
    """Grow (r > 0) or thin (r < 0) strokes by |r| px per side; O(n) for any r."""
    if r > 0:
        pad = math.ceil(r) + 1
        out = ndi.distance_transform_edt(~np.pad(mask, pad)) <= r
    else:
        out = ndi.distance_transform_edt(np.pad(mask, 1)) > -r
        if out.sum() < 0.2 * mask.sum():  # thinning would erase the digit
            out = np.pad(mask, 1)
    return out[_bbox(out)].astype(np.float32)


def _fit(ink: np.ndarray, side: int) -> np.ndarray:
    """Scale so the longer side is `side` px, aspect kept; area-averaged when shrinking."""
    h, w = ink.shape
    scale = side / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    if size == ink.shape:
        return ink
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    return _resize(ink, size, resample)


def _centred(small: np.ndarray) -> np.ndarray:
    """Place in 28x28 with the centre of mass at MNIST's (14, 14), peak 1."""
    out = np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
    com = ndi.center_of_mass(small)
    h, w = small.shape
    dy = int(np.clip(round(MNIST_COM - com[0]), 0, MNIST_SIZE - h))
    dx = int(np.clip(round(MNIST_COM - com[1]), 0, MNIST_SIZE - w))
    out[dy:dy + h, dx:dx + w] = small
    return out / max(float(out.max()), 1e-6)
