"""MNIST loading, the fixed train/validation split and the composite datasets.

MNIST comes from ``torchvision.datasets.MNIST`` under a data folder chosen by
``--data-dir`` or the ``MNIST_DATA_DIR`` environment variable (default ``data/``); where
the machine has internet torchvision downloads it there. Composite samples are generated
on the fly from a per-sample seeded generator, so the same (seed, epoch, index) always
gives the same image, and they are composed by :mod:`mnist_demo.compose`, the same code
the app uses for a drawing.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset
from torchvision.transforms import v2

from mnist_demo import compose

SPLIT_SEED = 20240917  # fixes the 90/10 train/validation split for every script
VAL_FRACTION = 0.10
CLEAN_FRACTION = 0.3  # of training digits left unaugmented
# The app always composes a drawing in the canonical layout, so most training strips use
# it; the rest have random gaps and offsets, for strips people stitch themselves.
CANONICAL_FRACTION = 2 / 3
FLAGGED_ONE_FRACTION = 0.5  # of augmented 1s drawn with a flag (and some a foot): see serif_one


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The MNIST root: the explicit ``override``, else ``$MNIST_DATA_DIR``, else ``data/``."""
    return Path(override or os.environ.get("MNIST_DATA_DIR") or "data")


@dataclass(frozen=True)
class DigitPool:
    """A set of MNIST digits: ``images`` (N, 28, 28) float in [0, 1] and ``labels`` (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: torch.Tensor) -> "DigitPool":
        return DigitPool(self.images[indices], self.labels[indices])


@functools.lru_cache(maxsize=4)
def _mnist(root: str, train: bool) -> DigitPool:
    from torchvision.datasets import MNIST

    try:
        dataset = MNIST(root, train=train, download=True)
    except Exception as error:  # torchvision raises RuntimeError or URLError here
        raise FileNotFoundError(
            f"MNIST not found under {root!r} and it could not be downloaded ({error}). "
            "Set MNIST_DATA_DIR or --data-dir to a folder holding MNIST/raw/."
        ) from error
    return DigitPool(dataset.data.float().div_(255), dataset.targets.clone())


def mnist_pool(split: str, root: str | os.PathLike | None = None) -> DigitPool:
    """MNIST digits of one split: ``train`` (90 %), ``val`` (10 %) of MNIST train, or ``test``."""
    root = str(data_dir(root))
    if split == "test":
        return _mnist(root, False)
    full = _mnist(root, True)
    order = torch.randperm(len(full), generator=torch.Generator().manual_seed(SPLIT_SEED))
    n_val = int(len(full) * VAL_FRACTION)
    if split == "val":
        return full.subset(order[:n_val])
    if split == "train":
        return full.subset(order[n_val:])
    raise ValueError(f"unknown split {split!r}: use train, val or test")


def augment_digit(image: torch.Tensor, generator: torch.Generator, label: int | None = None,
                  elastic: float = 0.0) -> torch.Tensor:
    """One random MNIST-style variation of a (28, 28) digit.

    Rotation ±10°, translation ±10 %, scale ±10 % (as seed 003), plus a random stroke
    thickness change, because people's pens are thinner and thicker than MNIST's. A
    fraction ``CLEAN_FRACTION`` of digits is left as it is, so models also fit MNIST itself.
    A fraction ``FLAGGED_ONE_FRACTION`` of the other "1"s (``label`` 1) get a flag, and some a
    foot: see :func:`serif_one`. ``elastic`` > 0 also bends the digit by a smooth random
    warp of up to that many pixels (:func:`elastic_warp`).
    """
    u = torch.rand(7, generator=generator)
    if u[5] < CLEAN_FRACTION:
        return image
    if label == 1 and u[6] < FLAGGED_ONE_FRACTION:
        image = serif_one(image, generator)
    out = v2.functional.affine(
        image.unsqueeze(0),
        angle=float(u[0] * 20 - 10),
        translate=[float(u[1] * 5.6 - 2.8), float(u[2] * 5.6 - 2.8)],
        scale=float(0.9 + u[3] * 0.2),
        shear=[0.0, 0.0],
        interpolation=v2.InterpolationMode.BILINEAR,
    )
    if elastic > 0:
        out = elastic_warp(out, generator, elastic)
    # Half-strength grey dilation/erosion ≈ ±1 px of stroke width.
    if u[4] < 0.2:
        out = 0.5 * (out + F.max_pool2d(out, 3, 1, 1))
    elif u[4] < 0.35:
        out = 0.5 * (out - F.max_pool2d(-out, 3, 1, 1))
    return out.squeeze(0).clamp_(0, 1)


_IDENTITY_GRID = F.affine_grid(torch.eye(2, 3).unsqueeze(0), [1, 1, 28, 28], align_corners=False)


def elastic_warp(image: torch.Tensor, generator: torch.Generator, amplitude: float) -> torch.Tensor:
    """Bend a (1, 28, 28) digit by a smooth random displacement of up to ``amplitude`` px.

    The displacement is random on a 4×4 grid of control points and bicubic in between, so
    strokes curve the way different hands curve them (Simard et al. 2003's elastic
    distortions, with control points instead of a Gaussian-smoothed noise field).
    """
    control = (torch.rand(1, 2, 4, 4, generator=generator) * 2 - 1) * (2 * amplitude / 28)
    field = F.interpolate(control, size=(28, 28), mode="bicubic", align_corners=True).permute(0, 2, 3, 1)
    warped = F.grid_sample(image.unsqueeze(0), _IDENTITY_GRID + field, mode="bilinear", align_corners=False)
    return warped.squeeze(0)


_ROWS, _COLS = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")


def _segment(y0: float, x0: float, y1: float, x1: float, width: float) -> torch.Tensor:
    """Anti-aliased ink of a straight stroke of ``width`` px on a 28×28 grid."""
    dy, dx = y1 - y0, x1 - x0
    t = (((_ROWS - y0) * dy + (_COLS - x0) * dx) / max(dy * dy + dx * dx, 1e-6)).clamp(0, 1)
    distance = torch.hypot(_ROWS - (y0 + t * dy), _COLS - (x0 + t * dx))
    return (width / 2 + 0.5 - distance).clamp(0, 1)


def serif_one(image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A "1" with a flag down-left from its top, and sometimes a foot, in its own stroke width.

    MNIST's 1s are nearly all bare strokes (its writers were American), while printed 1s
    and many people's have a flag; without these, models read such a 1 as a 7.
    """
    ink = image > 0.5
    rows = torch.nonzero(ink.any(1)).flatten()
    if len(rows) < 8:
        return image
    top, bottom = int(rows[0]), int(rows[-1])
    width = float(ink[(top + bottom) // 2].sum().clamp(1, 4))
    x_top = float(torch.nonzero(ink[top]).float().mean())
    x_bottom = float(torch.nonzero(ink[bottom]).float().mean())
    u = torch.rand(4, generator=generator)
    length = (0.25 + 0.2 * float(u[0])) * (bottom - top)
    angle = math.radians(25 + 35 * float(u[1]))  # below the horizontal, pointing left
    strokes = _segment(top, x_top, top + length * math.sin(angle), x_top - length * math.cos(angle), width)
    if u[2] < 0.4:
        half = (0.15 + 0.15 * float(u[3])) * (bottom - top)
        strokes = torch.maximum(strokes, _segment(bottom, x_bottom - half, bottom, x_bottom + half, width))
    return torch.maximum(image, strokes * image.max())


class CompositeDataset(Dataset):
    """Base for datasets whose samples are random digits from a pool.

    Sample ``index`` of ``epoch`` is drawn from its own generator, seeded from
    (seed, epoch, index): the dataset is deterministic and workers need no shared state.
    Call :meth:`set_epoch` to get fresh samples each training epoch.
    """

    def __init__(self, pool: DigitPool, length: int, seed: int = 0, augment: bool = False, elastic: float = 0.0):
        self.pool, self.length, self.seed, self.augment, self.elastic = pool, length, seed, augment, elastic
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def generator(self, index: int) -> torch.Generator:
        if not 0 <= index < self.length:
            raise IndexError(f"sample {index} of a dataset of {self.length}")
        return torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) * 10_000_019 + index)

    def digits(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` random digits from the pool (augmented in training) and their labels."""
        picks = torch.randint(0, len(self.pool), (n,), generator=generator)
        images = self.pool.images[picks]
        if self.augment:
            images = torch.stack([augment_digit(image, generator, int(label), self.elastic)
                                  for image, label in zip(images, self.pool.labels[picks])])
        return images, self.pool.labels[picks]


class SingleDigits(CompositeDataset):
    """Single 28×28 digits for the autoencoder: ``(image (1, 28, 28), label)``.

    Without augmentation sample i is digit i of the pool, so the test set is MNIST test itself.
    """

    def __init__(self, pool: DigitPool, seed: int = 0, augment: bool = False):
        super().__init__(pool, len(pool), seed, augment)

    def __getitem__(self, index: int):
        generator = self.generator(index)  # also checks the index
        image = self.pool.images[index]
        if self.augment:
            image = augment_digit(image, generator, int(self.pool.labels[index]))
        return compose.compose_digits(image)[0], self.pool.labels[index]


class DigitSequences(CompositeDataset):
    """Sequences of ``min_len..max_len`` digits for the triplet LSTM.

    Returns ``(digits (max_len, 1, 28, 28), labels (max_len,), length)``; padding
    positions are zero images with label −100 (ignored by cross-entropy). With
    min_len = max_len = 3 these are the triplets of seed 000.
    """

    def __init__(self, pool, length, seed=0, augment=False, min_len=1, max_len=compose.MAX_SEQUENCE):
        super().__init__(pool, length, seed, augment)
        self.min_len, self.max_len = min_len, max_len

    def __getitem__(self, index: int):
        g = self.generator(index)
        n = int(torch.randint(self.min_len, self.max_len + 1, (), generator=g))
        images, labels = self.digits(n, g)
        digits = torch.zeros(self.max_len, 1, compose.DIGIT, compose.DIGIT)
        digits[:n] = compose.compose_digits(images)
        padded = torch.full((self.max_len,), -100, dtype=torch.long)
        padded[:n] = labels
        return digits, padded, n


class SequenceStrips(CompositeDataset):
    """28×84 strips of 1..3 digits for the sequence model: ``(strip, labels (3,))``, blank = 10.

    ``layout``: ``"canonical"`` (digits side by side from the left, as seed 003 stitched
    them and as the app composes a drawing), ``"random"`` (random gaps and offsets), or
    ``"mixed"`` (``CANONICAL_FRACTION`` canonical, the rest random: training).
    """

    def __init__(self, pool, length, seed=0, augment=False, layout="mixed", elastic=0.0):
        super().__init__(pool, length, seed, augment, elastic)
        if layout not in ("canonical", "random", "mixed"):
            raise ValueError(f"unknown layout {layout!r}")
        self.layout = layout

    def __getitem__(self, index: int):
        g = self.generator(index)
        n = int(torch.randint(1, compose.STRIP_SLOTS + 1, (), generator=g))
        images, labels = self.digits(n, g)
        canonical = self.layout == "canonical" or (self.layout == "mixed" and torch.rand((), generator=g) < CANONICAL_FRACTION)
        layout = compose.canonical_sequence_layout(n) if canonical else compose.random_sequence_layout(n, g)
        strip = compose.compose_sequence(images, layout)
        padded = torch.full((compose.STRIP_SLOTS,), compose.BLANK, dtype=torch.long)
        padded[:n] = labels
        return strip, padded


class SumImages(CompositeDataset):
    """40×168 images of four cells for the sum model: ``(image, cell_labels (4,), total)``.

    Each cell is empty (label 10, counts as 0) with probability ``p_empty``, so the model
    learns to read 1..4 digits; the test set uses ``p_empty=0`` (four digits, as seed 001).
    """

    def __init__(self, pool, length, seed=0, augment=False, p_empty=0.15):
        super().__init__(pool, length, seed, augment)
        self.p_empty = p_empty

    def __getitem__(self, index: int):
        g = self.generator(index)
        images, labels = self.digits(compose.SUM_CELLS, g)
        empty = torch.rand(compose.SUM_CELLS, generator=g) < self.p_empty
        cells = [None if empty[i] else images[i] for i in range(compose.SUM_CELLS)]
        image = compose.compose_sum(cells, compose.random_sum_layout(g))
        cell_labels = torch.where(empty, compose.BLANK, labels)
        total = torch.where(empty, 0, labels).sum().float()
        return image, cell_labels, total
