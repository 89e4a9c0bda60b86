"""How well tilted digits are read: as drawn, and turned upright by the reader.

    python -m train.tilt_study             # ~3 minutes on a 2-core CPU
    python -m train.tilt_study --rows 50   # a quick look

Builds rows of MNIST test digits as ``train.touching_study`` does (each digit cropped to
its ink and drawn 168 px tall, 2 px apart at 28 px scale), with every digit of a row first
turned by the same angle (positive: its top to the right, as in forward-slanted
handwriting). Each row is segmented by ``find_digits`` with the shipped autoencoder as
reader, as ``predict`` does, once with the digits left as drawn (``upright=False``) and
once turned upright where the reader reads the row better so (the default), and the
triplet model's LSTM reads the crops. Prints, per angle and row length, the digits read
right (a row found with the wrong count scores no digit) and how many rows were turned.
docs/models.md ("Tilted digits") has the results.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import torch
from scipy import ndimage as ndi

from mnist_demo import data, inference
from mnist_demo.preprocess import find_digits
from train.touching_study import rows

ANGLES = (-20.0, 0.0, 20.0, 30.0)


def turned(pool: data.DigitPool, angle: float) -> data.DigitPool:
    """``pool`` with every digit turned ``angle`` degrees clockwise (top to the right)."""
    if not angle:
        return pool
    images = np.stack([ndi.rotate(image, -angle, reshape=False, order=1) for image in pool.images.numpy()])
    return dataclasses.replace(pool, images=torch.from_numpy(images.clip(0, 1).astype(np.float32)))


@torch.inference_mode()
def read(image, reader, triplet, upright: bool) -> tuple[list[int], np.ndarray]:
    """The LSTM's labels for the digits ``find_digits`` finds, and their crops."""
    crops = np.stack([d.crop for d in find_digits(image, reader, upright=upright)]).astype(np.float32)
    return inference._triplet(triplet, torch.from_numpy(crops))[1]["labels"], crops


def misread(items, reader, triplet) -> tuple[dict[bool, int], int]:
    """Digits of the (image, digits) ``items`` read wrong as drawn (key False) and turned
    upright (True) — a row found with the wrong count counts all its digits — and how
    many rows were turned."""
    wrong = {False: 0, True: 0}
    rows_turned = 0
    for image, digits in items:
        found = {upright: read(image, reader, triplet, upright) for upright in (False, True)}
        for upright, (labels, _) in found.items():
            right = sum(a == b for a, b in zip(labels, digits)) if len(labels) == len(digits) else 0
            wrong[upright] += len(digits) - right
        rows_turned += not np.array_equal(found[False][1], found[True][1])
    return wrong, rows_turned


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=300, help="rows per angle and row length")
    parser.add_argument("--data-dir", default=None, help="MNIST root (default: $MNIST_DATA_DIR or data/)")
    parser.add_argument("--weights-dir", default=None, help="weights to use (default: the shipped ones)")
    args = parser.parse_args(argv)

    pool = data.mnist_pool("test", args.data_dir)
    loaded = inference.load_models(args.weights_dir)
    reader = inference._reader(loaded["autoencoder"])
    print(f"{'digits turned':>13} {'row':>5} {'digits':>7} {'wrong as drawn':>15} {'wrong turned upright':>21} "
          f"{'rows turned':>12}")
    for angle in ANGLES:
        tilted = turned(pool, angle)
        for count in (3, 1):
            # Seeds apart from those the constants in preprocess were chosen on (11, 12, 1..49).
            items = list(rows(tilted, args.rows, -2, seed=100 + int(angle) + count, count=count))
            wrong, rows_turned = misread(items, reader, loaded["triplet"])
            total = count * len(items)
            print(f"{angle:12.0f}° {count:5d} {total:7d} {wrong[False]:6d} ({wrong[False] / total:5.1%})"
                  f" {wrong[True]:12d} ({wrong[True] / total:5.1%}) {rows_turned:12d}")


if __name__ == "__main__":
    main()
