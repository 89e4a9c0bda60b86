"""Time of ``find_digits`` (segmentation, without a reader) on drawings and photos of paper.

    python benchmarks/segmentation.py [--repeats 7] [--rounds 2]

The figures of benchmarks/RESULTS.md for changes to ``mnist_demo.preprocess``: the median of
``--repeats`` calls per input, in ``--rounds`` rounds over all the inputs in turn (the machine
is shared, so a figure that moves between rounds moved for reasons of its own). Inputs, built
here with `tests/drawing.py`: the three-digit drawing on an 840×280 transparent canvas, three
digits on 1000×320 photos of dark ruled rows, of pale blue rows tilted by 1° and of dark
squared paper, four digits in red on a 1000×733 notebook page of pale blue rows in patchy
light, two in ballpoint on 640×452 pale blue squared paper kept as a JPEG (quality 54),
three on 1600×1040 ruled paper on a desk photographed at an angle (its rows fan out), and three
beside a notebook's red margin on 1000×320 pale blue rows, fainter than the writing.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from anywhere without installing
sys.path.insert(0, str(REPO / "tests"))  # tests/drawing.py renders the drawings and photos

import drawing  # noqa: E402
from latency import timed  # noqa: E402

from mnist_demo.preprocess import find_digits  # noqa: E402
from train import loop  # noqa: E402


def inputs() -> dict:
    """The fixed inputs: name -> an image as find_digits takes it."""
    canvas = drawing.render([3, 5, 8], size=(840, 280), pen=14, paper=None)[0]
    row = drawing.render([4, 7, 2], size=(1000, 320), pen=7)[0]
    page = drawing.render([1, 8, 2, 6], size=(1000, 733), pen=8, height=0.1, spacing=0.5, offset=(150, 0))[0]
    grid = drawing.render([4, 3], size=(640, 452), pen=5, height=0.17, spacing=0.5, offset=(-80, 20))[0]
    sheet = drawing.render([3, 1, 6], size=(1600, 1040), pen=20, height=0.2, offset=(100, 60))[0]
    pale_grid = io.BytesIO()
    Image.fromarray(drawing.photo_of_paper(grid, grid=0.064, lines=drawing.PALE_BLUE, vignette=0.03,
                                           ink=drawing.BALLPOINT)).save(pale_grid, "JPEG", quality=54)
    return {
        "canvas 840×280": canvas,
        "dark ruled rows 1000×320": drawing.photo_of_paper(row, rules=0.16),
        "pale rows tilted 1000×320": drawing.photo_of_paper(row, rules=0.16, tilt=1.0, lines=drawing.PALE_BLUE),
        "dark squared paper 1000×320": drawing.photo_of_paper(row, grid=0.25),
        "notebook page 1000×733": drawing.photo_of_paper(page, rules=0.139, lines=drawing.PALE_BLUE, mottle=0.17,
                                                         vignette=0.2, ink=(0.6, 0.1, 0.1)),
        "pale squared JPEG 640×452": pale_grid.getvalue(),
        "ruled at an angle 1600×1040": drawing.at_an_angle(drawing.photo_of_paper(sheet, rules=0.1, table=60),
                                                           drawing.VIEWS["left side near"]),
        "margin, pale rows 1000×320": drawing.photo_of_paper(row, rules=0.16, lines=drawing.PALE_BLUE,
                                                          margins=(0.07,)),
    }


def main(argv=None):
    """Print the machine and, per input, the digits found and the median time of each round."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7, help="timed calls per input and round (default 7)")
    p.add_argument("--rounds", type=int, default=2, help="rounds over all the inputs (default 2)")
    args = p.parse_args(argv)
    print(f"machine: {loop.machine()}")
    images = inputs()
    medians = {name: [] for name in images}
    for _ in range(args.rounds):
        for name, image in images.items():
            medians[name].append(float(np.median(timed(lambda: find_digits(image), args.repeats, 1))))
    for name, image in images.items():
        rounds = " / ".join(f"{m:.1f}" for m in medians[name])
        print(f"{name:28s} {len(find_digits(image))} digits  median {rounds} ms")


if __name__ == "__main__":
    main()
