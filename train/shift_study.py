"""Which one-pixel shifts to average when reading: errors per subset of them, validation and test.

    python -m train.shift_study             # ~15 minutes on a 2-core CPU
    python -m train.shift_study --limit 500 # a quick look
    python -m train.shift_study --weights-dir runs/elastic --models sequence   # another weights file

For the shipped triplet, sequence and sum-encoder weights, reads 20,000 validation composites
(held-out MNIST train digits: choose on these) and the test composites of ``train.evaluate``
(for reference) at each shift of :data:`mnist_demo.models.SHIFTS`, then counts misread
items when the logits of these readings are averaged: the unshifted one only; with left and
right; with down and up; all five. Also prints the confidence temperature that
``train.loop.fit_temperature`` would fit on each script's validation set for the single and
the five-shift reading. docs/models.md ("Reading at five shifts") has the results.
"""

from __future__ import annotations

import argparse

import torch
from torch.utils.data import DataLoader

from mnist_demo import data, models
from train import digit_sum, loop, sequence, triplet

# Indices into models.SHIFTS: (0, 0), right, left, down, up.
SUBSETS = {"once": [0], "+ left and right": [0, 1, 2], "+ down and up": [0, 3, 4], "all five": [0, 1, 2, 3, 4]}
VAL_SIZE, VAL_SEED = 20_000, 555


def validation_set(name: str, root, limit: int):
    pool = data.mnist_pool("val", root)
    sets = {
        "triplet": lambda: data.DigitSequences(pool, VAL_SIZE, seed=VAL_SEED, min_len=3, max_len=3),
        "sequence": lambda: data.SequenceStrips(pool, VAL_SIZE, seed=VAL_SEED + 1, layout="canonical"),
        "digit_sum": lambda: data.SumImages(pool, VAL_SIZE, seed=VAL_SEED + 2, p_empty=0.0),
    }
    return loop.limited(sets[name](), limit)


@torch.inference_mode()
def misread(reader, dataset, whole_items: bool) -> dict:
    """For each subset of the shifts: misread items (``whole_items``: a triplet or strip with
    any slot wrong) or misread positions (the sum's cells)."""
    errors = dict.fromkeys(SUBSETS, 0)
    for batch in DataLoader(dataset, batch_size=500):
        per_shift = models.shifted_logits(reader, batch[0])
        for subset, picks in SUBSETS.items():
            wrong = per_shift[picks].mean(0).argmax(-1) != batch[1]
            errors[subset] += int((wrong.any(1) if whole_items else wrong).sum())
    return errors


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights-dir", default="weights")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--limit", type=int, default=0, help="only the first N composites of each set")
    p.add_argument("--models", nargs="+", choices=["triplet", "sequence", "digit_sum"],
                   default=["triplet", "sequence", "digit_sum"], help="which models to read (default all three)")
    args = p.parse_args(argv)
    ctx = loop.Context(torch.device("cpu"))
    for name, script in (("triplet", triplet), ("sequence", sequence), ("digit_sum", digit_sum)):
        if name not in args.models:
            continue
        model, _ = models.load(f"{args.weights_dir}/{name}.pt", name)
        reader = model.encoder if name == "digit_sum" else model
        for split, dataset in (("validation", validation_set(name, args.data_dir, args.limit)),
                               ("test", script.test_set(args.data_dir, args.limit))):
            unit = {"triplet": "triplets", "sequence": "strips", "digit_sum": "cells"}[name]
            print(f"{name} {split}: misread {unit}", misread(reader, dataset, whole_items=unit != "cells"), flush=True)
        if name != "digit_sum":  # the two models that read at five shifts
            defaults = script.get_args_parser().parse_args(["--limit", str(args.limit)])  # the script's own flags
            val = script.datasets(argparse.Namespace(**vars(defaults) | {"data_dir": args.data_dir}))[1]
            averaged = lambda m, b, d: script.logits_and_labels(lambda *x: models.shift_averaged(m, *x), b, d)  # noqa: E731
            print(f"{name} temperature: single pass {loop.fit_temperature(model, val, script.logits_and_labels, ctx)}, "
                  f"five shifts {loop.fit_temperature(model, val, averaged, ctx)}", flush=True)


if __name__ == "__main__":
    main()
