"""Evaluation: metrics registered in MMDetection's registries and the numpy
functions behind them. It may import :mod:`mmpfcn.utils` only."""
from .functional import (COCO_AREA_RANGES, merge_size_stats,
                         pq_average_by_size, pq_stats_by_size)
from .metrics import CocoPanopticSizeMetric

__all__ = [
    'COCO_AREA_RANGES', 'CocoPanopticSizeMetric', 'merge_size_stats',
    'pq_average_by_size', 'pq_stats_by_size'
]
