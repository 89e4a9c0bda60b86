"""Touching digits: a row whose digits' ink runs together is cut where the autoencoder
reads the parts best (preprocess._read_apart with inference._reader).

Rows of MNIST test digits placed so their ink touches, and rows of the test glyphs drawn
with no gap, must be read with the right count; separate digits and a single wide digit
must not be cut. The thresholds sit a little below what the shipped weights do
(docs/models.md, "Touching digits"; ``python -m train.touching_study`` measures them).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from drawing import render
from mnist_demo import predict
from mnist_demo.inference import _reader, load_models
from mnist_demo.preprocess import find_digits
from train import touching_study
from train.touching_study import blobs


def rates(rows) -> tuple[float, float]:
    """(share of rows read with the right count, share of digits read right)."""
    counted = right = total = 0
    for image, digits in rows:
        labels = predict(image)["lstm"]["labels"]
        counted += len(labels) == len(digits)
        right += sum(a == b for a, b in zip(labels, digits)) if len(labels) == len(digits) else 0
        total += len(digits)
    return counted / len(rows), right / total


@pytest.mark.parametrize("count, overlap, seed, least_count, least_digits", [
    # Rows of three, measured on the study's 150 rows each: 0.91 / 0.91 (1 px into each
    # other) and 0.93 / 0.91 (just touching), by width alone counts of 0.41 and 0.51; on
    # these first 60 rows 0.90 / 0.89 and 0.93 / 0.91.
    (3, 1, 0, 0.85, 0.83),
    (3, 0, 1, 0.86, 0.84),
    # Two digits run together, alone: 0.93 / 0.92 and 0.92 / 0.92 on the study's rows,
    # 0.92 / 0.92 and 0.95 / 0.95 on these (0.87 / 0.86 and 0.87 / 0.87 with a width cut as
    # the default for a mark alone; 0.65 and 0.63 while one stroke could turn the picture
    # as if it were a crooked photo).
    (2, 1, 6, 0.86, 0.86),
    (2, 0, 7, 0.88, 0.88),
])
def test_touching_mnist_digits_are_cut_apart(mnist_test, count, overlap, seed, least_count, least_digits):
    rows = list(touching_study.rows(mnist_test, 60, overlap, seed, count))
    counted, digits = rates(rows)
    assert counted >= least_count and digits >= least_digits, (counted, digits)


def test_separate_mnist_digits_are_not_cut(mnist_test):
    counted, digits = rates(list(touching_study.rows(mnist_test, 40, -2, seed=5)))
    assert counted == 1.0 and digits >= 0.95, (counted, digits)


def test_touching_glyph_rows_are_read():
    """The test glyphs drawn with no gap and with a slight overlap: 21 of 28 rows read with
    the right count (20 by width alone)."""
    from test_drawings import ROWS

    rows = [(render(row, pen=pen, spacing=spacing)[0], row)
            for spacing in (0.0, -0.03) for pen in (8, 14) for row in ROWS]
    assert sum(blobs(image) < 3 for image, _ in rows) >= 20  # most really touch
    counted, digits = rates(rows)
    assert counted >= 0.75 and digits >= 0.75, (counted, digits)


def test_touching_glyph_pairs_are_read():
    """Two test glyphs, no gap or a slight overlap: a mark alone is cut when its parts read
    better by a margin, the whole paying for its width. 49 of 56 read with the right count
    (37 with the width cut as the default for a mark alone)."""
    from test_drawings import ROWS

    pairs = [row[i:i + 2] for row in ROWS for i in (0, 1)]
    rows = [(render(pair, size=(560, 280), pen=pen, spacing=spacing)[0], pair)
            for spacing in (0.0, -0.03) for pen in (8, 14) for pair in pairs]
    assert sum(blobs(image) < 2 for image, _ in rows) >= 24  # these really touch
    counted, digits = rates(rows)
    assert counted >= 0.8 and digits >= 0.8, (counted, digits)


def wide(digit: int, stretch: float) -> Image.Image:
    image, _ = render([digit], size=(500, 300), pen=14, height=0.7)
    return image.resize((int(500 * stretch), 300))


@pytest.mark.parametrize("stretch", [1.0, 1.6])
@pytest.mark.parametrize("digit", range(10))
def test_one_wide_digit_is_not_cut(digit, stretch):
    assert len(predict(wide(digit, stretch))["lstm"]["labels"]) == 1


def test_very_wide_digits_are_cut_no_more_than_by_width_alone():
    """Digits 1.5-2.1 times as wide as tall: the reader keeps more of them whole (29 of 30
    measured, 11 by width alone), and never cuts one that width alone keeps whole."""
    reader = _reader(load_models()["autoencoder"])
    whole = 0
    for digit in range(10):
        for stretch in (2.2, 2.6, 3.0):
            image = wide(digit, stretch)
            by_width, read = len(find_digits(image)), len(find_digits(image, reader))
            assert read <= by_width, (digit, stretch)
            whole += read == 1
    assert whole >= 25


def test_one_blob_of_three_digits_is_cut_by_the_reader():
    """1, 5 and 7 run into one blob, as wide as two digits: width alone finds one digit."""
    image, _ = render([1, 5, 7], pen=8, spacing=0.0)
    assert blobs(image.convert("L")) == 1
    reader = _reader(load_models()["autoencoder"])
    digits = find_digits(image, reader)
    assert len(digits) == 3
    scores = reader(np.stack([d.crop for d in digits]))
    assert scores.shape == (3,) and np.isfinite(scores).all() and (scores <= 0).all()
    assert predict(image)["lstm"]["labels"] == [1, 5, 7]


def test_touching_study_prints_both_cuts(mnist_root, capsys):
    touching_study.main(["--rows", "2", "--separation", "20", "--data-dir", str(mnist_root)])
    lines = capsys.readouterr().out.splitlines()
    cuts, reader = lines[1:1 + 2 * len(touching_study.SETS)], lines[-2:]
    assert all(line.rstrip().endswith("%") for line in cuts)
    assert [line[:20].strip() for line in reader] == ["one digit", "two touching as one"]


@settings(max_examples=40, deadline=None)
@given(digits=st.lists(st.integers(0, 9), min_size=2, max_size=4), spacing=st.floats(-0.06, 0.02),
       pen=st.floats(5, 18), seed=st.integers(0, 2**16))
def test_any_reader_gives_digits_left_to_right(digits, spacing, pen, seed):
    """Whatever a reader scores, the cut is a list of MNIST-like digits inside the image."""
    rng = np.random.default_rng(seed)
    image, _ = render(digits, pen=pen, spacing=spacing)
    found = find_digits(image, lambda crops: -rng.exponential(1.0, len(crops)))
    assert 1 <= len(found) <= 2 * len(digits)
    starts = [d.box[0] for d in found]
    assert starts == sorted(starts)
    for d in found:
        x0, y0, x1, y1 = d.box
        assert 0 <= x0 < x1 <= image.width and 0 <= y0 < y1 <= image.height
        assert d.crop.shape == (28, 28) and np.isfinite(d.crop).all()
