"""The four models, a registry naming them once, and loading/saving of weights files.

A weights file is a plain dict of primitives and tensors, so ``torch.load(...,
weights_only=True)`` reads it:
``{"arch": name, "config": asdict(cfg), "model": state_dict, "metrics": {...}, "train": {...}}``.
The model is rebuilt from the config inside the file, normalisation constants included.
"""

from __future__ import annotations

import os
from dataclasses import asdict, fields
from pathlib import Path

import torch
import torch.nn.functional as F

from mnist_demo.models.autoencoder import AutoencoderConfig, AutoencoderNet
from mnist_demo.models.digit_sum import DigitSumConfig, DigitSumNet
from mnist_demo.models.sequence import SequenceConfig, SequenceNet
from mnist_demo.models.triplet import TripletConfig, TripletNet

MODELS = {
    "triplet": (TripletConfig, TripletNet),
    "digit_sum": (DigitSumConfig, DigitSumNet),
    "sequence": (SequenceConfig, SequenceNet),
    "autoencoder": (AutoencoderConfig, AutoencoderNet),
}
WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"

# (dy, dx) pixel shifts whose logits shift_averaged() averages: the image itself and one
# pixel right, left, down and up.
SHIFTS = ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0))


class WeightsError(RuntimeError):
    """A weights file is missing, unreadable, or holds another model."""


def build(arch: str, config: dict | None = None) -> torch.nn.Module:
    """A fresh model of ``arch`` from a config dict (unknown keys are an error)."""
    config_cls, model_cls = MODELS[arch]
    config = dict(config or {})
    for field in fields(config_cls):  # tuples come back from a saved dict as lists
        if isinstance(config.get(field.name), list):
            config[field.name] = tuple(config[field.name])
    return model_cls(config_cls(**config))


def checkpoint_dict(arch: str, model: torch.nn.Module, metrics: dict | None = None, train: dict | None = None) -> dict:
    """The weights-file dict of ``model`` (only primitives and tensors).

    Floating-point tensors are stored as float16 — half the size (the sequence model's FC
    layer alone is 8 MB in float32, over the 5 MB a file may take) at no measurable cost:
    ``load`` copies them back into float32 parameters, and the metrics are measured on the
    stored file.
    """
    state = {k: (v.half() if v.is_floating_point() else v).detach().cpu().contiguous().clone()
             for k, v in model.state_dict().items()}
    return {"arch": arch, "config": asdict(model.cfg), "model": state,
            "metrics": metrics or {}, "train": train or {}}


def save_atomic(obj: dict, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load(path: str | os.PathLike, arch: str | None = None, map_location="cpu") -> tuple[torch.nn.Module, dict]:
    """Build the model stored in a weights file; returns (model in eval mode, the file's dict).

    Raises :class:`WeightsError` naming the file when it is missing, truncated or corrupt,
    or holds another model than ``arch``.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file {path} is missing — train it with `python -m train.{arch or 'all'}`")
    try:
        saved = torch.load(path, map_location=map_location, weights_only=True)
        if arch is not None and saved.get("arch") != arch:
            raise WeightsError(f"weights file {path} holds model {saved.get('arch')!r}, not {arch!r}")
        model = build(saved["arch"], saved["config"])
        model.load_state_dict(saved["model"])
    except WeightsError:
        raise
    except Exception as error:
        raise WeightsError(f"weights file {path} is unreadable or corrupt ({type(error).__name__}: {error})") from error
    return model.eval(), saved


def shifted_logits(model: torch.nn.Module, images: torch.Tensor, *args) -> torch.Tensor:
    """``model``'s logits for ``images`` moved by each of :data:`SHIFTS`, stacked: (5, B, ...).

    Shifts pad with zeros over the last two dimensions, so ``images`` may be (B, 1, H, W) or
    (B, steps, 1, H, W); tensors in ``args`` (a triplet's lengths) are repeated to match.
    The five copies go through ``model`` as one batch. Index 0 is the unshifted reading.
    """
    shifted = torch.cat([F.pad(images, (dx, -dx, dy, -dy)) for dy, dx in SHIFTS])
    logits = model(shifted, *(a.repeat(len(SHIFTS), *[1] * (a.dim() - 1)) if torch.is_tensor(a) else a for a in args))
    return logits.reshape(len(SHIFTS), len(images), *logits.shape[1:])


def shift_averaged(model: torch.nn.Module, images: torch.Tensor, *args) -> torch.Tensor:
    """``model``'s logits averaged over ``images`` and their four one-pixel shifts.

    A test-time ensemble at no training cost: the triplet and sequence models read digits
    this way in ``predict`` and in ``train.evaluate`` (``python -m train.shift_study``
    measures it; docs/models.md, "Reading at five shifts").
    """
    return shifted_logits(model, images, *args).mean(0)
