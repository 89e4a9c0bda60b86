"""Write the app's example images into examples/ (small PNGs, committed with the repository).

    MNIST_DATA_DIR=/path/to/mnist python examples/make_examples.py

* ``mnist_strip_*.png``  — a 28×84 sequence strip of three MNIST test digits (``compose_sequence``),
* ``mnist_sum_*.png``    — a 40×168 digit-sum image of four MNIST test digits (``compose_sum``),
* ``mnist_single_*.png`` — one 28×28 MNIST test digit,
* ``drawing_*.png``      — synthetic pen drawings (``tests/drawing.py``), one on a transparent canvas
  and one in two rows, read like lines of text,
* ``photo_*.jpg``        — a synthetic phone photo of a drawing on a sheet on a desk, a shadow across
  part of the sheet.

The digits in each file name are the true labels, in reading order (`tests/test_predict.py`
checks that the models read them so). MNIST digits are the first test-set
digits of each wanted label (Y. LeCun, C. Cortes, C. J. C. Burges, the MNIST database,
CC BY-SA 3.0), composed with this repository's own composers, so they are the images the
models are trained to read. The file is deterministic: running it again rewrites the same files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mnist_demo import compose  # noqa: E402
from mnist_demo.data import mnist_pool  # noqa: E402
from tests import drawing  # noqa: E402

STRIP = (3, 8, 5)
SUM = (4, 0, 9, 2)
SINGLE = 6
DRAWN = (2, 7, 1)
DRAWN_TRANSPARENT = (5, 1, 8, 3)
DRAWN_ROWS = ((4, 7), (2,))
PHOTO_SHADOW = (3, 6, 8)
LIMIT = 30_000  # bytes per PNG


def first_of(pool, labels) -> tuple[torch.Tensor, list[int]]:
    """The first test digit of each label (a different one when a label repeats)."""
    used, indices = set(), []
    for label in labels:
        index = next(int(i) for i in torch.nonzero(pool.labels == label).flatten() if int(i) not in used)
        used.add(index)
        indices.append(index)
    return pool.images[indices], indices


def to_png(array: torch.Tensor, path: Path) -> None:
    pixels = (array.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    Image.fromarray(pixels, "L").save(path, optimize=True)


def main() -> None:
    pool = mnist_pool("test")
    for old in [*HERE.glob("*.png"), *HERE.glob("*.jpg")]:
        old.unlink()
    written = []

    crops, idx = first_of(pool, STRIP)
    path = HERE / f"mnist_strip_{''.join(map(str, STRIP))}.png"
    to_png(compose.compose_sequence(crops)[0], path)
    written.append((path, f"MNIST test #{idx}"))

    crops, idx = first_of(pool, SUM)
    path = HERE / f"mnist_sum_{''.join(map(str, SUM))}.png"
    to_png(compose.compose_sum(compose.sum_cells(crops))[0], path)
    written.append((path, f"MNIST test #{idx}, sum {sum(SUM)}"))

    crops, idx = first_of(pool, (SINGLE,))
    path = HERE / f"mnist_single_{SINGLE}.png"
    to_png(crops[0], path)
    written.append((path, f"MNIST test #{idx}"))

    image, _ = drawing.render(list(DRAWN), pen=14)
    path = HERE / f"drawing_{''.join(map(str, DRAWN))}.png"
    image.convert("L").save(path, optimize=True)
    written.append((path, "synthetic drawing, black on white"))

    image, _ = drawing.render(list(DRAWN_TRANSPARENT), pen=12, paper=None)
    path = HERE / f"drawing_{''.join(map(str, DRAWN_TRANSPARENT))}_transparent.png"
    alpha = np.asarray(image)[..., 3]
    Image.fromarray(np.stack([np.zeros_like(alpha), alpha], axis=-1), "LA").save(path, optimize=True)
    written.append((path, "synthetic drawing, black ink on a transparent canvas"))

    image, _ = drawing.rows([list(row) for row in DRAWN_ROWS], gap=0.4, shifts=[0, -60], pen=12)
    path = HERE / f"drawing_rows_{'_'.join(''.join(map(str, row)) for row in DRAWN_ROWS)}.png"
    image.convert("L").save(path, optimize=True)
    written.append((path, "synthetic drawing in two rows, black on white"))

    drawn, _ = drawing.render(list(PHOTO_SHADOW), size=(660, 220), pen=6)
    photo = drawing.in_shadow(drawing.photo_of_paper(drawn, table=30), 0.5, "left")
    path = HERE / f"photo_shadow_{''.join(map(str, PHOTO_SHADOW))}.jpg"
    Image.fromarray(photo).save(path, quality=80, optimize=True)
    written.append((path, "synthetic photo of a sheet on a desk, a shadow over its left part"))

    for path, what in written:
        size = path.stat().st_size
        assert size < LIMIT, f"{path.name} is {size} bytes (limit {LIMIT})"
        print(f"{path.name:40s} {size:6d} bytes  {what}")


if __name__ == "__main__":
    main()
