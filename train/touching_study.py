"""How well rows of touching digits are read: cut by width alone, and cut by reading.

    python -m train.touching_study             # ~1 minute on a 2-core CPU
    python -m train.touching_study --rows 40   # a quick look

Builds rows of three MNIST test digits, each cropped to its ink and drawn 168 px tall (as
on the app's canvas), set 1 px (at 28 px scale) into each other, just touching, or 2 px
apart; rows of two digits touching (a mark alone, as a two-digit number drawn in one go);
and single digits. The touching sets keep only rows in which at least two digits' ink
really touches.
Each row is segmented by ``find_digits`` twice — without a reader (the width of the marks
alone decides the cuts) and with the shipped autoencoder as reader, as ``predict`` does —
and the triplet model's LSTM reads the crops. Prints, per set, the share of rows found with
the right count of digits and the share of digits read right (a row with the wrong count
scores no digit). Then, for 1,000 single digits and 1,000 pairs of touching digits each
cropped as one, what the reader weighs: the autoencoder classifier's calibrated top
probability and its reconstruction error. docs/models.md ("Touching digits") has the results.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from PIL import Image
from scipy import ndimage as ndi

from mnist_demo import data, inference
from mnist_demo.preprocess import find_digits, mnist_crop

SCALE = 6  # MNIST's 28 px rows drawn 168 px tall
# name: (digits in the row, overlap at 28 px scale, seed)
SETS = {"three, 1 px into each other": (3, 1, 0), "three, just touching": (3, 0, 1),
        "three, 2 px apart": (3, -2, 2), "two, 1 px into each other": (2, 1, 6),
        "two, just touching": (2, 0, 7), "one digit": (1, -2, 8)}


def mnist_row(pool: data.DigitPool, picks, overlap: int) -> Image.Image:
    """Digits of ``pool``, cropped to their ink, side by side ``overlap`` px (at 28 px) into
    each other (negative: apart), black on white."""
    parts = []
    for i in picks:
        digit = pool.images[i].numpy()
        cols = np.flatnonzero(digit.max(axis=0) > 0.16)
        parts.append(digit[:, cols[0]:cols[-1] + 1])
    height = 28 * SCALE
    canvas = np.zeros((height + 60, sum(p.shape[1] for p in parts) * SCALE + 120), np.float32)
    x = 60
    for part in parts:
        big = Image.fromarray((part * 255).astype(np.uint8)).resize((part.shape[1] * SCALE, height),
                                                                   Image.Resampling.BILINEAR)
        region = canvas[30:30 + height, x:x + big.width]
        np.maximum(region, np.asarray(big, np.float32) / 255, out=region)
        x += big.width - overlap * SCALE
    return Image.fromarray((255 - canvas[:, :x + 60] * 255).astype(np.uint8))


def blobs(image: Image.Image) -> int:
    """Connected blobs of ink (8-connected) in a black-on-white image."""
    return ndi.label(np.asarray(image.convert("L")) < 128, np.ones((3, 3)))[1]


def rows(pool: data.DigitPool, n: int, overlap: int, seed: int, count: int = 3):
    """``n`` (image, digits) rows of ``count`` digits; for ``overlap`` >= 0, only rows where ink touches."""
    rng = np.random.default_rng(seed)
    while n:
        picks = rng.choice(len(pool), count, replace=False)
        image = mnist_row(pool, picks, overlap)
        if overlap < 0 or blobs(image) < count:
            n -= 1
            yield image, [int(pool.labels[i]) for i in picks]


@torch.inference_mode()
def read(image, reader, triplet) -> list[int]:
    """The LSTM's labels for the digits ``find_digits`` finds with ``reader``."""
    digits = find_digits(image, reader)
    crops = torch.from_numpy(np.stack([d.crop for d in digits]).astype(np.float32))
    return inference._triplet(triplet, crops)[1]["labels"]


@torch.inference_mode()
def separation(pool: data.DigitPool, autoencoder, n: int) -> None:
    """What the reader sees: the classifier's top probability and the reconstruction error
    of single digits, and of two touching digits cropped as if they were one."""
    def crop(image):
        return mnist_crop(1 - np.asarray(image.convert("L"), np.float32) / 255)

    sets = {"one digit": [crop(image) for image, _ in rows(pool, n, -2, seed=3, count=1)],
            "two touching as one": [crop(image) for image, _ in rows(pool, n, 1, seed=4, count=2)]}
    print(f"\n{'crop':20} {'top probability p5':>19} {'p50':>6} {'MSE p5':>7} {'p50':>7} {'p95':>7} {'p99':>7}")
    for name, crops in sets.items():
        top, mse = (t.numpy() for t in inference.one_digit_evidence(autoencoder, np.stack(crops)))
        print(f"{name:20} {np.percentile(top, 5):19.2f} {np.median(top):6.2f}",
              *(f"{np.percentile(mse, q):7.4f}" for q in (5, 50, 95, 99)))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=150, help="rows per set")
    parser.add_argument("--separation", type=int, default=1000, help="crops per kind in the reader's table")
    parser.add_argument("--data-dir", default=None, help="MNIST root (default: $MNIST_DATA_DIR or data/)")
    parser.add_argument("--weights-dir", default=None, help="weights to use (default: the shipped ones)")
    args = parser.parse_args(argv)

    pool = data.mnist_pool("test", args.data_dir)
    loaded = inference.load_models(args.weights_dir)
    readers = {"width alone": None, "with reader": inference._reader(loaded["autoencoder"])}
    print(f"{'row':28} {'cut':12} {'count right':>12} {'digits right':>13}")
    for name, (count, overlap, seed) in SETS.items():
        items = list(rows(pool, args.rows, overlap, seed, count))
        for how, reader in readers.items():
            counted = right = 0
            for image, digits in items:
                labels = read(image, reader, loaded["triplet"])
                counted += len(labels) == len(digits)
                right += sum(a == b for a, b in zip(labels, digits)) if len(labels) == len(digits) else 0
            print(f"{name:28} {how:12} {counted / len(items):12.1%} {right / (count * len(items)):13.1%}")
    separation(pool, loaded["autoencoder"], args.separation)


if __name__ == "__main__":
    main()
