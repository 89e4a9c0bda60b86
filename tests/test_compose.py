"""The composers and the composite datasets: layouts, labels, determinism."""

import pytest
import torch

from mnist_demo import compose, data


def _digit(value: float = 1.0) -> torch.Tensor:
    crop = torch.zeros(28, 28)
    crop[4:24, 10:18] = value
    return crop


def test_canonical_sequence_places_digits_side_by_side():
    crops = torch.stack([_digit(0.2), _digit(0.5), _digit(0.9)])
    strip = compose.compose_sequence(crops)[0]
    assert strip.shape == (28, 84)
    for i, value in enumerate((0.2, 0.5, 0.9)):
        assert strip[4:24, 28 * i + 10 : 28 * i + 18].eq(value).all()
    assert strip[:, 28 * 3 :].sum() == 0


def test_paste_clips_and_max_blends():
    canvas = torch.zeros(28, 84)
    compose.paste(canvas, _digit(0.5), -10, -3)  # partly outside
    compose.paste(canvas, _digit(0.3), -10, -3)  # max-blend keeps the brighter ink
    assert canvas.max() == 0.5 and canvas[1:21, 0:8].eq(0.5).all() and canvas[0].eq(0).all()
    compose.paste(canvas, _digit(), 100, 0)  # entirely outside: nothing happens
    assert canvas.max() == 0.5


def test_sum_cells_are_centred_and_empty_cells_blank():
    image = compose.compose_sum(compose.sum_cells(torch.stack([_digit(), _digit()])))[0]
    assert image.shape == (40, 168)
    assert image[6 + 4 : 6 + 24, 7 + 10 : 7 + 18].eq(1).all()
    assert image[:, 84:].sum() == 0  # cells 3 and 4 empty
    with pytest.raises(ValueError, match="1 to 4"):
        compose.sum_cells(torch.zeros(5, 28, 28))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_random_sequence_layouts_keep_order_and_stay_inside(n):
    g = torch.Generator().manual_seed(n)
    for _ in range(200):
        layout = compose.random_sequence_layout(n, g)
        xs = [x for x, _ in layout]
        assert xs == sorted(xs) and xs[0] >= 0 and xs[-1] + 28 <= 84
        assert all(-2 <= y <= 2 for _, y in layout)


def test_random_sum_layout_keeps_each_digit_in_its_cell():
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        for cell, (x, y) in enumerate(compose.random_sum_layout(g)):
            assert 42 * cell <= x and x + 28 <= 42 * (cell + 1) and 0 <= y <= 12


def _pool(n=50):
    g = torch.Generator().manual_seed(0)
    return data.DigitPool(torch.rand(n, 28, 28, generator=g), torch.arange(n) % 10)


@pytest.mark.parametrize("make", [
    lambda pool, seed: data.SequenceStrips(pool, 20, seed=seed, augment=True),
    lambda pool, seed: data.SumImages(pool, 20, seed=seed, augment=True),
    lambda pool, seed: data.DigitSequences(pool, 20, seed=seed, augment=True),
    lambda pool, seed: data.SingleDigits(pool, seed=seed, augment=True),
])
def test_same_seed_gives_identical_datasets(make):
    pool = _pool()
    a, b, c = make(pool, 7), make(pool, 7), make(pool, 8)
    for i in range(len(a)):
        for x, y in zip(a[i], b[i]):
            assert torch.equal(torch.as_tensor(x), torch.as_tensor(y))
    assert any(not torch.equal(a[i][0], c[i][0]) for i in range(len(a)))
    a.set_epoch(1)  # a new epoch gives new samples
    assert any(not torch.equal(a[i][0], b[i][0]) for i in range(len(a)))


def test_sequence_strip_labels_match_digits(mnist_test):
    strips = data.SequenceStrips(mnist_test, 100, seed=3)
    lengths = set()
    for strip, labels in strips:
        n = int((labels != compose.BLANK).sum())
        lengths.add(n)
        assert labels[:n].lt(10).all() and labels[n:].eq(compose.BLANK).all()
        assert strip.shape == (1, 28, 84) and 0 <= strip.min() and strip.max() <= 1
    assert lengths == {1, 2, 3}


def test_sum_image_labels_and_total(mnist_test):
    images = data.SumImages(mnist_test, 200, seed=5, p_empty=0.3)
    saw_empty = False
    for image, cells, total in images:
        digits = torch.where(cells == compose.BLANK, 0, cells)
        assert total == digits.sum()
        for cell in range(4):
            ink = image[0, :, 42 * cell : 42 * (cell + 1)].sum()
            assert (ink == 0) == (cells[cell] == compose.BLANK)
            saw_empty |= bool(cells[cell] == compose.BLANK)
    assert saw_empty


def test_triplet_test_set_is_made_of_test_digits(mnist_test):
    triplets = data.DigitSequences(mnist_test, 50, seed=1, min_len=3, max_len=3)
    for digits, labels, n in triplets:
        assert n == 3 and digits.shape == (3, 1, 28, 28)
        for image, label in zip(digits[:, 0], labels):
            match = (mnist_test.images == image).flatten(1).all(1).nonzero()
            assert len(match) >= 1 and int(mnist_test.labels[match[0, 0]]) == int(label)


def test_split_is_fixed_and_disjoint(mnist_root):
    train, val = data.mnist_pool("train", mnist_root), data.mnist_pool("val", mnist_root)
    assert (len(train), len(val)) == (54_000, 6_000)
    assert torch.equal(val.labels, data.mnist_pool("val", mnist_root).labels)


