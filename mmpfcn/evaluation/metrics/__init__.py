"""Evaluation metrics registered in MMDetection's ``METRICS`` registry."""
from .coco_panoptic_size_metric import CocoPanopticSizeMetric

__all__ = ['CocoPanopticSizeMetric']
