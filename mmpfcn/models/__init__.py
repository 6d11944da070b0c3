"""Panoptic FCN model components, registered in ``mmdet.registry.MODELS``."""
from .backbones import EfficientNetLite
from .dense_heads import KernelGenerator, KernelHead, PositionHead
from .detectors import PanopticFCN
from .losses import WeightedDiceLoss
from .necks import FeatureEncoder
from .seg_heads import KernelFusion, PanopticFCNFusionHead
from .task_modules import PanopticFCNTargetGenerator

__all__ = [
    'PanopticFCN', 'EfficientNetLite', 'FeatureEncoder', 'KernelGenerator', 'KernelHead', 'PositionHead',
    'KernelFusion', 'PanopticFCNFusionHead', 'WeightedDiceLoss', 'PanopticFCNTargetGenerator'
]
