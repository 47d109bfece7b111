"""HW4-3: a GAN on MNIST. Fill in every function; keep the names and signatures.

Read README.md first: it says what each function receives and returns and how the
grader calls them. Only torch, numpy and the standard library are needed.
"""

import torch  # noqa: F401
from torch import nn  # noqa: F401

LATENT = 64  # the size of the noise vector z the grader feeds your generator


def discriminator_loss(real_logits, fake_logits):
    """The discriminator's loss from its raw logits (before any sigmoid).

    Receives: real_logits, the discriminator's logits for real images, and fake_logits,
    its logits for generated images (tensors of any shape, or numpy arrays: start with
    torch.as_tensor(...)).
    Returns: a scalar tensor, the binary cross-entropy with real labelled 1 and generated
    labelled 0: mean(-log sigmoid(real)) + mean(-log(1 - sigmoid(fake))), computed in a
    numerically stable way (logits of +-100 must give finite values).
    """
    raise NotImplementedError("discriminator_loss")


def generator_loss(fake_logits):
    """The NON-SATURATING generator loss from the discriminator's logits for generated
    images: mean(-log sigmoid(fake)), numerically stable. Returns a scalar tensor."""
    raise NotImplementedError("generator_loss")


def build_generator():
    """Returns an nn.Module mapping z of shape (N, 64) (standard normal) to images of
    shape (N, 1, 28, 28) with values in [0, 1] (0 black, 1 white)."""
    raise NotImplementedError("build_generator")


def train(generator, images, config, log):
    """Trains the generator adversarially; returns the trained generator.

    Receives: generator, a fresh build_generator() (on config["device"]); images, the
    MNIST training images, a float32 tensor (N, 1, 28, 28) in [0, 1] on that device;
    config, a dict with "epochs", "batch_size", "lr", "seed" and "device"; log, a
    function to call once per epoch with {"d_loss": ..., "g_loss": ...}.
    Build your discriminator here. Finish within the time budget (see README.md).
    """
    raise NotImplementedError("train")
