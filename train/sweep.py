"""Recipe sweep: many variants of the triplet, digit-sum and sequence recipes, side by side.

Each model's augmented training stream (the project's own datasets, seed 1, as the training
scripts draw it) is generated once, in parallel, and stored as uint8; then every variant
trains on that same stream in its own process (AdamW + OneCycle and bf16 autocast, as
train.loop) and is scored on 20,000 validation composites (MNIST train digits held out by
the split; choose on these) and on the test composites of train.evaluate (for reference),
with and without an exponential moving average of the weights (decay 0.999). One JSON line
per variant goes to OUT/results.jsonl. docs/models.md ("Recipe sweep") has the results.

Made for a GPU machine with many cores (rounds 1 and 2 took 6.5 and 3.5 minutes on one
H200 with 16 cores); on a 2-core CPU a round takes hours.

    python -m train.sweep --round 1 --out runs/sweep        # the 22 variants of round 1
    python -m train.sweep --round 2 --parallel 12           # round 2: weight decay and seeds
    python -m train.sweep --small --parallel 2              # tiny smoke run (CPU, ~2 min)
"""
import argparse
import json
import multiprocessing as mp
import os
import time

import torch

from mnist_demo import data
from mnist_demo.models import build

_p = argparse.ArgumentParser(description="Train recipe variants side by side on one shared data stream.")
_p.add_argument("--round", type=int, choices=[1, 2], default=1, help="which list of variants (default 1)")
_p.add_argument("--parallel", type=int, default=12, help="variants trained at once (default 12)")
_p.add_argument("--deadline", type=float, default=1e9, help="seconds after start after which no variant starts")
_p.add_argument("--small", action="store_true", help="tiny data and the first 4 variants: a smoke run")
_p.add_argument("--data-dir", default=None, help="MNIST root (default: $MNIST_DATA_DIR or data/)")
_p.add_argument("--out", default="runs/sweep", help="folder for results.jsonl (default runs/sweep)")
ARGS = _p.parse_args() if __name__ == "__main__" else _p.parse_args([])
if ARGS.data_dir:
    os.environ["MNIST_DATA_DIR"] = ARGS.data_dir
SMALL, OUT, DEADLINE, PARALLEL = ARGS.small, ARGS.out, ARGS.deadline, ARGS.parallel
T0 = time.time()

SPEC = {  # per model: composites an epoch and epochs generated; the training scripts' batch, lr and epochs
    "seq": dict(length=27_000, gen_epochs=24, batch=64, lr=5e-3, epochs=16),
    "trip": dict(length=12_000, gen_epochs=24, batch=64, lr=3e-3, epochs=16),
    "sum": dict(length=13_500, gen_epochs=20, batch=32, lr=5e-3, epochs=15),
}
if SMALL:
    for s in SPEC.values():
        s.update(length=200, gen_epochs=3, epochs=2)
VAL_N, TEST_N = (200, 200) if SMALL else (20_000, 10_000)