def _ink_box(crop: torch.Tensor, x: int, y: int, threshold: float = 0.0) -> tuple[int, int, int, int]:
    rows, cols = torch.nonzero(crop > threshold, as_tuple=True)
    return (x + int(cols.min()), y + int(rows.min()), x + int(cols.max()) + 1, y + int(rows.max()) + 1)


def _round_trip(image: torch.Tensor, crops, layout):
    """Segment a composed image; each digit must come back at its place and look the same."""
    import numpy as np

    from mnist_demo.preprocess import find_digits

    found = find_digits((image[0].numpy() * 255).round().astype(np.uint8))
    assert len(found) == len(crops)
    for digit, crop, (x, y) in zip(found, crops, layout):
        expected = _ink_box(crop, x, y, threshold=0.5)  # MNIST has faint stray pixels; the ink core is the digit
        assert max(abs(a - b) for a, b in zip(digit.box, expected)) <= 2, (digit.box, expected)
        assert _best_corr(digit.crop, crop.numpy()) > 0.75  # a few MNIST digits get re-stroked to MNIST's median width
    return found


def _best_corr(found, original) -> float:
    """Correlation allowing a 1-px shift: centring by centre of mass rounds to whole pixels."""
    import numpy as np

    return max(np.corrcoef(np.roll(found, (dy, dx), axis=(0, 1)).ravel(), original.ravel())[0, 1]
               for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def test_round_trip_sequence_strips(mnist_test):
    """compose → find_digits → the same digits, for the sequence composer's canonical layout."""
    g = torch.Generator().manual_seed(11)
    correlations = []
    for _ in range(30):
        n = int(torch.randint(1, 4, (), generator=g))
        picks = torch.randint(0, len(mnist_test), (n,), generator=g)
        crops = mnist_test.images[picks]
        layout = compose.canonical_sequence_layout(n)
        found = _round_trip(compose.compose_sequence(crops, layout), crops, layout)
        correlations += [_best_corr(f.crop, c.numpy()) for f, c in zip(found, crops)]
    assert sorted(correlations)[len(correlations) // 2] > 0.98  # the median crop is nearly the original


def test_round_trip_sum_images(mnist_test):
    g = torch.Generator().manual_seed(12)
    for _ in range(20):
        picks = torch.randint(0, len(mnist_test), (4,), generator=g)
        crops = mnist_test.images[picks]
        layout = compose.random_sum_layout(g)
        _round_trip(compose.compose_sum(list(crops), layout), crops, layout)


def test_serif_one_adds_a_flag_at_the_top_left_and_keeps_the_stroke(mnist_test):
    ones = mnist_test.images[mnist_test.labels == 1][:20]
    g = torch.Generator().manual_seed(3)
    for one in ones:
        flagged = data.serif_one(one, g)
        assert torch.all(flagged >= one)  # the 1 itself is untouched
        added = (flagged - one) > 0.5
        assert added.sum() >= 4, "no flag drawn"
        rows = torch.nonzero(one > 0.5)[:, 0]
        top, bottom = int(rows.min()), int(rows.max())
        added_rows, added_cols = torch.nonzero(added).T
        upper = added_rows < (top + bottom) / 2
        # The flag: in the upper half, left of where the 1 starts at its top.
        top_x = float(torch.nonzero(one[top] > 0.5).float().mean())
        assert upper.any() and float(added_cols[upper].float().mean()) < top_x
        # Anything in the lower half is the foot, on the bottom row's line.
        assert torch.all((added_rows[~upper] - bottom).abs() <= 3)


def test_elastic_warp_bends_strokes_by_at_most_about_its_amplitude():
    dots = torch.zeros(1, 28, 28)
    dots[0, 4:19:7, 4:19:7] = 1.0  # a 3×3 lattice of single-pixel dots, 7 px apart
    g = torch.Generator().manual_seed(0)
    rows, cols = torch.meshgrid(torch.arange(-4.0, 5), torch.arange(-4.0, 5), indexing="ij")
    moved = []
    for _ in range(20):
        warped = data.elastic_warp(dots, g, amplitude=2.0)[0]
        for y in range(4, 19, 7):
            for x in range(4, 19, 7):
                patch = warped[y - 4:y + 5, x - 4:x + 5]
                mass = patch.sum()
                assert mass > 0.5, "a dot vanished"
                moved.append(float(torch.hypot((patch * rows).sum() / mass, (patch * cols).sum() / mass)))
    moved = torch.tensor(moved)
    # Each axis moves by at most ~amplitude (bicubic overshoots the control points a little).
    assert moved.max() <= 2.0 * 2 ** 0.5 * 1.15
    assert moved.mean() > 0.5, "the warp hardly moves anything"
    assert torch.equal(data.elastic_warp(dots, torch.Generator().manual_seed(1), 2.0),
                       data.elastic_warp(dots, torch.Generator().manual_seed(1), 2.0))


def test_elastic_flag_changes_only_augmented_digits(mnist_test):
    plain = data.SequenceStrips(mnist_test, 64, seed=5, augment=True)
    warped = data.SequenceStrips(mnist_test, 64, seed=5, augment=True, elastic=2.0)
    same = sum(torch.equal(plain[i][0], warped[i][0]) for i in range(64))
    # Strips whose digits were all left clean (CLEAN_FRACTION) are identical; the rest differ.
    assert 0 < same < 32
    assert all(torch.equal(plain[i][1], warped[i][1]) for i in range(64))
