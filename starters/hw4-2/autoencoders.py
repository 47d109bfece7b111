"""HW4-2: auto-encoders on MNIST (plain, denoising, sparse). Fill in every function;
keep the names and signatures.

Read README.md first. Every build_...() returns an nn.Module with two methods:
    encode(x): x of shape (N, 1, 28, 28) in [0, 1] -> codes of shape (N, d), float
    decode(z): codes (N, d) -> images (N, 1, 28, 28) in [0, 1]
Every train_...(model, images, config, log) trains the model and returns it: images is a
float32 tensor (N, 1, 28, 28) in [0, 1] (training images only) on config["device"];
config has "epochs", "batch_size", "lr", "seed", "device" and the options named below;
call log({"loss": ...}) once per epoch.
"""

import torch  # noqa: F401
from torch import nn  # noqa: F401


def build_autoencoder():
    """A plain auto-encoder with a code of at most 32 numbers per image."""
    raise NotImplementedError("build_autoencoder")


def train_autoencoder(model, images, config, log):
    """Train the plain auto-encoder to reconstruct its input; return the model."""
    raise NotImplementedError("train_autoencoder")


def build_denoising_autoencoder():
    """A denoising auto-encoder with a code of at most 32 numbers per image."""
    raise NotImplementedError("build_denoising_autoencoder")


def train_denoising_autoencoder(model, images, config, log):
    """Train it to map NOISY inputs (add Gaussian noise of std config["noise_std"] to each
    batch, then clip to [0, 1]) to the CLEAN images; return the model."""
    raise NotImplementedError("train_denoising_autoencoder")


def build_sparse_autoencoder():
    """A sparse auto-encoder with a code of at most 64 numbers per image."""
    raise NotImplementedError("build_sparse_autoencoder")


def train_sparse_autoencoder(model, images, config, log):
    """Train it with reconstruction loss + config["l1"] * mean over the batch of the sum
    of |code| (an L1 penalty on the codes); return the model."""
    raise NotImplementedError("train_sparse_autoencoder")
