"""Convolutional autoencoder (seeds 002/004) with an MLP classifier on its encoder.

Encoder (the seed's): conv 16 k5 → pool → conv 32 k3 p1 → pool → conv 64 k3 s2 p1 → FC to
a 12-value latent. Decoder (the seed's): FC → 64×3×3 → three transposed convs → sigmoid,
28×28 in [0, 1]. The classifier reads the encoder's 64×3×3 feature map (see docs/models.md
for why not the 12-value bottleneck alone) together with the latent.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class AutoencoderConfig:
    latent_dim: int = 12
    classifier_hidden: int = 128
    dropout: float = 0.3
    # softmax(logits / T) is the classifier's confidence shown; T is fitted on validation
    # data after training (train.loop.fit_temperature).
    confidence_temperature: float = 1.0
    mean: float = 0.1307
    std: float = 0.3081


class Encoder(nn.Module):
    def __init__(self, cfg: AutoencoderConfig):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2),            # 24 → 12
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 12 → 6
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),         # 6 → 3
            nn.Flatten(),
        )
        self.fc = nn.Linear(64 * 3 * 3, cfg.latent_dim)
        self.mean, self.std = cfg.mean, cfg.std

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (latent (B, 12), features (B, 576))."""
        features = self.features((image - self.mean) / self.std)
        return self.fc(features), features


class Decoder(nn.Module):
    def __init__(self, cfg: AutoencoderConfig):
        super().__init__()
        self.fc = nn.Linear(cfg.latent_dim, 64 * 3 * 3)
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),  # 3 → 6
            nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),  # 6 → 12
            nn.ConvTranspose2d(16, 1, 5, stride=2, output_padding=1), nn.Sigmoid(),           # 12 → 28
        )

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.fc(latent).reshape(-1, 64, 3, 3))


class Classifier(nn.Module):
    """MLP on the encoder's output: (features 576 + latent 12) → hidden → 10."""

    def __init__(self, cfg: AutoencoderConfig):
        super().__init__()
        self.mlp = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(64 * 3 * 3 + cfg.latent_dim, cfg.classifier_hidden),
                                 nn.ReLU(), nn.Dropout(cfg.dropout), nn.Linear(cfg.classifier_hidden, 10))

    def forward(self, latent: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([features, latent], dim=1))


class AutoencoderNet(nn.Module):
    """``forward`` returns (reconstruction (B, 1, 28, 28), class logits (B, 10), latent (B, 12))."""

    def __init__(self, cfg: AutoencoderConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder, self.decoder, self.classifier = Encoder(cfg), Decoder(cfg), Classifier(cfg)

    def forward(self, image: torch.Tensor):
        latent, features = self.encoder(image)
        return self.decoder(latent), self.classifier(latent, features), latent
