"""Datasets: the synthetic COCO-panoptic generator (MMDet's
``CocoPanopticDataset`` reads its output unchanged)."""
from .synthetic_panoptic import (NUM_STUFF_CLASSES, NUM_THING_CLASSES,
                                 STUFF_CLASSES, SYNTHETIC_CLASSES,
                                 SYNTHETIC_METAINFO, THING_CLASSES,
                                 generate_synthetic_panoptic)

__all__ = [
    'generate_synthetic_panoptic', 'SYNTHETIC_CLASSES', 'SYNTHETIC_METAINFO',
    'THING_CLASSES', 'STUFF_CLASSES', 'NUM_THING_CLASSES', 'NUM_STUFF_CLASSES'
]
