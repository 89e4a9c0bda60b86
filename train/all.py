"""Train all four models with their default recipes, then write weights/metrics.json.

    python -m train.all                       # about 20–30 minutes on a 2-core CPU
    python -m train.all --limit 256 --epochs 1   # smoke test of every script

Flags given here (data dir, device, seed, workers, resume, limit, epochs) are passed to
every script; each script keeps its own defaults for the rest.
"""

from __future__ import annotations

import argparse
import time

from train import autoencoder, digit_sum, evaluate, sequence, triplet

SCRIPTS = {"triplet": triplet, "digit_sum": digit_sum, "sequence": sequence, "autoencoder": autoencoder}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None, help="override every script's epochs")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--weights-dir", default="weights")
    p.add_argument("--runs-dir", default="runs", help="checkpoints and curves of each run")
    p.add_argument("--models", nargs="+", choices=list(SCRIPTS), default=list(SCRIPTS))
    args = p.parse_args(argv)

    start = time.perf_counter()
    for name in args.models:
        forwarded = ["--device", args.device, "--out", f"{args.weights_dir}/{name}.pt", "--run-dir", f"{args.runs_dir}/{name}"]
        for flag in ("data_dir", "seed", "workers", "epochs"):
            if getattr(args, flag) is not None:
                forwarded += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
        if args.limit:
            forwarded += ["--limit", str(args.limit)]
            if name == "autoencoder":
                forwarded += ["--subset-epochs", str(args.epochs or 1)]
        if args.resume:
            forwarded.append("--resume")
        print(f"=== {name}: python -m train.{name} {' '.join(forwarded)}", flush=True)
        SCRIPTS[name].main(forwarded)
    print(f"all models trained in {time.perf_counter() - start:.0f}s")
    evaluate.main(["--weights-dir", args.weights_dir] + (["--data-dir", args.data_dir] if args.data_dir else [])
                  + (["--limit", str(args.limit)] if args.limit else []))


if __name__ == "__main__":
    main()
