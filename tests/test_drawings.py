"""The whole drawing → digits path on varied drawings the tests render: pens from 3 to 30 px,
digits tilted up to 30° either way, whole pictures turned by 30°, transparent and white
canvases, big and off-centre drawings, single digits cropped tight, other hands (wobbly,
slanted, narrow and wide strokes), printed digits, photos of paper (ruled — pale rules, or
a notebook's margin too — or squared, or on a desk, level, turned or taken at an angle, in
part in a shadow, darker towards the edges, the digits written upright or leaning, in
pencil — on squared paper too —, one thin digit alone on a sheet, small writing on a
big photo whose light falls in patches, photos whose grain shows, or taken out of focus,
a notebook page kept as a JPEG), and rows of digits one under another.

Each condition renders the ten digits as rows of three (tests/drawing.py's strokes, or
Pillow's built-in font; cropped tight, one digit a picture) and runs `predict`; the models must read nearly all of them. The
thresholds sit a little below what the shipped weights do (docs/models.md), so a change to
preprocessing or training that makes drawings harder to read fails here.
"""

from __future__ import annotations

import functools
import io
import itertools

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from mnist_demo import predict
from tests.drawing import (ALLOGRAPHS, BALLPOINT, DIGITS, PALE_BLUE, PENCIL, VIEWS, at_an_angle, in_shadow, out_of_focus,
                           photo_of_paper, render, rows)

ROWS = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 0, 3], [1, 5, 7], [2, 4, 8], [6, 9, 1]]


def other_hand(digit, rng: np.random.Generator):
    """The digit's strokes (``digit``: a key of DIGITS, or strokes) as another person might
    draw them: shaky, slanted, narrower or wider."""
    slant, squash = rng.uniform(-0.25, 0.25), rng.uniform(0.7, 1.3)
    return [[(x * squash + slant * (1 - y) + rng.normal(0, 0.025), y + rng.normal(0, 0.025)) for x, y in stroke]
            for stroke in (DIGITS[digit] if isinstance(digit, int) else digit)]


def printed(row) -> Image.Image:
    image = Image.new("L", (840, 280), 255)
    ImageDraw.Draw(image).text((120, 40), "  ".join(map(str, row)), fill=0, font=ImageFont.load_default(size=160))
    return image


