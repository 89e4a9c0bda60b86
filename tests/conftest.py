"""Shared fixtures: where MNIST is, and a failure (not a skip) in CI when it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The MNIST root ($MNIST_DATA_DIR or data/). Skips locally, fails in CI, when absent."""
    from mnist_demo.data import data_dir

    root = data_dir()
    if not (root / "MNIST" / "raw" / "t10k-images-idx3-ubyte").is_file():
        message = f"MNIST not found under {root} (set MNIST_DATA_DIR)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return root


@pytest.fixture(scope="session")
def mnist_test(mnist_root):
    """The 10,000 MNIST test digits as a DigitPool."""
    from mnist_demo.data import mnist_pool

    return mnist_pool("test", mnist_root)
