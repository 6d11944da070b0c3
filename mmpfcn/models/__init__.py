"""Panoptic FCN model components, registered in ``mmdet.registry.MODELS``."""
from .classifiers import CropClassifier
from .dense_heads import KernelGenerator
from .detectors import PanopticFCN
from .losses import WeightedDiceLoss
from .necks import FeatureEncoder
from .seg_heads import KernelFusion
from .task_modules import PanopticFCNTargetGenerator

__all__ = [
    'PanopticFCN', 'FeatureEncoder', 'KernelGenerator', 'KernelFusion', 'WeightedDiceLoss',
    'PanopticFCNTargetGenerator', 'CropClassifier'
]
