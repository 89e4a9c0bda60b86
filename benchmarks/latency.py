"""Latency of ``predict()``: p50/p95 per input, split into preprocessing and each model.

    python benchmarks/latency.py [--repeats 50] [--threads 0] [--profile]

Inputs (fixed, built here): one MNIST test digit (28×28), a three-digit pen drawing on an
840×280 transparent RGBA canvas (as the Sketchpad sends it), a four-digit 40×168 sum image
uploaded as a PNG file, a 3000×1000 photo-like JPEG (white paper, uneven lighting, noise,
dark digits), a 1200×400 JPEG photo of digits on squared paper (`tests/drawing.py`'s
`photo_of_paper`, grid lines as dark as the ink) and a 1080×400 JPEG photo of a sheet on a
desk taken at an angle (`at_an_angle`: wedges of desk in its corners). For each: the whole
``predict()``, and inside it ``find_digits`` (loading and segmentation), each model's stage as ``mnist_demo.inference`` runs it
(composing its input, forward pass and read-out under ``torch.inference_mode()``) and the
rest; each also as a multiple of the floor, one forward pass of the smallest digit CNN
(the autoencoder's encoder on one 28×28 digit), and timed alone, over and over ("alone":
warm caches, so the gap to the figure inside predict() is what switching models costs). Target: the three-digit drawing, all four models, p50 ≤ 15 ms
on the project's 2-core machine. ``--profile`` adds a cProfile of ``predict()`` on the drawing.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from anywhere without installing
sys.path.insert(0, str(REPO / "tests"))  # tests/drawing.py renders the pen drawings

import drawing  # noqa: E402

from mnist_demo import compose, inference, models  # noqa: E402
from mnist_demo.data import mnist_pool  # noqa: E402
from mnist_demo.preprocess import find_digits  # noqa: E402
from train import loop  # noqa: E402

TARGET_MS = 15.0  # three-digit drawing, all four models, p50 on the 2-core machine
STAGES = {  # inference.analyse's call for each model slot
    "triplet": inference._triplet,
    "digit_sum": inference._sum,
    "sequence": inference._sequence,
    "autoencoder": inference._autoencoder,
}


def first_of(pool, labels) -> torch.Tensor:
    """The first MNIST test digit of each label, as (n, 28, 28) floats."""
    return pool.images[[int(torch.nonzero(pool.labels == k)[0]) for k in labels]]


def photo(size=(3000, 1000), digits=(3, 1, 4), seed=0) -> np.ndarray:
    """A photo of digits on paper: ink drawn dark grey, then a lighting gradient and sensor noise."""
    rng = np.random.default_rng(seed)
    page, _ = drawing.render(list(digits), size=size, pen=size[1] / 25, ink=(40, 40, 50, 255),
                             paper=(235, 232, 225, 255))
    rgb = np.asarray(page.convert("RGB"), np.float32)
    yy, xx = np.mgrid[0:size[1], 0:size[0]].astype(np.float32)
    light = 1.0 - 0.35 * (xx / size[0]) - 0.15 * (yy / size[1])  # a lamp off to the left
    rgb = rgb * light[..., None] + rng.normal(0, 6, rgb.shape).astype(np.float32)
    return rgb.clip(0, 255).astype(np.uint8)


def inputs(workdir: Path, data_dir=None) -> dict:
    """The fixed inputs, in the forms the app receives them."""
    pool = mnist_pool("test", data_dir)
    single = (first_of(pool, [6])[0].numpy() * 255).round().astype(np.uint8)
    canvas, _ = drawing.render([4, 0, 9], pen=12, paper=None)  # black ink on a transparent canvas
    rgba = np.asarray(canvas)
    sketch = {"background": None, "layers": [rgba], "composite": rgba}
    sum_image = compose.compose_sum(compose.sum_cells(first_of(pool, [4, 0, 9, 2])))[0]
    sum_path = workdir / "sum_4092.png"
    Image.fromarray((sum_image.numpy() * 255).round().astype(np.uint8), "L").save(sum_path)
    photo_path = workdir / "photo_314.jpg"
    Image.fromarray(photo()).save(photo_path, quality=90)
    squared_path = workdir / "squared_528.jpg"
    squared = drawing.photo_of_paper(drawing.render([5, 2, 8], size=(1200, 400), pen=10)[0], grid=0.25,
                                     grid_offset=(20, 30))
    Image.fromarray(squared).save(squared_path, quality=90)
    angled_path = workdir / "angled_716.jpg"
    angled = drawing.at_an_angle(drawing.photo_of_paper(drawing.render([7, 1, 6], size=(1000, 320), pen=9)[0],
                                                        table=40), drawing.VIEWS["left side near"])
    Image.fromarray(angled).save(angled_path, quality=90)
    return {
        "one digit 28×28 (array)": single,
        "three-digit drawing 840×280 RGBA": sketch,
        "four-digit sum 168×40 (PNG file)": str(sum_path),
        "photo 3000×1000 (JPEG file)": str(photo_path),
        "squared paper 1200×400 (JPEG file)": str(squared_path),
        "sheet at an angle 1080×400 (JPEG file)": str(angled_path),
    }


def timed(fn, repeats: int, warmup: int) -> np.ndarray:
    """Milliseconds of ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        fn()
        times[i] = time.perf_counter() - start
    return times * 1e3


def timing_models(weights=None) -> dict:
    """The loaded models; an untrained one (the same cost) where a weights file is unusable."""
    loaded = inference.load_models(weights)
    return {name: models.build(name).eval() if isinstance(m, Exception) else m for name, m in loaded.items()}


