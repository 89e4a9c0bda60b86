"""predict() on composites of MNIST test digits: every model gives the right digits."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_demo import compose, predict
from mnist_demo.inference import analyse, decode_latent, load_models

CASES = 25
EXAMPLES = sorted([*(Path(__file__).resolve().parent.parent / "examples").glob("*.png"),
                   *(Path(__file__).resolve().parent.parent / "examples").glob("*.jpg")])


def _strip(pool, picks) -> np.ndarray:
    """Digits side by side with a few pixels between them, as a person's upload would be."""
    crops = [pool.images[i] for i in picks]
    canvas = torch.zeros(40, 40 * len(picks) + 12)
    for k, crop in enumerate(crops):
        compose.paste(canvas, crop, 6 + 40 * k, 6)
    return (canvas.numpy() * 255).astype(np.uint8)


def _picks(pool, n, seed):
    g = torch.Generator().manual_seed(seed)
    return [int(i) for i in torch.randint(0, len(pool), (n,), generator=g)]


@pytest.fixture(scope="module")
def loaded():
    models = load_models()
    broken = {k: str(v) for k, v in models.items() if isinstance(v, Exception)}
    assert not broken, f"shipped weights do not load: {broken}"
    return models


def test_three_digits_every_model_answers_right(mnist_test, loaded):
    right = {"triplet": 0, "lstm": 0, "sequence": 0, "sum": 0, "sum_value": 0, "autoencoder": 0}
    for case in range(CASES):
        picks = _picks(mnist_test, 3, case)
        truth = [int(mnist_test.labels[i]) for i in picks]
        result = predict(_strip(mnist_test, picks))
        assert len(result["digits"]) == 3
        right["triplet"] += result["triplet"]["labels"] == truth
        right["lstm"] += result["lstm"]["labels"] == truth
        right["sequence"] += result["sequence"]["text"] == "".join(map(str, truth))
        right["sum"] += result["sum"]["exact"] == sum(truth)
        right["sum_value"] += round(result["sum"]["value"]) == sum(truth)
        right["autoencoder"] += result["autoencoder"]["labels"] == truth
    # ~99 % per digit: at most two misses in 25 triplets for any model.
    assert all(count >= CASES - 2 for count in right.values()), right


@pytest.mark.parametrize("n", [1, 2, 4])
def test_other_counts(mnist_test, loaded, n):
    hits = 0
    for case in range(10):
        picks = _picks(mnist_test, n, 100 + case)
        truth = [int(mnist_test.labels[i]) for i in picks]
        result = predict(_strip(mnist_test, picks))
        assert [len(result["digits"]), len(result["lstm"]["labels"])] == [n, n]
        assert "error" in result["triplet"] and f"found {n}" in result["triplet"]["error"]
        hits += result["sum"]["exact"] == sum(truth) and result["autoencoder"]["labels"] == truth
        if n <= 3:
            hits += result["sequence"]["text"] == "".join(map(str, truth))
        else:
            assert "1 to 3 digits — found 4" in result["sequence"]["error"]
    assert hits >= (20 if n <= 3 else 10) - 2


def test_sum_image_in_the_models_own_layout(mnist_test, loaded):
    picks = _picks(mnist_test, 4, 7)
    image = compose.compose_sum([mnist_test.images[i] for i in picks])[0]
    result = predict((image.numpy() * 255).astype(np.uint8))
    assert result["sum"]["exact"] == sum(int(mnist_test.labels[i]) for i in picks)
    dist = result["sum"]["distribution"]
    assert len(dist) == 37 and abs(sum(dist) - 1) < 1e-3


def test_result_is_json_and_boxes_are_in_input_pixels(mnist_test, loaded):
    image = _strip(mnist_test, [0, 1, 2])
    result = predict(image)
    assert json.loads(json.dumps(result)) == result
    for k, digit in enumerate(result["digits"]):
        x0, y0, x1, y1 = digit["box"]
        assert 6 + 40 * k <= x0 < x1 <= 6 + 40 * k + 28 and 6 <= y0 < y1 <= 34


def test_too_many_digits_for_every_model_but_the_autoencoder(mnist_test, loaded):
    result = predict(_strip(mnist_test, list(range(9))))
    assert len(result["digits"]) == 9
    for slot in ("triplet", "lstm", "sum", "sequence"):
        assert "found 9" in result[slot]["error"]
    assert len(result["autoencoder"]["labels"]) == 9


