"""Train the sequence model (seed 003) on 28×84 strips of one to three digits.

    python -m train.sequence                 # default recipe, writes weights/sequence.pt
    python -m train.sequence --limit 256 --epochs 1 --out /tmp/s.pt   # smoke test
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from mnist_demo import data
from mnist_demo.compose import BLANK
from mnist_demo.models import build, shifted_logits
from mnist_demo.models.sequence import CLASSES
from train import loop

VAL_SEED, TEST_SEED = 1001, 2001
TEST_SIZE = 10_000
LABEL_SMOOTHING = 0.1


def get_args_parser():
    p = loop.get_args_parser("sequence", epochs=16, batch_size=64, lr=5e-3)
    p.add_argument("--elastic", type=float, default=0.0, help="elastic warp of augmented digits, px (0: none)")
    return p


def datasets(args):
    train = data.SequenceStrips(data.mnist_pool("train", args.data_dir), 27_000, seed=args.seed, augment=True,
                               elastic=args.elastic)
    val = data.SequenceStrips(data.mnist_pool("val", args.data_dir), 3_000, seed=VAL_SEED, layout="random")
    return loop.limited(train, args.limit), loop.limited(val, args.limit)


def test_set(root=None, limit=0, layout="canonical"):
    """Deterministic test strips built only from MNIST test digits.

    ``canonical``: digits side by side, as seed 003 tested and as the app composes;
    ``random``: random gaps and offsets, a harder check of the same model.
    """
    pool = data.mnist_pool("test", root)
    return loop.limited(data.SequenceStrips(pool, TEST_SIZE, seed=TEST_SEED, layout=layout), limit)


def logits_and_labels(model, batch, device):
    strips, labels = (t.to(device) for t in batch)
    return model(strips), labels


def step(model, batch, device):
    logits, labels = logits_and_labels(model, batch, device)
    loss = F.cross_entropy(logits.reshape(-1, CLASSES), labels.reshape(-1), label_smoothing=LABEL_SMOOTHING) * labels.shape[1]  # summed over heads
    return loss, (logits.argmax(-1) == labels).all(1).sum(), len(labels)


@torch.inference_mode()
def evaluate(model, root=None, device="cpu", limit=0) -> dict:
    """Exact-match, per-slot and per-digit (non-blank slot) accuracy on the test strips.

    Strips are read as ``predict`` reads them (logits averaged over five one-pixel shifts,
    :func:`mnist_demo.models.shift_averaged`); the ``*_single_pass`` keys read them once.
    ``digit_errors_by_slot``: misread digits in each of the three slots (left to right).
    """
    model.eval().to(device)
    metrics = {}
    for layout, layout_suffix in (("canonical", ""), ("random", "_random_layout")):
        counts = {suffix: [0, 0, 0] for suffix in ("", "_single_pass")}  # exact, slots, digits right
        digits = total = 0
        slot_errors = torch.zeros(3, dtype=torch.long)  # misread digits per slot, as predict reads
        for strips, labels in DataLoader(test_set(root, limit, layout), batch_size=500):
            strips, real = strips.to(device), labels != BLANK
            per_shift = shifted_logits(model, strips)  # index 0: the unshifted, single-pass reading
            for suffix, logits in (("", per_shift.mean(0)), ("_single_pass", per_shift[0])):
                right = logits.argmax(-1).cpu() == labels
                for k, hits in enumerate((right.all(1), right, right & real)):
                    counts[suffix][k] += int(hits.sum())
                if not suffix:
                    slot_errors += (~right & real).sum(0)
            digits += int(real.sum())
            total += len(labels)
        for reader_suffix, (exact, slots, digits_right) in counts.items():
            suffix = layout_suffix + reader_suffix
            metrics.update({f"exact{suffix}": exact / total, f"slot_acc{suffix}": slots / (3 * total),
                            f"digit_acc{suffix}": digits_right / digits})
        metrics[f"digit_errors_by_slot{layout_suffix}"] = slot_errors.tolist()
    return metrics | {"test_size": total}


def main(argv=None):
    args = get_args_parser().parse_args(argv)
    ctx = loop.setup(args)
    model = build("sequence").to(ctx.device)
    train, val = datasets(args)
    history = loop.fit(model, train, val, step, args, ctx)
    if ctx.main:
        model.cfg.confidence_temperature = loop.fit_temperature(model, val, logits_and_labels, ctx)
        seconds = ctx.elapsed()
        loop.save_weights("sequence", model, evaluate(model, args.data_dir, ctx.device, args.limit), {"main": history}, args, seconds)
    loop.cleanup(ctx)


if __name__ == "__main__":
    main()
