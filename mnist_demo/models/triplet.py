"""Triplet model (seed 000): a CNN encodes each digit, a 2-layer LSTM labels the sequence.

Input ``(batch, steps, 1, 28, 28)`` crops in [0, 1]; output ``(batch, steps, 10)`` logits.
Trained on sequences of 1..8 digits, so it labels any count, not only three. The LSTM is
unidirectional as in the seed, so zero padding after the last digit never changes the
labels before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class TripletConfig:
    channels: tuple[int, int] = (32, 64)
    embed_dim: int = 128
    hidden: int = 128
    layers: int = 2
    dropout: float = 0.1
    # softmax(logits / T) is the confidence shown; T is fitted on validation data after
    # training (train.loop.fit_temperature), because label smoothing caps raw confidence.
    confidence_temperature: float = 1.0
    mean: float = 0.1307  # MNIST pixel mean/std: normalisation travels with the weights
    std: float = 0.3081


class DigitEncoder(nn.Module):
    """Two conv blocks (conv 5×5, BN, ReLU, dropout, max-pool) and an FC embedding."""

    def __init__(self, cfg: TripletConfig):
        super().__init__()
        c1, c2 = cfg.channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 5, padding=2), nn.BatchNorm2d(c1), nn.ReLU(), nn.Dropout2d(cfg.dropout / 2), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5, padding=2), nn.BatchNorm2d(c2), nn.ReLU(), nn.Dropout2d(cfg.dropout / 2), nn.MaxPool2d(2),
        )
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(c2 * 7 * 7, cfg.embed_dim), nn.ReLU(), nn.Dropout(cfg.dropout))
        self.mean, self.std = cfg.mean, cfg.std

    def forward(self, digits: torch.Tensor) -> torch.Tensor:
        return self.embed(self.features((digits - self.mean) / self.std))


class TripletNet(nn.Module):
    """CNN encoder per digit → 2-layer LSTM over the embeddings → linear to 10 per step."""

    def __init__(self, cfg: TripletConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = DigitEncoder(cfg)
        self.lstm = nn.LSTM(cfg.embed_dim, cfg.hidden, num_layers=cfg.layers, batch_first=True,
                            dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.head = nn.Linear(cfg.hidden, 10)

    def forward(self, digits: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        batch, steps = digits.shape[:2]
        flat = digits.reshape(batch * steps, 1, 28, 28)
        if lengths is None:
            embeddings = self.encoder(flat)
        else:  # encode only real digits: padding would cost CNN time and BatchNorm statistics
            valid = (torch.arange(steps, device=digits.device) < lengths[:, None].to(digits.device)).reshape(-1)
            encoded = self.encoder(flat[valid])
            embeddings = encoded.new_zeros(batch * steps, self.cfg.embed_dim)  # encoded's dtype (bf16 under autocast)
            embeddings[valid] = encoded
        out, _ = self.lstm(embeddings.reshape(batch, steps, -1))
        return self.head(out)
