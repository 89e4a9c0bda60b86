"""Training-step speed of each model, and what the default recipes cost on this machine.

    python benchmarks/train_speed.py [--steps 20]

Times forward + backward + AdamW step on batches from the real training datasets (data
generation in one worker process, as in training; bf16 autocast and channels-last where
training uses them, ``--precision fp32`` to compare) and prints samples/s and the
estimated time of each model's main stage (epochs × samples per epoch). The measured
wall-clock time of every default recipe is in each weights file and weights/metrics.json.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing
from torch.utils.data import DataLoader

from train import autoencoder, digit_sum, loop, sequence, triplet


def measure(model, dataset, step, batch_size, steps, ctx: loop.Context, workers=1) -> float:
    """Samples per second of the training step (data loading included)."""
    model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True)
    model.train()
    batches = itertools.islice(loader, steps + 2)
    for i, batch in enumerate(batches):
        if i == 2:  # two warm-up steps
            start = time.perf_counter()
        with ctx.autocast():
            loss, _, _ = step(model, batch, ctx.device)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return steps * batch_size / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto", help="as the training scripts'")
    args = p.parse_args()
    from mnist_demo.models import build

    ctx = loop.Context(torch.device("cpu"), bf16=loop.use_bf16(args.precision, torch.device("cpu")))
    print(f"machine: {loop.machine()}, torch threads {torch.get_num_threads()}, bf16 {ctx.bf16}")
    rows = []
    for name, script, stage_model, dataset_of, step in (
        ("sequence", sequence, lambda m: m, lambda a: sequence.datasets(a)[0], sequence.step),
        ("triplet", triplet, lambda m: m, lambda a: triplet.datasets(a)[0], triplet.step),
        ("digit_sum", digit_sum, lambda m: m.encoder, lambda a: digit_sum.datasets(a)[0], digit_sum.encoder_step),
        ("autoencoder", autoencoder, lambda m: m, None, autoencoder.joint_step),
    ):
        defaults = script.get_args_parser().parse_args([])
        if dataset_of is None:
            from mnist_demo import data

            dataset = data.SingleDigits(data.mnist_pool("train"), augment=True)
        else:
            dataset = dataset_of(defaults)
        model = stage_model(build(name))
        rate = measure(model, dataset, step, defaults.batch_size, args.steps, ctx)
        estimate = defaults.epochs * len(dataset) / rate
        rows.append((name, rate, estimate))
        print(f"{name:12s} {rate:8.0f} samples/s  main stage: {defaults.epochs} epochs × {len(dataset)} ≈ {estimate / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
