"""The Gradio app over HTTP: gradio_client against `app.demo` launched in this process.

The API must return exactly `mnist_demo.predict(...)` for the same file, say clearly what
is wrong with a bad upload (and keep serving), and take a Sketchpad value too. Label checks
use clean MNIST test composites and need trained weights: they skip locally and fail in CI
when weights/*.pt are missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch
from PIL import Image

from tests.conftest import free_port
from tests.drawing import render

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def require_weights(*names: str) -> None:
    from mnist_demo.inference import WEIGHT_FILES, weights_dir

    missing = [WEIGHT_FILES[n] for n in names if not (weights_dir() / WEIGHT_FILES[n]).is_file()]
    if missing:
        message = f"trained weights missing: {', '.join(missing)} (python -m train.all)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server, verbose=False)


def first_of(pool, labels) -> torch.Tensor:
    """The first MNIST test digit of each label (distinct digits when a label repeats)."""
    used, picked = set(), []
    for label in labels:
        index = next(int(i) for i in torch.nonzero(pool.labels == label).flatten() if int(i) not in used)
        used.add(index)
        picked.append(index)
    return pool.images[picked]


def save_grey(array: torch.Tensor, path: Path) -> Path:
    Image.fromarray((array.clamp(0, 1) * 255).round().byte().numpy(), "L").save(path)
    return path


@pytest.fixture(scope="module")
def strip_png(mnist_test, tmp_path_factory) -> tuple[Path, list[int]]:
    from mnist_demo import compose

    labels = [3, 8, 5]
    path = tmp_path_factory.mktemp("png") / "strip.png"
    return save_grey(compose.compose_sequence(first_of(mnist_test, labels))[0], path), labels


@pytest.fixture(scope="module")
def sum_png(mnist_test, tmp_path_factory) -> tuple[Path, list[int]]:
    from mnist_demo import compose

    labels = [4, 0, 9, 2]
    path = tmp_path_factory.mktemp("png") / "sum.png"
    return save_grey(compose.compose_sum(compose.sum_cells(first_of(mnist_test, labels)))[0], path), labels


@pytest.fixture(scope="module")
def drawn_png(tmp_path_factory) -> Path:
    """A draw-like RGBA PNG: black ink on a fully transparent 840×280 canvas, like the Sketchpad."""
    image, _ = render([4, 0, 9], pen=12, paper=None)
    path = tmp_path_factory.mktemp("png") / "drawn.png"
    image.save(path)
    return path


# --- the API endpoints ----------------------------------------------------------------

def test_api_exposes_predict_with_one_image_in_and_json_out(client):
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert {"/predict", "/predict_sketch"} <= set(api)
    predict = api["/predict"]
    assert [p["component"] for p in predict["parameters"]] == ["Image"]
    assert [r["component"] for r in predict["returns"]] == ["Json"]
    assert [p["component"] for p in api["/predict_sketch"]["parameters"]] == ["Imageeditor"]  # Sketchpad is an ImageEditor


def test_upload_of_mnist_strip_returns_exactly_predict(client, strip_png):
    from gradio_client import handle_file

    from mnist_demo import predict

    path, labels = strip_png
    got = client.predict(handle_file(str(path)), api_name="/predict")
    assert got == predict(str(path))
    assert len(got["digits"]) == 3


def test_upload_of_mnist_strip_reads_the_digits(client, strip_png):
    from gradio_client import handle_file

    require_weights("triplet", "sequence", "autoencoder")
    path, labels = strip_png
    got = client.predict(handle_file(str(path)), api_name="/predict")
    assert got["triplet"]["labels"] == labels
    assert got["lstm"]["labels"] == labels
    assert got["sequence"]["text"] == "".join(map(str, labels))
    assert got["sequence"]["slots"] == [str(d) for d in labels]
    assert got["autoencoder"]["labels"] == labels


def test_upload_of_mnist_sum_image_reads_the_sum(client, sum_png):
    from gradio_client import handle_file

    from mnist_demo import predict

    path, labels = sum_png
    got = client.predict(handle_file(str(path)), api_name="/predict")
    assert got == predict(str(path))
    assert len(got["digits"]) == 4
    assert got["triplet"] == {"error": "Triplet reads exactly 3 digits — found 4"}
    assert "error" in got["sequence"] and "found 4" in got["sequence"]["error"]
    require_weights("digit_sum", "triplet")
    assert got["sum"]["digits"] == labels
    assert got["sum"]["exact"] == sum(labels)
    assert abs(got["sum"]["value"] - sum(labels)) < 0.5
    assert len(got["sum"]["distribution"]) == 37
    assert abs(sum(got["sum"]["distribution"]) - 1) < 1e-2
    assert got["lstm"]["labels"] == labels


def test_upload_of_transparent_drawing_returns_exactly_predict(client, drawn_png):
    from gradio_client import handle_file

    from mnist_demo import predict

    got = client.predict(handle_file(str(drawn_png)), api_name="/predict")
    assert got == predict(str(drawn_png))
    assert len(got["digits"]) == 3  # black ink on transparent is not read as an all-black image


def test_bad_upload_is_a_clear_error_and_the_server_keeps_answering(client, tmp_path, strip_png):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    fake = tmp_path / "notes.png"
    fake.write_text("these are my shopping notes, not a picture\n" * 20)
    with pytest.raises(AppError, match="not an image file"):
        client.predict(handle_file(str(fake)), api_name="/predict")
    blank = tmp_path / "blank.png"
    Image.new("L", (84, 28), 255).save(blank)
    with pytest.raises(AppError, match="no digits found"):
        client.predict(handle_file(str(blank)), api_name="/predict")
    again = client.predict(handle_file(str(strip_png[0])), api_name="/predict")  # still serving
    assert len(again["digits"]) == 3


def test_sketchpad_value_endpoint(client, drawn_png):
    from gradio_client import handle_file

    from mnist_demo import predict

    value = {"background": handle_file(str(drawn_png)), "layers": [], "composite": handle_file(str(drawn_png)),
             "id": None}
    got = client.predict(value, api_name="/predict_sketch")
    expected = predict(str(drawn_png))
    assert got["digits"] == expected["digits"]
    for slot in ("triplet", "lstm", "sum", "sequence", "autoencoder"):
        assert got[slot].keys() == expected[slot].keys()
        if "labels" in expected[slot]:
            assert got[slot]["labels"] == expected[slot]["labels"]
    assert got["sequence"].get("text") == expected["sequence"].get("text")


def test_empty_sketch_is_a_clear_error(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    empty = tmp_path / "empty.png"
    Image.new("RGBA", (840, 280), (0, 0, 0, 0)).save(empty)
    value = {"background": handle_file(str(empty)), "layers": [], "composite": handle_file(str(empty)), "id": None}
    with pytest.raises(AppError, match="draw something"):
        client.predict(value, api_name="/predict_sketch")


# --- the UI functions, without a browser ------------------------------------------------

def test_importing_the_app_launches_nothing():
    code = "import app; assert not app.demo.is_running and getattr(app.demo, 'server', None) is None; print('ok')"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_ui_names_the_reason_a_panel_cannot_answer(app_module, tmp_path):
    image, _ = render([4, 7], pen=12)
    path = tmp_path / "two.png"
    image.save(path)
    outputs = app_module.on_upload({"path": str(path)})
    out = dict(zip(app_module.STUDIO_OUTPUTS, outputs))
    assert "2 digits" in out[app_module.status]
    triplet = out[app_module.triplet_html]
    assert "Traceback" not in triplet
    if "triplet" not in app_module.UNAVAILABLE:
        assert "Triplet reads exactly 3 digits — found 2" in triplet
        assert "LSTM reading all 2 digits" in triplet
    assert len(out[app_module.crops]) == 2
    assert out[app_module.found].size[0] >= 280


def test_ui_keeps_going_on_bad_input(app_module, tmp_path):
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"GIF89a but not really")
    out = dict(zip(app_module.STUDIO_OUTPUTS, app_module.on_upload({"path": str(fake)})))
    assert "not an image file" in out[app_module.status]
    assert out[app_module.found] is None
    out = dict(zip(app_module.STUDIO_OUTPUTS, app_module.on_sketch(None)))
    assert "empty" in out[app_module.status]


def test_latent_explorer_decodes_the_sliders(app_module, tmp_path):
    require_weights("autoencoder")
    image, _ = render([3, 6], pen=12)
    analysis, message = app_module._analyse(image)
    assert message is None
    decoded = app_module.on_slider(analysis, *analysis.latents[1])
    assert decoded.size == (224, 224)
    moved = app_module.on_slider(analysis, *(analysis.latents[1] + 3.0))
    assert moved.tobytes() != decoded.tobytes()
    at_t, strip = app_module.on_interpolate(analysis, 0, 1, 0.0)
    assert at_t.tobytes() == app_module._decoded(analysis.latents[0]).tobytes()
    assert strip.size == (4 * (9 * 28 + 8 * 2), 4 * 28)


def test_model_card_without_metrics_says_so(app_module, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_STUDIO_WEIGHTS", str(tmp_path))
    card = app_module.model_card_html()
    assert "No metrics yet" in card and "python -m train.all" in card
    assert "99.25 %" in card and "87.34 %" in card and "93.18 %" in card
    (tmp_path / "metrics.json").write_text('{"sequence": {"exact": 0.9931, "slot_acc": 0.997}, '
                                            '"triplet": {"digit_acc": 0.99, "exact": 0.97, "parameters": 12345}}')
    card = app_module.model_card_html()
    assert "99.31 %" in card and "12,345" in card and "No metrics yet" not in card


# --- the command line ------------------------------------------------------------------

def test_cli_starts_with_missing_weights_and_names_them(tmp_path):
    port = free_port()
    env = dict(os.environ, MNIST_STUDIO_WEIGHTS=str(tmp_path), OMP_NUM_THREADS="1", GRADIO_ANALYTICS_ENABLED="False")
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--auth", "ann:secret"], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        page = None
        while time.perf_counter() - start < 60 and proc.poll() is None:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except urllib.error.HTTPError as answer:  # an answer all the same (the login page)
                page = answer
                break
            except OSError:
                time.sleep(0.2)
        assert page is not None, f"app did not serve: {proc.poll()=}"
        elapsed = time.perf_counter() - start
        print(f"python app.py served after {elapsed:.1f} s")
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert "triplet.pt is missing" in err and "autoencoder.pt is missing" in err
    assert "Running on local URL:  http://127.0.0.1:" in out


def test_cli_rejects_malformed_auth():
    proc = subprocess.run([sys.executable, "-c", "import app; app.main(['--auth', 'nopassword'])"], cwd=REPO,
                          capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=120)
    assert proc.returncode == 2 and "user:password" in proc.stderr