def jpeg(photo: np.ndarray, quality: int) -> bytes:
    """``photo`` as a JPEG file's bytes."""
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def drawings(condition: str):
    """(image, digits) pairs of one condition."""
    rng = np.random.default_rng(7)
    for row in ROWS:
        if condition.startswith("pen"):
            pen = int(condition[3:])
            for paper in (None, (255, 255, 255, 255)):
                yield render(row, pen=pen, paper=paper)[0], row
        elif condition.startswith("tilt"):
            yield render(row, pen=10, angle=float(condition[4:]))[0], row
        elif condition == "off_centre_small":
            yield render(row, pen=8, height=0.4, offset=(-250, 60))[0], row
        elif condition == "big_canvas":
            yield render(row, size=(1600, 1200), pen=20, height=0.3, paper=None)[0], row
        elif condition == "other_hands":
            for _ in range(3):
                yield render([other_hand(d, rng) for d in row], pen=float(rng.uniform(6, 20)))[0], row
        elif condition == "other_writers":  # the ways other people write each digit, everyday pens
            for _ in range(8):
                glyphs = [ALLOGRAPHS[d][rng.integers(len(ALLOGRAPHS[d]))] for d in row]
                pen, angle = float(rng.uniform(4, 14)), float(rng.uniform(-10, 10))
                yield render([other_hand(g, rng) for g in glyphs], pen=pen, angle=angle, paper=None)[0], row
        elif condition == "printed":
            yield printed(row), row
        elif condition.startswith("turned"):  # the whole picture turned: the row slopes, the digits tilt
            drawing, angle = render(row, pen=10)[0], float(condition[6:])
            yield drawing.rotate(angle, Image.Resampling.BILINEAR, expand=True, fillcolor=(255, 255, 255, 255)), row
            yield drawing.rotate(angle, expand=True), row  # transparent corners
        elif condition == "ruled_paper":  # lines as dark as the ink, the photo tilted by 1°
            yield photo_of_paper(render(row, size=(1000, 320), pen=7)[0], rules=0.16, tilt=1.0), row
        elif condition == "pale_lined_paper":  # pale blue or grey rules, the photo tilted by 1°; or a pale grid
            drawing = render([other_hand(d, rng) for d in row], size=(1000, 320), pen=float(rng.uniform(4, 10)))[0]
            for seed, (ink, lines) in enumerate(itertools.product((BALLPOINT, PENCIL), (PALE_BLUE, (0.6, 0.6, 0.6)))):
                yield photo_of_paper(drawing, rules=0.16, tilt=1.0, ink=ink, lines=lines, seed=seed), row
                # a column on the picture's very edge
                yield photo_of_paper(drawing, grid=0.2, grid_offset=(0, 0), ink=ink, lines=lines, seed=seed), row
        elif condition == "crooked_photo":  # a phone held crooked: ruled lines and the sheet's edges slope
            ruled = photo_of_paper(render(row, size=(1000, 320), pen=7)[0], rules=0.16)
            yield Image.fromarray(ruled).rotate(5, Image.Resampling.BILINEAR, expand=True, fillcolor=(200, 194, 185)), row
            on_desk = photo_of_paper(render(row, pen=9)[0], table=60)
            yield Image.fromarray(on_desk).rotate(-12, Image.Resampling.BILINEAR, expand=True, fillcolor=(77, 56, 41)), row
        elif condition == "leaning_photo":  # digits written leaning 25°, photographed
            leaning = render(row, size=(1000, 320), pen=7, angle=25)[0]
            yield photo_of_paper(leaning, rules=0.16, tilt=1.0), row
            yield photo_of_paper(render(row, pen=9, angle=25)[0], table=50), row
        elif condition == "squared_paper":  # grid lines as dark as the ink, a half to one digit apart
            for k, grid in enumerate((0.18, 0.36, 0.72)):
                drawing = render([other_hand(d, rng) for d in row], pen=float(rng.uniform(5, 14)))[0]
                yield photo_of_paper(drawing, grid=grid, grid_offset=tuple(rng.integers(0, 50, 2)), seed=k), row
        elif condition == "angled_photo":  # a phone held at an angle: the sheet's edges slope each their own way
            drawing = render([other_hand(d, rng) for d in row], size=(1000, 320), pen=float(rng.uniform(5, 12)))[0]
            yield at_an_angle(photo_of_paper(drawing, table=40), VIEWS["left side near"]), row
            yield at_an_angle(photo_of_paper(drawing, rules=0.16), VIEWS["top near"]), row  # running off the picture
            yield at_an_angle(photo_of_paper(drawing, table=40), VIEWS["corner near"], desk=(30, 30, 30)), row
        elif condition == "angled_notebook":  # ruled paper taken at an angle: its rows fan out, beyond 2° from
            # one another once the photo is levelled by one of them; dark rows on a desk, pale blue rows without
            drawing = render([other_hand(d, rng) for d in row], size=(1600, 1040), pen=float(rng.uniform(16, 24)),
                             height=0.2, offset=tuple(rng.uniform(-200, 200, 2) * (1, 0.5)))[0]
            for view in ("left side near", "corner near"):
                rules = float(rng.choice([0.1, 0.16]))
                yield at_an_angle(photo_of_paper(drawing, rules=rules, table=60, lines=(0.1, 0.12, 0.4)), VIEWS[view]), row
                yield at_an_angle(photo_of_paper(drawing, rules=rules, lines=PALE_BLUE, seed=1), VIEWS[view]), row
        elif condition == "angled_grid":  # squared paper taken at an angle: its columns fan out further than
            # rows do, and on the sheet's far side run less than the picture's height
            drawing = render([other_hand(d, rng) for d in row], size=(1600, 1040), pen=float(rng.uniform(16, 24)),
                             height=0.2, offset=tuple(rng.uniform(-200, 200, 2) * (1, 0.5)))[0]
            for view in ("left side near", "top near"):
                grid = float(rng.choice([0.06, 0.1]))
                yield at_an_angle(photo_of_paper(drawing, grid=grid, table=60), VIEWS[view]), row
                yield at_an_angle(photo_of_paper(drawing, grid=grid, lines=PALE_BLUE, seed=1), VIEWS[view]), row
        elif condition == "cropped_tight":  # one digit cut out of a bigger picture, its ink touching every edge
            for digit, pen in zip(row, (8, 20, 36)):
                for strokes in (DIGITS[digit], other_hand(digit, rng)):
                    drawing = render([strokes], size=(400, 400), pen=pen, height=0.8)[0].convert("L")
                    yield drawing.crop(Image.eval(drawing, lambda p: 255 - p).getbbox()), [digit]
        elif condition == "notebook_paper":  # ruled, a red margin down the left (two, on a desk)
            drawing = render([other_hand(d, rng) for d in row], size=(1000, 320), pen=float(rng.uniform(5, 12)))[0]
            yield photo_of_paper(drawing, rules=0.16, margins=(0.07,)), row
            yield photo_of_paper(drawing, rules=0.16, table=40, margins=(0.06, 0.068)), row
        elif condition == "pale_notebook":  # a red margin beside pale blue rows, fainter than the writing (two
            # margins on a desk; one photographed at an angle), and on paper without rows; the margin runs the
            # sheet's height, the digits half of it
            drawing = render([other_hand(d, rng) for d in row], size=(1000, 320), pen=float(rng.uniform(5, 12)),
                             height=0.5)[0]
            yield photo_of_paper(drawing, rules=0.16, lines=PALE_BLUE, margins=(0.07,)), row
            yield photo_of_paper(drawing, rules=0.16, lines=PALE_BLUE, table=40, margins=(0.06, 0.068), ink=PENCIL), row
            yield photo_of_paper(drawing, margins=(0.9,), seed=1), row
            yield at_an_angle(photo_of_paper(drawing, rules=0.16, lines=PALE_BLUE, margins=(0.07,), seed=2),
                              VIEWS["left side near"]), row  # the margin sloped like the sheet's sides
        elif condition == "shadow_photo":  # a phone's shadow over part of the sheet, on a desk or not
            drawing = render([other_hand(d, rng) for d in row], size=(1000, 320), pen=float(rng.uniform(5, 12)))[0]
            for side, table in (("left", 40), ("top", 0), ("diagonal", 60)):
                yield in_shadow(photo_of_paper(drawing, table=table), 0.5, side), row
        elif condition == "photo_in_pencil":  # faint pencil; the light falls off towards the photo's edges
            drawing = render([other_hand(d, rng) for d in row], size=(1000, 320), pen=float(rng.uniform(4, 10)))[0]
            yield photo_of_paper(drawing, ink=PENCIL, vignette=0.45), row
            yield photo_of_paper(drawing, ink=PENCIL, vignette=0.45, rules=0.16), row
        elif condition == "squared_paper_in_pencil":  # writing in pencil, fainter and thinner than the grid
            for k, grid in enumerate((0.2, 0.25, 0.36)):
                drawing = render([other_hand(d, rng) for d in row], size=(1000, 320), pen=float(rng.uniform(3, 4)))[0]
                yield photo_of_paper(drawing, grid=grid, grid_offset=tuple(rng.integers(0, 50, 2)), seed=k,
                                     ink=PENCIL), row
        elif condition == "one_on_a_sheet":  # one thin digit on a sheet, the desk wide around it
            for digit, pen in zip(row, (3, 5, 8)):
                drawing = render([other_hand(digit, rng)], size=(1000, 700), pen=pen, height=0.3)[0]
                yield photo_of_paper(drawing, table=180, seed=digit), [digit]
        elif condition == "mottled_photo":  # small writing on a big photo, the light falling in soft patches
            drawing = render([other_hand(d, rng) for d in row], size=(1800, 1200), pen=float(rng.uniform(4, 8)),
                             height=0.1, offset=tuple(rng.uniform(-500, 500, 2) * (1, 0.6)))[0]
            for seed, ink in enumerate((BALLPOINT, PENCIL)):
                yield photo_of_paper(drawing, ink=ink, mottle=0.25, vignette=0.3, seed=seed), row
        elif condition == "grainy_photo":  # the photo's grain showing: small writing on a small photo, kept
            # without compression or as a JPEG, and a photo taken in dim light
            small = render([other_hand(d, rng) for d in row], size=(640, 480), pen=float(rng.uniform(1.5, 3)),
                           height=0.04, offset=tuple(rng.uniform(-200, 200, 2) * (1, 0.6)))[0]
            dim = render([other_hand(d, rng) for d in row], size=(1000, 750), pen=float(rng.uniform(2, 4)),
                         height=0.15, offset=tuple(rng.uniform(-250, 250, 2) * (1, 0.75)))[0]
            for seed, ink in enumerate((BALLPOINT, PENCIL)):
                yield photo_of_paper(small, ink=ink, vignette=0.2, seed=seed), row
                yield jpeg(photo_of_paper(small, ink=ink, vignette=0.2, seed=seed, grain=0.05), 60), row
                yield photo_of_paper(dim, ink=ink, vignette=0.2, seed=seed, grain=0.05), row
        elif condition == "blurred_photo":  # taken out of focus: small writing blurred by 2 px, bigger by 4 px
            small = render([other_hand(d, rng) for d in row], size=(640, 480), pen=float(rng.uniform(2, 3.5)),
                           height=0.08, offset=tuple(rng.uniform(-150, 150, 2) * (1, 0.6)))[0]
            big = render([other_hand(d, rng) for d in row], size=(1200, 900), pen=float(rng.uniform(4, 7)),
                         height=0.12, offset=tuple(rng.uniform(-300, 300, 2) * (1, 0.6)))[0]
            for seed, ink in enumerate((BALLPOINT, PENCIL)):
                yield out_of_focus(photo_of_paper(small, ink=ink, vignette=0.2, seed=seed), 2), row
                yield out_of_focus(photo_of_paper(big, ink=ink, vignette=0.2, seed=seed), 4), row
        elif condition == "notebook_page":  # a phone photo of a page of pale blue rows, kept as a JPEG: a few
            # digits in light that falls in patches, or small writing sitting on a row
            big = render([other_hand(d, rng) for d in row], size=(1000, 733), pen=float(rng.uniform(5, 9)), height=0.1,
                         spacing=0.5, offset=(float(rng.uniform(-250, 250)), 0))[0]
            small = render([other_hand(d, rng) for d in row], size=(1000, 500), pen=float(rng.uniform(2.5, 3.5)),
                           height=0.07, spacing=0.4, offset=(float(rng.uniform(-300, 300)), 20))[0]
            for seed, ink in enumerate((BALLPOINT, (0.6, 0.1, 0.1))):
                yield jpeg(photo_of_paper(big, rules=0.139, lines=PALE_BLUE, mottle=0.17, vignette=0.2, seed=seed,
                                          ink=ink), 77), row
                yield jpeg(photo_of_paper(small, rules=0.141, lines=PALE_BLUE, vignette=0.1, tilt=0.8, seed=seed,
                                          ink=ink), 60), row
        elif condition == "pale_grid_photo":  # a phone photo of squared paper in pale blue, kept as a JPEG,
            # in ballpoint and in pencil, the light falling off towards the edges or in patches
            offset = (float(rng.uniform(-120, 120)), float(rng.uniform(-60, 60)))
            drawing = render([other_hand(d, rng) for d in row], size=(640, 452), pen=float(rng.uniform(4, 8)),
                             height=0.17, spacing=0.5, offset=offset)[0]
            for seed, ink in enumerate((BALLPOINT, PENCIL)):
                grid_offset = tuple(int(v) for v in rng.integers(0, 30, 2))
                yield jpeg(photo_of_paper(drawing, grid=0.064, lines=PALE_BLUE, vignette=0.1, seed=seed, ink=ink,
                                          grid_offset=grid_offset), 58), row
                yield jpeg(photo_of_paper(drawing, grid=0.05, lines=PALE_BLUE, vignette=0.1, mottle=0.15, seed=seed,
                                          ink=ink, grid_offset=grid_offset), 70), row
        elif condition == "desk_photo":  # the sheet lies on a dark desk that shows around it
            yield photo_of_paper(render(row, pen=9)[0], table=50), row
            yield photo_of_paper(render(row, pen=9)[0], table=300), row  # mostly desk


