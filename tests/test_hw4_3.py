"""HW4-3 (GAN, kind ``samples``) through the real sandbox: the reference's losses, the
starter, and generators whose samples are refused or judged without training.
(The reference's GAN training runs in `autograder specs test hw4-3`; the buggy and
alternative implementations in the corpus, grading_specs/samples/hw4-3/.)"""

from __future__ import annotations

from pathlib import Path

from autograder.specs.loader import load_spec_file
from tests.sandboxed import by_check, grade_folder

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "grading_specs" / "hw4-3.yaml"
LOSSES = ["losses/d-loss", "losses/g-loss", "losses/stable"]
SAMPLES = ["gan/samples"]

UNTRAINED = """
import torch
from torch import nn


class G(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 784)

    def forward(self, z):
        return OUTPUT


def build_generator():
    return G()


def train(generator, images, config, log):
    log({"d_loss": 0.5, "g_loss": 0.7})
    return generator
"""


def _generator(tmp_path: Path, output: str) -> Path:
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "gan.py").write_text(UNTRAINED.replace("OUTPUT", output))
    return folder


def test_spec_shape():
    spec = load_spec_file(SPEC).spec
    assert spec.max_points == 100
    samples = [c for _, c in spec.checks() if c.kind == "samples"]
    assert len(samples) == 1 and samples[0].latent_dim == 64 and samples[0].points == 80


def test_reference_losses(tmp_path):
    report = grade_folder(tmp_path, "hw4-3", ROOT / "reference_solutions" / "hw4-3", only=LOSSES)
    assert report.raw_score == 20, [r.message for r in report.outcomes]


def test_starter_earns_nothing(tmp_path):
    report = grade_folder(tmp_path, "hw4-3", ROOT / "starters" / "hw4-3", seed=5)
    assert report.raw_score == 0
    assert "NotImplementedError" in by_check(report)["gan/samples"]["message"]


def test_unmapped_tanh_range_is_named(tmp_path):
    folder = _generator(tmp_path, "torch.tanh(self.fc(z)).view(-1, 1, 28, 28)")
    row = by_check(grade_folder(tmp_path, "hw4-3", folder, only=SAMPLES))["gan/samples"]
    assert row["earned"] == 0
    assert "(x + 1) / 2" in row["message"]
    assert row["details"]["curve"][0]["d_loss"] == 0.5


def test_constant_generator_is_mode_collapse(tmp_path):
    folder = _generator(tmp_path, "torch.sigmoid(self.fc(z * 0)).view(-1, 1, 28, 28)")
    row = by_check(grade_folder(tmp_path, "hw4-3", folder, only=SAMPLES))["gan/samples"]
    assert row["details"]["coverage"] == 0.1
    assert row["details"]["parts"]["coverage"] == 0
    assert "makes up 100% of the 2000 samples" in row["message"]
    assert "ignore its noise" in row["message"]


def test_wrong_sample_shape_is_refused(tmp_path):
    folder = _generator(tmp_path, "torch.sigmoid(self.fc(z))[:, :700]")
    row = by_check(grade_folder(tmp_path, "hw4-3", folder, only=SAMPLES))["gan/samples"]
    assert row["earned"] == 0
    assert "784 values" in row["message"]


REPLAY = """
import torch
from torch import nn


class Replay(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("bank", torch.zeros(2500, 1, 28, 28))

    def forward(self, z):
        x = self.bank[(z[:, 0].abs() * 1e4).long() % 2500]
        return (x + 0.1 * torch.randn_like(x)).clamp(0, 1)


def build_generator():
    return Replay()


def train(generator, images, config, log):
    generator.bank.copy_(images[torch.randperm(len(images))[:2500]])
    log({"d_loss": 0.5, "g_loss": 0.7})
    return generator
"""


def test_replaying_noisy_training_images_earns_nothing(tmp_path):
    """What a student did: 2,500 stored training images (1.96M numbers, under max_params),
    replayed with a little noise, took 80/80 before the copy rule."""
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "gan.py").write_text(REPLAY)
    row = by_check(grade_folder(tmp_path, "hw4-3", folder, only=SAMPLES))["gan/samples"]
    assert row["earned"] == 0
    assert row["details"]["copies"]["fraction"] > 0.5
    assert "samples are copies of MNIST images" in row["message"]
    assert "training image #" in row["message"]


def test_untrained_generator_earns_nothing(tmp_path):
    """The reference's generator, untrained: the judge calls its noise a digit with some
    confidence, but confidence counts only once the Frechet line earns points."""
    source = (ROOT / "reference_solutions" / "hw4-3" / "gan.py").read_text()
    source += "\n\ndef train(generator, images, config, log):\n    return generator\n"
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "gan.py").write_text(source)
    row = by_check(grade_folder(tmp_path, "hw4-3", folder, only=SAMPLES))["gan/samples"]
    assert row["earned"] == 0
    assert row["details"]["confidence"] > 0.5
    assert "only once the Frechet distance does" in row["message"]
