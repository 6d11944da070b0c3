"""Metrics, registered in ``mmdet.registry.METRICS``."""
from .crop_accuracy import CropAccuracy

__all__ = ['CropAccuracy']