@functools.cache
def answers(condition: str) -> list[tuple[dict, list[int]]]:
    return [(predict(image), row) for image, row in drawings(condition)]


def read_rate(condition: str, model: str) -> float:
    """The share of the condition's digits that ``model`` reads right."""
    right = total = 0
    for result, row in answers(condition):
        # a model that cannot answer (more marks than it reads) has no labels: all wrong
        labels = {"autoencoder": result["autoencoder"].get("labels", []), "lstm": result["lstm"].get("labels", []),
                  "sequence": [int(c) for c in result["sequence"].get("text", "")]}[model]
        right += sum(a == b for a, b in zip(labels, row)) if len(labels) == len(row) else 0
        total += len(row)
    return right / total


@pytest.mark.parametrize("condition, least", [
    ("pen3", 0.95), ("pen8", 0.95), ("pen16", 0.95), ("pen30", 0.95),
    ("tilt-12", 0.95), ("tilt12", 0.95), ("tilt-30", 0.95), ("tilt18", 0.95), ("tilt24", 0.95), ("tilt30", 0.95),
    ("off_centre_small", 0.95), ("big_canvas", 0.95),
    ("cropped_tight", 0.95),  # 1.0 / 0.98 / 1.0; 0.90 each before ink covering most of the picture was told from paper
    ("turned-30", 0.95), ("turned30", 0.95), ("printed", 0.95),
    # other_hands 1.0 each, other_writers 0.99 / 1.0 / 1.0; before strokes thinner than MNIST's were drawn at its
    # width 0.98 / 0.97 / 0.98 and 0.99 / 0.98 / 0.99 (autoencoder / LSTM / sequence; a hairline 6 read as 5 or 0)
    ("other_hands", 0.97), ("other_writers", 0.98),
    ("ruled_paper", 0.95), ("desk_photo", 0.95), ("crooked_photo", 0.95),
    # 0.99 / 0.99 / 0.98; 0.62 / 0.62 / 0.63 before what is left of a pale row, where it leaves the photo or
    # runs thicker, and of a grid column on the picture's edge went with them
    ("pale_lined_paper", 0.95),
    # 1.0 each; 0.97 / 0.95 / 0.97 before grid lines were told from writing by the run of ink across them
    ("squared_paper", 0.97),
    ("notebook_paper", 0.95),  # 1.0 each; 0.0 each before a margin on ruled paper was taken for a line
    # 1.0 each; 0.75 each before a margin sloped beyond 2° was looked for, 0.29 each before a margin was looked
    # for where no rows are as dark as ink
    ("pale_notebook", 0.95),
    ("shadow_photo", 0.95),  # 1.0 each; 0.33 each before the sheet went on across a shadow's soft edge
    # 1.0 each; 0.50 / 0.48 / 0.48 before the lighting went on beyond the photo's edges as its paper,
    # 1.0 / 0.98 / 0.98 before the writing was found again at its own threshold once the lines had gone
    ("photo_in_pencil", 0.95),
    # 1.0 each; 0.41 each before what the grid's crossings left was set aside with it, 0.95 / 0.95 /
    # 0.94 before the writing was found again at its own threshold once the lines had gone
    ("squared_paper_in_pencil", 0.95),
    # 1.0 each; 0.07 each before the lighting followed patches of light narrower than a third of the photo
    ("mottled_photo", 0.95),
    # 1.0 each; 0.45 / 0.46 / 0.45 before the grain's specks and a JPEG's blobs of it were told from writing
    # (7 of the 42 photos were refused as too many marks)
    ("grainy_photo", 0.95),
    # 0.99 each; 0.89 / 0.88 / 0.89 before faint strokes were taken down to half their darkest ink
    ("blurred_photo", 0.95),
    # 1.0 / 0.98 / 1.0; 1.0 / 0.96 / 0.98 before the writing was found above the rows' own ink (a 2 whose base
    # lies on a row was read as 7); 0.68 / 0.64 / 0.67 before a row found in pieces, a JPEG's ringing beside
    # the rows and specks far from the writing were told from it
    ("notebook_page", 0.95),
    # 1.0 each; 0.12 / 0.14 / 0.16 before writing clearly darker than the lines, in the ink or in one colour plane
    # (pencil in the blue plane), was found above their own ink
    ("pale_grid_photo", 0.95),
    ("one_on_a_sheet", 0.95),  # 1.0 each; 0.0 each before a sheet without holes could still bear thin writing
    # 1.0 each; 0.5 each before rows sloped beyond 2° once the photo was levelled were searched for
    ("angled_notebook", 0.95),
    # 1.0 each; 0.5 each before a grid's columns sloped beyond 2° once the photo was levelled were searched for
    ("angled_grid", 0.95),
    ("angled_photo", 0.95),  # 0.98 each; 0.27 / 0.27 / 0.29 before the desk beyond the paper's outline was dropped
    # 1.0 each (2026-12-07); 0.93 / 0.93 / 0.90 (autoencoder / LSTM / sequence) when first measured,
    # 0.88 / 0.76 / 0.74 as drawn
    ("leaning_photo", 0.95),
])
@pytest.mark.parametrize("model", ["autoencoder", "lstm", "sequence"])
def test_varied_drawings_are_read(condition, least, model):
    assert read_rate(condition, model) >= least