CONFIGS = [
    ("seq_base", "seq", {}),
    ("trip_base", "trip", {}),
    ("sum_base", "sum", {}),
    ("seq_seed2", "seq", {"seed": 2}),
    ("seq_ep24", "seq", {"epochs": 24}),
    ("seq_ls0", "seq", {"ls": 0.0}),
    ("seq_wide", "seq", {"cfg": {"channels": (48, 96, 96, 192)}}),
    ("seq_c3_128", "seq", {"cfg": {"channels": (32, 64, 128, 128)}}),
    ("trip_seed2", "trip", {"seed": 2}),
    ("trip_ep24", "trip", {"epochs": 24}),
    ("sum_seed2", "sum", {"seed": 2}),
    ("sum_ep20", "sum", {"epochs": 20}),
    ("seq_bs128", "seq", {"batch": 128, "lr": 1e-2}),
    ("seq_do05", "seq", {"cfg": {"dropout": 0.5}}),
    ("seq_wd05", "seq", {"wd": 5e-2}),
    ("seq_fc1024", "seq", {"cfg": {"fc": 1024}}),
    ("trip_wide", "trip", {"cfg": {"channels": (48, 96)}}),
    ("trip_ls0", "trip", {"ls": 0.0}),
    ("trip_lr5", "trip", {"lr": 5e-3}),
    ("sum_wide", "sum", {"cfg": {"channels": (24, 48, 96, 192)}}),
    ("sum_ls0", "sum", {"ls": 0.0}),
    ("seq_seed3", "seq", {"seed": 3}),
]
if ARGS.round == 2:
    for s in SPEC.values():
        s["gen_epochs"] = s["epochs"]
    CONFIGS = [
        ("seq_wd05_s2", "seq", {"wd": 5e-2, "seed": 2}),
        ("seq_wd05_s3", "seq", {"wd": 5e-2, "seed": 3}),
        ("seq_base_s3", "seq", {"seed": 3}),
        ("seq_wd1", "seq", {"wd": 0.1}),
        ("seq_wd05_do05", "seq", {"wd": 5e-2, "cfg": {"dropout": 0.5}}),
        ("trip_wd05", "trip", {"wd": 5e-2}),
        ("trip_wd05_s2", "trip", {"wd": 5e-2, "seed": 2}),
        ("trip_base_s3", "trip", {"seed": 3}),
        ("sum_wd05", "sum", {"wd": 5e-2}),
        ("sum_wd05_s2", "sum", {"wd": 5e-2, "seed": 2}),
        ("sum_base_s3", "sum", {"seed": 3}),
        ("trip_wd05_s3", "trip", {"wd": 5e-2, "seed": 3}),
    ]
if SMALL:
    CONFIGS = CONFIGS[:4]


def make(kind, split, length, seed, epoch=0, augment=False, eval_set=False):
    pool = data.mnist_pool(split)
    if kind == "seq":
        ds = data.SequenceStrips(pool, length, seed=seed, augment=augment, layout="canonical" if eval_set else "mixed")
    elif kind == "trip":
        ds = data.DigitSequences(pool, length, seed=seed, augment=augment, **({"min_len": 3, "max_len": 3} if eval_set else {}))
    else:
        ds = data.SumImages(pool, length, seed=seed, augment=augment, **({"p_empty": 0.0} if eval_set else {}))
    ds.set_epoch(epoch)
    return ds


def gen_chunk(job):
    kind, split, seed, epoch, start, stop, augment, eval_set = job
    torch.set_num_threads(1)
    ds = make(kind, split, stop, seed, epoch, augment, eval_set)
    items = [ds[i] for i in range(start, stop)]
    x = torch.stack([it[0] for it in items])
    x = (x * 255).round().to(torch.uint8) if augment else x.half()
    y = torch.stack([it[1] for it in items])
    n = torch.tensor([int(it[2]) for it in items]) if kind == "trip" else torch.zeros(len(items), dtype=torch.long)
    return x, y, n


def generate(pool, kind, split, seed, length, epochs, augment, eval_set=False):
    chunk = 500 if not SMALL else 100
    jobs = [(kind, split, seed, e, s, min(s + chunk, length), augment, eval_set)
            for e in range(epochs) for s in range(0, length, chunk)]
    parts = pool.map(gen_chunk, jobs, chunksize=1)
    x, y, n = (torch.cat([p[i] for p in parts]) for i in range(3))
    return x.view(epochs, length, *x.shape[1:]), y.view(epochs, length, *y.shape[1:]), n.view(epochs, length)


DATA = {}


def batch_of(kind, x, y, n, idx, dev):
    xb = x[idx].float() / 255 if x.dtype == torch.uint8 else x[idx].float()
    if kind == "trip":
        return xb, y[idx], n[idx]
    if kind == "sum":
        return xb, y[idx], torch.zeros(len(idx), device=dev)
    return xb, y[idx]