def floor_ms(model, repeats: int, warmup: int) -> np.ndarray:
    """One forward pass of the autoencoder's encoder on one 28×28 digit."""
    x = torch.rand(1, 1, 28, 28)

    @torch.inference_mode()
    def run():
        model.encoder(x)

    return timed(run, repeats, warmup)


def in_predict(image, repeats: int, warmup: int) -> dict:
    """Milliseconds of each stage as it runs inside predict() calls (wrapped where analyse()
    looks them up), plus the rest: what predict() spends outside find_digits and the models."""
    names = {"find_digits": "find_digits", "triplet": "_triplet", "digit_sum": "_sum", "sequence": "_sequence",
             "autoencoder": "_autoencoder"}
    spent = {stage: [] for stage in names}
    originals = {stage: getattr(inference, attr) for stage, attr in names.items()}

    def wrapped(stage, fn):
        def run(*args):
            start = time.perf_counter()
            try:
                return fn(*args)
            finally:
                spent[stage][-1] += time.perf_counter() - start
        return run

    for stage, attr in names.items():
        setattr(inference, attr, wrapped(stage, originals[stage]))
    try:
        totals = []
        for i in range(warmup + repeats):
            for times in spent.values():
                times.append(0.0)
            start = time.perf_counter()
            inference.predict(image)
            totals.append(time.perf_counter() - start)
    finally:
        for stage, attr in names.items():
            setattr(inference, attr, originals[stage])
    out = {stage: np.array(times[warmup:]) * 1e3 for stage, times in spent.items()}
    out["rest"] = np.array(totals[warmup:]) * 1e3 - sum(out.values())
    return out


def measure(image, stage_models: dict, repeats: int, warmup: int) -> dict:
    """p50/p95 (ms) of predict() and of each stage inside it, and each stage's p50 run alone."""
    total = timed(lambda: inference.predict(image), repeats, warmup)
    inside = in_predict(image, repeats, warmup)
    alone = {"find_digits": timed(lambda: find_digits(image), repeats, warmup)}
    digits = find_digits(image)
    crops = torch.from_numpy(np.stack([d.crop for d in digits]).astype(np.float32))
    for name, stage in STAGES.items():
        model = stage_models[name]

        @torch.inference_mode()
        def run(stage=stage, model=model):
            stage(model, crops)

        alone[name] = timed(run, repeats, warmup)
    rows = {"predict (total)": (total, None)} | {k: (v, alone.get(k)) for k, v in inside.items()}
    return {"digits": len(digits), "reads": inference.predict(image)["lstm"].get("labels"),
            "rows": {k: (float(np.percentile(v, 50)), float(np.percentile(v, 95)),
                         float(np.percentile(a, 50)) if a is not None else float("nan"))
                     for k, (v, a) in rows.items()}}


def profile(image, top: int = 25) -> str:
    """cProfile of 20 predict() calls, the top functions by own time."""
    inference.predict(image)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(20):
        inference.predict(image)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(argv=None):
    """Print the machine, the floor, a table per input and the verdict on the target."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=50, help="timed calls per figure (default 50)")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls first (default 3)")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default 0: leave torch's default)")
    p.add_argument("--data-dir", default=None, help="MNIST root (default: $MNIST_DATA_DIR or data/)")
    p.add_argument("--profile", action="store_true", help="also print a cProfile of predict() on the drawing")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {loop.machine()}, torch threads {torch.get_num_threads()}, "
          f"interop threads {torch.get_num_interop_threads()}")
    unavailable = {k: str(v) for k, v in inference.load_models().items() if isinstance(v, Exception)}
    for name, message in unavailable.items():
        print(f"WARNING: {name} unavailable ({message}); predict() skips it, its stage is timed untrained")
    stage_models = timing_models()
    floor = float(np.percentile(floor_ms(stage_models["autoencoder"], args.repeats * 4, args.warmup * 10), 50))
    print(f"floor: autoencoder encoder, one 28×28 digit: p50 {floor:.3f} ms\n")
    verdict = None
    with tempfile.TemporaryDirectory() as tmp:
        for label, image in inputs(Path(tmp), args.data_dir).items():
            result = measure(image, stage_models, args.repeats, args.warmup)
            print(f"{label}: {result['digits']} digits found (without a reader), predict's LSTM reads {result['reads']}")
            print(f"  {'stage':16s} {'p50 ms':>8s} {'p95 ms':>8s} {'p50/floor':>10s} {'alone p50':>10s}")
            for stage, (p50, p95, alone) in result["rows"].items():
                alone = "" if np.isnan(alone) else f"{alone:10.2f}"
                print(f"  {stage:16s} {p50:8.2f} {p95:8.2f} {p50 / floor:9.1f}× {alone}")
            if label.startswith("three-digit drawing"):
                p50 = result["rows"]["predict (total)"][0]
                verdict = f"{'MET' if p50 <= TARGET_MS and not unavailable else 'MISSED'}: p50 {p50:.2f} ms"
                drawing_image = image
            print()
    print(f"target (three-digit drawing, all four models, p50 ≤ {TARGET_MS:g} ms): {verdict}"
          + (" (not all models loaded)" if unavailable else ""))
    if args.profile:
        print("\ncProfile of 20 predict() calls on the three-digit drawing (by own time):")
        print(profile(drawing_image))


if __name__ == "__main__":
    main()