def test_a_pale_grid_on_a_desk_photographed_at_an_angle_is_not_writing():
    """Ballpoint on pale blue squared paper on a desk, in the three views: the desk sets the ink
    threshold and the writing's own is lower, but what it brings up is the grid's remains, far
    from the writing. Where the grid's fanned columns are set aside, what is left of it no
    longer exceeds the growth the lower threshold may bring, so it must also be joined to the
    writing found before (without that, 2 of these 24 photos read a 2 too or instead)."""
    wrong = []
    for seed in range(24):
        rng = np.random.default_rng(2000 + seed)
        row = [int(d) for d in rng.integers(0, 10, int(rng.integers(2, 4)))]
        drawing = render([other_hand(d, rng) for d in row], size=(1600, 1040), pen=float(rng.uniform(16, 24)),
                         height=0.2, offset=tuple(rng.uniform(-200, 200, 2) * (1, 0.5)))[0]
        view = ["left side near", "corner near", "top near"][seed % 3]
        photo = at_an_angle(photo_of_paper(drawing, grid=float(rng.choice([0.06, 0.1])), table=60, lines=PALE_BLUE,
                                           ink=BALLPOINT, seed=seed), VIEWS[view])
        labels = predict(photo)["lstm"].get("labels")
        if labels != row:
            wrong.append((seed, view, row, labels))
    assert not wrong, wrong


