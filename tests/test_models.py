"""Every registered model: shapes, gradients, config round trip, and the sum distribution."""

import itertools

import pytest
import torch

from mnist_demo import models
from mnist_demo.models.digit_sum import digit_probabilities, sum_distribution

INPUTS = {
    "triplet": lambda: (torch.rand(2, 3, 1, 28, 28),),
    "digit_sum": lambda: (torch.rand(2, 1, 40, 168),),
    "sequence": lambda: (torch.rand(2, 1, 28, 84),),
    "autoencoder": lambda: (torch.rand(2, 1, 28, 28),),
}
SHAPES = {
    "triplet": [(2, 3, 10)],
    "digit_sum": [(2, 4, 11), (2,)],
    "sequence": [(2, 3, 11)],
    "autoencoder": [(2, 1, 28, 28), (2, 10), (2, 12)],
}


@pytest.mark.parametrize("arch", list(models.MODELS))
def test_forward_shapes_and_every_parameter_learns(arch):
    torch.manual_seed(0)
    model = models.build(arch).train()
    out = model(*INPUTS[arch]())
    outs = list(out) if isinstance(out, tuple) else [out]
    assert [tuple(o.shape) for o in outs] == SHAPES[arch]
    assert all(torch.isfinite(o).all() for o in outs)
    sum(o.float().pow(2).mean() for o in outs).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"parameters without gradient: {missing}"


@pytest.mark.parametrize("arch", list(models.MODELS))
def test_weights_file_round_trip(arch, tmp_path):
    model = models.build(arch).eval()
    with torch.no_grad():  # the file stores float16: round the reference the same way
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())
    path = tmp_path / f"{arch}.pt"
    models.save_atomic(models.checkpoint_dict(arch, model, {"acc": 0.5}), path)
    loaded, saved = models.load(path, arch=arch)
    assert saved["metrics"] == {"acc": 0.5} and saved["config"]["mean"] == model.cfg.mean
    x = INPUTS[arch]()
    with torch.no_grad():
        a, b = model(*x), loaded(*x)
    for u, v in zip(a if isinstance(a, tuple) else [a], b if isinstance(b, tuple) else [b]):
        assert torch.equal(u, v)
    assert not list(tmp_path.glob("*.tmp"))


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(models.WeightsError, match="missing"):
        models.load(tmp_path / "nope.pt", arch="triplet")
    path = tmp_path / "sequence.pt"
    models.save_atomic(models.checkpoint_dict("sequence", models.build("sequence")), path)
    with pytest.raises(models.WeightsError, match="holds model 'sequence'"):
        models.load(path, arch="triplet")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(models.WeightsError, match=str(truncated.name)):
        models.load(truncated)


def test_sum_distribution_matches_brute_force():
    torch.manual_seed(0)
    probs = torch.rand(3, 4, 10).softmax(-1)
    dist = sum_distribution(probs)
    assert dist.shape == (3, 37) and torch.allclose(dist.sum(-1), torch.ones(3))
    brute = torch.zeros(3, 37)
    for digits in itertools.product(range(10), repeat=4):
        p = probs[:, 0, digits[0]] * probs[:, 1, digits[1]] * probs[:, 2, digits[2]] * probs[:, 3, digits[3]]
        brute[:, sum(digits)] += p
    assert torch.allclose(dist, brute, atol=1e-6)


def test_empty_cell_counts_as_zero():
    logits = torch.full((1, 4, 11), -20.0)
    for cell, label in enumerate([7, 10, 3, 10]):  # 7, empty, 3, empty
        logits[0, cell, label] = 20.0
    assert int(sum_distribution(digit_probabilities(logits)).argmax()) == 10


def test_shift_averaged_reads_the_image_and_its_four_one_pixel_shifts():
    images = torch.zeros(2, 3, 1, 5, 5)  # a triplet-shaped batch: two sequences of three digits
    images[..., 2, 2] = 1
    images[1] *= 2
    lengths = torch.tensor([3, 2])
    seen = []

    def model(batch, batch_lengths):
        seen.append((batch.clone(), batch_lengths.clone()))
        return batch.flatten(2) * batch_lengths[:, None, None]  # logits that depend on position and length

    out = models.shift_averaged(model, images, lengths)
    batch, batch_lengths = seen[0]
    assert len(seen) == 1 and batch.shape == (10, 3, 1, 5, 5)  # one forward pass over all five copies
    assert batch_lengths.tolist() == [3, 2] * 5
    dots = [tuple(torch.nonzero(batch[2 * k, 0, 0]).squeeze(0).tolist()) for k in range(5)]
    assert dots == [(2, 2), (2, 3), (2, 1), (3, 2), (1, 2)]  # (row, col): itself, right, left, down, up
    expected = torch.stack([model(batch[2 * k:2 * k + 2], lengths) for k in range(5)]).mean(0)
    assert torch.allclose(out, expected)
    assert out.shape == (2, 3, 25)
    assert [round(float(row.sum()), 4) for row in out] == [3 * 3 * 1, 3 * 2 * 2]  # each sequence its own length and ink
