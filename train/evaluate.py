"""Evaluate the shipped weights on the deterministic MNIST-test composites → weights/metrics.json.

    python -m train.evaluate                 # re-measures every number in metrics.json

Each model is rebuilt from its weights file alone and tested on composites made only of
MNIST test digits (the same seeds every time), so the file is reproducible.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from mnist_demo import models
from train import autoencoder, digit_sum, loop, sequence, triplet

# weights file stem → (script that defines its test set and metrics, metric renames,
# whether its training time counts: the 6k run writes the frozen file on its way to the
# fine-tuned one, whose time already includes it).
EVALUATIONS = {
    "triplet": (triplet, {}, True),
    "digit_sum": (digit_sum, {}, True),
    "sequence": (sequence, {}, True),
    "autoencoder": (autoencoder, {}, True),
    "autoencoder_6k_frozen": (autoencoder, {"classifier_acc": "frozen_acc_6k"}, False),
    "autoencoder_6k_finetuned": (autoencoder, {"classifier_acc": "finetuned_acc_6k"}, True),
}

# The targets for the shipped weights: "group.metric" → (comparison, bound).
TARGETS = {
    "sequence.exact": (">=", 0.995),
    "triplet.digit_acc": (">=", 0.995),
    "triplet.exact": (">=", 0.988),
    "digit_sum.exact": (">=", 0.985),
    "digit_sum.mae": ("<=", 0.05),
    "autoencoder.classifier_acc": (">=", 0.993),
    "autoencoder.frozen_acc_6k": (">=", 0.95),
    "autoencoder.finetuned_acc_6k": (">=", 0.975),
    "autoencoder.mse": ("<=", 0.015),
    "train_seconds_total": ("<=", 1800),
}


def meets(value: float, comparison: str, bound: float) -> bool:
    return value >= bound if comparison == ">=" else value <= bound


def targets(metrics: dict) -> dict:
    """Each target with the measured value and whether it is met."""
    out = {}
    for name, (comparison, bound) in TARGETS.items():
        value = metrics
        for key in name.split("."):
            value = value[key]
        out[name] = {"target": f"{comparison} {bound}", "value": value, "met": meets(value, comparison, bound)}
    return out


SEED_NUMBERS = {"sequence.exact": "99.25 %", "autoencoder.frozen_acc_6k": "87.34 %",
                "autoencoder.finetuned_acc_6k": "93.18 %"}


def markdown_table(metrics: dict) -> str:
    """The README's metrics table, written from metrics.json (tests check the README holds it)."""
    rows = ["| metric | shipped weights | target | seed's write-up |", "|---|---|---|---|"]
    for name, entry in metrics["targets"].items():
        value = entry["value"]
        shown = f"{value * 100:.2f} %" if entry["target"].startswith(">=") and value <= 1 else (
            f"{value / 60:.1f} min" if name == "train_seconds_total" else f"{value:.4f}")
        comparison, bound = TARGETS[name]
        bound_shown = f"{bound * 100:g} %" if comparison == ">=" and bound <= 1 else (
            f"{bound / 60:g} min" if name == "train_seconds_total" else f"{bound:g}")
        mark = "✅" if entry["met"] else "❌"
        rows.append(f"| `{name}` | {shown} {mark} | {comparison.replace('>=', '≥').replace('<=', '≤')} {bound_shown} "
                    f"| {SEED_NUMBERS.get(name, '—')} |")
    return "\n".join(rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights-dir", default="weights")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--limit", type=int, default=0, help="evaluate on only N test samples (quick run)")
    p.add_argument("--out", default=None, help="metrics file (default: <weights-dir>/metrics.json)")
    p.add_argument("--table", action="store_true", help="print the README's metrics table from the metrics file")
    args = p.parse_args(argv)
    if args.table:
        print(markdown_table(json.loads((Path(args.out) if args.out else Path(args.weights_dir) / "metrics.json").read_text())))
        return
    torch.set_grad_enabled(False)

    weights = Path(args.weights_dir)
    metrics = {"machine": loop.machine(), "test_limit": args.limit or None}
    for stem, (script, renames, counts_time) in EVALUATIONS.items():
        model, saved = models.load(weights / f"{stem}.pt")
        result = script.evaluate(model, args.data_dir, limit=args.limit)
        group = metrics.setdefault(stem.split("_6k")[0], {})
        if renames:  # the 6k experiments report one accuracy into the autoencoder group
            group.update({new: result[old] for old, new in renames.items()})
        else:
            group.update(result)
        if counts_time:
            group["train_seconds"] = round(group.get("train_seconds", 0.0) + saved["train"].get("seconds", 0.0), 1)
            group["train_machine"] = saved["train"].get("machine")
        group["parameters"] = group.get("parameters") or sum(p.numel() for p in model.parameters())
        print(f"{stem}: {result}", flush=True)
    metrics["train_seconds_total"] = round(sum(m["train_seconds"] for m in metrics.values() if isinstance(m, dict)), 1)
    metrics["targets"] = targets(metrics)
    out = Path(args.out) if args.out else weights / "metrics.json"
    out.write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"wrote {out}\n\n{markdown_table(metrics)}")


if __name__ == "__main__":
    main()
