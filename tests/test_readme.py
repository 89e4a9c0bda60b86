"""The README tells the truth: its metrics table is metrics.json's, CI runs its test command."""

import json

from tests.conftest import REPO
from train import evaluate

README = (REPO / "README.md").read_text()


def test_metrics_table_is_written_from_metrics_json():
    metrics = json.loads((REPO / "weights" / "metrics.json").read_text())
    assert evaluate.markdown_table(metrics) in README


def test_ci_runs_the_readme_test_command():
    command = ".venv/bin/pip install -r requirements-dev.txt && .venv/bin/python -m pytest"
    assert command in README
    ci = (REPO / ".ci" / "run").read_text()
    assert "python3 -m venv .venv && .venv/bin/pip install -q -r requirements-dev.txt && .venv/bin/python -m pytest" in ci
    assert "MNIST_DATA_DIR" in ci
