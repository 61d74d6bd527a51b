"""The TOP-GAN classifier: a DCGAN discriminator trunk with a classification head.

Rubin et al. (Medical Image Analysis 57, 2019) pretrain a DCGAN (Radford et al., ICLR 2016) on
unlabelled OPD maps, keep its discriminator's convolutional trunk, and replace the last layer with
a small classifier that is fine-tuned on a few labelled cells. The trunk here is the DCGAN
discriminator of PyTorch's DCGAN example: 4x4 convolutions with stride 2 and padding 1, each halving
the map, channels doubling from ``ndf``, batch norm after every convolution but the first, and
LeakyReLU(0.2), until the map is 4x4.

Everything here is plain ``torch.nn`` in ``nn.Sequential`` containers, so that
:mod:`topgan.export` can write each module as one op of flowd's model format
(docs/model-format.md) and the GAN discriminator and the classifier share parameter names.
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: The LeakyReLU slope of the DCGAN paper (Radford et al. 2016, section 3).
LEAKY_SLOPE = 0.2

#: Head designs for :func:`classification_head`.
HEADS = ("linear", "global_pool", "avgpool")


def trunk_depth(image_size: int) -> int:
    """Number of stride-2 convolutions that take ``image_size`` down to a 4x4 map."""
    depth = math.log2(image_size / 4) if image_size >= 8 else 0.5
    if depth != int(depth):
        raise ValueError(f"image_size must be 4 * 2**k with k >= 1 (8, 16, 32, 64, 128, ...); got {image_size}")
    return int(depth)


def discriminator_trunk(image_size: int = 64, ndf: int = 64, batchnorm: bool = True,
                        in_channels: int = 1) -> nn.Sequential:
    """The DCGAN discriminator without its final real/fake layer: [N,1,S,S] -> [N,C,4,4].

    Channels go ndf, 2 ndf, 4 ndf, ... (C = ndf * 2**(depth-1)). With ``batchnorm`` every
    convolution but the first is followed by BatchNorm2d and has no bias (the norm's shift
    replaces it); without it, every convolution has a bias.
    """
    layers: list[nn.Module] = []
    channels = in_channels
    for i in range(trunk_depth(image_size)):
        out = ndf * 2**i
        norm = batchnorm and i > 0
        layers.append(nn.Conv2d(channels, out, 4, stride=2, padding=1, bias=not norm))
        if norm:
            layers.append(nn.BatchNorm2d(out))
        layers.append(nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
        channels = out
    return nn.Sequential(*layers)


def trunk_channels(trunk: nn.Sequential) -> int:
    """Channels of the trunk's output map."""
    return [m for m in trunk if isinstance(m, nn.Conv2d)][-1].out_channels


def classification_head(channels: int, num_classes: int, kind: str = "linear",
                        dropout: float = 0.5) -> nn.Sequential:
    """The classifier that replaces the discriminator's last layer, on a [N,channels,4,4] map.

    - ``linear``: flatten the 4x4 map, dropout, one linear layer (TOP-GAN's replacement head);
    - ``global_pool``: global average pooling to [N,channels], dropout, linear;
    - ``avgpool``: 2x2 average pooling to 2x2, flatten, a hidden linear layer with ReLU, linear.
    """
    if kind == "linear":
        return nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels * 16, num_classes))
    if kind == "global_pool":
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                             nn.Linear(channels, num_classes))
    if kind == "avgpool":
        hidden = max(16, channels // 4)
        return nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Flatten(), nn.Linear(channels * 4, hidden),
                             nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(hidden, num_classes))
    raise ValueError(f"unknown head {kind!r}; choose one of {', '.join(HEADS)}")


class DCGANDiscriminator(nn.Module):
    """The GAN discriminator TOP-GAN pretrains: the trunk plus DCGAN's real/fake layer (a 4x4
    convolution of the 4x4 map to one logit), [N,1,S,S] -> [N] logits."""

    def __init__(self, image_size: int = 64, ndf: int = 64, batchnorm: bool = True):
        super().__init__()
        self.image_size = image_size
        self.features = discriminator_trunk(image_size, ndf, batchnorm)
        self.real_fake = nn.Conv2d(trunk_channels(self.features), 1, 4, stride=1, padding=0, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.real_fake(self.features(x)).flatten()


class TopGanClassifier(nn.Module):
    """Discriminator trunk (``features``) + classification head (``head``); outputs logits."""

    def __init__(self, num_classes: int, image_size: int = 64, ndf: int = 64, batchnorm: bool = True,
                 head: str = "linear", dropout: float = 0.5):
        super().__init__()
        self.image_size = image_size
        self.features = discriminator_trunk(image_size, ndf, batchnorm)
        self.head = classification_head(trunk_channels(self.features), num_classes, head, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    @classmethod
    def from_discriminator(cls, discriminator: DCGANDiscriminator, num_classes: int, head: str = "linear",
                           dropout: float = 0.5) -> "TopGanClassifier":
        """TOP-GAN's transfer step: keep the pretrained trunk, replace the real/fake layer with a
        fresh classification head (the trunk's weights are copied, not shared)."""
        convs = [m for m in discriminator.features if isinstance(m, nn.Conv2d)]
        model = cls(num_classes, discriminator.image_size, convs[0].out_channels,
                    any(isinstance(m, nn.BatchNorm2d) for m in discriminator.features), head, dropout)
        model.features.load_state_dict(discriminator.features.state_dict())
        return model

    def modules_in_order(self) -> list[tuple[str, nn.Module]]:
        """The leaf modules in execution order, with their state_dict prefixes."""
        return [(f"features.{i}", m) for i, m in enumerate(self.features)] + \
               [(f"head.{i}", m) for i, m in enumerate(self.head)]