def test_digits_written_along_the_lines_of_squared_paper_are_read():
    """Each digit with a column of the grid along its left side, through its middle, along its
    right side, with a thin and a medium pen: where a stroke lies on a line as dark as the
    ink, the line goes and the stroke stays. Every model reads all 60 rows right (before the
    lines were told from the writing by the run of ink across them: 50)."""
    wrong = []
    for digit, where, pen in itertools.product(range(10), (0.0, 0.5, 1.0), (6, 10)):
        drawing, boxes = render([4, digit, 7], pen=pen)
        x0, _, x1, _ = boxes[1]
        column = round(x0 + pen / 2 + where * (x1 - x0 - pen))  # the pen's centre line there
        result = predict(photo_of_paper(drawing, grid=0.25, grid_offset=(30, column % 70)))
        read = (result["lstm"].get("labels"), result["autoencoder"].get("labels"), result["sequence"].get("text"))
        if read != ([4, digit, 7], [4, digit, 7], f"4{digit}7"):
            wrong.append((digit, where, pen, read))
    assert len(wrong) <= 2, wrong


@pytest.mark.parametrize("digits", [[2, 7, 2], [1, 2, 4], [2, 5, 2], [3, 2, 9], [2, 2, 0]])
@pytest.mark.parametrize("ink", [BALLPOINT, (0.6, 0.1, 0.1), (0.05, 0.05, 0.05)])
def test_a_2_written_on_a_pale_row_keeps_its_base(digits, ink):
    """Small writing sitting on a notebook's pale rows, its 2s' bases along a row, kept as a
    JPEG: a stroke lying along a line, no thicker than it, went with the line, and the 2 was
    read as 7 (13 of these 15 rows were misread before). The writing, far darker than the
    rows, is now found above their ink, and the base with it."""
    drawing = render(digits, size=(1000, 500), pen=3, height=0.07, spacing=0.4, offset=(-100, 21))[0]
    result = predict(jpeg(photo_of_paper(drawing, rules=0.141, lines=PALE_BLUE, seed=21, ink=ink, tilt=0.8,
                                         vignette=0.1), 60))
    assert result["lstm"].get("labels") == digits
    assert result["autoencoder"].get("labels") == digits
    assert result["sequence"].get("text") == "".join(map(str, digits))


