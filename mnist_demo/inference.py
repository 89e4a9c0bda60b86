"""Load the shipped weights once and answer with every model for one input.

:func:`predict` is the public contract (a JSON-serialisable dict); :func:`analyse` gives
the app the same result plus what it draws: the crops, reconstructions and latents.
A model whose weights are missing or broken answers ``{"error": ...}`` in its slot
while the others still answer.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mnist_demo import compose, models
from mnist_demo.models.digit_sum import digit_probabilities, sum_distribution
from mnist_demo.preprocess import Digit, find_digits

WEIGHT_FILES = {"triplet": "triplet.pt", "digit_sum": "digit_sum.pt", "sequence": "sequence.pt",
                "autoencoder": "autoencoder.pt"}
_loaded: dict[str, dict] = {}
_lock = threading.Lock()


def weights_dir() -> Path:
    """``$MNIST_STUDIO_WEIGHTS`` or the repository's ``weights/``."""
    return Path(os.environ.get("MNIST_STUDIO_WEIGHTS") or models.WEIGHTS_DIR)


def load_models(directory: str | os.PathLike | None = None) -> dict:
    """Every model of ``directory`` (default :func:`weights_dir`), loaded once per directory.

    Returns ``{name: model or WeightsError}``: a broken file names itself, it does not raise.
    """
    key = str(Path(directory) if directory else weights_dir())
    with _lock:
        if key not in _loaded:
            loaded = {}
            for name, filename in WEIGHT_FILES.items():
                try:
                    loaded[name] = models.load(Path(key) / filename, arch=name)[0]
                except models.WeightsError as error:
                    loaded[name] = error
            _loaded[key] = loaded
        return _loaded[key]


@dataclass
class Analysis:
    """Everything the app shows for one input."""

    digits: list[Digit]
    result: dict  # exactly what predict() returns
    reconstructions: np.ndarray | None = None  # (n, 28, 28) autoencoder outputs
    latents: np.ndarray | None = None  # (n, 12)


def _floats(values) -> list[float]:
    return [round(float(v), 4) for v in values]


def _confidences(model, logits: torch.Tensor) -> torch.Tensor:
    """Class probabilities at the model's calibration temperature (fitted when it was trained)."""
    return (logits / model.cfg.confidence_temperature).softmax(-1)


def _triplet(model, crops: torch.Tensor) -> tuple[dict, dict]:
    n = len(crops)
    if n > compose.MAX_SEQUENCE:
        error = {"error": f"the LSTM reads up to {compose.MAX_SEQUENCE} digits — found {n}"}
        return {"error": f"Triplet reads exactly 3 digits — found {n}"}, error
    probs = _confidences(model, models.shift_averaged(model, compose.compose_digits(crops).unsqueeze(0))[0])
    conf, labels = probs.max(-1)
    lstm = {"labels": labels.tolist(), "confidence": _floats(conf)}
    triplet = dict(lstm) if n == 3 else {"error": f"Triplet reads exactly 3 digits — found {n}"}
    return triplet, lstm


def _sum(model, crops: torch.Tensor) -> dict:
    n = len(crops)
    if not 1 <= n <= compose.SUM_CELLS:
        return {"error": f"Sum reads 1 to {compose.SUM_CELLS} digits — found {n}"}
    image = compose.compose_sum(compose.sum_cells(crops)).unsqueeze(0)
    logits, value = model(image)
    probs = digit_probabilities(logits, model.cfg.confidence_temperature)
    dist = sum_distribution(probs)[0]
    return {"digits": probs[0, :n].argmax(-1).tolist(), "value": round(float(value[0]), 3),
            "exact": int(dist.argmax()), "distribution": _floats(dist)}


def _sequence(model, crops: torch.Tensor) -> dict:
    n = len(crops)
    if not 1 <= n <= compose.STRIP_SLOTS:
        return {"error": f"Sequence reads 1 to {compose.STRIP_SLOTS} digits — found {n}"}
    probs = _confidences(model, models.shift_averaged(model, compose.compose_sequence(crops).unsqueeze(0))[0])
    conf, labels = probs.max(-1)
    slots = ["blank" if int(k) == compose.BLANK else str(int(k)) for k in labels]
    return {"text": "".join(s for s in slots if s != "blank"), "slots": slots, "confidence": _floats(conf)}


