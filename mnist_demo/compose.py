"""Digits → each model's input, for training and for the app alike.

This module is the only place that knows where a digit sits in a 28×84 sequence strip
or in a 40×168 sum image. Training calls the composers with random layouts; the app
calls them with the canonical layout. A change here changes both sides at once.

Every composer takes 28×28 MNIST-style crops (float in [0, 1], white ink on black) as a
tensor of shape (n, 28, 28) and returns float tensors in [0, 1].
"""

from __future__ import annotations

import torch

DIGIT = 28
STRIP_H, STRIP_W, STRIP_SLOTS = 28, 84, 3
SUM_H, SUM_W, SUM_CELLS = 40, 168, 4
CELL_W = SUM_W // SUM_CELLS  # 42: each sum cell leaves 14 px of horizontal play
MAX_SEQUENCE = 8  # the triplet LSTM is trained on 1..8 digits
BLANK = 10  # label of an empty sequence slot / empty sum cell


def paste(canvas: torch.Tensor, crop: torch.Tensor, x: int, y: int) -> None:
    """Max-blend a 28×28 ``crop`` into ``canvas`` (H, W) at top-left (x, y), clipped at the edges.

    Max rather than sum so that digits that overlap a little (negative gaps) still look
    like ink on black, as a person's touching digits do.
    """
    h, w = canvas.shape
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + DIGIT, w), min(y + DIGIT, h)
    if x0 >= x1 or y0 >= y1:
        return
    region = canvas[y0:y1, x0:x1]
    torch.maximum(region, crop[y0 - y : y1 - y, x0 - x : x1 - x], out=region)


# --- sequence strip (28×84, 1..3 digits) -------------------------------------------------

def canonical_sequence_layout(n: int) -> list[tuple[int, int]]:
    """The app's layout: digits side by side from the left, as stitched MNIST strips are."""
    return [(DIGIT * i, 0) for i in range(n)]


def random_sequence_layout(n: int, generator: torch.Generator) -> list[tuple[int, int]]:
    """A training layout: random gaps (−4..+6 px, never pushing a digit off the strip),
    start offset and ±2 px vertical jitter."""
    max_gap = min(6, (STRIP_W - DIGIT * n) // max(n - 1, 1))
    gaps = torch.randint(-4, max_gap + 1, (max(n - 1, 0),), generator=generator).tolist()
    width = DIGIT * n + sum(gaps)
    slack = max(STRIP_W - width, 0)
    # Half the strips start at the left edge like the canonical layout, half anywhere.
    x = 0 if torch.rand((), generator=generator) < 0.5 else int(torch.randint(0, slack + 1, (), generator=generator))
    layout = []
    for i in range(n):
        y = int(torch.randint(-2, 3, (), generator=generator))
        layout.append((x, y))
        if i < n - 1:
            x += DIGIT + gaps[i]
    return layout


def compose_sequence(crops: torch.Tensor, layout: list[tuple[int, int]] | None = None) -> torch.Tensor:
    """Compose 1..3 crops into the sequence model's (1, 28, 84) strip."""
    n = len(crops)
    if not 1 <= n <= STRIP_SLOTS:
        raise ValueError(f"the sequence model reads 1 to {STRIP_SLOTS} digits, got {n}")
    layout = layout or canonical_sequence_layout(n)
    strip = torch.zeros(STRIP_H, STRIP_W)
    for crop, (x, y) in zip(crops, layout):
        paste(strip, crop, x, y)
    return strip.unsqueeze(0)


# --- sum image (40×168, four cells, a cell may be empty) ---------------------------------

def canonical_sum_layout() -> list[tuple[int, int]]:
    """The app's layout: each digit centred in its 42×40 cell."""
    return [(CELL_W * i + (CELL_W - DIGIT) // 2, (SUM_H - DIGIT) // 2) for i in range(SUM_CELLS)]


def random_sum_layout(generator: torch.Generator) -> list[tuple[int, int]]:
    """A training layout: each digit anywhere inside its cell."""
    xs = torch.randint(0, CELL_W - DIGIT + 1, (SUM_CELLS,), generator=generator).tolist()
    ys = torch.randint(0, SUM_H - DIGIT + 1, (SUM_CELLS,), generator=generator).tolist()
    return [(CELL_W * i + xs[i], ys[i]) for i in range(SUM_CELLS)]


def compose_sum(cells: list[torch.Tensor | None], layout: list[tuple[int, int]] | None = None) -> torch.Tensor:
    """Compose four cells (a crop, or None for an empty cell) into the (1, 40, 168) sum image."""
    if len(cells) != SUM_CELLS:
        raise ValueError(f"the sum image has {SUM_CELLS} cells, got {len(cells)}")
    layout = layout or canonical_sum_layout()
    image = torch.zeros(SUM_H, SUM_W)
    for crop, (x, y) in zip(cells, layout):
        if crop is not None:
            paste(image, crop, x, y)
    return image.unsqueeze(0)


def sum_cells(crops: torch.Tensor) -> list[torch.Tensor | None]:
    """The app's cell assignment for 1..4 digits: left to right, the rest empty."""
    n = len(crops)
    if not 1 <= n <= SUM_CELLS:
        raise ValueError(f"the sum model reads 1 to {SUM_CELLS} digits, got {n}")
    return [crops[i] if i < n else None for i in range(SUM_CELLS)]


# --- per-digit models (triplet LSTM, autoencoder) ----------------------------------------

def compose_digits(crops: torch.Tensor) -> torch.Tensor:
    """Crops as the per-digit encoders read them: (n, 1, 28, 28)."""
    return crops.reshape(-1, 1, DIGIT, DIGIT)
