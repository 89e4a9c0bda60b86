"""Train the autoencoder and its classifier (seeds 002/004).

Full data (the shipped ``weights/autoencoder.pt``):
  1. the autoencoder learns to reconstruct digits (MSE);
  2. encoder, decoder and classifier are fine-tuned jointly (cross-entropy + MSE, so the
     decoder keeps reconstructing what the fine-tuned encoder encodes).
Seed 004's low-data experiment, on one fixed 6,000-image subset of MNIST train:
  1. the autoencoder on those 6,000 images;
  2. (a) the classifier alone on the frozen encoder → ``autoencoder_6k_frozen.pt``;
  3. (b) everything fine-tuned jointly → ``autoencoder_6k_finetuned.pt``.
All three are tested on the 10,000 MNIST test digits.

    python -m train.autoencoder              # default recipe
    python -m train.autoencoder --limit 256 --epochs 1 --out /tmp/a.pt   # smoke test
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from mnist_demo import data
from mnist_demo.models import build
from train import loop

SUBSET_SEED, SUBSET_SIZE = 4004, 6_000
RECON_WEIGHT = 20.0  # balances MSE (≈0.01) against cross-entropy (≈0.05) in joint fine-tuning


def get_args_parser():
    p = loop.get_args_parser("autoencoder", epochs=12, batch_size=128, lr=3e-3)
    p.add_argument("--subset-epochs", type=int, default=30, help="epochs of each stage on the 6k subset")
    return p


def subset_6k(pool: data.DigitPool) -> data.DigitPool:
    """The fixed 6,000-image subset of the training split used for seed 004's experiment."""
    order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(SUBSET_SEED))
    return pool.subset(order[:SUBSET_SIZE])


def test_set(root=None, limit=0):
    """The 10,000 MNIST test digits, unchanged."""
    return loop.limited(data.SingleDigits(data.mnist_pool("test", root)), limit)


def reconstruct_step(model, batch, device):
    images, _ = (t.to(device) for t in batch)
    recon, _, _ = model(images)  # through the (DDP) wrapper, so gradients are synchronised
    return F.mse_loss(recon, images), 0, len(images)


def frozen_step(model, batch, device):
    """Classifier loss only; ``fit`` gives the optimiser the classifier's parameters alone."""
    images, labels = (t.to(device) for t in batch)
    _, logits, _ = model(images)
    return F.cross_entropy(logits, labels), (logits.argmax(1) == labels).sum(), len(labels)


def class_logits_and_labels(model, batch, device):
    images, labels = (t.to(device) for t in batch)
    return model(images)[1], labels


def joint_step(model, batch, device):
    images, labels = (t.to(device) for t in batch)
    recon, logits, _ = model(images)
    loss = F.cross_entropy(logits, labels) + RECON_WEIGHT * F.mse_loss(recon, images)
    return loss, (logits.argmax(1) == labels).sum(), len(labels)


@torch.inference_mode()
def evaluate(model, root=None, device="cpu", limit=0) -> dict:
    """Reconstruction MSE (pixels in [0, 1]) and classifier accuracy on MNIST test."""
    model.eval().to(device)
    squared = correct = total = 0.0
    for images, labels in DataLoader(test_set(root, limit), batch_size=1000):
        recon, logits, _ = (t.cpu() for t in model(images.to(device)))
        squared += float(((recon - images) ** 2).mean(dim=(1, 2, 3)).sum())
        correct += int((logits.argmax(1) == labels).sum())
        total += len(labels)
    return {"mse": squared / total, "classifier_acc": correct / total, "test_size": int(total)}


def train_stages(pool, val, args, ctx, prefix, frozen_out=None):
    """Autoencoder, then (optionally) a frozen-encoder classifier, then joint fine-tuning."""
    model = build("autoencoder").to(ctx.device)
    train = loop.limited(data.SingleDigits(pool, seed=args.seed, augment=True), args.limit)
    histories = {"reconstruct": loop.fit(model, train, val, reconstruct_step, args, ctx, stage=f"{prefix}reconstruct")}
    if frozen_out:
        histories["frozen"] = loop.fit(model, train, val, frozen_step, args, ctx, stage=f"{prefix}frozen",
                                       params=model.classifier.parameters())
        if ctx.main:
            loop.save_weights("autoencoder", model, evaluate(model, args.data_dir, ctx.device, args.limit),
                              histories, _with_out(args, frozen_out))
    fine_args = copy.copy(args)
    fine_args.lr = args.lr / 3  # the encoder is already good: smaller steps keep it so
    histories["finetune"] = loop.fit(model, train, val, joint_step, fine_args, ctx, stage=f"{prefix}finetune")
    return model, histories


def _with_out(args, out):
    changed = copy.copy(args)
    changed.out = str(out)
    return changed


def main(argv=None):
    args = get_args_parser().parse_args(argv)
    ctx = loop.setup(args)
    train_pool = data.mnist_pool("train", args.data_dir)
    val = loop.limited(data.SingleDigits(data.mnist_pool("val", args.data_dir)), args.limit)

    model, histories = train_stages(train_pool, val, args, ctx, prefix="")
    if ctx.main:
        model.cfg.confidence_temperature = loop.fit_temperature(model, val, class_logits_and_labels, ctx)
        seconds = ctx.elapsed()
        loop.save_weights("autoencoder", model, evaluate(model, args.data_dir, ctx.device, args.limit), histories, args,
                          seconds)

    out = Path(args.out)
    small = copy.copy(args)
    small.epochs = args.subset_epochs
    started_6k = time.perf_counter()
    model_6k, histories_6k = train_stages(subset_6k(train_pool), val, small, ctx, prefix="6k_",
                                          frozen_out=out.with_name(out.stem + "_6k_frozen.pt"))
    if ctx.main:
        seconds = time.perf_counter() - started_6k
        loop.save_weights("autoencoder", model_6k, evaluate(model_6k, args.data_dir, ctx.device, args.limit),
                          histories_6k, _with_out(args, out.with_name(out.stem + "_6k_finetuned.pt")), seconds)
    loop.cleanup(ctx)


if __name__ == "__main__":
    main()