def _autoencoder(model, crops: torch.Tensor):
    images = compose.compose_digits(crops)
    recon, logits, latent = model(images)
    probs = _confidences(model, logits)
    conf, labels = probs.max(-1)
    mse = ((recon - images) ** 2).mean(dim=(1, 2, 3))
    slot = {"labels": labels.tolist(), "confidence": _floats(conf), "mse": _floats(mse)}
    return slot, recon[:, 0].numpy(), latent.numpy()


# How much a crop's autoencoder reconstruction error counts against reading it as one
# digit (python -m train.touching_study): single MNIST test digits reconstruct with MSE
# under 0.032 (99th percentile), two touching digits cropped as one at a median of 0.041
# (5th percentile 0.024), where the classifier's top probability alone overlaps more.
# 50 weighs an error of 0.02 like a top probability of 0.37.
_RECONSTRUCTION_WEIGHT = 50.0


def one_digit_evidence(model, crops: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """The autoencoder's evidence that each crop (n, 28, 28) is one digit: its classifier's
    calibrated top probability and its reconstruction error (MSE), each (n,)."""
    images = compose.compose_digits(torch.from_numpy(crops.astype(np.float32)))
    recon, logits, _ = model(images)
    return _confidences(model, logits).max(-1).values, ((recon - images) ** 2).mean(dim=(1, 2, 3))


def _reader(model):
    """find_digits' reader: how well each crop reads as one digit, by the autoencoder.

    The score is the log of the classifier's calibrated top probability less
    ``_RECONSTRUCTION_WEIGHT`` times the reconstruction error, so a crop that holds two
    digits, or half of one, scores low. None when the autoencoder failed to load.
    """
    if isinstance(model, Exception):
        return None

    @torch.inference_mode()
    def read(crops: np.ndarray) -> np.ndarray:
        top, mse = one_digit_evidence(model, crops)
        return (top.clamp_min(1e-9).log() - _RECONSTRUCTION_WEIGHT * mse).numpy()

    return read


@torch.inference_mode()
def analyse(image, weights: str | os.PathLike | None = None) -> Analysis:
    """Find the digits in ``image`` and run every model on them (see :func:`predict`)."""
    loaded = load_models(weights)
    digits = find_digits(image, _reader(loaded["autoencoder"]))  # raises ValueError with a person-readable message
    crops = torch.from_numpy(np.stack([d.crop for d in digits]).astype(np.float32))
    result = {"digits": [{"box": [int(v) for v in d.box]} for d in digits]}
    analysis = Analysis(digits, result)

    def unavailable(name):
        return {"error": f"model unavailable: {loaded[name]}"}

    if isinstance(loaded["triplet"], Exception):
        result["triplet"] = result["lstm"] = unavailable("triplet")
    else:
        result["triplet"], result["lstm"] = _triplet(loaded["triplet"], crops)
    result["sum"] = unavailable("digit_sum") if isinstance(loaded["digit_sum"], Exception) else _sum(loaded["digit_sum"], crops)
    result["sequence"] = unavailable("sequence") if isinstance(loaded["sequence"], Exception) else _sequence(loaded["sequence"], crops)
    if isinstance(loaded["autoencoder"], Exception):
        result["autoencoder"] = unavailable("autoencoder")
    else:
        result["autoencoder"], analysis.reconstructions, analysis.latents = _autoencoder(loaded["autoencoder"], crops)
    return analysis


def predict(image, weights: str | os.PathLike | None = None) -> dict:
    """Every model's answer for ``image`` as a JSON-serialisable dict.

    ``image``: a file path, bytes, PIL image, numpy array or Gradio Sketchpad dict.
    Returns ``{"digits": [{"box": [x0, y0, x1, y1]}, ...], "triplet": {"labels", "confidence"},
    "lstm": {"labels", "confidence"} (any count of digits), "sum": {"digits", "value", "exact",
    "distribution"}, "sequence": {"text", "slots", "confidence"}, "autoencoder": {"labels",
    "confidence", "mse"}}``; a model that cannot answer this input has ``{"error": reason}``.
    Raises ``ValueError`` for input that holds no readable digits.
    """
    return analyse(image, weights).result


@torch.inference_mode()
def decode_latent(latent, weights: str | os.PathLike | None = None) -> np.ndarray:
    """The autoencoder's 28×28 image for a 12-value latent vector (the app's latent explorer)."""
    model = load_models(weights)["autoencoder"]
    if isinstance(model, Exception):
        raise model
    return model.decoder(torch.as_tensor(np.asarray(latent), dtype=torch.float32).reshape(1, -1))[0, 0].numpy()
