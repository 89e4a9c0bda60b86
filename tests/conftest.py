"""Shared fixtures: where MNIST is (a failure, not a skip, in CI when it is missing), and
the app served in this process for the API and browser tests."""

from __future__ import annotations

import os
import socket
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


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_module():
    """``app.py`` imported (builds ``demo``, loads the weights once)."""
    import app

    return app


@pytest.fixture(scope="session")
def server(app_module):
    """``app.demo`` launched once in this process on a free port, shared by every test module."""
    port = free_port()
    app_module.demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                           max_file_size=app_module.MAX_UPLOAD, **app_module.LAUNCH_STYLE)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app_module.demo.close()
