"""Every training script runs end to end on a few samples; resume; torchrun with 2 processes."""

import json
import os
import subprocess
import sys

import pytest
import torch
from torch.utils.data import TensorDataset

from mnist_demo import models
from train import loop
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


def test_fit_temperature_recovers_a_known_overconfidence():
    # Labels drawn from softmax(z); a model saying 3·z is overconfident by exactly T = 3.
    g = torch.Generator().manual_seed(0)
    z = torch.randn(4000, 10, generator=g) * 2
    labels = torch.multinomial(z.softmax(-1), 1, generator=g).squeeze(1)
    temperature = loop.fit_temperature(torch.nn.Identity(), TensorDataset(z * 3, labels),
                                       lambda model, batch, device: (model(batch[0]), batch[1]),
                                       loop.Context(torch.device("cpu")))
    assert temperature == pytest.approx(3, rel=0.1)


def test_fit_keeps_a_later_epoch_as_good_as_the_best_and_stops_after_patience(tmp_path):
    # Scripted validation losses: epoch 2 is within BEST_TOLERANCE of epoch 1's, so its
    # (later) weights are kept; three worse epochs after it stop the run.
    val_losses = iter([1.0, 0.5, 0.5 * (1 + loop.BEST_TOLERANCE / 2), 0.6, 0.7, 0.8, 0.9, 1.0])
    model = torch.nn.Linear(1, 1)

    def step(module, batch, device):
        (x,) = batch
        if module.training:
            return module(x).pow(2).mean(), 0, len(x)
        return torch.tensor(next(val_losses)), 0, len(x)

    data = TensorDataset(torch.ones(4, 1))
    args = loop.get_args_parser("test", epochs=8, batch_size=4, lr=1e-3).parse_args(
        ["--patience", "3", "--workers", "0", "--run-dir", str(tmp_path)])
    history = loop.fit(model, data, data, step, args, loop.Context(torch.device("cpu")))
    assert history["best_epoch"] == 2 and history["best_val_loss"] == 0.5
    assert history["early_stopped"] and len(history["val_loss"]) == 6