def test_missing_weights_leave_the_other_models_answering(mnist_test, tmp_path):
    result = predict(_strip(mnist_test, [0, 1, 2]), weights=tmp_path)
    assert len(result["digits"]) == 3
    for slot in ("triplet", "sum", "sequence", "autoencoder"):
        assert "missing" in result[slot]["error"] and str(tmp_path) in result[slot]["error"]


def test_blank_input_is_a_clear_value_error():
    with pytest.raises(ValueError, match="no digits|empty"):
        predict(np.zeros((280, 840), np.uint8))


def test_reconstructions_and_latents_for_the_app(mnist_test, loaded):
    analysis = analyse(_strip(mnist_test, [3, 4]))
    assert analysis.reconstructions.shape == (2, 28, 28) and analysis.latents.shape == (2, 12)
    image = decode_latent(analysis.latents[0])
    assert image.shape == (28, 28) and np.allclose(image, analysis.reconstructions[0], atol=1e-5)


def test_sum_decoder_commits_to_the_likelier_digit(loaded):
    # Cells 2, 0, 5 certain; the last one 70 % "7", 30 % "1". The mean sum (what MSE
    # training learns from calibrated probabilities) is 12.2 and rounds to 12, neither
    # likely sum; the decoder reads sharpened probabilities, so it says 14 as the
    # distribution's argmax does.
    from mnist_demo.models.digit_sum import digit_probabilities, sum_distribution

    model = loaded["digit_sum"]
    logits = torch.full((1, 4, 11), -12.0)
    for cell, digit in enumerate([2, 0, 5]):
        logits[0, cell, digit] = 12.0
    logits[0, 3, 7], logits[0, 3, 1] = np.log(0.7), np.log(0.3)
    probs = digit_probabilities(logits)
    assert int(sum_distribution(probs).argmax()) == 14
    assert float((probs * torch.arange(10)).sum()) == pytest.approx(12.2, abs=0.01)
    with torch.inference_mode():
        value = float(model.decoder(digit_probabilities(logits, model.cfg.decoder_temperature))[0])
    assert round(value) == 14, value


def test_triplet_and_sequence_read_as_train_evaluate_measures(mnist_test, loaded):
    """predict shows the shift-averaged reading that train.evaluate scores (one source of truth)."""
    from mnist_demo import inference
    from mnist_demo.models import shift_averaged

    # Half-and-half blends of two digits: the models are unsure, so how they read shows.
    picks = _picks(mnist_test, 6, 7)
    crops = (mnist_test.images[picks[:3]] + mnist_test.images[picks[3:]]).clamp(0, 1).float()
    with torch.inference_mode():  # as analyse() runs them
        triplet, _ = inference._triplet(loaded["triplet"], crops)
        sequence = inference._sequence(loaded["sequence"], crops)
    for shown, name, model_input in ((triplet, "triplet", compose.compose_digits(crops)),
                                     (sequence, "sequence", compose.compose_sequence(crops))):
        model = loaded[name]
        with torch.inference_mode():
            logits = shift_averaged(model, model_input.unsqueeze(0))[0]
            single = model(model_input.unsqueeze(0))[0]
        expected = (logits / model.cfg.confidence_temperature).softmax(-1).max(-1).values
        once = (single / model.cfg.confidence_temperature).softmax(-1).max(-1).values
        assert shown["confidence"] == pytest.approx(expected.tolist(), abs=1e-4)
        assert (once - expected).abs().max() > 1e-3  # the test tells the two readings apart


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_is_read_as_its_name_says(path, loaded):
    """The app's Examples tab: the digits in each file's name, in reading order (a name's
    groups of digits are its rows), read by every model that reads that many digits."""
    want = [int(c) for c in "".join(re.findall(r"_(\d+)", path.stem))]
    result = predict(str(path))
    assert result["lstm"]["labels"] == want
    assert result["autoencoder"]["labels"] == want
    if len(want) == 3:
        assert result["triplet"]["labels"] == want
    if len(want) <= 3:
        assert result["sequence"]["text"] == "".join(map(str, want))
    if len(want) <= 4:
        assert result["sum"]["exact"] == sum(want)


def test_the_examples_are_there():
    assert len(EXAMPLES) >= 6 and any("rows" in p.name for p in EXAMPLES)
