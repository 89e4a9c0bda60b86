"""Digit-sum model (seed 001): a CNN reads a 40×168 image of four cells, an MLP adds them up.

Encoder: the seed's blocks (conv3-ReLU-conv3-ReLU-maxpool-dropout 0.1, channels doubling;
BatchNorm added) → FC → 4 cells × 11 logits (digits 0–9 and "empty", which counts as 0).
Decoder: the seed's MLP 40→64→128→64→1 on the per-cell digit probabilities (empty folded
into 0), trained with MSE. :func:`sum_distribution` gives the exact P(sum = k), k = 0..36,
by convolving the four cell distributions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

CELLS, CLASSES = 4, 11  # class 10 = empty cell
MAX_SUM = 9 * CELLS


@dataclass
class DigitSumConfig:
    channels: tuple[int, ...] = (16, 32, 64, 128)
    fc: int = 256
    dropout: float = 0.1
    # softmax(logits / T) is the confidence shown; T is fitted on validation data after
    # training (train.loop.fit_temperature), because label smoothing caps raw confidence.
    confidence_temperature: float = 1.0
    # The decoder reads the cell probabilities sharpened by this temperature. Trained with
    # MSE, it learns the mean sum given its input; on a cell the encoder is unsure about
    # (say 60 % "7", 40 % "1") the mean lies between the two sums and rounds to neither,
    # while the sharpened cell commits to the likelier digit (docs/models.md). At 0.1 the
    # decoder still summed 0.22 % of test images wrong whose every cell was read right
    # (a 0.3 logit margin left a cell 88/12); at 0.01 it summed 0.01 % wrong.
    decoder_temperature: float = 0.01
    mean: float = 0.1307 * 112 / 168  # the 40×168 images are mostly empty: MNIST ink at 4/6 density
    std: float = 0.3081


def _block(c_in: int, c_out: int, dropout: float) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(dropout),
    ]


class SumEncoder(nn.Module):
    """(B, 1, 40, 168) → (B, 4, 11) cell logits."""

    def __init__(self, cfg: DigitSumConfig):
        super().__init__()
        layers, c_in = [], 1
        for c_out in cfg.channels:
            layers += _block(c_in, c_out, cfg.dropout)
            c_in = c_out
        self.features = nn.Sequential(*layers)
        h, w = 40 >> len(cfg.channels), 168 >> len(cfg.channels)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(c_in * h * w, cfg.fc), nn.ReLU(), nn.Dropout(cfg.dropout),
                                  nn.Linear(cfg.fc, CELLS * CLASSES))
        self.mean, self.std = cfg.mean, cfg.std

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.head(self.features((image - self.mean) / self.std)).reshape(-1, CELLS, CLASSES)


def digit_probabilities(cell_logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """(B, 4, 11) logits → (B, 4, 10) digit probabilities, an empty cell counted as a 0.

    ``temperature``: the model's ``confidence_temperature`` gives calibrated probabilities;
    ``decoder_temperature`` (≪ 1) the sharpened ones the decoder reads.
    """
    p = (cell_logits / temperature).softmax(-1)
    return torch.cat([p[..., :1] + p[..., 10:], p[..., 1:10]], dim=-1)


def sum_distribution(digit_probs: torch.Tensor) -> torch.Tensor:
    """(B, 4, 10) per-cell digit probabilities → (B, 37) exact P(sum = k), k = 0..36."""
    dist = digit_probs[:, 0]
    for cell in range(1, digit_probs.shape[1]):
        # conv1d computes cross-correlation, so flip the kernel to get a true convolution.
        kernel = digit_probs[:, cell].flip(-1).unsqueeze(1)
        dist = F.conv1d(F.pad(dist, (9, 9)).unsqueeze(0), kernel, groups=len(dist)).squeeze(0)
    return dist


class SumDecoder(nn.Module):
    """The seed's MLP: 40 per-cell digit probabilities → the sum (a scalar)."""

    def __init__(self):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(40, 64), nn.ReLU(), nn.Linear(64, 128), nn.ReLU(),
                                 nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 1))

    def forward(self, digit_probs: torch.Tensor) -> torch.Tensor:
        return self.mlp(digit_probs.reshape(-1, 40)).squeeze(-1)


class DigitSumNet(nn.Module):
    """Encoder + decoder; ``forward`` returns (cell logits (B, 4, 11), decoded sum (B,))."""

    def __init__(self, cfg: DigitSumConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = SumEncoder(cfg)
        self.decoder = SumDecoder()

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.encoder(image)
        return logits, self.decoder(digit_probabilities(logits, self.cfg.decoder_temperature))
