"""Train the digit-sum model (seed 001): CNN encoder on 40×168 images, then the MLP decoder.

Stage 1 trains the encoder to classify each of the four cells (0–9 or empty). Stage 2
freezes it, records its sharpened per-cell digit probabilities on fresh training images it
reads right, and trains the seed's MLP decoder on them with MSE against the true sum.

    python -m train.digit_sum                # default recipe, writes weights/digit_sum.pt
    python -m train.digit_sum --limit 256 --epochs 1 --out /tmp/d.pt   # smoke test
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from mnist_demo import data
from mnist_demo.models import build
from mnist_demo.models.digit_sum import CLASSES, digit_probabilities, sum_distribution
from train import loop

VAL_SEED, TEST_SEED, DECODER_SEED = 1003, 2003, 3003
TEST_SIZE = 10_000
DECODER_SAMPLES, DECODER_EPOCHS = 20_000, 100  # the decoder trains in ~0.15 s an epoch
LABEL_SMOOTHING = 0.1


def get_args_parser():
    return loop.get_args_parser("digit_sum", epochs=15, batch_size=32, lr=5e-3)


def datasets(args):
    # 13,500 images × 4 cells ≈ 54,000 digits an epoch, one pass over the train split.
    train = data.SumImages(data.mnist_pool("train", args.data_dir), 13_500, seed=args.seed, augment=True)
    val = data.SumImages(data.mnist_pool("val", args.data_dir), 2_000, seed=VAL_SEED)
    return loop.limited(train, args.limit), loop.limited(val, args.limit)


def test_set(root=None, limit=0):
    """Deterministic four-digit images of MNIST test digits, as in seed 001."""
    pool = data.mnist_pool("test", root)
    return loop.limited(data.SumImages(pool, TEST_SIZE, seed=TEST_SEED, p_empty=0.0), limit)


def cell_logits_and_labels(encoder, batch, device):
    images, cells, _ = (t.to(device) for t in batch)
    return encoder(images), cells


def encoder_step(encoder, batch, device):
    logits, cells = cell_logits_and_labels(encoder, batch, device)
    loss = F.cross_entropy(logits.reshape(-1, CLASSES), cells.reshape(-1), label_smoothing=LABEL_SMOOTHING)
    return loss, (logits.argmax(-1) == cells).sum(), cells.numel()


def decoder_step(decoder, batch, device):
    probs, totals = (t.to(device) for t in batch)
    predicted = decoder(probs)
    return F.mse_loss(predicted, totals), (predicted.round() == totals).sum(), len(totals)


@torch.inference_mode()
def encoded(encoder, dataset, ctx: loop.Context, temperature: float, read_right_only=False,
            batch_size=500) -> TensorDataset:
    """The frozen encoder's (sharpened) per-cell digit probabilities and the true sums, for the decoder.

    ``read_right_only`` keeps only images whose every cell the encoder reads right (for
    training and for early stopping on validation; the test keeps every image). On the
    others (~1.5 %) the true sum contradicts every cell the decoder is shown; MSE weighs
    those errors of 1–9 heavily, and fitting them cost the decoder its precision on all
    the rest (measured: mean error on correctly read test images 0.06 with them, 0.008
    without).
    """
    encoder.eval()
    probs, totals, right = [], [], []
    for images, cells, total in DataLoader(dataset, batch_size=batch_size):
        with ctx.autocast():
            logits = encoder(images.to(ctx.device)).float().cpu()
        probs.append(digit_probabilities(logits, temperature))
        totals.append(total)
        right.append((logits.argmax(-1) == cells).all(1))
    probs, totals, right = torch.cat(probs), torch.cat(totals), torch.cat(right)
    if read_right_only and right.float().mean() >= 0.5:  # not for a barely trained encoder (--limit runs)
        probs, totals = probs[right], totals[right]
    return TensorDataset(probs, totals)


@torch.inference_mode()
def evaluate(model, root=None, device="cpu", limit=0) -> dict:
    """Sum exact match (decoder rounded, distribution argmax), MAE, per-cell accuracy and
    misread cells per position (``cell_errors``, left to right)."""
    model.eval().to(device)
    exact = exact_dist = cells_ok = total = 0
    abs_error = 0.0
    cell_errors = torch.zeros(4, dtype=torch.long)
    for images, cells, sums in DataLoader(test_set(root, limit), batch_size=500):
        logits, value = (t.cpu() for t in model(images.to(device)))
        dist = sum_distribution(digit_probabilities(logits, model.cfg.confidence_temperature))  # as the app shows it
        exact += int((value.round() == sums).sum())
        exact_dist += int((dist.argmax(-1) == sums).sum())
        abs_error += float((value - sums).abs().sum())
        cells_ok += int((logits.argmax(-1) == cells).sum())
        cell_errors += (logits.argmax(-1) != cells).sum(0)
        total += len(sums)
    return {"exact": exact / total, "exact_dist": exact_dist / total, "mae": abs_error / total,
            "cell_acc": cells_ok / (4 * total), "cell_errors": cell_errors.tolist(), "test_size": total}


def main(argv=None):
    args = get_args_parser().parse_args(argv)
    ctx = loop.setup(args)
    model = build("digit_sum").to(ctx.device)
    train, val = datasets(args)
    histories = {"encoder": loop.fit(model.encoder, train, val, encoder_step, args, ctx, stage="encoder")}

    # The decoder is tiny: every process trains it alone on the same data (no DDP needed).
    pool = data.mnist_pool("train", args.data_dir)
    fresh = data.SumImages(pool, args.limit or DECODER_SAMPLES, seed=DECODER_SEED, augment=True)
    temperature = model.cfg.decoder_temperature
    dec_train = encoded(model.encoder, fresh, ctx, temperature, read_right_only=True)
    dec_val = encoded(model.encoder, val, ctx, temperature, read_right_only=True)
    dec_args = copy.copy(args)
    dec_args.epochs, dec_args.lr, dec_args.batch_size, dec_args.workers = DECODER_EPOCHS, 3e-3, 128, 0
    dec_args.patience = DECODER_EPOCHS  # the best epoch is kept; a regression this small needs the whole schedule
    histories["decoder"] = loop.fit(model.decoder, dec_train, dec_val, decoder_step, dec_args,
                                    loop.Context(ctx.device, ctx.rank), stage="decoder")  # fp32: a regression to ±0.5
    if ctx.main:
        model.cfg.confidence_temperature = loop.fit_temperature(model.encoder, val, cell_logits_and_labels, ctx)
        seconds = ctx.elapsed()
        loop.save_weights("digit_sum", model, evaluate(model, args.data_dir, ctx.device, args.limit), histories, args,
                          seconds)
    loop.cleanup(ctx)


if __name__ == "__main__":
    main()
