"""Every training script runs end to end on a few samples; resume; torchrun with 2 processes."""

import json
import os
import subprocess
import sys

import pytest
import torch

from mnist_demo import models
from tests.conftest import REPO

QUICK = ["--limit", "64", "--epochs", "1", "--batch-size", "32", "--workers", "0"]


def _run(module, *args, env_extra=None, timeout=300):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.update(env_extra or {})
    result = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


@pytest.mark.parametrize("arch", ["triplet", "digit_sum", "sequence", "autoencoder"])
def test_script_writes_a_loadable_weights_file(arch, tmp_path, mnist_root):
    out = tmp_path / f"{arch}.pt"
    extra = ["--subset-epochs", "1"] if arch == "autoencoder" else []
    _run(f"train.{arch}", *QUICK, *extra, "--out", str(out), "--run-dir", str(tmp_path / "run"))
    model, saved = models.load(out, arch=arch)
    assert saved["train"]["seconds"] > 0 and saved["metrics"]["test_size"] == 64
    assert (tmp_path / f"{arch}_curves.png").stat().st_size > 1000
    assert list((tmp_path / "run").rglob("last.ckpt"))


def test_resume_continues_from_the_last_checkpoint(tmp_path, mnist_root):
    common = ["--limit", "64", "--batch-size", "32", "--workers", "0", "--out", str(tmp_path / "s.pt"),
              "--run-dir", str(tmp_path / "run")]
    _run("train.sequence", *common, "--epochs", "1")
    first = torch.load(tmp_path / "run" / "last.ckpt", weights_only=True)
    assert len(first["history"]["val_loss"]) == 1
    out = _run("train.sequence", *common, "--epochs", "2", "--resume")
    assert "resumed after epoch 1" in out and "[run 2/2]" in out and "[run 1/2]" not in out
    second = torch.load(tmp_path / "run" / "last.ckpt", weights_only=True)
    assert second["history"]["val_loss"][0] == first["history"]["val_loss"][0]
    assert len(second["history"]["val_loss"]) == 2


def test_torchrun_two_cpu_processes(tmp_path, mnist_root):
    out = tmp_path / "t.pt"
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "train.triplet", *QUICK, "--device", "cpu", "--out", str(out), "--run-dir", str(tmp_path / "run")],
        cwd=REPO, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    model, saved = models.load(out, arch="triplet")
    assert saved["train"]["seconds"] > 0
    assert result.stdout.count("wrote ") == 1  # only rank 0 writes


def test_evaluate_writes_metrics_for_every_file(tmp_path, mnist_root):
    weights = tmp_path / "w"
    _run("train.all", "--limit", "32", "--epochs", "1", "--workers", "0", "--weights-dir", str(weights),
         "--runs-dir", str(tmp_path / "runs"),
         timeout=600)
    metrics = json.loads((weights / "metrics.json").read_text())
    for group, keys in {"triplet": ["digit_acc", "exact"], "digit_sum": ["exact", "exact_dist", "mae"],
                        "sequence": ["exact"], "autoencoder": ["mse", "classifier_acc", "frozen_acc_6k",
                                                                "finetuned_acc_6k"]}.items():
        for key in keys:
            assert isinstance(metrics[group][key], float), (group, key)
        assert metrics[group]["train_seconds"] >= 0 and metrics[group]["train_machine"]
    assert metrics["train_seconds_total"] > 0 and metrics["test_limit"] == 32
