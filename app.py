"""MNIST Studio: draw digits (or upload a picture of them) and watch four MNIST models answer.

    python app.py                         # http://127.0.0.1:7860
    python app.py --port 8080 --auth me:secret
    python app.py --host 0.0.0.0 --share  # a public link: anyone who has it can use the app
    gradio app.py                         # the same app, reloading when this file changes

This file is UI only: finding the digits and running the models live in ``mnist_demo``
(``mnist_demo.inference.analyse`` / ``predict``). Importing it builds ``demo`` and loads the
weights once; it never launches a server.

API (see "Use via API" at the bottom of the page):
    from gradio_client import Client, handle_file
    Client("http://127.0.0.1:7860/").predict(handle_file("digits.png"), api_name="/predict")
returns exactly ``mnist_demo.predict("digits.png")``; ``/predict_sketch`` takes a Sketchpad
value ``{"background", "layers", "composite", "id"}``.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import math
import os
import sys
import threading
import traceback
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from mnist_demo import inference
from mnist_demo.preprocess import to_grey

REPO = Path(__file__).resolve().parent
EXAMPLES_DIR = REPO / "examples"
CANVAS = (840, 280)  # Sketchpad drawing surface (W, H): a row of up to ~8 digits
MAX_UPLOAD = "10mb"
LATENT_DIM = 12
LATENT_RANGE = 40.0  # slider range ±: holds 99.9 % of MNIST test latents; widened for outliers
DISPLAY_SIDE = 1000  # the "found digits" picture is shrunk to at most this many pixels

# Model slot → (panel title, what it reads, weights-file key).
PANELS = {
    "triplet": ("Triplet · CNN + LSTM", "reads exactly 3 digits; its LSTM labels any 1–8", "triplet"),
    "sum": ("Sum · CNN + MLP decoder", "reads 1–4 digits as a 40×168 image of four cells", "digit_sum"),
    "sequence": ("Sequence · multi-head CNN", "reads 1–3 digits as a 28×84 strip, 3 heads", "sequence"),
    "autoencoder": ("Autoencoder · 12-value latent", "reads each digit alone: rebuild + classify", "autoencoder"),
}
MODEL_NAMES = {"triplet": "Triplet (CNN + LSTM)", "digit_sum": "Digit sum (CNN + MLP)",
               "sequence": "Sequence (multi-head CNN)", "autoencoder": "Autoencoder (+ MLP classifier)"}
# What the seeds (the original notebooks) reported, for the model card.
SEED_NUMBERS = {
    "triplet": "no number reported (seed 000)",
    "digit_sum": "decoder test MSE 0.0002 (seed 001)",
    "sequence": "exact match 99.25 % (seed 003)",
    "autoencoder": "MLP on the encoder, 6k images: frozen 87.34 %, fine-tuned 93.18 % (seed 004)",
}

CSS = """
.ms-banner {border: 1px solid #e0a800; background: #fff8e1; color: #5c4400; border-radius: 8px; padding: 8px 14px;}
.ms-banner ul {margin: 4px 0 0 0; padding-left: 1.2em;}
.ms-banner code, .ms-error code {background: rgba(0, 0, 0, 0.06); padding: 0 3px; border-radius: 3px; font-size: 0.9em;}
.ms-status {font-size: 1.05rem; min-height: 1.6em;}
.ms-panel {border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 12px !important;
           background: var(--block-background-fill);}
.ms-title {font-weight: 700; font-size: 1.05rem; margin: 0;}
.ms-sub {color: var(--body-text-color-subdued); font-size: 0.85rem; margin: 0 0 6px 0;}
.ms-row {display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-end; margin: 4px 0 8px 0;}
.ms-cell {display: flex; flex-direction: column; align-items: center; min-width: 2.2rem;}
.ms-big {font-size: 2.4rem; line-height: 1.1; font-weight: 700; font-variant-numeric: tabular-nums;}
.ms-huge {font-size: 3rem; line-height: 1.1; font-weight: 800; font-variant-numeric: tabular-nums; letter-spacing: 0.08em;}
.ms-conf {font-size: 0.8rem; color: var(--body-text-color-subdued);}
.ms-low {color: #c2410c;}
.ms-note {font-size: 0.85rem; color: var(--body-text-color-subdued); margin-top: 4px;}
.ms-error {border-left: 4px solid #c2410c; background: rgba(194, 65, 12, 0.08); padding: 6px 10px;
           border-radius: 4px; margin: 4px 0; font-size: 0.95rem;}
.ms-wait {color: var(--body-text-color-subdued); font-style: italic;}
.ms-table {border-collapse: collapse; font-size: 0.85rem; width: 100%; border: none !important;}
.ms-table td, .ms-table th {padding: 2px 4px !important; text-align: center; vertical-align: middle; border: none !important;
                            border-bottom: 1px solid var(--border-color-primary) !important; background: transparent !important;}
.ms-table th {font-weight: 600; color: var(--body-text-color-subdued);}
.ms-table tr {border: none !important;}
.ms-table img, .ms-pixels img, img.ms-pixels {image-rendering: pixelated;}
.ms-pixels img {object-fit: contain;}
.ms-card {border-collapse: collapse; width: 100%; font-size: 0.92rem; margin: 8px 0; border: none !important;}
.ms-card th, .ms-card td {border: none !important; border-bottom: 1px solid var(--border-color-primary) !important;
                          padding: 6px 8px !important; text-align: left; vertical-align: top; background: transparent !important;}
.ms-card tr {border: none !important;}
.ms-card .ms-num {white-space: nowrap; text-align: right;}
.ms-curves {display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 12px;}
.ms-curves figure {margin: 0;}
.ms-curves img {width: 100%; height: auto; border: 1px solid var(--border-color-primary); border-radius: 6px;}
.ms-curves figcaption {font-size: 0.85rem; color: var(--body-text-color-subdued);}
.ms-curves figcaption code {font-size: 0.8rem;}
"""
LAUNCH_STYLE = {"css": CSS}  # Gradio 6 takes css at launch(); tests launch with the same


# --------------------------------------------------------------------------------------
# Models: loaded once, at import, so the first request does not pay for it.

MODELS = inference.load_models()
UNAVAILABLE = {name: str(model) for name, model in MODELS.items() if isinstance(model, Exception)}


def _code(text: str) -> str:
    """Escape ``text`` for HTML and show its `backticked` parts as code."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts)) if len(parts) % 2 else "`".join(parts)


def banner_html() -> str:
    if not UNAVAILABLE:
        return ""
    items = "".join(f"<li><b>{MODEL_NAMES[name]}</b> is unavailable: {_code(message)}</li>"
                    for name, message in UNAVAILABLE.items())
    return ('<div class="ms-banner" role="alert"><b>⚠ Some models could not be loaded</b> — their panels say so, '
            "the others still answer. Train them (<code>python -m train.all</code>, about 25 minutes on a 2-core CPU) "
            f"and restart the app.<ul>{items}</ul></div>")


# --------------------------------------------------------------------------------------
# Pictures.

def _grey_to_pil(a: np.ndarray, scale: int = 1) -> Image.Image:
    img = Image.fromarray((np.clip(a, 0, 1) * 255).round().astype(np.uint8), "L")
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST) if scale > 1 else img


def _data_uri(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType support
        return ImageFont.load_default()


BOX_COLOURS = ["#e11d48", "#2563eb", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d"]


def boxes_picture(image, digits) -> Image.Image:
    """The input as the segmenter sees it (dark ink on white) with a numbered box per digit."""
    ink = to_grey(image)
    h, w = ink.shape
    k = max(1.0, max(h, w) / DISPLAY_SIDE)
    picture = Image.fromarray(((1 - np.clip(ink, 0, 1)) * 255).astype(np.uint8), "L")
    if k > 1:
        picture = picture.resize((max(1, round(w / k)), max(1, round(h / k))), Image.BILINEAR)
    # Tiny inputs (a 28×84 strip) are blown up so that boxes and numbers are readable.
    up = max(1, min(8, 280 // max(1, picture.height)))
    if up > 1:
        picture = picture.resize((picture.width * up, picture.height * up), Image.NEAREST)
    scale = up / k
    side = max(14, min(26, picture.height // 10))  # font size
    font = _font(side)
    width = max(2, round(side / 8))  # box line width
    tag_h = side + 6
    # A margin so that boxes and number tags on the edge are never cut off.
    left, top = 2 * width, tag_h + 2 * width
    framed = Image.new("RGB", (picture.width + 2 * left, picture.height + top + 2 * width), "white")
    framed.paste(picture.convert("RGB"), (left, top))
    draw = ImageDraw.Draw(framed)
    for i, digit in enumerate(digits):
        colour = BOX_COLOURS[i % len(BOX_COLOURS)]
        x0, y0, x1, y1 = (v * scale for v in digit.box)
        x0, x1, y0, y1 = x0 + left, x1 + left, y0 + top, y1 + top
        draw.rectangle((x0 - width, y0 - width, x1 + width - 1, y1 + width - 1), outline=colour, width=width)
        label = str(i + 1)
        tx0, ty0, tx1, ty1 = draw.textbbox((0, 0), label, font=font)
        tag_w = tx1 - tx0 + 8
        tag_x, tag_y = x0 - width, max(0, y0 - width - tag_h)
        draw.rectangle((tag_x, tag_y, tag_x + tag_w, tag_y + tag_h), fill=colour)
        draw.text((tag_x + 4 - tx0, tag_y + (tag_h - (ty1 - ty0)) / 2 - ty0), label, fill="white", font=font)
    return framed


def crop_gallery(digits) -> list[tuple[Image.Image, str]]:
    """The 28×28 crops exactly as the models read them, blown up 4× with nearest neighbour."""
    return [(_grey_to_pil(d.crop, 4), f"#{i + 1}") for i, d in enumerate(digits)]


def sum_figure(distribution, exact: int):
    """Bar chart of P(sum = k), k = 0..36, the most likely sum highlighted."""
    from matplotlib.figure import Figure  # imported on first use; warmed up at launch

    fig = Figure(figsize=(4.2, 2.3), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ks = np.arange(len(distribution))
    colours = ["#e11d48" if k == exact else "#94a3b8" for k in ks]
    ax.bar(ks, distribution, color=colours, width=0.8)
    ax.set_xlim(-0.8, len(ks) - 0.2)
    ax.set_ylim(0, 1)
    ax.set_xticks(range(0, len(ks), 4))
    ax.set_xlabel("sum k")
    ax.set_ylabel("P(sum = k)")
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=8)
    return fig


# --------------------------------------------------------------------------------------
# Panels (HTML). Every model answers a slot of predict()'s dict; an {"error"} slot is shown
# as a sentence, never as a stack trace.

def _esc(value) -> str:
    return html.escape(str(value))


def _header(slot: str) -> str:
    title, reads, _ = PANELS[slot]
    return f'<p class="ms-title">{_esc(title)}</p><p class="ms-sub">{_esc(reads)}</p>'


def _error(message: str) -> str:
    return f'<div class="ms-error">{_code(message)}</div>'


def _pct(p: float) -> str:
    return f"{100 * p:.1f} %" if p < 0.9995 else "100 %"


def _digit_cells(labels, confidences, kind: str) -> str:
    cells = []
    for label, conf in zip(labels, confidences):
        low = " ms-low" if conf < 0.6 else ""
        cells.append(f'<div class="ms-cell"><span class="ms-big{low}">{_esc(label)}</span>'
                     f'<span class="ms-conf{low}">{_pct(conf)}</span></div>')
    value = " ".join(str(label) for label in labels)  # data-* attributes: for tests and scrapers
    return f'<div class="ms-row" data-kind="{kind}" data-value="{value}">' + "".join(cells) + "</div>"


def waiting_panel(slot: str, message: str = "Draw or upload digits to see this model's answer.") -> str:
    return _header(slot) + f'<p class="ms-wait">{_esc(message)}</p>'


def triplet_panel(result: dict) -> str:
    out = [_header("triplet")]
    triplet, lstm = result["triplet"], result["lstm"]
    if "error" in triplet:
        out.append(_error(triplet["error"]))
    else:
        out.append(_digit_cells(triplet["labels"], triplet["confidence"], "triplet"))
    if "error" in lstm:
        if lstm["error"] != triplet.get("error"):
            out.append(_error(lstm["error"]))
    elif "error" in triplet:
        n = len(lstm["labels"])
        out.append(f'<p class="ms-note">The same LSTM reading all {n} digit{"s" if n != 1 else ""}:</p>')
        out.append(_digit_cells(lstm["labels"], lstm["confidence"], "lstm"))
    else:
        out.append('<p class="ms-note">Per-digit confidence of the LSTM decoder.</p>')
    return "".join(out)


def sum_panel(result: dict) -> str:
    out = [_header("sum")]
    s = result["sum"]
    if "error" in s:
        return "".join(out + [_error(s["error"])])
    digits = " + ".join(str(d) for d in s["digits"])
    exact = s["exact"]
    out.append(f'<div class="ms-row"><div class="ms-cell">'
               f'<span class="ms-huge" data-kind="sum-exact" data-value="{exact}">{exact}</span>'
               f'<span class="ms-conf">exact sum · P = {_pct(s["distribution"][exact])}</span></div>'
               f'<div class="ms-cell"><span class="ms-big">{s["value"]:.2f}</span>'
               f'<span class="ms-conf">decoder\'s value</span></div></div>')
    out.append(f'<p class="ms-note">Cells read: {_esc(digits)}. The exact sum is the most likely k '
               "of the distribution the cell probabilities give; the decoder is the MLP regressor.</p>")
    return "".join(out)


def sequence_panel(result: dict) -> str:
    out = [_header("sequence")]
    s = result["sequence"]
    if "error" in s:
        return "".join(out + [_error(s["error"])])
    text = _esc(s["text"])
    out.append(f'<div class="ms-row"><span class="ms-huge" data-kind="sequence-text" data-value="{text}">'
               f'{text or "∅"}</span></div>')
    rows = "".join(
        f'<tr><td>head {i + 1}</td><td><b>{_esc(slot)}</b></td>'
        f'<td class="{"ms-low" if c < 0.6 else ""}">{_pct(c)}</td></tr>'
        for i, (slot, c) in enumerate(zip(s["slots"], s["confidence"])))
    out.append(f'<table class="ms-table"><tr><th>head</th><th>reads</th><th>confidence</th></tr>{rows}</table>')
    return "".join(out)


def autoencoder_panel(result: dict, analysis) -> str:
    out = [_header("autoencoder")]
    a = result["autoencoder"]
    if "error" in a:
        return "".join(out + [_error(a["error"])])
    rows = []
    for i, (digit, recon) in enumerate(zip(analysis.digits, analysis.reconstructions)):
        pair = np.concatenate([digit.crop, np.full((28, 2), 0.5, np.float32), recon], axis=1)
        low = "ms-low" if a["confidence"][i] < 0.6 else ""
        rows.append(f'<tr><td>#{i + 1}</td><td><img src="{_data_uri(_grey_to_pil(pair, 2))}" width="116" height="56" '
                    f'alt="digit {i + 1} and its reconstruction"></td><td><b class="ms-big" style="font-size:1.5rem">'
                    f'{a["labels"][i]}</b><br><span class="ms-conf {low}">{_pct(a["confidence"][i])}</span></td>'
                    f'<td>{a["mse"][i]:.4f}</td></tr>')
    value = " ".join(str(label) for label in a["labels"])
    out.append(f'<table class="ms-table" data-kind="autoencoder" data-value="{value}"><tr><th>#</th>'
               '<th>crop | rebuilt</th><th>label</th><th>MSE</th></tr>' + "".join(rows) + "</table>")
    return "".join(out)


# --------------------------------------------------------------------------------------
# Latent explorer.

def _latent_choices(analysis) -> list[tuple[str, int]]:
    labels = analysis.result["autoencoder"].get("labels") if analysis else None
    return [(f"#{i + 1}" + (f" (reads {labels[i]})" if labels else ""), i) for i in range(len(analysis.digits))]


def _decoded(latent) -> Image.Image:
    return _grey_to_pil(inference.decode_latent(np.asarray(latent, np.float32)), 8)


def _slider_range(latents: np.ndarray) -> float:
    return float(max(LATENT_RANGE, math.ceil(float(np.abs(latents).max()) * 1.25)))


def _interpolation(latents, a, b, t):
    """The decoded image at t, and a strip of nine steps from digit a (t = 0) to digit b (t = 1)."""
    za, zb = latents[a], latents[b]
    frames = [inference.decode_latent(za + (zb - za) * s) for s in np.linspace(0, 1, 9)]
    strip = np.concatenate([np.pad(f, ((0, 0), (0, 2)), constant_values=0.5) for f in frames], axis=1)[:, :-2]
    return _decoded(za + (zb - za) * t), _grey_to_pil(strip, 4)


def explorer_updates(analysis) -> list:
    """Outputs for [explorer note, pick, a, b, t, original, decoded, interp, strip, *sliders]."""
    if analysis is None or analysis.latents is None or len(analysis.digits) == 0:
        reason = ("The autoencoder is unavailable: " + UNAVAILABLE["autoencoder"]) if "autoencoder" in UNAVAILABLE \
            else "Draw or upload digits in the Studio tab; each one found appears here."
        empty = gr.update(choices=[], value=None)
        return ([reason, empty, empty, empty, gr.update(), None, None, None, None]
                + [gr.update(value=0.0) for _ in range(LATENT_DIM)])
    latents = analysis.latents
    choices = _latent_choices(analysis)
    b = min(1, len(choices) - 1)
    interp, strip = _interpolation(latents, 0, b, 0.5)
    r = _slider_range(latents)
    note = (f"{len(choices)} digit{'s' if len(choices) != 1 else ''} found. Move a slider to change one latent value "
            "of the picked digit; the decoder redraws it.")
    return ([note, gr.update(choices=choices, value=0), gr.update(choices=choices, value=0),
             gr.update(choices=choices, value=b), gr.update(value=0.5),
             _grey_to_pil(analysis.digits[0].crop, 8), _decoded(latents[0]), interp, strip]
            + [gr.update(value=round(float(v), 2), minimum=-r, maximum=r) for v in latents[0]])


# --------------------------------------------------------------------------------------
# Events.

def _raw_image(payload):
    """A gr.Image payload received with preprocess=False → something find_digits reads."""
    if payload is None:
        raise ValueError("no image — upload a picture of digits")
    if isinstance(payload, dict):
        if payload.get("path"):
            return payload["path"]
        url = payload.get("url") or ""
        if url.startswith("data:") and "," in url:
            return base64.b64decode(url.split(",", 1)[1])
        raise ValueError("no image — upload a picture of digits")
    return payload


def _sketch_has_ink(value) -> bool:
    return value is not None and any(
        v is not None for v in [value.get("composite"), value.get("background"), *(value.get("layers") or [])])


def _analyse(image):
    """(analysis, None) or (None, person-readable message): the UI shows messages, never tracebacks."""
    try:
        return inference.analyse(image), None
    except ValueError as error:
        return None, str(error)
    except Exception as error:  # a bug or a broken model: keep the page alive, log the traceback
        traceback.print_exc()
        return None, f"could not read this image ({type(error).__name__}: {error})"


def render(analysis, message: str | None, source: str, image=None) -> list:
    """Every output of the Studio tab for one analysis (or one error message)."""
    if analysis is None:
        status = f"⚠ {message}" if message else ""
        note = "Fix the input above to see this model's answer."
        return ([status, None, None] + [waiting_panel(s, note) for s in PANELS]
                + [gr.update(value=None, visible=False), None, None, source]
                + explorer_updates(None))
    result, n = analysis.result, len(analysis.digits)
    status = f"✓ Found **{n} digit{'s' if n != 1 else ''}** — boxes and crops below, each model's answer under them."
    plot = (gr.update(value=sum_figure(result["sum"]["distribution"], result["sum"]["exact"]), visible=True)
            if "error" not in result["sum"] else gr.update(value=None, visible=False))
    return ([status, boxes_picture(image, analysis.digits), crop_gallery(analysis.digits),
             triplet_panel(result), sum_panel(result), sequence_panel(result), autoencoder_panel(result, analysis),
             plot, result, analysis, source] + explorer_updates(analysis))


def on_sketch(value):
    """Live update while drawing: every stroke (and Clear) sends the canvas here."""
    if not _sketch_has_ink(value):
        return render(None, "The canvas is empty — draw some digits.", "draw")
    return render(*_analyse(value), "draw", value)


def on_upload(payload):
    if payload is None:
        return render(None, "Upload a picture of digits (a photo, a scan, an MNIST strip…).", "upload")
    try:
        image = _raw_image(payload)
    except ValueError as error:
        return render(None, str(error), "upload")
    analysis, message = _analyse(image)
    if message:
        gr.Warning(message)
    return render(analysis, message, "upload", image)


def on_predict_draw(source, value):
    if source != "draw":
        return [gr.skip()] * len(STUDIO_OUTPUTS)
    outputs = on_sketch(value)
    if outputs[1] is None:  # no analysis: say it loudly as well, the button was pressed
        gr.Warning(outputs[0].removeprefix("⚠ "))
    return outputs


def on_predict_upload(source, payload):
    if source != "upload":
        return [gr.skip()] * len(STUDIO_OUTPUTS)
    return on_upload(payload)


def api_predict(image):
    """Every model's answer for an uploaded image: exactly ``mnist_demo.predict(image)``."""
    try:
        return inference.predict(_raw_image(image))
    except ValueError as error:
        raise gr.Error(str(error), print_exception=False) from None


def api_predict_sketch(value):
    """The same for a Sketchpad value ``{"background", "layers", "composite"}``."""
    try:
        if not _sketch_has_ink(value):
            raise ValueError("empty canvas — draw something")
        return inference.predict(value)
    except ValueError as error:
        raise gr.Error(str(error), print_exception=False) from None


def on_pick(analysis, index):
    if analysis is None or analysis.latents is None or index is None:
        return [gr.skip()] * (2 + LATENT_DIM)
    latent = analysis.latents[int(index)]
    return ([_grey_to_pil(analysis.digits[int(index)].crop, 8), _decoded(latent)]
            + [gr.update(value=round(float(v), 2)) for v in latent])


def on_slider(analysis, *values):
    if analysis is None or analysis.latents is None:
        return gr.skip()
    return _decoded(values)


def on_interpolate(analysis, a, b, t):
    if analysis is None or analysis.latents is None or a is None or b is None:
        return gr.skip(), gr.skip()
    return _interpolation(analysis.latents, int(a), int(b), float(t))


# --------------------------------------------------------------------------------------
# Model card.

def _fmt(value, kind="pct") -> str:
    if value is None:
        return "—"
    if kind == "pct":
        return f"{100 * value:.2f} %"
    if kind == "float":
        return f"{value:.4f}"
    return str(value)


def _parameters(name: str, metrics: dict) -> str:
    count = (metrics.get(name) or {}).get("parameters")
    if count is None and not isinstance(MODELS.get(name), Exception):
        count = sum(p.numel() for p in MODELS[name].parameters())
    return f"{count:,}" if count else "—"


def _metric_lines(name: str, m: dict) -> list[str]:
    if name == "triplet":
        return [f"digit accuracy <b>{_fmt(m.get('digit_acc'))}</b>", f"all three right {_fmt(m.get('exact'))}"]
    if name == "digit_sum":
        return [f"exact sum <b>{_fmt(m.get('exact'))}</b> (decoder, rounded)",
                f"exact sum {_fmt(m.get('exact_dist'))} (distribution argmax)",
                f"mean absolute error {_fmt(m.get('mae'), 'float')}", f"cell accuracy {_fmt(m.get('cell_acc'))}"]
    if name == "sequence":
        return [f"exact <b>{_fmt(m.get('exact'))}</b> (the app's layout)",
                f"exact {_fmt(m.get('exact_random_layout'))} (random layouts)", f"slot accuracy {_fmt(m.get('slot_acc'))}"]
    return [f"reconstruction MSE <b>{_fmt(m.get('mse'), 'float')}</b>",
            f"classifier accuracy {_fmt(m.get('classifier_acc'))} (all of MNIST train)",
            f"6k images: frozen <b>{_fmt(m.get('frozen_acc_6k'))}</b>, fine-tuned <b>{_fmt(m.get('finetuned_acc_6k'))}</b>"]


def model_card_html() -> str:
    """Metrics of weights/metrics.json beside the seeds' numbers, parameter counts, training time."""
    path = inference.weights_dir() / "metrics.json"
    metrics, note = {}, ""
    try:
        metrics = json.loads(path.read_text())
    except FileNotFoundError:
        note = (f'<div class="ms-banner"><b>⚠ No metrics yet:</b> <code>{_esc(path)}</code> does not exist. '
                "Train the models with <code>python -m train.all</code> (it writes the file at the end), or "
                "re-measure shipped weights with <code>python -m train.evaluate</code>.</div>")
    except (OSError, ValueError) as error:
        note = f'<div class="ms-banner"><b>⚠ Metrics unreadable:</b> <code>{_esc(path)}</code> ({_esc(error)})</div>'
    rows = []
    for name in ("triplet", "digit_sum", "sequence", "autoencoder"):
        m = metrics.get(name) or {}
        state = '<br><span class="ms-low">⚠ weights unavailable</span>' if name in UNAVAILABLE else ""
        ours = "<br>".join(_metric_lines(name, m)) if m else "—"
        seconds = m.get("train_seconds")
        rows.append(f"<tr><td><b>{MODEL_NAMES[name]}</b>{state}</td><td class='ms-num'>{_parameters(name, metrics)}</td>"
                    f"<td>{ours}</td><td>{SEED_NUMBERS[name]}</td>"
                    f"<td class='ms-num'>{f'{seconds / 60:.1f} min' if seconds else '—'}</td></tr>")
    extra = []
    if metrics.get("test_limit"):
        extra.append(f"<b>⚠ Measured on only {_esc(metrics['test_limit'])} test samples</b> (a quick run).")
    if metrics.get("machine"):
        extra.append(f"Trained on {_esc(metrics['machine'])}.")
    if metrics.get("train_seconds_total"):
        extra.append(f"Total training time {metrics['train_seconds_total'] / 60:.1f} min.")
    return (note + '<table class="ms-card"><tr><th>Model</th><th>Parameters</th>'
            "<th>This repository: MNIST test composites (<code>weights/metrics.json</code>)</th>"
            "<th>Seed's reported number</th><th>Training</th></tr>" + "".join(rows) + "</table>"
            + f'<p class="ms-note">{" ".join(extra)} The seed numbers come from the original notebooks, each with '
            "its own test set and recipe: a reference, not a like-for-like comparison (the seed's digit-sum MSE is the "
            "decoder's squared error on sums; here the sum is judged by exact match and mean absolute error).</p>")


def curves_html() -> str:
    order = ["triplet", "digit_sum", "sequence", "autoencoder", "autoencoder_6k_frozen", "autoencoder_6k_finetuned"]
    captions = MODEL_NAMES | {"autoencoder_6k_frozen": "Autoencoder, MLP on 6k images, encoder frozen",
                              "autoencoder_6k_finetuned": "Autoencoder, MLP on 6k images, encoder fine-tuned"}
    found = {p.name.removesuffix("_curves.png"): p for p in inference.weights_dir().glob("*_curves.png")}
    items = []
    for name in sorted(found, key=lambda n: (order.index(n) if n in order else len(order), n)):
        uri = "data:image/png;base64," + base64.b64encode(found[name].read_bytes()).decode("ascii")
        items.append(f'<figure><img src="{uri}" alt="training curves of {_esc(name)}"><figcaption>'
                     f"{_esc(captions.get(name, name))} — <code>weights/{_esc(found[name].name)}</code>"
                     "</figcaption></figure>")
    if not items:
        return '<p class="ms-wait">No training curves yet (weights/&lt;model&gt;_curves.png appear after training).</p>'
    return '<div class="ms-curves">' + "".join(items) + "</div>"


RETRAIN = """### Retrain
```bash
python -m train.all          # all four models, then weights/metrics.json (about 25 min on a 2-core CPU)
python -m train.triplet      # one model: train.triplet, train.digit_sum, train.sequence or train.autoencoder
python -m train.evaluate     # re-measure the weights into weights/metrics.json
```
Training reads MNIST from `$MNIST_DATA_DIR` (default `data/`) and writes `weights/<model>.pt`; restart the app to
load new weights. `python -m train.<model> --help` lists each recipe's options.
"""


# --------------------------------------------------------------------------------------
# Layout.

def example_files() -> list[list[str]]:
    return [[str(p)] for p in sorted([*EXAMPLES_DIR.glob("*.png"), *EXAMPLES_DIR.glob("*.jpg")])]


with gr.Blocks(title="MNIST Studio", analytics_enabled=False) as demo:
    gr.Markdown("# MNIST Studio\nDraw a row of digits (or upload a picture of them): four models trained on MNIST "
                "read them side by side.")
    banner = gr.HTML(banner_html(), visible=bool(UNAVAILABLE), elem_id="banner")
    source = gr.State("draw")
    analysis_state = gr.State(None)

    with gr.Tabs(elem_id="main-tabs"):
        with gr.Tab("Studio", id="studio"):
            with gr.Tabs(elem_id="input-tabs"):
                with gr.Tab("Draw", id="draw") as draw_tab:
                    sketch = gr.Sketchpad(
                        canvas_size=CANVAS, image_mode="RGBA", type="numpy", label="Draw digits in a row",
                        brush=gr.Brush(default_size=10, colors=["#000000"], color_mode="fixed"),
                        eraser=gr.Eraser(default_size=24), layers=False, elem_id="sketch")
                    gr.Markdown("Pick the **brush** (left toolbar), then draw 1–8 digits **left to right**, each "
                                "about as tall as the canvas, with a small gap between them. Answers update after "
                                "every stroke. The eraser is under the brush; undo and clear (the bin) are top "
                                "right — after clearing, pick the brush again.", elem_classes="ms-note")
                with gr.Tab("Upload", id="upload") as upload_tab:
                    upload = gr.Image(type="filepath", image_mode=None, sources=["upload", "clipboard", "webcam"],
                                      label="A picture of digits — a row, or rows read top to bottom: a photo, a scan, a 28×84 strip…",
                                      height=300, elem_id="upload")
                with gr.Tab("Examples", id="examples") as examples_tab:
                    gr.Examples(example_files(), inputs=[upload], label="Click one: it opens in the Upload tab "
                                "and every model reads it. (MNIST test digits composed by this app, "
                                "synthetic drawings and a synthetic photo.)", examples_per_page=12)
            with gr.Row(equal_height=True):
                predict_btn = gr.Button("Predict", variant="primary", scale=0, min_width=140, elem_id="predict")
                status = gr.Markdown("", elem_classes="ms-status", elem_id="status")
            with gr.Row():
                found = gr.Image(label="Found digits (as the segmenter sees them)", type="pil", interactive=False,
                                 format="png", height=220, scale=3, elem_id="found", buttons=["fullscreen"])
                with gr.Column(scale=2, min_width=240):
                    gr.Markdown("**28×28 crops, as the models read them** (white ink on black, centred like MNIST)",
                                elem_classes="ms-note")
                    crops = gr.Gallery(show_label=False, label="Crops", columns=4, height=190,
                                       object_fit="contain", format="png", elem_id="crops",
                                       elem_classes="ms-pixels", allow_preview=False, buttons=[])
            with gr.Row(equal_height=False):
                with gr.Column(min_width=230, elem_classes="ms-panel"):
                    triplet_html = gr.HTML(waiting_panel("triplet"), elem_id="panel-triplet")
                with gr.Column(min_width=230, elem_classes="ms-panel"):
                    sum_html = gr.HTML(waiting_panel("sum"), elem_id="panel-sum")
                    sum_plot = gr.Plot(label="P(sum = k)", show_label=False, format="png", elem_id="sum-plot",
                                       visible=False)
                with gr.Column(min_width=230, elem_classes="ms-panel"):
                    sequence_html = gr.HTML(waiting_panel("sequence"), elem_id="panel-sequence")
                with gr.Column(min_width=230, elem_classes="ms-panel"):
                    autoencoder_html = gr.HTML(waiting_panel("autoencoder"), elem_id="panel-autoencoder")
            with gr.Accordion("Raw JSON (what /predict returns)", open=False):
                raw_json = gr.JSON(label="mnist_demo.predict(...)", elem_id="raw-json")

        with gr.Tab("Latent explorer", id="latent"):
            explorer_note = gr.Markdown("Draw or upload digits in the Studio tab; each one found appears here.")
            with gr.Row():
                with gr.Column(scale=1, min_width=260):
                    with gr.Row(equal_height=True):
                        pick = gr.Dropdown(label="Digit", choices=[], type="value", interactive=True, scale=2)
                        reset = gr.Button("Reset sliders", scale=1, min_width=100)
                    with gr.Row():
                        original = gr.Image(label="Its crop", type="pil", interactive=False, format="png",
                                            height=200, elem_classes="ms-pixels", buttons=[])
                        decoded = gr.Image(label="Decoded", type="pil", interactive=False, format="png", height=200,
                                           elem_classes="ms-pixels", elem_id="decoded", buttons=[])
                with gr.Column(scale=2):
                    sliders = []
                    for row in range(3):
                        with gr.Row():
                            for col in range(4):
                                i = row * 4 + col
                                sliders.append(gr.Slider(-LATENT_RANGE, LATENT_RANGE, value=0.0, step=0.01,
                                                         label=f"z{i + 1}", min_width=120))
            gr.Markdown("### Interpolate between two found digits")
            with gr.Row():
                a_pick = gr.Dropdown(label="From (t = 0)", choices=[], type="value", interactive=True)
                b_pick = gr.Dropdown(label="To (t = 1)", choices=[], type="value", interactive=True)
                t_slider = gr.Slider(0, 1, value=0.5, step=0.01, label="t")
            with gr.Row():
                interp = gr.Image(label="Decoded at t", type="pil", interactive=False, format="png", height=200,
                                  scale=1, elem_classes="ms-pixels", buttons=[])
                strip = gr.Image(label="Nine steps, t = 0 … 1", type="pil", interactive=False, format="png",
                                 height=200, scale=3, elem_classes="ms-pixels",
                                 buttons=["download"])

        with gr.Tab("Model card", id="card"):
            card = gr.HTML(model_card_html(), elem_id="model-card")
            gr.Markdown(RETRAIN)
            gr.Markdown("### Training curves")
            curves = gr.HTML(curves_html(), elem_id="curves")

    EXPLORER_OUTPUTS = [explorer_note, pick, a_pick, b_pick, t_slider, original, decoded, interp, strip, *sliders]
    STUDIO_OUTPUTS = [status, found, crops, triplet_html, sum_html, sequence_html, autoencoder_html, sum_plot,
                      raw_json, analysis_state, source, *EXPLORER_OUTPUTS]

    # Live update. Measured in Chromium with Gradio 6.31: .change and .input both fire once per finished
    # stroke (about a second after the pen lifts, never mid-stroke), on undo and on Clear (value None);
    # .input can arrive before the composite exists, so .change it is. "always_last" drops stale strokes.
    sketch.change(on_sketch, [sketch], STUDIO_OUTPUTS, trigger_mode="always_last", show_progress="hidden",
                  api_visibility="private")
    upload.change(on_upload, [upload], STUDIO_OUTPUTS, trigger_mode="always_last", preprocess=False,
                  api_visibility="private")
    # Predict reads the input tab in use; two listeners because the canvas needs Gradio's
    # preprocessing (its strokes arrive as blobs) and an upload must not (a broken file would
    # fail there with an unreadable error instead of ours).
    predict_btn.click(on_predict_draw, [source, sketch], STUDIO_OUTPUTS, api_visibility="private")
    predict_btn.click(on_predict_upload, [source, upload], STUDIO_OUTPUTS, preprocess=False, api_visibility="private")
    draw_tab.select(lambda: "draw", None, source, api_visibility="private")
    upload_tab.select(lambda: "upload", None, source, api_visibility="private")
    examples_tab.select(lambda: "upload", None, source, api_visibility="private")

    pick.input(on_pick, [analysis_state, pick], [original, decoded, *sliders], api_visibility="private")
    reset.click(on_pick, [analysis_state, pick], [original, decoded, *sliders], api_visibility="private")
    gr.on([s.input for s in sliders], on_slider, [analysis_state, *sliders], decoded, trigger_mode="always_last",
          show_progress="hidden", api_visibility="private")
    gr.on([a_pick.input, b_pick.input, t_slider.input], on_interpolate, [analysis_state, a_pick, b_pick, t_slider],
          [interp, strip], trigger_mode="always_last", show_progress="hidden", api_visibility="private")
    demo.load(lambda: (model_card_html(), curves_html()), None, [card, curves], api_visibility="private")

    # The API: trigger-less endpoints (like gr.api) over real components, so the client
    # uploads files with handle_file() and gets the JSON back.
    gr.on([], api_predict, [upload], raw_json, api_name="predict", preprocess=False,
          api_description="Every model's answer for an image of digits (mnist_demo.predict).")
    gr.on([], api_predict_sketch, [sketch], raw_json, api_name="predict_sketch",
          api_description="The same for a Sketchpad value {background, layers, composite, id}.")


# --------------------------------------------------------------------------------------
# Launch.

def parse_auth(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise argparse.ArgumentTypeError("expected user:password")
    return user, password


def warm_up() -> None:
    """Pay the one-off costs (matplotlib, first forward passes) before the first visitor does."""
    image = Image.new("L", (200, 100), 255)
    ImageDraw.Draw(image).line([(40, 15), (60, 85)], fill=0, width=9)
    analysis, _ = _analyse(image)
    if analysis is not None:
        render(analysis, None, "draw", image)
    sum_figure(np.full(37, 1 / 37), 0).savefig(io.BytesIO(), format="png")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="MNIST Studio: draw digits, four MNIST models answer.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    parser.add_argument("--auth", type=parse_auth, default=None, metavar="USER:PASSWORD",
                        help="require a login (or set MNIST_STUDIO_AUTH=user:password)")
    args = parser.parse_args(argv)
    try:
        auth = args.auth or parse_auth(os.environ.get("MNIST_STUDIO_AUTH"))
    except argparse.ArgumentTypeError:
        parser.error("MNIST_STUDIO_AUTH: expected user:password")
    if args.share:
        print("WARNING: --share makes a public link: anyone who has it can use this app"
              + ("" if auth else " (add --auth user:password to require a login)") + ".", file=sys.stderr)
    elif args.host not in ("127.0.0.1", "localhost", "::1") and not auth:
        print(f"WARNING: listening on {args.host} without --auth: anyone on the network can use this app.",
              file=sys.stderr)
    for name, message in UNAVAILABLE.items():
        print(f"WARNING: {MODEL_NAMES[name]} unavailable: {message}", file=sys.stderr)
    # One torch thread per request: two requests × two threads on two cores spin against
    # each other, and under load that is 3–10 % slower, far worse on a busy machine
    # (benchmarks/RESULTS.md).
    torch.set_num_threads(1)
    threading.Thread(target=warm_up, name="warm-up", daemon=True).start()  # serve first, warm up meanwhile
    demo.queue(default_concurrency_limit=2)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, auth=auth,
                max_file_size=MAX_UPLOAD, **LAUNCH_STYLE)


if __name__ == "__main__":
    main()
