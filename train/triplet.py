"""Train the triplet model (seed 000): CNN encoder + 2-layer LSTM, on sequences of 1..8 digits.

    python -m train.triplet                  # default recipe, writes weights/triplet.pt
    python -m train.triplet --limit 256 --epochs 1 --out /tmp/t.pt   # smoke test
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from mnist_demo import data
from mnist_demo.models import build, shifted_logits
from train import loop

VAL_SEED, TEST_SEED = 1002, 2002
TEST_SIZE = 10_000  # triplets, 30,000 test digits
LABEL_SMOOTHING = 0.1


def get_args_parser():
    return loop.get_args_parser("triplet", epochs=16, batch_size=64, lr=3e-3)


def datasets(args):
    # 12,000 sequences of 1..8 digits ≈ 54,000 digits an epoch, one pass over the train split.
    train = data.DigitSequences(data.mnist_pool("train", args.data_dir), 12_000, seed=args.seed, augment=True)
    val = data.DigitSequences(data.mnist_pool("val", args.data_dir), 2_000, seed=VAL_SEED, min_len=3, max_len=3)
    return loop.limited(train, args.limit), loop.limited(val, args.limit)


def test_set(root=None, limit=0):
    """Deterministic triplets of MNIST test digits, as in seed 000."""
    pool = data.mnist_pool("test", root)
    return loop.limited(data.DigitSequences(pool, TEST_SIZE, seed=TEST_SEED, min_len=3, max_len=3), limit)


def logits_and_labels(model, batch, device):
    digits, labels, lengths = batch
    steps = int(lengths.max())  # drop padding columns no sequence in this batch uses
    digits, labels = digits[:, :steps].to(device), labels[:, :steps].to(device)
    return model(digits, lengths), labels


def step(model, batch, device):
    logits, labels = logits_and_labels(model, batch, device)
    loss = F.cross_entropy(logits.reshape(-1, 10), labels.reshape(-1), ignore_index=-100, label_smoothing=LABEL_SMOOTHING)
    valid = labels != -100
    return loss, ((logits.argmax(-1) == labels) & valid).sum(), valid.sum()


@torch.inference_mode()
def evaluate(model, root=None, device="cpu", limit=0) -> dict:
    """Per-digit accuracy and whole-triplet exact match on the test triplets.

    ``digit_acc``/``exact`` read each digit as ``predict`` does (logits averaged over five
    one-pixel shifts, :func:`mnist_demo.models.shift_averaged`); ``*_single_pass`` read it once.
    """
    model.eval().to(device)
    counts = {"": [0, 0], "_single_pass": [0, 0]}
    total = 0
    for digits, labels, _ in DataLoader(test_set(root, limit), batch_size=500):
        digits = digits.to(device)
        per_shift = shifted_logits(model, digits)  # index 0: the unshifted, single-pass reading
        for suffix, logits in (("", per_shift.mean(0)), ("_single_pass", per_shift[0])):
            hits = logits.argmax(-1).cpu() == labels
            counts[suffix][0] += int(hits.sum())
            counts[suffix][1] += int(hits.all(1).sum())
        total += len(labels)
    metrics = {}
    for suffix, (correct, exact) in counts.items():
        metrics |= {f"digit_acc{suffix}": correct / (3 * total), f"exact{suffix}": exact / total}
    return metrics | {"test_size": total}


def main(argv=None):
    args = get_args_parser().parse_args(argv)
    ctx = loop.setup(args)
    model = build("triplet").to(ctx.device)
    train, val = datasets(args)
    history = loop.fit(model, train, val, step, args, ctx)
    if ctx.main:
        model.cfg.confidence_temperature = loop.fit_temperature(model, val, logits_and_labels, ctx)
        seconds = ctx.elapsed()
        loop.save_weights("triplet", model, evaluate(model, args.data_dir, ctx.device, args.limit), {"main": history}, args, seconds)
    loop.cleanup(ctx)


if __name__ == "__main__":
    main()
