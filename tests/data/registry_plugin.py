"""Test-only plugin module, loaded through a config's ``custom_imports``.

Registers :class:`RegistryProbe` into MMDetection's model registry on import,
as a third-party extension module would.
"""
import torch
from mmdet.registry import MODELS
from torch import nn


@MODELS.register_module()
class RegistryProbe(nn.Module):
    """Scales its input by ``scale``; proves the config-built instance is
    this class with the config's arguments."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale
