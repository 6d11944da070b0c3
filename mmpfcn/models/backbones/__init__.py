"""Backbones mmpfcn adds to MMDet's (registered in ``mmdet.registry.MODELS``)."""
from .efficientnet_lite import EfficientNetLite

__all__ = ['EfficientNetLite']
