"""Metric computations in pure numpy, free of MMEngine state."""
from .pq_by_size import (COCO_AREA_RANGES, merge_size_stats,
                         pq_average_by_size, pq_stats_by_size)

__all__ = [
    'COCO_AREA_RANGES', 'merge_size_stats', 'pq_average_by_size',
    'pq_stats_by_size'
]
