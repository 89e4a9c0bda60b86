"""Synthetic hand-drawn digits for tests: pen strokes as data, rendered with PIL.

Each digit 0-9 is a list of strokes; a stroke is a list of (x, y) points in a
unit box (x in [0, 0.7], y in [0, 1], y down). `layout` turns digits into
strokes in canvas pixels (so a browser test can replay them as mouse moves),
`render` draws them with a round pen and also returns the true box of each
digit's ink, for comparing with what the segmenter finds.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from PIL import Image, ImageDraw, ImageFilter

Stroke = list[tuple[float, float]]


def _arc(cx, cy, rx, ry, start, stop, n=16) -> Stroke:
    """Points on an ellipse arc, angles in degrees, 0 = right, 90 = down."""
    angles = np.radians(np.linspace(start, stop, n))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


DIGITS: dict[int, list[Stroke]] = {
    0: [_arc(0.35, 0.5, 0.33, 0.48, -90, 270, 28)],
    1: [[(0.15, 0.2), (0.38, 0.0), (0.38, 1.0)]],
    2: [_arc(0.35, 0.3, 0.3, 0.28, 200, 370, 10) + [(0.0, 1.0), (0.7, 1.0)]],
    3: [_arc(0.33, 0.25, 0.3, 0.24, 200, 450, 14)[:-1] + _arc(0.33, 0.73, 0.35, 0.27, -90, 160, 14)],
    4: [[(0.42, 0.0), (0.0, 0.64), (0.7, 0.64)], [(0.52, 0.3), (0.52, 1.0)]],
    5: [[(0.65, 0.0), (0.1, 0.0)],
        [(0.1, 0.0), (0.06, 0.45)] + _arc(0.35, 0.7, 0.33, 0.3, -120, 160, 14)],
    6: [[(0.55, 0.0), (0.2, 0.3)] + _arc(0.35, 0.7, 0.33, 0.3, 200, 560, 22)],
    7: [[(0.0, 0.0), (0.7, 0.0), (0.25, 1.0)]],
    8: [_arc(0.35, 0.25, 0.27, 0.25, 90, 450, 18), _arc(0.35, 0.74, 0.34, 0.26, -90, 270, 20)],
    9: [_arc(0.35, 0.28, 0.33, 0.28, 0, 360, 20) + [(0.68, 0.28), (0.55, 1.0)]],
}

# Other ways people write the digits (DIGITS has one of each).
ALLOGRAPHS: dict[int, list[list[Stroke]]] = {
    0: [[_arc(0.25, 0.5, 0.2, 0.48, -90, 270, 28)],  # narrow
        [_arc(0.35, 0.5, 0.33, 0.48, -60, 250, 28)]],  # not closed at the top
    1: [[[(0.38, 0.0), (0.38, 1.0)]],  # a bare stroke
        [[(0.15, 0.2), (0.38, 0.0), (0.38, 1.0)], [(0.15, 1.0), (0.62, 1.0)]],  # with a foot
        [[(0.05, 0.35), (0.42, 0.0), (0.42, 1.0)]]],  # a long flag
    2: [[_arc(0.35, 0.3, 0.3, 0.28, 200, 400, 12) + [(0.1, 0.95)] + _arc(0.18, 0.88, 0.1, 0.1, 90, 360, 8)
         + [(0.75, 0.95)]],  # a loop at the bottom
        [[(0.05, 0.05), (0.65, 0.05), (0.05, 1.0), (0.7, 1.0)]]],  # like a Z
    3: [[[(0.0, 0.0), (0.65, 0.0), (0.3, 0.4)] + _arc(0.33, 0.7, 0.35, 0.3, -90, 160, 14)]],  # a flat top
    4: [[[(0.5, 0.0), (0.0, 0.64), (0.7, 0.64)], [(0.5, 0.0), (0.5, 1.0)]],  # closed
        [[(0.08, 0.0), (0.05, 0.6), (0.7, 0.6)], [(0.55, 0.05), (0.55, 1.0)]]],  # open
    5: [[[(0.65, 0.0), (0.1, 0.0), (0.06, 0.45)] + _arc(0.35, 0.7, 0.33, 0.3, -120, 160, 14)]],  # one stroke
    6: [[[(0.5, 0.0), (0.05, 0.55)] + _arc(0.35, 0.72, 0.3, 0.28, 180, 540, 22)],  # a straight back
        [[(0.6, 0.05)] + _arc(0.6, 0.5, 0.55, 0.5, 270, 180, 8)[1:] + _arc(0.38, 0.7, 0.33, 0.3, 180, 540, 22)]],
    7: [[[(0.0, 0.0), (0.7, 0.0), (0.25, 1.0)], [(0.2, 0.5), (0.65, 0.5)]],  # crossed
        [[(0.0, 0.15), (0.05, 0.0), (0.7, 0.0), (0.3, 1.0)]]],  # a hook at the start
    8: [[_arc(0.35, 0.25, 0.25, 0.25, 0, 360, 18), _arc(0.35, 0.75, 0.33, 0.25, 0, 360, 20)]],  # two rings
    9: [[_arc(0.35, 0.28, 0.3, 0.28, 0, 360, 20) + [(0.65, 0.28), (0.65, 1.0)]],  # a straight stem
        [_arc(0.35, 0.28, 0.3, 0.28, 0, 360, 20) + [(0.65, 0.28)] + _arc(0.4, 0.7, 0.25, 0.3, 0, 140, 10)]],  # curled
}

# Variants that make segmentation work harder.
FIVE_DETACHED_BAR: list[Stroke] = [
    [(0.2, 0.0), (0.7, 0.0)],
    [(0.1, 0.1), (0.06, 0.45)] + _arc(0.35, 0.7, 0.33, 0.3, -120, 160, 14),
]
FOUR_TWO_PIECES: list[Stroke] = [  # the stem is drawn apart from the bar
    [(0.5, 0.0), (0.0, 0.6), (0.7, 0.6)],
    [(0.5, 0.75), (0.5, 1.0)],
]


def dotted(strokes: list[Stroke], step: float = 0.1) -> list[Stroke]:
    """The same strokes as a trail of single-point dots, `step` apart."""
    return [[p] for p in _resample(strokes, step)]


def dashed(strokes: list[Stroke], dash: float = 0.12, gap: float = 0.06) -> list[Stroke]:
    """The same strokes broken into dashes (pen lifted every `dash` for `gap`)."""
    out = []
    for stroke in strokes:
        pts = _resample([stroke], 0.01)
        per = max(1, round(dash / 0.01)), max(1, round(gap / 0.01))
        for start in range(0, len(pts), per[0] + per[1]):
            out.append(pts[start:start + per[0]] or pts[-1:])
    return out


def _resample(strokes: list[Stroke], step: float) -> Stroke:
    out = []
    for stroke in strokes:
        pts = np.asarray(stroke, float)
        if len(pts) == 1:
            out.append(tuple(pts[0]))
            continue
        seg = np.hypot(*np.diff(pts, axis=0).T)
        dist = np.concatenate([[0], np.cumsum(seg)])
        at = np.arange(0, dist[-1] + 1e-9, step)
        out += list(zip(np.interp(at, dist, pts[:, 0]), np.interp(at, dist, pts[:, 1])))
    return out


def layout(digits, size=(840, 280), height=0.7, spacing=0.35, angle=0.0,
           offset=(0.0, 0.0)) -> list[list[Stroke]]:
    """Place digits in a row on a canvas; returns per digit its strokes in pixels.

    digits: ints (looked up in DIGITS) or stroke lists. height: digit height as
    a fraction of the canvas height; spacing: gap between digit boxes in digit
    heights (negative overlaps them); angle: clockwise tilt in degrees, each
    digit about its own centre; offset: shift of the whole row in pixels.
    """
    glyphs = [DIGITS[d] if isinstance(d, int) else d for d in digits]
    h = height * size[1]
    widths = [h * max(x for s in g for x, _ in s) for g in glyphs]
    total = sum(widths) + spacing * h * (len(glyphs) - 1)
    x = (size[0] - total) / 2 + offset[0]
    y = (size[1] - h) / 2 + offset[1]
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    out = []
    for glyph, w in zip(glyphs, widths):
        cx, cy = x + w / 2, y + h / 2
        placed = []
        for stroke in glyph:
            pts = [(x + px * h - cx, y + py * h - cy) for px, py in stroke]
            placed.append([(cx + a * cos - b * sin, cy + a * sin + b * cos) for a, b in pts])
        out.append(placed)
        x += w + spacing * h
    return out


def draw(canvas: Image.Image, strokes: list[Stroke], pen: float, ink) -> None:
    """Draw strokes with a round pen (discs at the points, lines between)."""
    d = ImageDraw.Draw(canvas)
    r = pen / 2
    for stroke in strokes:
        if len(stroke) > 1:
            d.line(stroke, fill=ink, width=max(1, round(pen)), joint="curve")
        for x, y in stroke:
            d.ellipse((x - r, y - r, x + r, y + r), fill=ink)


def render(digits, size=(840, 280), pen=12.0, ink=(0, 0, 0, 255), paper=(255, 255, 255, 255),
           **placement) -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    """Render digits as an RGBA image; also return each digit's ink box (x0, y0, x1, y1).

    paper=None gives a fully transparent canvas (like Gradio's RGBA Sketchpad).
    Extra keyword arguments go to `layout`.
    """
    canvas = Image.new("RGBA", size, paper if paper is not None else (0, 0, 0, 0))
    boxes = []
    for strokes in layout(digits, size, **placement):
        draw(canvas, strokes, pen, tuple(ink))
        alone = Image.new("L", size, 0)
        draw(alone, strokes, pen, 255)
        boxes.append(alone.getbbox())
    return canvas, boxes


def rows(digit_rows, size=(840, 280), gap=0.5, shifts=None, paper=(255, 255, 255, 255),
         **placement) -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    """Rows of digits one under another, like lines of text, as one RGBA image; also each
    digit's ink box, row by row.

    Each row is placed by `layout` on a canvas of ``size`` (keyword arguments go to it),
    shifted sideways by ``shifts[i]`` px; rows are ``gap`` digit heights apart.
    """
    pen = placement.pop("pen", 12.0)
    step = round(placement.get("height", 0.7) * size[1] * (1 + gap))
    canvas = Image.new("RGBA", (size[0], size[1] + step * (len(digit_rows) - 1)), paper or (0, 0, 0, 0))
    boxes = []
    for i, row in enumerate(digit_rows):
        shift = shifts[i] if shifts is not None else 0.0
        drawing, row_boxes = render(row, size, pen=pen, paper=None, offset=(shift, 0.0), **placement)
        canvas.alpha_composite(drawing, (0, i * step))
        boxes += [(x0, y0 + i * step, x1, y1 + i * step) for x0, y0, x1, y1 in row_boxes]
    return canvas, boxes


# One digit drawn in pieces that lie one under another (not rows of writing).
EIGHT_APART: list[Stroke] = [_arc(0.35, 0.22, 0.25, 0.22, 0, 360, 18), _arc(0.35, 0.75, 0.33, 0.25, 0, 360, 20)]
BARE_ONE: list[Stroke] = [[(0.38, 0.0), (0.38, 1.0)]]


# Writing colours for photo_of_paper (RGB, 0-1): a blue ballpoint, and a grey pencil that
# takes about 40 % of the paper's light.
BALLPOINT = (0.1, 0.12, 0.4)
PENCIL = (0.48, 0.48, 0.5)
# A notebook's pale blue rules, fainter than the writing.
PALE_BLUE = (0.55, 0.7, 0.9)


def photo_of_paper(drawing: Image.Image, rules: float | None = None, table: int = 0, tilt: float = 0.0,
                   seed: int = 0, grid: float | None = None, grid_offset: tuple[int, int] = (0, 0),
                   margins: tuple[float, ...] = (), ink=BALLPOINT, vignette: float = 0.0,
                   mottle: float = 0.0, grain: float = 0.025, lines=(0.1, 0.12, 0.4)) -> np.ndarray:
    """A drawing from `render` as a phone photo of it on paper: blue ink, uneven light, noise.

    rules: spacing of ruled lines as a fraction of the height (3 px,
    sloped by `tilt` degrees); grid: squared paper instead, rows and columns this far apart
    as a fraction of the height (2 px), the first ``grid_offset`` (y, x)
    px from the top left corner; margins: a notebook's red margin lines (3 px, top to bottom)
    this far from the left, as fractions of the width; table: width in px of dark table
    around the sheet; ink: the writing's colour (RGB, 0-1; PENCIL is faint); vignette: the
    light falls off towards the photo's edges, by this share in its corners (a phone's lens);
    mottle: the light varies in soft patches about a tenth of the photo across (light through
    leaves, a crumpled sheet), darker by up to this share; grain: the sensor's noise, its
    spread in each colour channel of each pixel (0-1; dim light, a small sensor: 0.05); lines:
    the colour of the ruled or grid lines (RGB, 0-1; by default as dark as a ballpoint's ink,
    PALE_BLUE as a notebook's).
    Returns RGB uint8 of the drawing's
    size plus the table on every side.
    """
    rng = np.random.default_rng(seed)
    written = np.asarray(drawing.convert("RGBA"))[..., 3] / 255.0 * (np.asarray(drawing.convert("L")) < 128)
    h, w = written.shape
    yy, xx = np.mgrid[0:h, 0:w]
    ruled = np.zeros((h, w))
    if rules:
        step = rules * h
        offset = (yy - xx * math.tan(math.radians(tilt))) % step
        ruled = (offset < 3).astype(float)
    if grid:
        step = round(grid * h)
        ruled = ((yy - grid_offset[0]) % step < 2) | ((xx - grid_offset[1]) % step < 2)
    light = 0.8 + 0.15 * np.sin(xx / w * 3) * np.cos(yy / h * 2)
    paper = np.stack([light, light * 0.97, light * 0.92], -1)
    photo = paper * (1 - ruled[..., None]) + np.array(lines) * ruled[..., None]
    photo = photo * (1 - written[..., None]) + np.array(ink) * written[..., None]
    for x in margins:  # printed red over the ruled lines, written over in ink
        at = slice(round(x * w), round(x * w) + 3)
        photo[:, at] = np.array([0.8, 0.25, 0.25]) * (1 - written[:, at, None]) + np.array(ink) * written[:, at, None]
    if table:
        framed = np.empty((h + 2 * table, w + 2 * table, 3))
        framed[...] = [0.3, 0.22, 0.16]  # a wooden desk
        framed[table:table + h, table:table + w] = photo
        photo = framed
    if mottle:  # the light, not the paper: it falls on ink and desk alike
        step = max(photo.shape[:2]) // 10
        knots = rng.uniform(0, 1, (photo.shape[0] // step + 2, photo.shape[1] // step + 2))
        patches = ndimage.zoom(knots, step, order=3)[:photo.shape[0], :photo.shape[1]]
        photo = photo * (1 - mottle * np.clip(patches, 0, 1))[..., None]
    if vignette:
        fy, fx = (np.linspace(-1, 1, n) ** 2 for n in photo.shape[:2])
        photo = photo * (1 - vignette * (fy[:, None] + fx[None, :]) / 2)[..., None]
    photo = photo + rng.normal(0, grain, photo.shape)
    return (np.clip(photo, 0, 1) * 255).astype(np.uint8)


def in_shadow(photo: np.ndarray, strength: float, side: str, soft: float = 0.03) -> np.ndarray:
    """``photo`` (RGB uint8) with a shadow over one part, as a phone or a hand casts one: the
    light there falls by ``strength`` (0.6: to 40 %), paper, ink and desk alike. ``side``:
    "left" (the left 45 %), "top" (the top half) or "diagonal" (the top left); ``soft``: the
    width of its edge, as a share of the photo's longer side."""
    h, w = photo.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    beyond_edge = {"left": xx - 0.45 * w, "top": yy - 0.5 * h, "diagonal": (xx - 0.5 * w) + 1.5 * (yy - 0.5 * h)}[side]
    shade = strength / (1 + np.exp(np.clip(beyond_edge / (soft * max(h, w)), -50, 50)))
    return np.clip(photo * (1 - shade[..., None]), 0, 255).astype(np.uint8)


def out_of_focus(photo: np.ndarray, blur: float) -> np.ndarray:
    """``photo`` (RGB uint8) taken out of focus: a Gaussian blur of ``blur`` px, which spreads
    each stroke's ink over its neighbourhood and so makes faint strokes fainter still."""
    return np.asarray(Image.fromarray(photo).filter(ImageFilter.GaussianBlur(blur)))


# Where a phone held at an angle puts the corners of the picture (see `at_an_angle`).
VIEWS = {
    "left side near": [(0.06, 0.04), (0.96, 0.0), (1.0, 1.0), (0.0, 0.92)],  # the left edge looms larger
    "top near": [(-0.08, 0.0), (1.08, 0.0), (0.95, 1.0), (0.05, 1.0)],  # the top edge wider than the bottom
    "corner near": [(0.0, 0.0), (1.0, 0.1), (0.92, 1.0), (0.0, 1.0)],  # the bottom left corner nearest
}


def at_an_angle(photo: np.ndarray, corners, desk=(80, 62, 45)) -> np.ndarray:
    """``photo`` as a phone held at an angle takes it: the picture's corners (top left, top
    right, bottom right, bottom left) show these points of the scene, in fractions of the
    photo's width and height; beyond the photo lies ``desk``. The sheet's edges then slope,
    each its own way, and its corners leave wedges of desk."""
    h, w = photo.shape[:2]
    rows = []
    for (x, y), (u, v) in zip([(0, 0), (w, 0), (w, h), (0, h)], [(u * w, v * h) for u, v in corners]):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y, u], [0, 0, 0, x, y, 1, -v * x, -v * y, v]]
    system = np.array(rows, float)
    coefficients = np.linalg.solve(system[:, :8], system[:, 8])  # picture pixel -> scene pixel
    warped = Image.fromarray(photo).transform((w, h), Image.Transform.PERSPECTIVE, tuple(coefficients),
                                              Image.Resampling.BILINEAR, fillcolor=tuple(desk))
    return np.asarray(warped)