@torch.inference_mode()
def score(kind, model, x, y, dev):
    model.eval()
    right = total = exact = n_items = 0
    for s in range(0, len(x), 1000):
        xb, yb = x[s:s + 1000].float(), y[s:s + 1000]
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            out = model(xb)
        pred = out.float().argmax(-1)
        ok = pred == yb
        if kind == "seq":
            real = yb != 10
            right += int((ok & real).sum())
            total += int(real.sum())
        else:
            right += int(ok.sum())
            total += ok.numel()
        exact += int(ok.all(1).sum())
        n_items += len(yb)
    return {"digit_acc": right / total, "exact": exact / n_items, "errors": total - right}


def train_one(name, kind, opts):
    import torch.nn.functional as F
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    import train.digit_sum as tsum
    import train.sequence as tseq
    import train.triplet as ttrip

    t0 = time.time()
    torch.set_num_threads(1)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    spec = dict(SPEC[kind])
    spec.update({k: v for k, v in opts.items() if k in ("epochs", "batch", "lr")})
    seed = opts.get("seed", 1)
    torch.manual_seed(seed)
    arch = {"seq": "sequence", "trip": "triplet", "sum": "digit_sum"}[kind]
    model = build(arch, opts.get("cfg"))
    net = model.encoder if kind == "sum" else model
    net = net.to(dev).to(memory_format=torch.channels_last)
    mod, step = {"seq": (tseq, tseq.step), "trip": (ttrip, ttrip.step), "sum": (tsum, tsum.encoder_step)}[kind]
    mod.LABEL_SMOOTHING = opts.get("ls", 0.1)
    x, y, n = (t.to(dev) for t in DATA[kind]["train"])
    steps_per_epoch = spec["length"] // spec["batch"]
    opt = torch.optim.AdamW(net.parameters(), lr=spec["lr"], weight_decay=opts.get("wd", 1e-4))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=spec["lr"], total_steps=spec["epochs"] * steps_per_epoch)
    ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(0.999), use_buffers=True)
    g = torch.Generator().manual_seed(seed)
    for epoch in range(spec["epochs"]):
        net.train()
        order = torch.randperm(spec["length"], generator=g).to(dev)
        for b in range(steps_per_epoch):
            idx = order[b * spec["batch"]:(b + 1) * spec["batch"]]
            batch = batch_of(kind, x[epoch], y[epoch], n[epoch], idx, dev)
            with torch.autocast(dev.type, dtype=torch.bfloat16):
                loss, _, _ = step(net, batch, dev)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            ema.update_parameters(net)
    res = {"name": name, "kind": kind, "opts": {k: v for k, v in opts.items()}, "seconds": round(time.time() - t0, 1),
           "params": sum(p.numel() for p in net.parameters())}
    for split in ("val", "test"):
        vx, vy = (t.to(dev) for t in DATA[kind][split])
        res[split] = score(kind, net, vx, vy, dev)
        res[split + "_ema"] = score(kind, ema.module, vx, vy, dev)
    line = json.dumps(res, default=str)
    print(line, flush=True)
    with open(os.path.join(OUT, "results.jsonl"), "a") as f:
        f.write(line + "\n")
    return line


def run_config(cfg):
    if time.time() - T0 > DEADLINE:
        print(f"skip {cfg[0]} (deadline)", flush=True)
        return None
    try:
        return train_one(*cfg)
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        return f"{cfg[0]} failed: {e}"


def main():
    os.makedirs(OUT, exist_ok=True)
    ctx = mp.get_context("fork")  # the trainers share the generated data without copying it
    with ctx.Pool(os.cpu_count()) as pool:
        for kind, s in SPEC.items():
            t = time.time()
            DATA[kind] = {
                "train": generate(pool, kind, "train", 1, s["length"], s["gen_epochs"], augment=True),
                "val": tuple(generate(pool, kind, "val", 901, VAL_N, 1, False, True)[i][0] for i in range(2)),
                "test": tuple(generate(pool, kind, "test", {"seq": 2001, "trip": 2002, "sum": 2003}[kind], TEST_N, 1,
                                       False, True)[i][0] for i in range(2)),
            }
            print(f"generated {kind} in {time.time() - t:.0f}s", flush=True)
    with ctx.Pool(PARALLEL) as pool:
        for _ in pool.imap_unordered(run_config, CONFIGS):
            pass
    print(f"done in {time.time() - T0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
