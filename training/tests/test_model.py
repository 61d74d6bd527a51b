"""The TOP-GAN model builder: DCGAN trunk shapes, heads, the discriminator-to-classifier transfer,
and what the exporter refuses."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from topgan.export import describe
from topgan.model import HEADS, DCGANDiscriminator, TopGanClassifier, discriminator_trunk, trunk_depth


@pytest.mark.parametrize("size, depth", [(8, 1), (32, 3), (64, 4), (128, 5)])
def test_the_trunk_halves_the_map_down_to_4x4(size, depth):
    assert trunk_depth(size) == depth
    trunk = discriminator_trunk(size, ndf=8)
    assert trunk(torch.zeros(2, 1, size, size)).shape == (2, 8 * 2 ** (depth - 1), 4, 4)


@pytest.mark.parametrize("size", [0, 4, 48, 100])
def test_sizes_that_do_not_reach_4x4_are_refused(size):
    with pytest.raises(ValueError, match="image_size must be 4 \\* 2\\*\\*k"):
        trunk_depth(size)


def test_batchnorm_replaces_the_conv_bias_except_on_the_first_layer():
    trunk = discriminator_trunk(32, ndf=8, batchnorm=True)
    convs = [m for m in trunk if isinstance(m, nn.Conv2d)]
    assert convs[0].bias is not None and all(c.bias is None for c in convs[1:])
    assert sum(isinstance(m, nn.BatchNorm2d) for m in trunk) == len(convs) - 1
    assert all(c.bias is not None for c in discriminator_trunk(32, ndf=8, batchnorm=False) if isinstance(c, nn.Conv2d))


@pytest.mark.parametrize("head", HEADS)
def test_every_head_gives_one_logit_per_class(head):
    model = TopGanClassifier(3, image_size=32, ndf=8, head=head).eval()
    assert model(torch.zeros(5, 1, 32, 32)).shape == (5, 3)


def test_an_unknown_head_is_refused():
    with pytest.raises(ValueError, match="unknown head 'mlp'"):
        TopGanClassifier(2, image_size=32, ndf=8, head="mlp")


def test_the_discriminator_gives_one_real_fake_logit_per_image():
    assert DCGANDiscriminator(64, ndf=8)(torch.zeros(3, 1, 64, 64)).shape == (3,)


def test_transfer_copies_the_pretrained_trunk_and_adds_a_fresh_head():
    torch.manual_seed(0)
    discriminator = DCGANDiscriminator(32, ndf=8)
    model = TopGanClassifier.from_discriminator(discriminator, num_classes=3, head="global_pool")
    for a, b in zip(discriminator.features.state_dict().values(), model.features.state_dict().values()):
        assert torch.equal(a, b)
    x = torch.randn(2, 1, 32, 32)
    assert torch.equal(discriminator.features.eval()(x), model.features.eval()(x))
    assert model(x).shape == (2, 3)
    model.features[0].weight.data.zero_()
    assert discriminator.features[0].weight.abs().sum() > 0, "weights are copied, not shared"


@pytest.mark.parametrize("module, complaint", [
    (nn.MaxPool2d(2), "MaxPool2d has no op"),
    (nn.Conv2d(1, 2, 3, groups=1, dilation=2), "only plain convolutions"),
    (nn.Conv2d(1, 2, (3, 5)), None),
    (nn.Conv2d(1, 2, 3, stride=(1, 2)), "stride (1, 2) is not square"),
    (nn.AdaptiveAvgPool2d(2), "only AdaptiveAvgPool2d(1)"),
    (nn.AvgPool2d(2, ceil_mode=True), "padding 0 and ceil_mode False"),
    (nn.BatchNorm2d(2, track_running_stats=False), "needs affine=True and running statistics"),
], ids=["maxpool", "dilated", "rectangular-kernel", "non-square-stride", "adaptive-2", "ceil-mode", "no-stats"])
def test_the_exporter_refuses_what_the_format_cannot_express(module, complaint):
    if complaint is None:  # a rectangular kernel is fine: its size comes from the weight's shape
        describe([("m", module)])
        return
    with pytest.raises(ValueError, match=complaint.replace("(", "\\(").replace(")", "\\)")):
        describe([("m", module)])