def rows_one_under_another():
    """(image, rows) pairs: two or three rows of 1-3 digits written like lines of text, one
    row of two digits or more."""
    rng = np.random.default_rng(5)
    for i in range(24):
        longest = [(1, 1), (3, 3), (3, 3, 2)][i % 3]  # at most 3 digits in all, 6, 8
        lengths = [int(rng.integers(1, n + 1)) for n in longest]
        k = int(rng.integers(len(lengths)))
        lengths[k] = max(2, lengths[k])  # one row of two digits side by side, at least
        digit_rows = [[int(d) for d in rng.integers(0, 10, n)] for n in lengths]
        gap = float(rng.uniform(0.3, 1.0))
        image = rows([[other_hand(d, rng) for d in row] for row in digit_rows], gap=gap,
                     shifts=rng.uniform(-100, 100, len(digit_rows)), pen=float(rng.uniform(4, 20)),
                     angle=float(rng.uniform(-8, 8)), paper=None if i % 2 else (255, 255, 255, 255))[0]
        if i % 4 == 2:  # a photo of ruled paper, a line between each two rows
            image = photo_of_paper(image, rules=round(0.7 * 280 * (1 + gap)) / image.height, seed=i)
        elif i % 4 == 3:  # a photo of the sheet on a desk
            image = photo_of_paper(image, table=40, seed=i)
        yield image, digit_rows


def test_rows_one_under_another_are_read_top_to_bottom():
    """Rows written one under another are read like lines of text, each left to right (other
    hands, pens 4-20 px, rows shifted sideways and 1.3-2 digit heights from one to the next,
    transparent and white canvases, photos of ruled paper and of a sheet on a desk). The LSTM
    and the autoencoder read all 24 pictures with every digit in order, and the sequence
    model all 9 of 1-3 digits; none before rows were told apart, when the digits of all
    rows were read as one row."""
    right = dict.fromkeys(["lstm", "autoencoder", "sequence"], 0)
    short = 0
    for image, digit_rows in rows_one_under_another():
        want = [d for row in digit_rows for d in row]
        result = predict(image)
        right["lstm"] += result["lstm"].get("labels") == want
        right["autoencoder"] += result["autoencoder"].get("labels") == want
        if len(want) <= 3:
            short += 1
            right["sequence"] += result["sequence"].get("text") == "".join(map(str, want))
    assert short >= 4
    assert right["lstm"] >= 22 and right["autoencoder"] >= 22 and right["sequence"] >= short - 1, (right, short)
